"""The sender with a durable outbox: commit, restart, resume, dead letters, flush.

Real clock, real SQLite file: the outbox's worker thread is outside trio, so the autojump
clock would skip time while a commit runs (STACK-NOTES). The fake answers at once and
its bucket is widened so nothing here waits on a rate limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trio_webhook import DeliveryFailed, Embed, Message, SenderConfig, open_webhook_sender
from trio_webhook.outbox import SQLiteOutbox
from trio_webhook.testing import FakeDiscord, FakeWebhook


def fast_fake() -> tuple[FakeDiscord, FakeWebhook]:
    fake = FakeDiscord(seed=0, bucket_limit=1000, bucket_window=1.0)
    return fake, fake.create_webhook()


def config(path: Path, **changes: Any) -> SenderConfig:
    return SenderConfig(seed=0, outbox=str(path), **changes)


def contents(fake: FakeDiscord, hook: FakeWebhook) -> list[str]:
    return [m["content"] for m in fake.history(hook.channel_id)]


async def test_send_returns_once_committed_and_delivery_deletes_the_row(tmp_path: Path) -> None:
    fake, hook = fast_fake()
    path = tmp_path / "outbox.db"
    # A stalled webhook: the message stays queued while we look at the file.
    fake.inject("delay", count=1, delay=0.5)
    async with open_webhook_sender(hook.url, config=config(path), transport=fake.transport()) as s:
        receipt = await s.send(Message(content="durable"))
        async with SQLiteOutbox(path) as look:
            [pending] = await look.pending(hook.id)
        assert pending.message.content == "durable"
        await receipt.wait()
    async with SQLiteOutbox(path) as look:
        assert await look.pending(hook.id) == []
    assert contents(fake, hook) == ["durable"]


async def test_send_nowait_then_flush_commits_every_message(tmp_path: Path) -> None:
    fake, hook = fast_fake()
    path = tmp_path / "outbox.db"
    fake.inject("delay", count=1, delay=0.5)
    async with open_webhook_sender(hook.url, config=config(path), transport=fake.transport()) as s:
        for i in range(20):
            s.send_nowait(Message(content=f"m{i}"))
        await s.flush()
        async with SQLiteOutbox(path) as look:
            pending = await look.pending(hook.id)
        # Everything not yet delivered is in the file, in order.
        assert [p.message.content for p in pending] == [f"m{i}" for i in range(20)][-len(pending) :]
        assert len(pending) >= 19
    assert contents(fake, hook) == [f"m{i}" for i in range(20)]


async def test_what_a_stopped_sender_left_is_delivered_first_by_the_next(tmp_path: Path) -> None:
    fake, hook = fast_fake()
    path = tmp_path / "outbox.db"
    fake.inject("delay", count=1, delay=5.0)  # the first answer never comes in time
    async with open_webhook_sender(
        hook.url,
        config=config(path, drain_timeout=0.2, total_timeout=10.0),
        transport=fake.transport(),
    ) as first:
        kept = [first.send_nowait(Message(content=f"old{i}")) for i in range(3)]
    stats = first.stats()
    assert (stats.kept, stats.dead, stats.delivered) == (3, 0, 0)
    for receipt in kept:
        with pytest.raises(DeliveryFailed) as info:
            await receipt.wait()
        assert info.value.reason == "kept"

    async with open_webhook_sender(
        hook.url, config=config(path), transport=fake.transport()
    ) as second:
        second.send_nowait(Message(content="new"))
    # old0's first request was in flight (ambiguous): sent again, so it may show twice.
    shown = contents(fake, hook)
    assert [c for c in shown if c != "old0"] == ["old1", "old2", "new"]
    assert shown.index("old1") > shown.index("old0")
    assert (second.stats().recovered, second.stats().recovered_ambiguous) == (3, 1)
    async with SQLiteOutbox(path) as look:
        assert await look.pending() == []


async def test_a_half_delivered_message_resumes_after_its_delivered_requests(
    tmp_path: Path,
) -> None:
    fake, hook = fast_fake()
    path = tmp_path / "outbox.db"
    big = Message(embeds=[Embed(title=f"e{i}") for i in range(25)])  # 3 requests
    async with SQLiteOutbox(path) as outbox:
        [entry] = await outbox.append(hook.id, [big])
        await outbox.record_delivered(entry, 0)
        await outbox.release(hook.id)
    async with open_webhook_sender(hook.url, config=config(path), transport=fake.transport()):
        pass
    titles = [e["title"] for m in fake.history(hook.channel_id) for e in m["embeds"]]
    assert titles == [f"e{i}" for i in range(10, 25)]  # the first request is not re-sent


async def test_an_in_flight_message_is_dead_lettered_ambiguous_when_asked(tmp_path: Path) -> None:
    fake, hook = fast_fake()
    path = tmp_path / "outbox.db"
    async with SQLiteOutbox(path) as outbox:
        [entry] = await outbox.append(hook.id, [Message(content="maybe posted")])
        await outbox.mark_in_flight(entry, 0)
        await outbox.release(hook.id)
    async with open_webhook_sender(
        hook.url, config=config(path, retry_ambiguous=False), transport=fake.transport()
    ) as sender:
        pass
    assert contents(fake, hook) == []
    assert (sender.stats().dead, sender.stats().recovered_ambiguous) == (1, 1)
    async with SQLiteOutbox(path) as look:
        [dead] = await look.dead_letters(hook.id)
    assert (dead.record.reason, dead.record.message.content) == ("ambiguous", "maybe posted")


async def test_dead_letters_live_in_the_outbox(tmp_path: Path) -> None:
    fake, hook = fast_fake()
    path = tmp_path / "outbox.db"
    fake.inject("server_error", count=10, status=503)
    async with open_webhook_sender(
        hook.url,
        config=config(path, max_attempts=2, backoff_base=0.01, backoff_cap=0.02),
        transport=fake.transport(),
    ) as sender:
        receipt = sender.send_nowait(Message(content="doomed"))
        with pytest.raises(DeliveryFailed):
            await receipt.wait()
    async with SQLiteOutbox(path) as look:
        [dead] = await look.dead_letters(hook.id)
        assert await look.pending() == []
    assert (dead.record.reason, dead.record.status) == ("exhausted", 503)


async def test_two_senders_of_one_process_share_one_file(tmp_path: Path) -> None:
    fake = FakeDiscord(seed=0, bucket_limit=1000, bucket_window=1.0)
    one, two = fake.create_webhook(), fake.create_webhook()
    path = tmp_path / "outbox.db"
    async with (
        open_webhook_sender(one.url, config=config(path), transport=fake.transport()) as a,
        open_webhook_sender(two.url, config=config(path), transport=fake.transport()) as b,
    ):
        await a.send(Message(content="to one"))
        await b.send(Message(content="to two"))
    assert contents(fake, one) == ["to one"]
    assert contents(fake, two) == ["to two"]


async def test_a_second_sender_on_the_same_webhook_and_file_is_refused(tmp_path: Path) -> None:
    from trio_webhook.outbox import OutboxLeaseHeld

    fake, hook = fast_fake()
    path = tmp_path / "outbox.db"
    async with SQLiteOutbox(path) as other:  # another process, as far as leases go
        await other.claim(hook.id)
        with pytest.raises(OutboxLeaseHeld, match="two processes must not deliver"):
            async with open_webhook_sender(
                hook.url, config=config(path), transport=fake.transport()
            ):
                pass


async def test_replaying_the_outbox_twice_posts_once(tmp_path: Path) -> None:
    from trio_webhook.deadletter import replay

    fake, hook = fast_fake()
    path = tmp_path / "outbox.db"
    fake.inject("server_error", count=2, status=503)
    async with open_webhook_sender(
        hook.url,
        config=config(path, max_attempts=2, backoff_base=0.01, backoff_cap=0.02),
        transport=fake.transport(),
    ) as sender:
        with pytest.raises(DeliveryFailed):
            await sender.send_nowait(Message(content="again")).wait()
    first = await replay(path, hook.url, transport=fake.transport())
    second = await replay(path, hook.url, transport=fake.transport())
    assert (first.delivered, second.delivered, second.skipped) == (1, 0, 0)
    assert contents(fake, hook) == ["again"]
    async with SQLiteOutbox(path) as look:
        assert await look.dead_letters(hook.id) == []
        [done] = await look.dead_letters(hook.id, include_replayed=True)
    assert done.replayed is not None
