"""RedisOutbox on a real redis-server: senders on it, leases across processes, enqueue.

The outbox contract itself runs on both implementations in test_outbox.py. Real clock
throughout (redis-server is another process: STACK-NOTES). Each test has its own key
prefix, or its own server when it needs the default prefix.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import coredis
import pytest
import trio
from redis_server import RedisServer, start_redis

from trio_webhook import (
    DeliveryFailed,
    Message,
    SenderConfig,
    ValidationError,
    open_webhook_sender,
)
from trio_webhook.deadletter import DeadLetter, replay
from trio_webhook.outbox import (
    OutboxLeaseHeld,
    OutboxLeaseLost,
    Outcome,
    RedisOutbox,
    SharedOutbox,
    SQLiteOutbox,
    enqueue,
)
from trio_webhook.testing import FakeDiscord, FakeWebhook

ROOT = Path(__file__).resolve().parent.parent
HOOK = "111111111111111111"


def fast_fake() -> tuple[FakeDiscord, FakeWebhook]:
    fake = FakeDiscord(seed=0, bucket_limit=1000, bucket_window=1.0)
    return fake, fake.create_webhook()


def contents(fake: FakeDiscord, hook: FakeWebhook) -> list[str]:
    return [m["content"] for m in fake.history(hook.channel_id)]


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


async def _all_keys_and_values(port: int) -> list[str]:
    """Every key, and every value in it, as text: to look for a token anywhere."""
    found: list[str] = []
    async with coredis.Redis(host="127.0.0.1", port=port, decode_responses=True) as client:
        async for key in client.scan_iter():
            found.append(key)
            kind = await client.type(key)
            if kind == "string":
                found.append(str(await client.get(key)))
            elif kind == "hash":
                found.extend(f"{k}={v}" for k, v in (await client.hgetall(key)).items())
            elif kind == "set":
                found.extend(await client.smembers(key))
            elif kind == "stream":
                for item in await client.xrange(key):
                    found.extend(f"{k!r}={v!r}" for k, v in item.field_values.items())
    return found


# -- a sender on a RedisOutbox -----------------------------------------------------------


async def test_a_sender_on_a_redis_outbox_commits_delivers_and_settles(
    redis_server: RedisServer, prefix: str
) -> None:
    fake, hook = fast_fake()
    fake.inject("delay", count=1, delay=0.5)  # the first answer is slow: we look meanwhile
    async with RedisOutbox(redis_server.url, prefix=prefix) as outbox:
        config = SenderConfig(seed=0, outbox=outbox)
        async with open_webhook_sender(hook.url, config=config, transport=fake.transport()) as s:
            receipt = await s.send(Message(content="durable"))
            for i in range(5):
                s.send_nowait(Message(content=f"m{i}"))
            await s.flush()
            pending = await outbox.pending(hook.id)
            assert [p.message.content for p in pending] == ["durable"] + [f"m{i}" for i in range(5)]
            await receipt.wait()
        assert await outbox.pending() == []
        [summary] = await outbox.summary()
        assert (summary.pending, summary.dead, summary.holder) == (0, 0, None)
    assert contents(fake, hook) == ["durable"] + [f"m{i}" for i in range(5)]
    keys = await _all_keys_and_values(redis_server.port)
    assert not any(f"{prefix}:entry:" in k for k in keys)  # settled entries leave no hash


async def test_what_a_stopped_sender_left_is_delivered_first_by_the_next(
    redis_server: RedisServer, prefix: str
) -> None:
    fake, hook = fast_fake()
    fake.inject("delay", count=1, delay=5.0)  # the first answer never comes in time
    async with RedisOutbox(redis_server.url, prefix=prefix) as outbox:
        config = SenderConfig(seed=0, outbox=outbox, drain_timeout=0.2, total_timeout=10.0)
        async with open_webhook_sender(hook.url, config=config, transport=fake.transport()) as a:
            kept = [a.send_nowait(Message(content=f"old{i}")) for i in range(3)]
        assert (a.stats().kept, a.stats().dead) == (3, 0)
        for receipt in kept:
            with pytest.raises(DeliveryFailed, match="kept"):
                await receipt.wait()
    # Another process, as far as Redis knows: a new outbox object (another consumer).
    async with RedisOutbox(redis_server.url, prefix=prefix) as outbox:
        config = SenderConfig(seed=0, outbox=outbox)
        async with open_webhook_sender(hook.url, config=config, transport=fake.transport()) as b:
            b.send_nowait(Message(content="new"))
        assert await outbox.pending() == []
    shown = contents(fake, hook)
    assert [c for c in shown if c != "old0"] == ["old1", "old2", "new"]
    assert (b.stats().recovered, b.stats().recovered_ambiguous) == (3, 1)


async def test_config_and_replay_take_a_redis_url(tmp_path: Path) -> None:
    # The default prefix, on a private server: nothing else shares these keys.
    server = start_redis(tmp_path)
    try:
        fake, hook = fast_fake()
        fake.inject("server_error", count=2, status=503)
        config = SenderConfig(
            seed=0, outbox=server.url, max_attempts=2, backoff_base=0.01, backoff_cap=0.02
        )
        async with open_webhook_sender(hook.url, config=config, transport=fake.transport()) as s:
            with pytest.raises(DeliveryFailed):
                await s.send_nowait(Message(content="again")).wait()
            s.send_nowait(Message(content="fine"))
        async with RedisOutbox(server.url) as look:
            [dead] = await look.dead_letters(hook.id)
            assert (dead.record.reason, dead.record.status) == ("exhausted", 503)
            assert await look.pending() == []
        first = await replay(server.url, hook.url, transport=fake.transport())
        second = await replay(server.url, hook.url, transport=fake.transport())
        assert (first.delivered, second.delivered) == (1, 0)
        assert contents(fake, hook) == ["fine", "again"]
        async with RedisOutbox(server.url) as look:
            assert await look.dead_letters(hook.id) == []
            [done] = await look.dead_letters(hook.id, include_replayed=True)
            assert done.replayed is not None
        values = await _all_keys_and_values(server.port)
        assert not any(hook.token in v for v in values)
    finally:
        server.process.kill()
        server.process.wait()


# -- enqueue: a producer without trio -----------------------------------------------------


async def test_enqueue_stores_what_a_sender_delivers_and_never_the_token(
    redis_server: RedisServer, prefix: str
) -> None:
    fake, hook = fast_fake()

    def produce() -> list[int]:
        first = enqueue(redis_server.url, hook.url, Message(content="one"), prefix=prefix)
        rest = enqueue(
            redis_server.url,
            hook.url,
            [Message(content="two"), Message(content="three")],
            prefix=prefix,
        )
        return first + rest

    entries = await trio.to_thread.run_sync(produce)
    assert entries == sorted(entries)
    values = await _all_keys_and_values(redis_server.port)
    assert not any(hook.token in v for v in values)
    async with RedisOutbox(redis_server.url, prefix=prefix) as outbox:
        assert await outbox.ready([hook.id, HOOK]) == [hook.id]
        config = SenderConfig(seed=0, outbox=outbox)
        async with open_webhook_sender(hook.url, config=config, transport=fake.transport()):
            pass
        assert await outbox.ready([hook.id]) == []  # nothing pending: no longer ready
    assert contents(fake, hook) == ["one", "two", "three"]


def test_enqueue_checks_the_message_and_stores_nothing_invalid(
    redis_server: RedisServer, prefix: str
) -> None:
    url = "https://discord.com/api/webhooks/123/very-secret-token"
    with pytest.raises(ValidationError, match="Discord allows 80"):
        enqueue(
            redis_server.url,
            url,
            [Message(content="ok"), Message(content="x", username="u" * 81)],
            prefix=prefix,
        )

    async def check() -> None:
        async with RedisOutbox(redis_server.url, prefix=prefix) as outbox:
            assert await outbox.pending() == []

    trio.run(check)


def test_enqueue_names_an_unreachable_redis_without_its_password() -> None:
    from trio_webhook.outbox import OutboxError

    with (
        socket_closed_port() as port,
        pytest.raises(OutboxError, match=f"redis://127.0.0.1:{port}/0: cannot connect") as info,
    ):
        enqueue(
            f"redis://:hunter2@127.0.0.1:{port}/0",
            "https://discord.com/api/webhooks/123/tok",
            Message(content="x"),
        )
    assert "hunter2" not in str(info.value)


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]  # bound, not listening: connections are refused


# -- leases ---------------------------------------------------------------------------


async def test_one_outbox_at_a_time_delivers_a_webhook(
    redis_server: RedisServer, prefix: str
) -> None:
    async with (
        RedisOutbox(redis_server.url, prefix=prefix) as first,
        RedisOutbox(redis_server.url, prefix=prefix) as second,
    ):
        await first.append(HOOK, [Message(content="a")])
        with pytest.raises(OutboxLeaseHeld, match="another outbox object in this process"):
            await second.take(HOOK)
        with pytest.raises(OutboxLeaseHeld):
            await second.append(HOOK, [Message(content="b")])
        assert [p.message.content for p in await second.pending(HOOK)] == ["a"]
        await first.release(HOOK)
        [taken] = await second.take(HOOK)
        with pytest.raises(OutboxLeaseLost, match="must not send"):
            await first.mark_in_flight(taken.entry, 0)
        await second.mark_in_flight(taken.entry, 0)


async def test_an_entry_appended_without_the_lease_is_picked_up_and_its_outcome_kept(
    redis_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    assert not isinstance(SQLiteOutbox(tmp_path / "o.db"), SharedOutbox)
    async with (
        RedisOutbox(redis_server.url, prefix=prefix) as holder,
        RedisOutbox(redis_server.url, prefix=prefix) as appender,
    ):
        assert isinstance(appender, SharedOutbox)
        await holder.claim(HOOK)
        [mine] = await holder.append(HOOK, [Message(content="h")])
        first, second = await appender.append_unleased(HOOK, [Message(content=c) for c in "ab"])
        assert not appender.holds(HOOK)  # no lease was claimed
        assert await holder.wait_appended(HOOK, mine, 5.0) == second  # at once: they exist
        assert await holder.wait_appended(HOOK, second, 0.05) == second  # nothing newer
        taken = await holder.take(HOOK)
        assert [p.entry for p in taken] == [mine, first, second]  # one commit order
        assert await appender.outcome(first) is None  # pending
        await holder.settle_delivered(mine)
        await holder.settle_delivered(first, sent=[{"id": "42", "content": "a"}])
        record = DeadLetter(
            reason="permanent", message=Message(content="b"), status=400, error="no"
        )
        await holder.settle_dead(second, record)
        assert await appender.wait_outcome(first, 5.0) == Outcome(
            delivered=True, sent=({"id": "42", "content": "a"},)
        )
        dead = await appender.wait_outcome(second, 5.0)
        assert dead is not None
        assert (dead.delivered, dead.reason, dead.status, dead.error) == (
            False,
            "permanent",
            400,
            "no",
        )
    keys = await _all_keys_and_values(redis_server.port)
    # Read once, then forgotten; the holder's own message never had an outcome kept.
    assert not any(f"{prefix}:outcome:" in k or f"{prefix}:wake:" in k for k in keys)


_HOLDER = """
    import sys, trio
    from trio_webhook import Message
    from trio_webhook.outbox import RedisOutbox, OutboxLeaseLost

    async def main():
        url, prefix, hook, lease = sys.argv[1:5]
        outbox = RedisOutbox(url, prefix=prefix, lease_seconds=float(lease))
        await outbox.append(hook, [Message(content=str(i)) for i in range(5)])
        taken = await outbox.take(hook, limit=3)  # read into its consumer, not settled
        await outbox.settle_delivered(taken[0].entry)
        print("claimed", flush=True)
        command = await trio.to_thread.run_sync(sys.stdin.readline)
        if command.strip() == "send":
            try:
                await outbox.mark_in_flight(taken[1].entry, 0)
                print("sent", flush=True)
            except OutboxLeaseLost as exc:
                print("lost:", exc, flush=True)
        await outbox.aclose()

    trio.run(main)
"""


@contextlib.contextmanager
def _child(*args: str) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HOLDER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        try:
            yield child
        finally:
            child.kill()


def _expect(child: subprocess.Popen[str], prefix: str) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith(prefix), line
    return line


async def test_a_killed_holder_is_taken_over_at_once_with_what_it_had_read(
    redis_server: RedisServer, prefix: str
) -> None:
    with _child(redis_server.url, prefix, HOOK, "30") as child:
        _expect(child, "claimed")
        async with RedisOutbox(redis_server.url, prefix=prefix) as outbox:
            with pytest.raises(OutboxLeaseHeld, match=f"process {child.pid}"):
                await outbox.take(HOOK)
            child.kill()
            child.wait()  # reaped: a zombie would still look alive
            # Its lease runs 30 s more, but its process is gone (same host): no wait. The
            # two entries it had read (XREADGROUP) come back first (XAUTOCLAIM), in order.
            taken = await outbox.take(HOOK)
    assert [p.message.content for p in taken] == ["1", "2", "3", "4"]


async def test_a_stalled_holder_loses_its_lease_and_does_not_send(
    redis_server: RedisServer, prefix: str
) -> None:
    with _child(redis_server.url, prefix, HOOK, "1.0") as child:
        _expect(child, "claimed")
        async with RedisOutbox(redis_server.url, prefix=prefix) as outbox:
            with pytest.raises(OutboxLeaseHeld) as info:
                await outbox.take(HOOK)
            assert 0 < info.value.expires_in <= 1.0
            child.send_signal(signal.SIGSTOP)
            await trio.sleep(1.3)  # its lease runs out: it cannot renew while stopped
            taken = await outbox.take(HOOK)
            assert [p.message.content for p in taken] == ["1", "2", "3", "4"]
            child.send_signal(signal.SIGCONT)
            assert child.stdin is not None
            child.stdin.write("send\n")
            child.stdin.flush()
            line = _expect(child, "lost:")
            assert HOOK in line
            await outbox.mark_in_flight(taken[0].entry, 0)  # the new holder sends it
