"""Workers on a Redis outbox: discovery, leases, order, and a SIGKILL halfway.

Real redis-server, real clock. The in-process tests reach a FakeDiscord through its
in-process transport; the crash test runs three worker processes against a FakeDiscord
the parent serves over TLS, time-scaled so 2,000 messages take a few seconds.
"""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner
from redis_server import RedisServer

from trio_webhook import Message, SenderConfig
from trio_webhook.cli._commands import cli
from trio_webhook.outbox import RedisOutbox, enqueue
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.testing import FakeDiscord, FakeWebhook, serve_fake_discord
from trio_webhook.worker import WorkerStats, open_worker

CHILD = Path(__file__).parent / "crash" / "worker_child.py"


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def contents(fake: FakeDiscord, hook: FakeWebhook) -> list[str]:
    return [m["content"] for m in fake.history(hook.channel_id)]


def no_global_pacing() -> RateLimitTracker:
    return RateLimitTracker(pacing=GlobalPacing(limit=0))


async def produce(
    redis_url: str, prefix: str, hooks: list[FakeWebhook], count: int, start: int = 0
) -> None:
    """``count`` messages for each webhook, interleaved, through the synchronous enqueue."""

    def run() -> None:
        for i in range(start, start + count):
            for hook in hooks:
                enqueue(redis_url, hook.url, Message(content=f"{hook.id}:{i}"), prefix=prefix)

    await trio.to_thread.run_sync(run)


async def wait_for(predicate: Any, seconds: float) -> None:
    with trio.fail_after(seconds):
        # Polling: the state looked at lives in other processes and the fake.
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.02)


async def test_a_worker_delivers_what_producers_enqueue_in_order_then_lets_go(
    redis_server: RedisServer, prefix: str
) -> None:
    fake = FakeDiscord(seed=0, bucket_limit=1000, bucket_window=1.0)
    hooks = [fake.create_webhook() for _ in range(3)]
    unserved = fake.create_webhook()
    await produce(redis_server.url, prefix, [*hooks, unserved], 20)
    async with open_worker(
        redis_server.url,
        webhooks=[h.url for h in hooks],
        prefix=prefix,
        tracker=no_global_pacing(),
        config=SenderConfig(seed=0),
        transport_factory=fake.transport,
        poll_interval=0.02,
        idle_timeout=0.2,
    ) as worker:
        await wait_for(lambda: all(len(contents(fake, h)) == 20 for h in hooks), 20)
        # More work after the first backlog is found by the next look.
        await produce(redis_server.url, prefix, hooks[:1], 1, start=20)
        await wait_for(lambda: len(contents(fake, hooks[0])) == 21, 5)
        await wait_for(lambda: worker.stats().active == 0, 5)  # idle ones are given back
        stats = worker.stats()
    for hook in hooks:
        expected = [f"{hook.id}:{i}" for i in range(21 if hook is hooks[0] else 20)]
        assert contents(fake, hook) == expected
    assert (stats.delivered, stats.dead, stats.recovered_ambiguous) == (61, 0, 0)
    assert stats.webhooks == 3
    assert contents(fake, unserved) == []  # no worker has its URL: it waits, not lost
    async with RedisOutbox(redis_server.url, prefix=prefix) as look:
        assert len(await look.pending(unserved.id)) == 20
        assert await look.pending(hooks[0].id) == []
        assert await look.ready([h.id for h in [*hooks, unserved]]) == [unserved.id]


async def test_two_workers_share_the_webhooks_and_never_deliver_one_twice(
    redis_server: RedisServer, prefix: str
) -> None:
    fake = FakeDiscord(seed=0, bucket_limit=1000, bucket_window=1.0)
    hooks = [fake.create_webhook() for _ in range(8)]
    await produce(redis_server.url, prefix, hooks, 15)
    options: dict[str, Any] = {
        "webhooks": [h.url for h in hooks],
        "prefix": prefix,
        "config": SenderConfig(seed=0),
        "transport_factory": fake.transport,
        "poll_interval": 0.02,
        "idle_timeout": 0.2,
    }
    async with (
        open_worker(redis_server.url, tracker=no_global_pacing(), **options) as one,
        open_worker(redis_server.url, tracker=no_global_pacing(), **options) as two,
    ):
        await wait_for(lambda: all(len(contents(fake, h)) >= 15 for h in hooks), 20)
        await wait_for(lambda: one.stats().active + two.stats().active == 0, 5)
    for hook in hooks:
        assert contents(fake, hook) == [f"{hook.id}:{i}" for i in range(15)]
    assert one.stats().delivered + two.stats().delivered == 8 * 15
    assert one.stats().leases_taken > 0
    assert two.stats().leases_taken > 0


def test_the_worker_command_needs_the_webhook_urls(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIO_WEBHOOK_WORKER_WEBHOOKS", raising=False)
    result = CliRunner().invoke(cli, ["worker", "--redis", redis_server.url])
    assert result.exit_code == 1
    assert "needs the URLs of the webhooks it serves" in result.output
    bad = CliRunner().invoke(
        cli,
        ["worker", "--redis", redis_server.url, "--webhook", "https://x.test/api/webhooks/1"],
    )
    assert bad.exit_code == 1


# -- three worker processes, one killed halfway -------------------------------------------

WEBHOOKS = 20
PER_WEBHOOK = 100
MAX_WEBHOOKS = 10  # the children's max_webhooks


class Child:
    """A worker process and the last stats it printed."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.stats: WorkerStats | None = None

    async def read(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        async for chunk in self.process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"stats "):
                    self.stats = WorkerStats(**json.loads(line[6:]))


@pytest.mark.tls
async def test_three_workers_one_killed_halfway_lose_nothing_and_keep_order(
    redis_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    fake = FakeDiscord(seed=1, time_scale=0.01)
    hooks = [fake.create_webhook() for _ in range(WEBHOOKS)]
    total = WEBHOOKS * PER_WEBHOOK
    await produce(redis_server.url, prefix, hooks, PER_WEBHOOK)

    def delivered() -> int:
        return sum(len(set(contents(fake, h))) for h in hooks)

    async with serve_fake_discord(fake) as server, trio.open_nursery() as nursery:
        ca_file = tmp_path / "ca.pem"
        server.ca.cert_pem.write_to_path(str(ca_file))
        urls_file = tmp_path / "urls.txt"
        urls_file.write_text("\n".join(server.webhook_url(h) for h in hooks))
        children = []
        for _ in range(3):
            process = await trio.lowlevel.open_process(
                [
                    sys.executable,
                    str(CHILD),
                    redis_server.url,
                    prefix,
                    str(ca_file),
                    str(urls_file),
                ],
                stdout=subprocess.PIPE,
            )
            child = Child(process)
            nursery.start_soon(child.read)
            children.append(child)
        try:
            # Deadlines only catch a hang: at load average 6 the run takes up to 48 s.
            await wait_for(lambda: delivered() >= total // 2, 120)
            # The victim: a worker holding webhooks now, so some requests are in flight.
            await wait_for(lambda: any(c.stats and c.stats.active for c in children), 5)
            victim = max(children, key=lambda c: c.stats.active if c.stats else -1)
            victim.process.send_signal(signal.SIGKILL)
            await victim.process.wait()  # reaped: survivors see at once that it is gone
            at_kill = delivered()
            survivors = [c for c in children if c is not victim]
            await wait_for(lambda: delivered() == total, 120)
            await trio.sleep(0.3)  # anything posted twice would show by now
            for child in survivors:
                child.process.send_signal(signal.SIGTERM)
            with trio.fail_after(15):
                for child in survivors:
                    assert await child.process.wait() == 0
        finally:
            for child in children:
                if child.process.returncode is None:
                    child.process.kill()
        nursery.cancel_scope.cancel()

    assert at_kill < total  # the kill came while work was left
    duplicates = 0
    for hook in hooks:
        shown = contents(fake, hook)
        counts = collections.Counter(shown)
        # Nothing lost; order kept (the first showing of each message follows the order
        # it was enqueued in); a message shows twice at most.
        assert set(shown) == {f"{hook.id}:{i}" for i in range(PER_WEBHOOK)}
        first = list(dict.fromkeys(shown))
        assert first == [f"{hook.id}:{i}" for i in range(PER_WEBHOOK)], hook.id
        assert max(counts.values()) <= 2
        duplicates += sum(n - 1 for n in counts.values())
    survivor_stats = [c.stats for c in survivors if c.stats is not None]
    ambiguous = sum(s.recovered_ambiguous for s in survivor_stats)
    # Duplicates are what was in flight at the kill, and the survivors reported them.
    assert duplicates <= ambiguous
    assert victim.stats is not None
    # One request in flight per webhook at most, and a worker holds at most 10 at once.
    assert ambiguous <= MAX_WEBHOOKS
    assert sum(s.dead for s in survivor_stats) == 0
    print(
        f"\nworkers: {total} messages, {at_kill} delivered at the kill; victim held "
        f"{victim.stats.active} webhook(s); survivors re-sent {ambiguous} ambiguous "
        f"message(s); {duplicates} duplicate(s) shown"
    )
    async with RedisOutbox(redis_server.url, prefix=prefix) as look:
        assert await look.pending() == []
        assert await look.dead_letters() == []
