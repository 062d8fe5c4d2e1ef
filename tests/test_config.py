from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import pytest

from trio_webhook._config import ConfigError, SenderConfig
from trio_webhook._errors import WebhookError
from trio_webhook._sinks import MemorySink


def test_defaults() -> None:
    c = SenderConfig()
    assert (c.queue_cap, c.high_water, c.high_water_mark, c.max_buffered) == (
        100,
        None,
        200,
        10_000,
    )
    assert (c.connect_timeout, c.total_timeout, c.max_response_bytes) == (2.0, 10.0, 1 << 20)
    assert (c.max_attempts, c.backoff_base, c.backoff_cap, c.retry_ambiguous) == (
        5,
        0.25,
        10.0,
        True,
    )
    assert (c.strategy, c.proactive_threshold, c.drain_timeout) == ("adaptive", 1, 30.0)
    assert (c.dead_letter, c.dead_letter_attachments, c.max_upload_bytes) == (
        None,
        True,
        10 << 20,
    )
    assert (c.wait, c.dry_run, c.seed) == (True, False, None)


def test_high_water_mark_follows_queue_cap() -> None:
    assert SenderConfig(queue_cap=7).high_water_mark == 14
    assert SenderConfig(queue_cap=7, high_water=9).high_water_mark == 9


def test_frozen_and_keyword_only() -> None:
    c = SenderConfig()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        c.queue_cap = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        SenderConfig(5)  # type: ignore[call-arg]


def test_config_error_is_a_value_error_and_webhook_error() -> None:
    with pytest.raises(ConfigError) as info:
        SenderConfig(queue_cap=0)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, WebhookError)
    assert (info.value.key, info.value.value) == ("queue_cap", 0)
    assert str(info.value) == "queue_cap=0 is invalid: expected an integer >= 1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"queue_cap": True}, "queue_cap=True is invalid: expected an integer >= 1"),
        ({"queue_cap": 2.0}, "queue_cap=2.0"),
        ({"high_water": 50}, r"high_water=50 is invalid: expected an integer >= queue_cap \(100\)"),
        ({"high_water": 0}, "high_water=0"),
        ({"max_buffered": 150}, r"max_buffered=150 .* >= the high-water mark \(200\)"),
        ({"queue_cap": 10, "high_water": 30, "max_buffered": 29}, r"mark \(30\)"),
        ({"connect_timeout": 0}, "connect_timeout=0 is invalid: expected a finite number"),
        ({"total_timeout": -1.0}, "total_timeout=-1.0"),
        ({"total_timeout": math.inf}, "total_timeout=inf"),
        ({"total_timeout": math.nan}, "total_timeout=nan"),
        ({"connect_timeout": 11.0}, r"connect_timeout=11.0 .* at most total_timeout \(10.0\)"),
        ({"max_response_bytes": 0}, "max_response_bytes=0"),
        ({"max_attempts": 0}, "max_attempts=0 is invalid: expected an integer >= 1"),
        ({"backoff_base": 0.0}, "backoff_base=0.0"),
        ({"backoff_base": 20.0}, r"backoff_base=20.0 .* at most backoff_cap \(10.0\)"),
        ({"backoff_cap": "10"}, "backoff_cap='10'"),
        ({"retry_ambiguous": 1}, "retry_ambiguous=1 is invalid: expected True or False"),
        ({"strategy": "greedy"}, "strategy='greedy' .* one of 'reactive', 'proactive'"),
        ({"proactive_threshold": -1}, "proactive_threshold=-1 .* >= 0"),
        ({"drain_timeout": -0.5}, "drain_timeout=-0.5 .* >= 0"),
        ({"dead_letter": ""}, "dead_letter='' .* non-empty path"),
        ({"dead_letter": 42}, "dead_letter=42 .* a JSONL path"),
        ({"max_upload_bytes": -5}, "max_upload_bytes=-5"),
        ({"wait": "yes"}, "wait='yes'"),
        ({"dry_run": None}, "dry_run=None"),
        ({"seed": 1.5}, "seed=1.5 is invalid: expected an integer or None"),
    ],
)
def test_bad_values_name_the_key(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SenderConfig(**kwargs)


def test_good_edge_values() -> None:
    SenderConfig(queue_cap=1, high_water=1, max_buffered=1)
    SenderConfig(drain_timeout=0, proactive_threshold=0, backoff_base=1, backoff_cap=1)
    SenderConfig(connect_timeout=10, total_timeout=10, seed=0)


def test_dead_letter_targets() -> None:
    assert SenderConfig(dead_letter="dead.jsonl").dead_letter == "dead.jsonl"
    assert SenderConfig(dead_letter=Path("d.jsonl")).dead_letter == Path("d.jsonl")
    sink = MemorySink()
    assert SenderConfig(dead_letter=sink).dead_letter is sink
    assert SenderConfig(dead_letter=print).dead_letter is print


def test_evolve_validates() -> None:
    with pytest.raises(ConfigError, match="max_attempts"):
        attrs.evolve(SenderConfig(), max_attempts=0)


# -- environment ---------------------------------------------------------------------------


def test_from_env_reads_each_type() -> None:
    env = {
        "TRIO_WEBHOOK_QUEUE_CAP": "50",
        "TRIO_WEBHOOK_HIGH_WATER": "1_000",
        "TRIO_WEBHOOK_MAX_BUFFERED": " 20000 ",
        "TRIO_WEBHOOK_TOTAL_TIMEOUT": "12.5",
        "TRIO_WEBHOOK_RETRY_AMBIGUOUS": "no",
        "TRIO_WEBHOOK_DRY_RUN": "TRUE",
        "TRIO_WEBHOOK_WAIT": "0",
        "TRIO_WEBHOOK_DEAD_LETTER_ATTACHMENTS": "off",
        "TRIO_WEBHOOK_STRATEGY": "Proactive",
        "TRIO_WEBHOOK_DEAD_LETTER": "/var/dead.jsonl",
        "TRIO_WEBHOOK_SEED": "42",
        "UNRELATED": "x",
    }
    c = SenderConfig.from_env(env)
    assert (c.queue_cap, c.high_water, c.max_buffered, c.total_timeout) == (50, 1000, 20000, 12.5)
    assert (c.retry_ambiguous, c.dry_run, c.wait, c.dead_letter_attachments) == (
        False,
        True,
        False,
        False,
    )
    assert (c.strategy, c.dead_letter, c.seed) == ("proactive", "/var/dead.jsonl", 42)


def test_from_env_none_values_and_base() -> None:
    base = SenderConfig(queue_cap=5, seed=3, dead_letter="x.jsonl", high_water=10)
    env = {
        "TRIO_WEBHOOK_SEED": "none",
        "TRIO_WEBHOOK_DEAD_LETTER": "",
        "TRIO_WEBHOOK_HIGH_WATER": "",
    }
    c = SenderConfig.from_env(env, base=base)
    assert (c.queue_cap, c.seed, c.dead_letter, c.high_water) == (5, None, None, None)
    assert SenderConfig.from_env({}) == SenderConfig()


def test_from_env_prefix() -> None:
    assert SenderConfig.from_env({"HOOK_QUEUE_CAP": "3"}, prefix="HOOK_").queue_cap == 3


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_WEBHOOK_MAX_ATTEMPTS", "9")
    assert SenderConfig.from_env().max_attempts == 9


@pytest.mark.parametrize(
    ("var", "raw", "message"),
    [
        ("QUEUE_CAP", "lots", r"TRIO_WEBHOOK_QUEUE_CAP='lots' is invalid: expected an integer"),
        ("QUEUE_CAP", "1.5", "an integer"),
        ("SEED", "x", "an integer .* or none"),
        ("TOTAL_TIMEOUT", "10s", r"TOTAL_TIMEOUT='10s' .* a number of seconds \(as 2.5\)"),
        ("DRY_RUN", "maybe", "TRIO_WEBHOOK_DRY_RUN='maybe' .* 1/0, true/false, yes/no"),
        ("QUEUE_CAP", "0", "TRIO_WEBHOOK_QUEUE_CAP='0' is invalid: expected an integer >= 1"),
        ("STRATEGY", "fast", "TRIO_WEBHOOK_STRATEGY='fast' .* one of"),
        ("CONNECT_TIMEOUT", "60", r"TRIO_WEBHOOK_CONNECT_TIMEOUT='60' .* at most total_timeout"),
    ],
)
def test_from_env_bad_values_name_the_variable(var: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        SenderConfig.from_env({"TRIO_WEBHOOK_" + var: raw})
    assert info.value.key == "TRIO_WEBHOOK_" + var


def test_from_env_cross_field_error_about_base_value() -> None:
    # The variable is fine on its own; the clash is with a value it did not set.
    with pytest.raises(
        ConfigError,
        match=r"with TRIO_WEBHOOK_BACKOFF_CAP from the environment: backoff_base=0.25 .* "
        r"at most backoff_cap \(0.1\)",
    ):
        SenderConfig.from_env({"TRIO_WEBHOOK_BACKOFF_CAP": "0.1"})


# -- TOML ----------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_from_toml_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "webhook.toml",
        """
        [trio_webhook]
        queue_cap = 20
        total_timeout = 5
        strategy = "reactive"
        dry_run = true
        dead_letter = "dead/letters.jsonl"
        """,
    )
    c = SenderConfig.from_toml(path)
    assert (c.queue_cap, c.total_timeout, c.strategy, c.dry_run) == (20, 5, "reactive", True)
    assert c.dead_letter == str(tmp_path / "dead/letters.jsonl")  # relative to the file


def test_from_toml_pyproject_tool_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pyproject.toml",
        """
        [project]
        name = "app"

        [tool.trio_webhook]
        max_attempts = 3
        dead_letter = "/abs/dead.jsonl"
        """,
    )
    c = SenderConfig.from_toml(path, base=SenderConfig(queue_cap=4))
    assert (c.max_attempts, c.queue_cap, c.dead_letter) == (3, 4, "/abs/dead.jsonl")


def test_from_toml_custom_nested_table(tmp_path: Path) -> None:
    path = write(tmp_path, "app.toml", "[app.webhook]\nseed = 7\n")
    assert SenderConfig.from_toml(path, table="app.webhook").seed == 7


def test_from_toml_unknown_keys_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", "[trio_webhook]\nqueue_capp = 3\nfrobnicate = 1\n")
    with pytest.raises(ConfigError) as info:
        SenderConfig.from_toml(path)
    text = str(info.value)
    assert "[trio_webhook]" in text
    assert "frobnicate" in text
    assert "queue_capp (did you mean queue_cap?)" in text


def test_from_toml_bad_value_names_file_table_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", '[tool.trio_webhook]\nqueue_cap = "many"\n')
    with pytest.raises(ConfigError, match=r"c\.toml \[tool\.trio_webhook\]: queue_cap='many'"):
        SenderConfig.from_toml(path)
    path = write(tmp_path, "d.toml", "[trio_webhook]\nwait = 1\n")
    with pytest.raises(ConfigError, match="wait=1 is invalid: expected True or False"):
        SenderConfig.from_toml(path)


def test_from_toml_missing_table(tmp_path: Path) -> None:
    path = write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"a \[trio_webhook\] or \[tool\.trio_webhook\] table"):
        SenderConfig.from_toml(path)
    path = write(tmp_path, "e.toml", "trio_webhook = 3\n")
    with pytest.raises(ConfigError, match="expected a table"):
        SenderConfig.from_toml(path)


def test_a_toml_outbox_url_is_not_taken_for_a_relative_path(tmp_path: Path) -> None:
    toml = tmp_path / "sender.toml"
    toml.write_text(
        '[trio_webhook]\noutbox = "redis://127.0.0.1:6379/0"\ndead_letter = "d.jsonl"\n'
    )
    config = SenderConfig.from_toml(toml)
    assert config.outbox == "redis://127.0.0.1:6379/0"
    assert config.dead_letter == str(tmp_path / "d.jsonl")
