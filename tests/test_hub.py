"""The hub: many webhooks through one object, a sender lane each, opened and closed on demand.

FakeDiscord in-process (its transport follows trio's clock) and the autojump MockClock,
so idle timeouts are exact virtual seconds.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest
import trio
import trio.testing

from trio_webhook import DeliveryFailed, Message, QueueFull, SenderClosed, SenderConfig
from trio_webhook.deadletter import MemorySink
from trio_webhook.hub import open_webhook_hub
from trio_webhook.ratelimit import MemoryStore, RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.testing import FakeDiscord


def _config(**changes: object) -> SenderConfig:
    return SenderConfig(seed=1, **changes)  # type: ignore[arg-type]


async def test_messages_keep_their_order_per_webhook(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    hooks = [fake.create_webhook() for _ in range(3)]
    async with open_webhook_hub(config=_config(), transport=fake.transport()) as hub:
        receipts = [
            hub.send_nowait(hook.url, Message(content=f"{i}:{n}"))
            for n in range(12)
            for i, hook in enumerate(hooks)
        ]
        for receipt in receipts:
            await receipt.wait()
        stats = hub.stats()
    for i, hook in enumerate(hooks):
        assert [m["content"] for m in fake.history(hook.channel_id)] == [
            f"{i}:{n}" for n in range(12)
        ]
    assert stats.total.delivered == 36
    assert stats.total.enqueued == 36
    assert stats.webhooks == 3
    assert stats.lanes_opened == 3
    # 12 messages to one webhook under the 5-per-2-s bucket: paced, never a 429.
    assert sum(fake.stats().rate_limited.values()) == 0


async def test_a_lane_closes_when_idle_and_reopens_on_demand(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    async with open_webhook_hub(
        config=_config(), transport=fake.transport(), idle_timeout=10
    ) as hub:
        await hub.send_nowait(hook.url, Message(content="one")).wait()
        sent_at = trio.current_time()
        assert hub.stats().lanes == 1
        await trio.sleep_until(sent_at + 9.9)
        assert hub.stats().lanes == 1
        await trio.sleep_until(sent_at + 10.1)
        assert hub.stats().lanes == 0
        # Counters outlive the lane, and the next message opens a new one.
        closed = hub.webhook_stats(hook.url)
        assert closed is not None
        assert closed.delivered == 1
        await hub.send_nowait(hook.url, Message(content="two")).wait()
        stats = hub.stats()
        assert (stats.lanes, stats.lanes_opened, stats.webhooks) == (1, 2, 1)
        again = hub.webhook_stats(hook.url)
        assert again is not None
        assert again.delivered == 2
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["one", "two"]
    assert hub.stats().total.delivered == 2


async def test_each_lane_closes_a_timeout_after_its_own_last_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # One reaper serves every lane: A used at 0 and 6, B at 3; each closes 10 s after
    # its own last message, B first although it opened second.
    fake = FakeDiscord()
    a, b = fake.create_webhook(), fake.create_webhook()
    async with open_webhook_hub(
        config=_config(), transport=fake.transport(), idle_timeout=10
    ) as hub:
        start = trio.current_time()
        await hub.send_nowait(a.url, Message(content="a1")).wait()
        await trio.sleep_until(start + 3)
        await hub.send_nowait(b.url, Message(content="b1")).wait()
        await trio.sleep_until(start + 6)
        await hub.send_nowait(a.url, Message(content="a2")).wait()
        await trio.sleep_until(start + 12.9)
        assert (hub.is_open(a.url), hub.is_open(b.url)) == (True, True)
        await trio.sleep_until(start + 13.1)
        assert (hub.is_open(a.url), hub.is_open(b.url)) == (True, False)
        await trio.sleep_until(start + 15.9)
        assert hub.is_open(a.url)
        await trio.sleep_until(start + 16.1)
        assert hub.stats().lanes == 0
        assert hub.stats().lanes_opened == 2


async def test_closing_the_hub_past_the_drain_deadline_settles_what_is_left(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The first answer would take 5 s; the drain deadline (1 s) passes first: the
    # request on its way is ambiguous, the two behind it never went (shutdown).
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.inject("delay", count=1, delay=5.0)
    sink = MemorySink()
    config = _config(drain_timeout=1.0, dead_letter=sink)
    async with open_webhook_hub(config=config, transport=fake.transport()) as hub:
        receipts = [hub.send_nowait(hook.url, Message(content=f"m{n}")) for n in range(3)]
    assert trio.current_time() == 1.0
    reasons = []
    for receipt in receipts:
        with pytest.raises(DeliveryFailed) as caught:
            await receipt.wait()
        reasons.append(caught.value.reason)
    assert reasons == ["ambiguous", "shutdown", "shutdown"]
    assert [(r.reason, r.message.content) for r in sink.records] == [
        ("ambiguous", "m0"),
        ("shutdown", "m1"),
        ("shutdown", "m2"),
    ]
    total = hub.stats().total
    assert (total.enqueued, total.dead, total.in_flight) == (3, 3, 0)


async def test_a_cancelled_hub_still_delivers_what_it_accepted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Cancelled from outside while its answers are slow: the lanes drain shielded.
    fake = FakeDiscord()
    hooks = [fake.create_webhook() for _ in range(2)]
    fake.inject("delay", count=2, delay=2.0)
    with trio.move_on_after(0.5):
        async with open_webhook_hub(config=_config(), transport=fake.transport()) as hub:
            for hook in hooks:
                for n in range(3):
                    hub.send_nowait(hook.url, Message(content=str(n)))
            await trio.sleep_forever()
    assert [len(fake.history(h.channel_id)) for h in hooks] == [3, 3]
    assert hub.stats().total.delivered == 6


async def test_a_busy_lane_stays_open_past_the_idle_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Its message waits 30 s on a slow answer: the lane is not idle while it does.
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.inject("delay", 1, delay=30)
    transport = fake.transport(total_timeout=60)
    async with open_webhook_hub(config=_config(), transport=transport, idle_timeout=5) as hub:
        receipt = hub.send_nowait(hook.url, Message(content="slow"))
        await trio.sleep(20)
        assert hub.stats().lanes == 1
        await receipt.wait()
    assert hub.stats().total.delivered == 1


async def test_receipts_and_dead_letters_are_a_senders(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    alive, gone = fake.create_webhook(), fake.create_webhook()
    fake.delete_webhook(gone)
    sink = MemorySink()
    config = _config(dead_letter=sink)
    async with open_webhook_hub(config=config, transport=fake.transport()) as hub:
        delivered = hub.send_nowait(alive.url, Message(content="hi"))
        failed = hub.send_nowait(gone.url, Message(content="lost"))
        assert (await delivered.wait()).id is not None
        with pytest.raises(DeliveryFailed) as caught:
            await failed.wait()
    assert caught.value.reason == "dead_webhook"
    assert [(r.reason, r.webhook_id, r.message.content) for r in sink.records] == [
        ("dead_webhook", gone.id, "lost")
    ]
    total = hub.stats().total
    assert (total.delivered, total.dead, total.in_flight) == (1, 1, 0)


async def test_the_total_cap_refuses_send_nowait_and_holds_send(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Answers take 10 s, so nothing settles for a while: three messages over two
    # webhooks reach the cap of three.
    fake = FakeDiscord()
    hooks = [fake.create_webhook() for _ in range(2)]
    fake.inject("delay", 10, delay=10)
    transport = fake.transport(total_timeout=60)
    async with open_webhook_hub(config=_config(), transport=transport, max_buffered_total=3) as hub:
        for n in range(3):
            hub.send_nowait(hooks[n % 2].url, Message(content=f"m{n}"))
        with pytest.raises(QueueFull, match=r"max_buffered_total \(3\).*3 now"):
            hub.send_nowait(hooks[0].url, Message(content="refused"))
        start = trio.current_time()
        receipt = await hub.send(hooks[1].url, Message(content="waited"))
        # The first answers come after 10 s; send waited for room until then.
        assert trio.current_time() - start == pytest.approx(10, abs=0.01)
        await receipt.wait()
        assert hub.stats().total.in_flight <= 3
    contents = [m["content"] for h in hooks for m in fake.history(h.channel_id)]
    assert sorted(contents) == ["m0", "m1", "m2", "waited"]


async def test_leaving_the_hub_drains_every_lane(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeDiscord()
    hooks = [fake.create_webhook() for _ in range(4)]
    async with open_webhook_hub(config=_config(), transport=fake.transport()) as hub:
        for hook in hooks:
            for n in range(6):
                hub.send_nowait(hook.url, Message(content=str(n)))
    assert all(len(fake.history(h.channel_id)) == 6 for h in hooks)
    assert hub.stats().total.delivered == 24
    assert hub.stats().lanes == 0
    with pytest.raises(SenderClosed):
        hub.send_nowait(hooks[0].url, Message(content="late"))


async def test_an_exception_in_the_block_comes_out_as_itself(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()

    async def fail_inside() -> None:
        async with open_webhook_hub(config=_config(), transport=fake.transport()) as hub:
            hub.send_nowait(hook.url, Message(content="hi"))
            raise KeyError("boom")

    with pytest.raises(KeyError):
        await fail_inside()
    assert len(fake.history(hook.channel_id)) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"idle_timeout": 0}, r"idle_timeout must be positive \(got 0\)"),
        ({"max_buffered_total": 0}, r"max_buffered_total must be at least 1 \(got 0\)"),
    ],
)
async def test_bad_settings_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        async with open_webhook_hub(**kwargs):  # type: ignore[arg-type]
            pass


def _hub_bytes(snapshot: tracemalloc.Snapshot, baseline: tracemalloc.Snapshot) -> int:
    """Bytes the hub and the library hold that ``baseline`` did not (the fake's own left out)."""
    # One frame a trace (more makes the test minutes long): the fake's own allocations
    # are those made in its modules, and in the json and httpx code it calls.
    keep = [
        tracemalloc.Filter(False, pattern)
        for pattern in ("*/trio_webhook/testing/*", "*/json/*", "*/httpx/*", "*/h11/*")
    ]
    now = snapshot.filter_traces(keep)
    before = baseline.filter_traces(keep)
    return sum(stat.size_diff for stat in now.compare_to(before, "filename"))


def _one_message_each(count: int, figures: dict[str, float], measure: bool) -> None:
    """``count`` webhooks, a message each, through one hub; ``figures`` gets what it saw."""
    fake = FakeDiscord()
    hooks = [fake.create_webhook() for _ in range(count)]
    store = MemoryStore(idle_ttl=120)

    baselines: list[tracemalloc.Snapshot] = []

    def bytes_now() -> float:
        if not measure:
            return 0.0
        gc.collect()
        return _hub_bytes(tracemalloc.take_snapshot(), baselines[0]) / count

    async def main() -> None:
        # No global pacing: the fake has no global limit, and 10,000 senders waiting on
        # a 50-a-second pace would make this a test of the pacer (200 virtual seconds).
        tracker = RateLimitTracker(store=store, pacing=GlobalPacing(limit=0))
        config = _config(wait=False)
        if measure:
            gc.collect()
            baselines.append(tracemalloc.take_snapshot())
        async with open_webhook_hub(
            config=config, tracker=tracker, transport=fake.transport(), idle_timeout=5
        ) as hub:
            receipts = [hub.send_nowait(h.url, Message(content="hi")) for h in hooks]
            figures["open_lanes"] = hub.stats().lanes
            for receipt in receipts:
                await receipt.wait()
            del receipts
            await trio.sleep(6)
            figures["lanes_after_idle"] = hub.stats().lanes
            figures["idle"] = bytes_now()
            figures["buckets"] = len(store)
            await trio.sleep(120)
            # The store forgets idle buckets on its next use: one more message.
            await hub.send_nowait(hooks[0].url, Message(content="later")).wait()
            await trio.sleep(6)
            figures["after_ttl"] = bytes_now()
            figures["buckets_after_ttl"] = len(store)
            figures["routes_after_ttl"] = store.route_count
            figures["delivered"] = hub.stats().total.delivered
            figures["webhooks"] = hub.stats().webhooks

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_ten_thousand_webhooks_through_one_hub() -> None:
    # Every lane opens, delivers, closes when idle; the tracker's buckets go within
    # their idle TTL.
    count = 10_000
    figures: dict[str, float] = {}
    _one_message_each(count, figures, measure=False)
    assert figures["open_lanes"] == count
    assert figures["lanes_after_idle"] == 0
    assert figures["delivered"] == count + 1
    assert figures["webhooks"] == count
    assert figures["buckets"] >= count
    assert figures["buckets_after_ttl"] <= 2
    assert figures["routes_after_ttl"] <= 2


def test_an_idle_webhook_costs_little_memory() -> None:
    # Measured with tracemalloc (2,000 webhooks: tracing 10,000 takes a minute; the
    # benchmark measures 10,000). A sender open costs about 22 KiB; a closed lane keeps
    # its counters, the tracker its buckets until their idle TTL, then 2 KiB at most.
    count = 2_000
    figures: dict[str, float] = {}
    tracemalloc.start()
    try:
        _one_message_each(count, figures, measure=True)
    finally:
        tracemalloc.stop()
    assert figures["idle"] <= 4096, figures
    assert figures["after_ttl"] <= 2048, figures
