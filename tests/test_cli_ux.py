"""What the command line tells a person: where the URL goes, what to do about TLS, what
was dead-lettered where, and what the demo's numbers mean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_cli import assert_one_line_error, fake_in_thread, run

from trio_webhook.cli._input import ENV_URL
from trio_webhook.testing import FakeDiscord


def _dead_letters(tmp_path: Path, fake: FakeDiscord, ca: Path, url: str) -> Path:
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"content": f"b{n}"}) + "\n" for n in range(3)))
    dead = tmp_path / "dead.jsonl"
    result = run("send-batch", url, str(batch), "--dead-letter", str(dead), "--ca-file", str(ca))
    assert result.exit_code == 1
    # The summary names the dead-letter file and its count.
    assert f"dead letters: 3 in {dead}" in result.stdout, result.stdout
    return dead


@pytest.mark.tls
@pytest.mark.parametrize("order", ["url first", "file first"])
def test_replay_takes_the_url_first_like_every_command_and_the_old_order_too(
    tmp_path: Path, order: str
) -> None:
    fake = FakeDiscord(seed=3)
    hook = fake.create_webhook()
    ca = tmp_path / "ca.pem"
    with fake_in_thread(fake, ca) as server:
        url = server.webhook_url(hook)
        fake.delete_webhook(hook)
        dead = _dead_letters(tmp_path, fake, ca, url)
        other = server.webhook_url(target := fake.create_webhook())
        args = [other, str(dead)] if order == "url first" else [str(dead), other]
        replayed = run("replay", *args, "--ca-file", str(ca))
        assert replayed.exit_code == 0, replayed.output
        assert [m["content"] for m in fake.history(target.channel_id)] == ["b0", "b1", "b2"]


@pytest.mark.tls
def test_replay_takes_the_url_from_the_environment(tmp_path: Path) -> None:
    fake = FakeDiscord(seed=3)
    hook = fake.create_webhook()
    ca = tmp_path / "ca.pem"
    with fake_in_thread(fake, ca) as server:
        fake.delete_webhook(hook)
        dead = _dead_letters(tmp_path, fake, ca, server.webhook_url(hook))
        target = fake.create_webhook()
        env = {ENV_URL: server.webhook_url(target)}
        replayed = run("replay", str(dead), "--ca-file", str(ca), env=env)
        assert replayed.exit_code == 0, replayed.output
        assert len(fake.history(target.channel_id)) == 3


@pytest.mark.tls
def test_a_tls_failure_suggests_ca_file(tmp_path: Path) -> None:
    fake = FakeDiscord(seed=3)
    hook = fake.create_webhook()
    with fake_in_thread(fake, tmp_path / "ca.pem") as server:
        result = run("send", server.webhook_url(hook), "--content", "hi")
    assert_one_line_error(result, "--ca-file")


@pytest.mark.tls
def test_send_batch_says_when_dead_letters_are_not_kept(tmp_path: Path) -> None:
    fake = FakeDiscord(seed=3)
    hook = fake.create_webhook()
    ca = tmp_path / "ca.pem"
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"content": "x"}) + "\n")
    with fake_in_thread(fake, ca) as server:
        url = server.webhook_url(hook)
        fake.delete_webhook(hook)
        result = run("send-batch", url, str(batch), "--ca-file", str(ca))
    assert result.exit_code == 1
    assert "none kept: pass --dead-letter FILE" in result.stdout


@pytest.mark.tls
def test_the_demo_says_what_it_shows_and_its_429_counts_agree() -> None:
    result = run(
        "demo",
        *("--messages", "40", "--time-scale", "0.01", "--faults", "0.1", "--seed", "2"),
        env={"COLUMNS": "200"},  # one line a row
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("trio-webhook demo: 40 messages")
    assert "ambiguous: the request may have been stored" in result.stdout
    assert "the least time Discord's limits allow" in result.stdout
    seen = re.search(r"429s received\s*│\s*(\d+)", result.stdout)
    sent = re.search(r"fake: 429s sent\s*│\s*(\d+)", result.stdout)
    assert seen, result.stdout
    assert sent, result.stdout
    assert seen.group(1) == sent.group(1)
