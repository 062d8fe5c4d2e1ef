"""What the command line tells a person: where the URL goes, what to do about TLS, what
was dead-lettered where, and what the demo's numbers mean."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio
import trio.testing
from test_cli import TOKEN, assert_one_line_error, fake_in_thread, run

from trio_webhook import Message
from trio_webhook.cli._input import ENV_URL
from trio_webhook.cli._send import send_messages
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


async def test_the_progress_line_says_what_the_sender_waits_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(bucket_limit=2, bucket_window=4.0)
    hook = fake.create_webhook()
    lines: list[str] = []
    stats = await send_messages(
        hook.url,
        [Message(content=f"m{n}") for n in range(6)],
        transport=fake.transport(),
        status=lines.append,
    )
    assert stats.delivered == 6
    waits = [line for line in lines if line.startswith("waiting")]
    assert waits, lines
    assert all(line.endswith("s on the webhook's rate limit") for line in waits)
    # The time left counts down within one window.
    seconds = [float(line.split()[1]) for line in waits]
    assert max(seconds) <= 4.0
    assert seconds != sorted(seconds)  # it counts down, then the next window starts


def _cli_process(*args: str) -> subprocess.Popen[bytes]:
    code = "from trio_webhook.cli import main; main()"
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


@pytest.mark.tls
def test_ctrl_c_drains_and_a_second_ctrl_c_dead_letters_what_is_left(tmp_path: Path) -> None:
    fake = FakeDiscord(bucket_limit=2, bucket_window=4.0)  # 2 messages per 4 s
    hook = fake.create_webhook()
    ca = tmp_path / "ca.pem"
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"content": f"m{n}"}) + "\n" for n in range(40)))
    dead = tmp_path / "dead.jsonl"
    with fake_in_thread(fake, ca) as server:
        url = server.webhook_url(hook)
        child = _cli_process(
            "send-batch", url, str(batch), "--dead-letter", str(dead), "--ca-file", str(ca)
        )
        deadline = time.monotonic() + 30
        while not fake.history(hook.channel_id) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the child is sending
        child.send_signal(signal.SIGINT)  # drain, for up to 30 s
        time.sleep(1.0)
        child.send_signal(signal.SIGINT)  # stop now
        out, err = child.communicate(timeout=20)
    assert child.returncode == 130, err.decode()
    delivered = len(fake.history(hook.channel_id))
    records = dead.read_text().splitlines()
    assert delivered + len(records) == 40  # nothing lost, nothing twice
    assert delivered < 40
    assert {json.loads(line)["reason"] for line in records} == {"shutdown"}
    stdout, stderr = out.decode(), err.decode()
    assert f"dead letters: {len(records)} in {dead}" in stdout
    assert "Ctrl-C again: dead-lettering what is left" in stderr
    assert (
        f"Error: interrupted: {delivered} of 40 delivered, {len(records)} dead-lettered" in stderr
    )
    assert TOKEN not in stdout + stderr
