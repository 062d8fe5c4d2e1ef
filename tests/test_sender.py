"""The sender against the in-process FakeDiscord, on the autojump clock.

Every wait is virtual: the fake and the sender share trio's clock, so times are asserted
exactly (or within a bound the rate-limit strategy's documented jitter justifies).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import random
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_webhook import (
    Delivery,
    DeliveryFailed,
    Embed,
    EmbedMedia,
    FilePart,
    Message,
    QueueFull,
    Receipt,
    SenderClosed,
    SenderConfig,
    WebhookClient,
    WebhookSender,
    open_webhook_sender,
)
from trio_webhook.deadletter import DeadLetter, JsonlSink, read, replay
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.testing import FakeDiscord, FakeWebhook

# The fake's bucket: 5 requests per fixed 2-s window (Discord's observed webhook limit).
BUCKET = 5
WINDOW = 2.0
# The adaptive strategy waits for a bucket reset plus a jitter of at most 10 ms.
RESET_JITTER = 0.01


def open_sender(
    fake: FakeDiscord, hook: FakeWebhook, **config: Any
) -> AbstractAsyncContextManager[WebhookSender]:
    return open_webhook_sender(
        hook.url, transport=fake.transport(), config=SenderConfig(seed=0, **config)
    )


def titles(fake: FakeDiscord, channel_id: str) -> list[str]:
    return [e["title"] for m in fake.history(channel_id) for e in m["embeds"]]


def ten_embeds(i: int) -> Message:
    return Message(embeds=[Embed(title=f"{i}.{j}") for j in range(10)])


def with_file(i: int) -> Message:
    part = FilePart(f"log-{i}.txt", data=f"log {i}".encode(), content_type="text/plain")
    return Message(content=f"build {i}", embeds=[Embed(title=f"#{i}")], attachments=[part])


def assert_balanced(sender: WebhookSender) -> None:
    s = sender.stats()
    assert s.enqueued == s.delivered + s.dead + s.in_flight


async def failure(receipt: Receipt) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as info:
        await receipt.wait()
    return info.value


def extra(record: logging.LogRecord, key: str) -> Any:
    """A structured field the library put on a log record (``extra=``)."""
    return record.__dict__[key]


def records(path: Path) -> list[DeadLetter]:
    return list(read(path))


# --- Stress: the seed's 1000 embeds -------------------------------------------------------------


async def test_1000_embeds_over_60_seconds_make_100_requests_without_429s(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    wall = time.perf_counter()
    receipts: list[Receipt] = []
    async with open_sender(fake, hook) as sender:
        for i in range(100):
            await trio.sleep_until(0.6 * i)
            receipts.append(sender.send_nowait(ten_embeds(i)))
            assert_balanced(sender)
    assert time.perf_counter() - wall < 5.0
    stats = sender.stats()
    assert (stats.enqueued, stats.delivered, stats.dead, stats.in_flight) == (100, 100, 0, 0)
    assert stats.requests == 100
    assert stats.rate_limited == {}
    assert fake.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}
    assert [r.status for r in fake.requests] == [200] * 100
    # Every embed once, in order.
    assert titles(fake, hook.channel_id) == [f"{i}.{j}" for i in range(100) for j in range(10)]
    # No starvation: each message goes out the moment it is enqueued (0.6 s apart, the
    # 2-s window never sees more than 4), so nothing waits behind anything.
    assert [r.time for r in fake.requests] == [0.6 * i for i in range(100)]
    assert stats.waits == 0
    for i, receipt in enumerate(receipts):
        delivery = await receipt.wait()
        assert len(delivery.messages) == 1
        assert delivery.messages[0].raw["embeds"][0]["title"] == f"{i}.0"


async def test_burst_of_100_messages_finishes_at_the_theoretical_minimum(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    async with open_sender(fake, hook, drain_timeout=60) as sender:
        receipts = [sender.send_nowait(ten_embeds(i)) for i in range(100)]
    assert fake.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}
    assert sender.stats().rate_limited == {}
    assert titles(fake, hook.channel_id) == [f"{i}.{j}" for i in range(100) for j in range(10)]
    assert all(r.done for r in receipts)
    # 100 requests need 20 windows of 5; the fixed windows open 2 s apart at best, so the
    # last request cannot go before t=38. The strategy waits for each reset plus at most
    # 10 ms of jitter: each window opens within [2.0, 2.01] s of the previous one.
    times = [r.time for r in fake.requests]
    starts = times[::BUCKET]
    assert len(starts) == 20
    for k in range(0, len(times), BUCKET):
        assert len(set(times[k : k + BUCKET])) == 1  # a window's 5 requests go out together
    for a, b in itertools.pairwise(starts):
        assert WINDOW <= b - a <= WINDOW + RESET_JITTER
    assert 19 * WINDOW <= times[-1] <= 19 * (WINDOW + RESET_JITTER)
    assert trio.current_time() == times[-1]


# --- Backpressure ---------------------------------------------------------------------------------


async def test_send_nowait_never_waits_and_sheds_oldest_attachments_first(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    # Each answer takes 5 s (under the 10-s request timeout): the consumer crawls.
    fake.inject("delay", count=100, delay=5.0)
    caplog.set_level(logging.WARNING, logger="trio_webhook")
    async with open_sender(fake, hook, queue_cap=2, max_buffered=20, drain_timeout=300) as sender:
        assert sender.stats().buffered == 0
        start = trio.current_time()
        receipts = [sender.send_nowait(with_file(i)) for i in range(22)]
        assert trio.current_time() == start  # never waited
        with pytest.raises(QueueFull):
            sender.send_nowait(with_file(22))
        stats = sender.stats()
        # The first queue_cap = 2 are next in line, never shed and not counted as
        # buffered. The high-water mark is 2 x queue_cap = 4: each push past it stripped
        # the oldest buffered message that still had a file, so the newest 4 keep theirs.
        assert stats.buffered == 20
        assert (stats.shed_attachments, stats.shed_messages) == (16, 16)
        assert stats.enqueued == 22  # the refused one is not counted
        assert_balanced(sender)
    # The first shed warns at once; the rest (same instant) are summed into one more
    # warning, at the latest on shutdown, naming the first ten files: a stall does not
    # flood the log, and the counters stay exact.
    shed = [r for r in caplog.records if "high-water" in r.getMessage()]
    assert all(r.levelno == logging.WARNING for r in shed)
    assert [extra(r, "shed_attachments") for r in shed] == [1, 15]
    assert [name for r in shed for name in extra(r, "filenames")] == [
        f"log-{i}.txt" for i in range(2, 13)
    ]
    assert shed[1].getMessage().endswith("log-12.txt and 5 more")

    assert sender.stats().delivered == 22
    history = fake.history(hook.channel_id)
    assert [m["content"] for m in history] == [f"build {i}" for i in range(22)]
    assert [e["title"] for m in history for e in m["embeds"]] == [f"#{i}" for i in range(22)]
    kept = [[f"log-{i}.txt"] for i in (0, 1)]
    assert [[a["filename"] for a in m["attachments"]] for m in history] == kept + [[]] * 16 + [
        [f"log-{i}.txt"] for i in range(18, 22)
    ]
    assert all(r.done for r in receipts)
    # 22 answers, one at a time, 5 s each.
    assert trio.current_time() == 110.0


async def test_shedding_a_file_an_embed_shows_keeps_the_embed_without_the_image(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    fake.inject("delay", count=100, delay=5.0)

    def chart(i: int) -> Message:
        part = FilePart(f"chart-{i}.png", data=b"\x89PNG", content_type="image/png")
        embed = Embed(
            title=f"#{i}",
            image=EmbedMedia(f"attachment://chart-{i}.png"),
            thumbnail=EmbedMedia("https://example.com/keep.png"),
        )
        return Message(embeds=[embed], attachments=[part])

    async with open_sender(fake, hook, queue_cap=1, drain_timeout=300) as sender:
        receipts = [sender.send_nowait(chart(i)) for i in range(6)]
        assert sender.stats().shed_attachments > 0
    # A shed file's attachment:// image would make Discord refuse the message: it is
    # dropped with the file, and everything else of the embed is delivered.
    for receipt in receipts:
        await receipt.wait()
    history = fake.history(hook.channel_id)
    assert [m["embeds"][0]["title"] for m in history] == [f"#{i}" for i in range(6)]
    for message in history:
        embed = message["embeds"][0]
        assert embed["thumbnail"]["url"] == "https://example.com/keep.png"
        assert ("image" in embed) == bool(message["attachments"])


async def test_shedding_warnings_are_summed_at_most_once_a_second(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    fake.inject("delay", count=100, delay=9.0)  # a crawl: one answer every 9 s
    caplog.set_level(logging.WARNING, logger="trio_webhook")
    async with open_sender(fake, hook, queue_cap=1, drain_timeout=0) as sender:
        for i in range(40):  # one message with a file every 0.1 s, for 4 s
            sender.send_nowait(with_file(i))
            await trio.sleep(0.1)
        shed_total = sender.stats().shed_attachments
    shed = [r for r in caplog.records if "high-water" in r.getMessage()]
    # High water 2, two more held ahead of the buffer (in flight, and queue_cap = 1 next
    # in line): every message from the 5th on sheds one file, 36 in all. Warnings at
    # t=0.4 (the first), 1.4, 2.4, 3.4 and one summary on shutdown.
    assert shed_total == 36
    assert len(shed) == 5
    assert sum(extra(r, "shed_attachments") for r in shed) == shed_total


async def test_send_waits_for_room_instead_of_shedding(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    fake.inject("delay", count=100, delay=5.0)
    returned: list[float] = []
    async with open_sender(fake, hook, queue_cap=1, drain_timeout=300) as sender:
        for i in range(8):
            await sender.send(with_file(i))
            returned.append(trio.current_time())
            assert sender.stats().buffered <= 2  # never past the high-water mark
    stats = sender.stats()
    assert (stats.shed_attachments, stats.delivered) == (0, 8)
    history = fake.history(hook.channel_id)
    assert [[a["filename"] for a in m["attachments"]] for m in history] == [
        [f"log-{i}.txt"] for i in range(8)
    ]
    # One message in flight, one next in line (queue_cap 1), two in the buffer (the
    # high-water mark): the first four go at once, then each waits for an answer to
    # free a place (5 s each).
    assert returned == [0.0, 0.0, 0.0, 0.0, 5.0, 10.0, 15.0, 20.0]


@pytest.mark.parametrize("shared", [True, False])
async def test_senders_sharing_a_tracker_pace_the_global_limit_together(
    autojump_clock: trio.testing.MockClock, shared: bool
) -> None:
    # 30 webhooks whose buckets would each let 5 requests through at once: 150 in the
    # first instant, three times Discord's 50 a second per IP.
    fake = FakeDiscord(seed=0, global_limit=50)
    hooks = [fake.create_webhook() for _ in range(30)]
    tracker = RateLimitTracker(rng=random.Random(0))
    async with contextlib.AsyncExitStack() as stack:
        senders = [
            await stack.enter_async_context(
                open_webhook_sender(
                    hook.url,
                    tracker=tracker if shared else None,
                    transport=fake.transport(),
                    config=SenderConfig(seed=0),
                )
            )
            for hook in hooks
        ]
        for sender in senders:
            for i in range(5):
                sender.send_nowait(Message(content=f"m{i}"))
    assert sum(s.stats().delivered for s in senders) == 150
    global_429s = fake.stats().rate_limited["global"]
    if shared:
        assert global_429s == 0
    else:
        assert global_429s > 0  # each tracker paces only its own requests


async def test_a_given_client_excludes_the_parts_of_a_client_to_make() -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    client = WebhookClient(hook.url, transport=fake.transport())
    with pytest.raises(ValueError, match="either client= or"):
        async with open_webhook_sender(hook.url, client=client, tracker=RateLimitTracker()):
            pass
    await client.aclose()


async def test_sender_refuses_messages_once_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    async with open_sender(fake, hook) as sender:
        pass
    with pytest.raises(SenderClosed):
        sender.send_nowait(Message(content="late"))
    assert fake.requests == []


# --- Dead letters and replay ----------------------------------------------------------------


async def test_permanent_400_is_dead_lettered_and_replays_to_the_right_webhook(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    fake = FakeDiscord(seed=0)
    text_hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    # Valid for our validator, but only a forum channel takes a thread_name: 400, 220003.
    post = Message(content="release notes", thread_name="v1.2.3")
    async with open_sender(fake, text_hook, dead_letter=dead) as sender:
        receipt = sender.send_nowait(post)
        after = sender.send_nowait(Message(content="next"))
    error = await failure(receipt)
    assert (error.reason, error.status, error.attempts) == ("permanent", 400, 1)
    assert (await after.wait()).id is not None  # one bad message does not stop the queue
    assert len(fake.requests) == 2
    [record] = records(dead)
    assert (record.reason, record.status, record.attempts) == ("permanent", 400, 1)
    assert "220003" in record.body
    assert record.message == post
    assert record.webhook_id == text_hook.id

    forum_hook = fake.create_webhook(fake.create_channel(forum=True))
    result = await replay(dead, forum_hook.url, transport=fake.transport())
    assert (result.delivered, result.failed, result.skipped) == (1, (), 0)
    [thread] = fake.threads(forum_hook.channel_id)
    assert [m["content"] for m in fake.history(thread)] == ["release notes"]


async def test_exhausted_5xx_is_dead_lettered_then_replayed(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    fake.inject("server_error", count=5, status=502)
    async with open_sender(fake, hook, dead_letter=dead) as sender:
        receipt = sender.send_nowait(Message(content="deploy finished"))
    error = await failure(receipt)
    assert (error.reason, error.status, error.attempts) == ("exhausted", 502, 5)
    assert [r.status for r in fake.requests] == [502] * 5
    stats = sender.stats()
    assert (stats.requests, stats.retries, stats.ambiguous_retries) == (5, 4, 0)  # 502 is safe
    # Decorrelated jitter: each retry waits between 0.25 s and 3x the previous wait.
    gaps = [b.time - a.time for a, b in itertools.pairwise(fake.requests)]
    assert all(0.25 <= g <= 10.0 for g in gaps)
    [record] = records(dead)
    assert (record.reason, record.status, record.attempts) == ("exhausted", 502, 5)
    assert record.delivered_requests == 0
    assert fake.history(hook.channel_id) == []

    result = await replay(dead, hook.url, transport=fake.transport())
    assert (result.delivered, result.failed, result.skipped) == (1, (), 0)
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["deploy finished"]


async def test_dead_webhook_dead_letters_the_whole_queue_after_one_request(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    fake.delete_webhook(hook)
    async with open_sender(fake, hook, dead_letter=dead) as sender:
        receipts = [sender.send_nowait(Message(content=f"m{i}")) for i in range(5)]
    assert len(fake.requests) == 1  # nothing hammers a deleted webhook
    assert fake.requests[0].status == 404
    assert sender.stats().dead == 5
    for receipt in receipts:
        error = await failure(receipt)
        assert (error.reason, error.status) == ("dead_webhook", 404)
    got = records(dead)
    assert [r.message.content for r in got] == [f"m{i}" for i in range(5)]
    assert {(r.reason, r.status) for r in got} == {("dead_webhook", 404)}
    assert [r.attempts for r in got] == [1, 0, 0, 0, 0]  # only the first was tried

    new_hook = fake.create_webhook()
    result = await replay(dead, new_hook.url, transport=fake.transport())
    assert (result.delivered, result.failed, result.skipped) == (5, (), 0)
    assert [m["content"] for m in fake.history(new_hook.channel_id)] == [f"m{i}" for i in range(5)]


async def test_shutdown_with_a_queue_left_dead_letters_it_then_replays(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    fake.inject("delay", count=1, delay=5.0)
    async with open_sender(fake, hook, dead_letter=dead, drain_timeout=1.0) as sender:
        receipts = [sender.send_nowait(Message(content=f"m{i}")) for i in range(3)]
    # The first answer would take 5 s; the drain deadline (1 s) passes first. The first
    # message's request was on its way (Discord may have posted it): ambiguous. Nothing of
    # the others was sent: shutdown, safe to replay.
    assert trio.current_time() == 1.0
    expected = [("ambiguous", 1), ("shutdown", 0), ("shutdown", 0)]
    for receipt, (reason, attempts) in zip(receipts, expected, strict=True):
        error = await failure(receipt)
        assert (error.reason, error.status, error.attempts) == (reason, None, attempts)
    got = records(dead)
    assert [(r.reason, r.message.content) for r in got] == [
        (reason, f"m{i}") for i, (reason, _) in enumerate(expected)
    ]
    stats = sender.stats()
    assert (stats.enqueued, stats.delivered, stats.dead, stats.in_flight) == (3, 0, 3, 0)
    assert fake.history(hook.channel_id) == []  # the abandoned request was never stored

    result = await replay(dead, hook.url, transport=fake.transport())
    assert (result.delivered, result.failed, result.skipped) == (3, (), 0)
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["m0", "m1", "m2"]


@pytest.mark.parametrize("wait", [True, False])
async def test_partial_message_replays_only_its_missing_parts(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, wait: bool
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    big = Message(embeds=[Embed(title=f"e{i}") for i in range(25)])  # 3 requests: 10, 10, 5
    fake.inject("delay", count=1, delay=0.0)  # the first request passes untouched
    fake.inject("server_error", count=5, status=503)  # the second never gets through
    async with open_sender(fake, hook, dead_letter=dead, wait=wait) as sender:
        receipt = sender.send_nowait(big)
    error = await failure(receipt)
    assert (error.reason, error.status) == ("exhausted", 503)
    assert titles(fake, hook.channel_id) == [f"e{i}" for i in range(10)]
    [record] = records(dead)
    assert record.delivered_requests == 1

    result = await replay(dead, hook.url, transport=fake.transport())
    assert (result.delivered, result.failed, result.skipped) == (1, (), 0)
    # Every embed exactly once, in order: the delivered first part was not re-sent.
    assert titles(fake, hook.channel_id) == [f"e{i}" for i in range(25)]


@pytest.mark.parametrize("wait", [True, False])
async def test_partial_forum_post_replays_into_the_thread_it_created(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, wait: bool
) -> None:
    fake = FakeDiscord(seed=0)
    forum = fake.create_channel(forum=True)
    hook = fake.create_webhook(forum)
    dead = tmp_path / "dead.jsonl"
    post = Message(thread_name="release", embeds=[Embed(title=f"e{i}") for i in range(25)])
    fake.inject("delay", count=1, delay=0.0)  # the first request creates the post
    fake.inject("server_error", count=5, status=503)  # the second never gets through
    async with open_sender(fake, hook, dead_letter=dead, wait=wait) as sender:
        receipt = sender.send_nowait(post)
    assert (await failure(receipt)).reason == "exhausted"
    [thread] = fake.threads(forum)
    [record] = records(dead)
    assert (record.delivered_requests, record.thread_id) == (1, thread)

    result = await replay(dead, hook.url, transport=fake.transport())
    assert (result.delivered, result.failed) == (1, ())
    # One post holding every embed once, in order: the replay did not open a second one.
    assert fake.threads(forum) == [thread]
    assert titles(fake, thread) == [f"e{i}" for i in range(25)]


async def test_replay_collects_failures_and_skips_what_was_delivered(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    sink = JsonlSink(dead).put
    await sink(DeadLetter(reason="exhausted", message=Message(content="again")))
    done = Message(embeds=[Embed(title="x")])
    await sink(DeadLetter(reason="shutdown", message=done, delivered_requests=1))
    await sink(DeadLetter(reason="permanent", message=Message(content="forum", thread_name="t")))
    result = await replay(dead, hook.url, transport=fake.transport())
    assert result.delivered == 1
    assert result.skipped == 1
    [(record, text)] = result.failed
    assert record.message.content == "forum"
    assert "400" in text
    assert hook.token not in text
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["again"]


async def test_replay_of_a_metadata_only_record_sends_it_without_files(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    fake.inject("server_error", count=5, status=503)
    shot = FilePart("shot.png", data=b"\x89PNG...", content_type="image/png")
    message = Message(
        content="screenshot",
        embeds=[Embed(title="ui", image=EmbedMedia(url="attachment://shot.png"))],
        attachments=[shot],
    )
    async with open_sender(fake, hook, dead_letter=dead, dead_letter_attachments=False) as sender:
        receipt = sender.send_nowait(message)
    assert (await failure(receipt)).reason == "exhausted"
    [record] = records(dead)
    assert record.message.attachments == ()
    assert [a.filename for a in record.omitted_attachments] == ["shot.png"]

    caplog.set_level(logging.WARNING, logger="trio_webhook")
    result = await replay(dead, hook.url, transport=fake.transport())
    assert (result.delivered, result.failed) == (1, ())
    [stored] = fake.history(hook.channel_id)
    assert stored["content"] == "screenshot"
    assert stored["attachments"] == []
    assert stored["embeds"][0]["title"] == "ui"
    assert "image" not in stored["embeds"][0]  # the reference to the lost file is gone
    assert any("shot.png" in r.getMessage() for r in caplog.records)


# --- Cancellation from outside -------------------------------------------------------------------


async def test_outside_cancellation_still_drains_within_the_deadline(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    with trio.move_on_after(1.0) as outer:
        async with open_sender(fake, hook, dead_letter=dead, drain_timeout=5.0) as sender:
            receipts = [sender.send_nowait(Message(content=f"m{i}")) for i in range(10)]
            await trio.sleep_forever()
    assert outer.cancelled_caught
    # Cancelled at t=1; the drain is shielded: the second window opens at ~2.0 and the
    # last five go then, well within the 5-s deadline.
    assert 2.0 <= trio.current_time() <= 2.0 + RESET_JITTER
    for receipt in receipts:
        assert isinstance(await receipt.wait(), Delivery)
    assert sender.stats().delivered == 10
    assert not dead.exists()


async def test_outside_cancellation_dead_letters_what_the_deadline_leaves(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    with trio.move_on_after(1.0):
        async with open_sender(fake, hook, dead_letter=dead, drain_timeout=1.5) as sender:
            for i in range(15):
                sender.send_nowait(Message(content=f"m{i}"))
            await trio.sleep_forever()
    # Windows open at 0, ~2 and ~4: the deadline (1 + 1.5 s) lets the first two through.
    assert trio.current_time() == 2.5
    stats = sender.stats()
    assert (stats.enqueued, stats.delivered, stats.dead, stats.in_flight) == (15, 10, 5, 0)
    delivered = [m["content"] for m in fake.history(hook.channel_id)]
    left = [r.message.content for r in records(dead)]
    assert delivered == [f"m{i}" for i in range(10)]
    assert left == [f"m{i}" for i in range(10, 15)]  # nothing lost, nothing twice
    assert {r.reason for r in records(dead)} == {"shutdown"}


# --- Dry run ------------------------------------------------------------------------------------


async def test_dry_run_sends_nothing_but_resolves_receipts_and_counts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    async with open_sender(fake, hook, dry_run=True) as sender:
        small = sender.send_nowait(Message(content="hi"))
        big = sender.send_nowait(Message(embeds=[Embed(title=f"e{i}") for i in range(25)]))
    assert fake.requests == []
    assert (await small.wait()).id == "1"
    assert [m.id for m in (await big.wait()).messages] == ["2", "3", "4"]
    stats = sender.stats()
    assert (stats.delivered, stats.requests) == (2, 4)


# --- Secrets ----------------------------------------------------------------------------------


async def test_token_never_reaches_logs_or_dead_letters(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    dead = tmp_path / "dead.jsonl"
    caplog.set_level(logging.DEBUG)  # the root logger: httpx and httpcore included
    fake.fault_rate(0.4, kinds=["server_error", "drop", "delay", "invalid_json"])
    receipts: list[Receipt] = []
    async with open_sender(
        fake, hook, dead_letter=dead, max_attempts=2, drain_timeout=600
    ) as sender:
        for i in range(30):
            receipts.append(sender.send_nowait(Message(content=f"m{i}")))
        for receipt in receipts:
            with contextlib.suppress(DeliveryFailed):
                await receipt.wait()
        fake.fault_rate(0)
        fake.delete_webhook(hook)  # and the 404 path too
        receipts.append(sender.send_nowait(Message(content="to a deleted webhook")))
    stats = sender.stats()
    assert stats.dead > 1
    assert stats.retries > 0
    assert {r.reason for r in records(dead)} == {"exhausted", "dead_webhook", "ambiguous"}
    assert stats.enqueued == stats.delivered + stats.dead
    assert hook.token not in caplog.text
    for record in caplog.records:
        assert hook.token not in record.getMessage()
        assert hook.token not in repr(record.__dict__)
    assert hook.token not in dead.read_text()
    errors: list[str] = []
    for receipt in receipts:
        try:
            await receipt.wait()
        except DeliveryFailed as exc:
            errors.append(f"{exc} {exc.error}")
    assert len(errors) == stats.dead
    assert not [e for e in errors if hook.token in e]
    assert hook.token not in repr(sender)


async def test_a_closed_sender_is_freed_by_reference_counting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A thousand senders opened and closed must not each wait for a collection: no part
    # of a sender may sit in a reference cycle (its buffer once held a bound method of
    # it). Cyclic garbage of the library's own types, collected with DEBUG_SAVEALL.
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    async with open_sender(fake, hook) as warm:  # imports, caches and pools made once
        await warm.send_nowait(Message(content="warm")).wait()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for n in range(3):
            fake.inject("delay", count=1, delay=5.0)
            async with open_sender(fake, hook, drain_timeout=0) as sender:
                sender.send_nowait(Message(content=f"stuck {n}"))  # dead-lettered at close
                sender.send_nowait(Message(content=f"queued {n}"))
                await trio.sleep(1)
            async with open_sender(fake, hook) as sender:
                await sender.send_nowait(Message(content=f"sent {n}")).wait()
        del sender
        gc.collect()
        ours = [o for o in gc.garbage if type(o).__module__.startswith("trio_webhook")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []


async def test_held_receipts_keep_discords_answers_as_text_until_read(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A service that keeps its receipts (W3 keeps a thousand) must not keep a dozen
    # parsed JSON containers each for the garbage collector to walk on every full
    # collection: the answer is kept as the text Discord sent, read when asked for.
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    async with open_sender(fake, hook) as sender:
        receipts = [
            sender.send_nowait(Message(content=f"#{i}", embeds=[Embed(title=f"t{i}")]))
            for i in range(200)
        ]
        deliveries = [await r.wait() for r in receipts]
    ids = [d.id for d in deliveries]
    gc.collect()
    held = len(gc.get_objects())
    del receipts, deliveries  # what the held receipts kept alive goes (the fake keeps its own)
    gc.collect()
    per_message = (held - len(gc.get_objects())) / 200
    # The receipt and its delivery (the message was freed once it was sent); the parsed
    # answer would add a dict and five lists.
    assert per_message <= 2.5
    # Read when asked: the same message Discord shows.
    assert ids == [m["id"] for m in fake.history(hook.channel_id)]
    async with open_sender(fake, hook) as sender:
        delivery = await sender.send_nowait(Message(content="#7", embeds=[Embed(title="t")])).wait()
    assert (delivery.messages[0].content, delivery.messages[0].embeds[0].title) == ("#7", "t")
    assert delivery.id == delivery.messages[0].id == fake.history(hook.channel_id)[-1]["id"]


# --- Receipts: every waiter wakes, a cancelled one leaves no trace ------------------------------


async def test_every_task_waiting_on_a_receipt_wakes_and_a_cancelled_one_is_forgotten(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.inject("delay", delay=5.0)
    got: list[str | None] = []
    async with open_sender(fake, hook) as sender:
        receipt = sender.send_nowait(Message(content="slow"))

        async def waiter() -> None:
            got.append((await receipt.wait()).id)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            nursery.start_soon(waiter)
            with trio.move_on_after(1.0):  # gives up before the answer comes
                await receipt.wait()
            assert not receipt.done
    assert len(got) == 2
    assert got[0] == got[1] == fake.history(hook.channel_id)[0]["id"]
    assert receipt._waiters is None
