"""The command line: message JSON, one-line errors, and each command end to end."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner, Result

from trio_webhook import Embed, Message, SenderConfig
from trio_webhook.cli._commands import cli
from trio_webhook.cli._demo import DemoOptions, minimum_seconds, run_demo, tiny_png
from trio_webhook.cli._input import ENV_URL, InputError, load_message
from trio_webhook.cli._send import replay_file, send_message, send_messages
from trio_webhook.deadletter import read
from trio_webhook.testing import FakeDiscord, FakeDiscordServer, FakeWebhook, serve_fake_discord

TOKEN = "s3cret-TOKEN_value"
BAD_URL = f"https://discord.com/api/webhooks/not-an-id/{TOKEN}"


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)


def assert_one_line_error(result: Result, *needles: str, progress: bool = False) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    if progress:  # a progress bar's last frame comes first
        lines = [line for line in lines if not line.startswith("sending")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    assert TOKEN not in result.output
    for needle in needles:
        assert needle in lines[0]


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


# --------------------------------------------------------------------------- message JSON


def test_load_message_reads_the_files_beside_the_json(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_text("hello")
    message = load_message(
        write_json(
            tmp_path / "m.json",
            {
                "content": "deployed",
                "embeds": [{"image": {"url": "attachment://log.txt"}}],
                "attachments": [{"path": "log.txt", "description": "the log"}],
            },
        )
    )
    assert message.content == "deployed"
    assert message.attachments[0].read() == b"hello"
    assert message.attachments[0].description == "the log"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"content": 5}, "content: expected a string, got a number"),
        ({"embeds": [{"colour": 1}]}, "embeds[0].colour: unknown key; did you mean 'color'?"),
        ({"embeds": [{"fields": [{"name": "a"}]}]}, "embeds[0].fields[0].value: missing required"),
        ({"embeds": [{"timestamp": "yesterday"}]}, "embeds[0].timestamp: 'yesterday' is not"),
        ({"thread_id": "abc"}, "thread_id: expected a snowflake"),
        ({"tts": "yes"}, "tts: expected true or false"),
        ({"attachments": [{"path": "missing.bin"}]}, "attachments[0].path: no readable file"),
        ([1, 2], "message: expected an object, got a list"),
        ({"bogus": 1}, "bogus: unknown key"),
        ({"embeds": "x"}, "embeds: expected a list, got a string"),
        ({"embeds": [{"type": "video"}]}, "embeds[0].type: webhooks send only 'rich' embeds"),
        ({"embeds": [{"image": {}}]}, "embeds[0].image.url: missing required key"),
        ({"embeds": [{"author": {"name": 1}}]}, "embeds[0].author.name: expected a string"),
        (
            {"embeds": [{"fields": [{"name": "a", "value": "b", "inline": 1}]}]},
            "embeds[0].fields[0].inline: expected true or false, got a number",
        ),
        ({"flags": True}, "flags: expected an integer, got a boolean"),
        ({"applied_tags": [1, "a"]}, "applied_tags[1]: expected a snowflake"),
        ({"allowed_mentions": {"users": ["x"]}}, "allowed_mentions.users[0]: expected a snow"),
        ({"attachments": [{"id": "1"}]}, "attachments[0].path: missing required key"),
    ],
)
def test_load_message_names_the_file_and_the_bad_field(
    data: Any, needle: str, tmp_path: Path
) -> None:
    path = write_json(tmp_path / "m.json", data)
    with pytest.raises(InputError) as info:
        load_message(path)
    assert str(info.value).startswith(f"{path}: ")
    assert needle in str(info.value)


def test_validate_names_every_problem_of_the_json_on_one_line(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "m.json", {"content": 5, "embeds": [{"titel": "x", "color": "red"}]}
    )
    assert_one_line_error(
        run("validate", path),
        f"{path}: 3 problems in the message JSON: content: expected a string, got a number; ",
        "embeds[0].titel: unknown key; did you mean 'title'?",
        "embeds[0].color: expected an integer, got a string",
    )


def test_send_json_and_embed_name_the_bad_key(tmp_path: Path) -> None:
    url = "https://discord.com/api/webhooks/123/" + TOKEN
    path = write_json(tmp_path / "m.json", {"embeds": [{"title": "t", "fields": [{"nme": "a"}]}]})
    assert_one_line_error(
        run("send", url, "--json", path),
        "embeds[0].fields[0].nme: unknown key; did you mean 'name'?",
        "embeds[0].fields[0].name: missing required key; expected a string",
    )
    assert_one_line_error(
        run("send", url, "--embed", '{"description": 1}'),
        "--embed: embed.description: expected a string, got a number",
    )


def test_a_message_on_stdin_reads_its_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("attached")
    data = json.dumps({"content": "hi", "attachments": [{"path": str(tmp_path / "a.txt")}]})
    result = run("send", "--json", "-", "--dry-run", stdin=data)
    assert result.exit_code == 0, result.output
    assert "a.txt" in result.stdout


def test_thread_id_option_must_be_a_snowflake() -> None:
    result = run("send", "--content", "hi", "--thread-id", "abc", "--dry-run")
    assert_one_line_error(result, "--thread-id: expected a snowflake id (digits), got a string")


# --------------------------------------------------------------------------- validate, dry run


def test_validate_ok(tmp_path: Path) -> None:
    path = write_json(tmp_path / "m.json", {"embeds": [{"title": "t"}] * 12})
    result = run("validate", path)
    assert result.exit_code == 0, result.output
    assert "ok (2 request(s))" in result.stdout


def test_validate_prints_every_violation(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "m.json",
        {"username": "u" * 81, "embeds": [{"title": "t" * 300, "description": "d" * 5000}]},
    )
    result = run("validate", path)
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert any("username" in line for line in lines)
    assert any("embeds[0].description" in line for line in lines)
    assert_one_line_error(result, "3 violation(s)")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such file"),
        ("{not json", "invalid JSON at line 1, column 2"),
        ('{"embeds": {"title": 1}}', "embeds: expected a list, got an object"),
    ],
)
def test_validate_bad_input_is_one_line(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "m.json"
    if content is not None:
        path.write_text(content)
    assert_one_line_error(run("validate", str(path)), str(path), needle)


def test_send_dry_run_plans_without_a_url(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("attached")
    embed = tmp_path / "e.json"
    embed.write_text('{"title": "from a file"}')
    result = run(
        "send",
        "--content",
        "hi",
        "--embed",
        '{"title": "inline", "color": 5}',
        "--embed",
        f"@{embed}",
        "--file",
        str(tmp_path / "a.txt"),
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert "request 1/1: 2 embed(s), 1 file(s), 2 content characters" in result.stdout
    assert '"title":"inline"' in result.stdout.replace(" ", "")
    assert "files[0]: a.txt" in result.stdout
    assert "nothing sent" in result.stdout


# --------------------------------------------------------------------------- one-line errors


def test_bad_url_never_shows_the_token() -> None:
    assert_one_line_error(run("send", BAD_URL, "--content", "hi"), "webhook")


def test_url_from_the_environment_is_checked_too() -> None:
    assert_one_line_error(run("send", "--content", "hi", env={ENV_URL: BAD_URL}))


def test_missing_url_says_where_to_put_it() -> None:
    assert_one_line_error(run("send", "--content", "hi", env={ENV_URL: ""}), ENV_URL)


def test_message_over_the_limits_is_one_line() -> None:
    url = "https://discord.com/api/webhooks/123/" + TOKEN
    result = run("send", url, "--content", "x", "--username", "u" * 81)
    assert_one_line_error(result, "Discord's limits", "username")


def test_bad_embed_json_and_missing_file(tmp_path: Path) -> None:
    url = "https://discord.com/api/webhooks/123/" + TOKEN
    assert_one_line_error(run("send", url, "--embed", "{oops"), "--embed: invalid JSON")
    missing = str(tmp_path / "nope.png")
    assert_one_line_error(run("send", url, "--file", missing), missing)
    assert_one_line_error(run("send", url, "--embed", f"@{missing}"), "no such file")


def test_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text('{"content": "one"}\n\n{"content": 2}\n')
    url = "https://discord.com/api/webhooks/123/" + TOKEN
    assert_one_line_error(run("send-batch", url, str(path)), f"{path}:3: content: expected")


# --------------------------------------------------------------------------- in-process sends


async def test_send_message_against_the_fake(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    message = Message(content="hello", embeds=[Embed(title=str(n)) for n in range(12)])
    delivery = await send_message(fake_webhook.url, message, transport=fake_discord.transport())
    assert len(delivery.messages) == 2
    history = fake_discord.history(fake_webhook.channel_id)
    assert [m["id"] for m in history] == [m.id for m in delivery.messages]
    assert history[0]["content"] == "hello"


async def test_send_batch_and_replay_round_trip(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, tmp_path: Path
) -> None:
    dead = tmp_path / "dead.jsonl"
    config = SenderConfig(dead_letter=str(dead), max_attempts=1, seed=1)
    fake_discord.inject("server_error", count=2, status=503)
    seen: list[tuple[int, int]] = []
    stats = await send_messages(
        fake_webhook.url,
        [Message(content=f"m{n}") for n in range(5)],
        config=config,
        transport=fake_discord.transport(),
        progress=lambda delivered, failed: seen.append((delivered, failed)),
    )
    assert (stats.enqueued, stats.delivered, stats.dead) == (5, 3, 2)
    assert seen[-1] == (3, 2)
    assert [r.message.content for r in read(dead)] == ["m0", "m1"]

    again = tmp_path / "again.jsonl"
    result = await replay_file(
        str(dead),
        fake_webhook.url,
        dead_letter=str(again),
        transport=fake_discord.transport(),
    )
    assert (result.delivered, len(result.failed), result.skipped) == (2, 0, 0)
    contents = [m["content"] for m in fake_discord.history(fake_webhook.channel_id)]
    assert sorted(contents) == ["m0", "m1", "m2", "m3", "m4"]
    assert not again.exists()


# --------------------------------------------------------------------------- over real TLS


@contextmanager
def fake_in_thread(fake: FakeDiscord, ca_path: Path) -> Iterator[FakeDiscordServer]:
    """Serve ``fake`` over TLS from another thread, so the CLI (which runs trio) can reach it."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        stop = trio.Event()
        box["stop"] = stop
        box["token"] = trio.lowlevel.current_trio_token()
        async with serve_fake_discord(fake, tls=True) as server:
            server.ca.cert_pem.write_to_path(str(ca_path))
            box["server"] = server
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
    thread.start()
    assert ready.wait(10), "the fake did not start"
    try:
        yield box["server"]
    finally:
        trio.from_thread.run_sync(box["stop"].set, trio_token=box["token"])
        thread.join(10)


@pytest.mark.tls
def test_send_send_batch_and_replay_commands_over_tls(tmp_path: Path) -> None:
    fake = FakeDiscord(seed=3)
    hook = fake.create_webhook()
    ca = tmp_path / "ca.pem"
    with fake_in_thread(fake, ca) as server:
        url = server.webhook_url(hook)
        env = {ENV_URL: url}
        sent = run("send", "--content", "hi", "--ca-file", str(ca), env=env)
        assert sent.exit_code == 0, sent.output
        assert sent.stdout.strip() == fake.history(hook.channel_id)[0]["id"]

        # Without trusting the CA the certificate is refused: one line, no token.
        assert_one_line_error(run("send", "--content", "hi", env=env))

        batch = tmp_path / "batch.jsonl"
        batch.write_text("".join(json.dumps({"content": f"b{n}"}) + "\n" for n in range(4)))
        dead = tmp_path / "dead.jsonl"
        fake.delete_webhook(hook)  # every message now dead-letters as dead_webhook
        result = run(
            "send-batch", str(batch), "--dead-letter", str(dead), "--ca-file", str(ca), env=env
        )
        assert_one_line_error(result, "4 of 4 message(s) dead-lettered", progress=True)
        assert "dead letters" in result.stdout

        other = fake.create_webhook()
        replayed = run("replay", str(dead), server.webhook_url(other), "--ca-file", str(ca))
        assert replayed.exit_code == 0, replayed.output
        contents = [m["content"] for m in fake.history(other.channel_id)]
        assert contents == ["b0", "b1", "b2", "b3"]
        assert TOKEN not in replayed.output


@pytest.mark.tls
def test_serve_fake_prints_a_url_and_writes_the_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    result = run("serve-fake", "--ca-out", str(ca), "--exit-after", "0.2")
    assert result.exit_code == 0, result.output
    assert "webhook URL: https://127.0.0.1:" in result.stdout
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "stopped: 0 request(s)" in result.stdout


@pytest.mark.tls
def test_demo_end_to_end() -> None:
    result = run("demo", "--messages", "20", "--time-scale", "0.01", "--faults", "0.05")
    assert result.exit_code == 0, result.output
    assert "every message accounted for" in result.stdout
    assert "yes" in result.stdout


def test_no_command_prints_help() -> None:
    result = run()
    assert result.exit_code == 0
    assert "demo" in result.stdout
    assert "send-batch" in result.stdout


# --------------------------------------------------------------------------- the demo's parts


def test_minimum_seconds_counts_whole_windows() -> None:
    assert minimum_seconds(0, time_scale=1.0) == 0.0
    assert minimum_seconds(5, time_scale=1.0) == 0.0
    assert minimum_seconds(6, time_scale=1.0) == 2.0  # the bucket binds
    assert minimum_seconds(31, time_scale=1.0) == 60.0  # the channel limit binds
    assert minimum_seconds(31, time_scale=0.5) == 30.0


def test_tiny_png_is_a_png() -> None:
    data = tiny_png(4, 2, (255, 0, 0))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data[12:16] == b"IHDR"
    assert data.endswith(b"IEND\xaeB`\x82")


@pytest.mark.tls
async def test_run_demo_in_a_burst_accounts_for_every_message() -> None:
    progress: list[tuple[int, int]] = []
    result = await run_demo(
        DemoOptions(messages=25, faults=0.0, time_scale=0.01, burst=True),
        progress=lambda delivered, dead: progress.append((delivered, dead)),
    )
    assert result.ok
    assert result.stats.delivered == result.fake_messages == 25
    assert progress[-1] == (25, 0)
    assert result.elapsed >= result.minimum


# --------------------------------------------------------------------------- the extras


@pytest.mark.parametrize("command", ["demo", "serve-fake"])
@pytest.mark.parametrize("module", ["hypercorn", "trustme", "python_multipart"])
def test_the_fakes_commands_name_the_extra_when_it_is_missing(
    command: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None in sys.modules makes `import module` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, module, None)
    result = run(command, "--exit-after", "0") if command == "serve-fake" else run(command)
    assert_one_line_error(result, module, "pip install 'trio-webhook[demo]'")
    assert result.exit_code == 2


@pytest.mark.parametrize("module", ["click", "rich"])
def test_without_the_cli_extra_the_command_names_it(module: str) -> None:
    # The console script's entry point, in a fresh interpreter where `module` is missing.
    code = f"import sys; sys.modules[{module!r}] = None; from trio_webhook.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert module in lines[0]
    assert "pip install 'trio-webhook[cli]'" in lines[0]


def test_the_command_line_does_not_import_the_fake() -> None:
    code = (
        "import sys, trio_webhook, trio_webhook.cli._commands; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('hypercorn', 'trustme', 'hypothesis', 'python_multipart') "
        "or m.startswith('trio_webhook.testing')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_cli_extra_is_click_and_rich_and_demo_adds_the_fake() -> None:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    assert sorted(extras["cli"]) == ["click>=8.1", "rich>=13"]
    assert extras["demo"] == ["trio-webhook[cli,testing]"]
    assert project["project"]["scripts"]["trio-webhook"] == "trio_webhook.cli:main"


def test_commands_leave_logging_as_they_found_it() -> None:
    logger = logging.getLogger("trio_webhook")
    before = (logger.level, logger.propagate, list(logger.handlers))
    run("-v", "validate", "missing.json")
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


async def test_send_batch_with_an_outbox_resumes_without_sending_twice(tmp_path: Path) -> None:
    from trio_webhook.cli._outbox import batch_key, send_messages_durably

    fake = FakeDiscord(seed=0, bucket_limit=5, bucket_window=0.1)  # 50 a second, real clock
    hook = fake.create_webhook()
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(f'{{"content": "m{n}"}}\n' for n in range(30)))
    messages = [Message(content=f"m{n}") for n in range(30)]
    key = batch_key(batch, hook.id)
    outbox = str(tmp_path / "outbox.db")
    # A first run interrupted early (as by Ctrl-C), with no time to drain.
    with trio.move_on_after(0.3):
        await send_messages_durably(
            hook.url,
            messages,
            outbox_path=outbox,
            key=key,
            config=SenderConfig(seed=0, drain_timeout=0.0),
            transport=fake.transport(),
        )
    assert len(fake.history(hook.channel_id)) < 30  # it did stop part way
    # The same command again finishes the batch; nothing is appended or shown twice.
    stats = await send_messages_durably(
        hook.url,
        messages,
        outbox_path=outbox,
        key=key,
        config=SenderConfig(seed=0),
        transport=fake.transport(),
    )
    shown = [m["content"] for m in fake.history(hook.channel_id)]
    assert sorted(set(shown), key=lambda c: int(c[1:])) == [f"m{n}" for n in range(30)]
    assert len(shown) - len(set(shown)) <= stats.recovered_ambiguous


def test_the_outbox_command_shows_pending_and_dead_per_webhook(tmp_path: Path) -> None:
    from trio_webhook.outbox import SQLiteOutbox

    path = tmp_path / "outbox.db"

    async def fill() -> None:
        async with SQLiteOutbox(path) as box:
            await box.append("123", [Message(content="a"), Message(content="b")])

    trio.run(fill)
    result = CliRunner().invoke(cli, ["outbox", str(path)])
    assert result.exit_code == 0, result.output
    assert "webhook 123" in result.output
    assert "pending" in result.output
    assert "2" in result.output
