"""Pacing close to Discord's limits without crossing them (issue 16, items 5 and 6).

Through the real client and FakeDiscord on trio's MockClock, with a network in between
that takes its time each way: the reset is counted from nearer the moment the fake
handled the request, and that never makes a request early, even when the trip out is
much longer than the trip back. And many senders under one tracker's global pace ask it
about twice a request, not once per waiting sender per opening.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable

import attrs
import trio
import trio.testing

from trio_webhook import Message, SenderConfig, open_webhook_sender
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.testing import FakeDiscord
from trio_webhook.transport import HTTPRequest, HTTPResponse, Transport

WINDOW = 0.2  # Discord's 5 per 2 s, ten times faster
LIMIT = 5


@attrs.define
class Latency:
    """A network between the client and the fake: each request waits ``out()`` on its way
    there, and its answer ``back()`` on the way back (trio's clock)."""

    inner: Transport
    out: Callable[[], float]
    back: Callable[[], float]

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        await trio.sleep(self.out())
        response = await self.inner.send(request)
        await trio.sleep(self.back())
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _run_one_webhook(
    out: Callable[[], float], back: Callable[[], float], messages: int = 50, seed: int = 0
) -> tuple[FakeDiscord, list[float]]:
    """``messages`` to one webhook of a 5 per 0.2 s fake; the times the fake accepted them."""
    fake = FakeDiscord(bucket_limit=LIMIT, bucket_window=WINDOW, seed=seed)
    hook = fake.create_webhook()
    tracker = RateLimitTracker(rng=random.Random(seed))

    async def main() -> None:
        transport = Latency(fake.transport(), out, back)
        config = SenderConfig(seed=seed, drain_timeout=600.0)
        async with open_webhook_sender(
            hook.url, config=config, tracker=tracker, transport=transport
        ) as sender:
            receipts = [sender.send_nowait(Message(content=f"m{i}")) for i in range(messages)]
            for receipt in receipts:
                await receipt.wait()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    times = sorted(r.time for r in fake.requests if r.status is not None and r.status < 300)
    assert len(times) == messages
    return fake, times


def _overshoots(times: list[float]) -> list[float]:
    """How late each window opened after the one before it ended (the fake's clock)."""
    starts = times[::LIMIT]
    return [later - (earlier + WINDOW) for earlier, later in itertools.pairwise(starts)]


def test_a_lone_sender_opens_each_window_one_trip_out_after_the_reset() -> None:
    # 10 ms each way. Counting the reset from the answer's arrival (and adding jitter)
    # opened every window a whole round trip late, 20 ms and more; from the trip's
    # midpoint it is the trip out alone.
    fake, times = _run_one_webhook(lambda: 0.010, lambda: 0.010)
    assert fake.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}
    late = _overshoots(times)
    # The first three windows' answers are the tracker's first 15 round trips: too few
    # to know the shortest, so their resets still count from the arrival.
    assert all(0.0199 <= t <= 0.0201 for t in late[:3]), late
    assert all(0.0 <= t <= 0.0101 for t in late[3:]), late


def test_a_long_trip_out_and_a_short_trip_back_never_make_a_request_early() -> None:
    # The midpoint of a 31 ms trip is 14.5 ms before the fake handled the request; the
    # request sent at that reset is still 30 ms on its way, so it arrives after it.
    fake, times = _run_one_webhook(lambda: 0.030, lambda: 0.001)
    assert fake.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}
    late = _overshoots(times)
    assert all(0.0 <= t <= 0.0301 for t in late[3:]), late


def test_slow_first_trips_out_do_not_set_the_lead() -> None:
    # What a cold server does (seen on loopback): the first requests take 10 ms to be
    # handled, later ones 1 ms, answers come back in 0.5 ms. Half the shortest of the
    # first few trips (5 ms) would date the reset 4.5 ms early, and the next request
    # would arrive 3.5 ms before it.
    trips = itertools.count()
    fake, times = _run_one_webhook(lambda: 0.010 if next(trips) < 5 else 0.001, lambda: 0.0005)
    assert fake.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}
    assert all(t >= 0.0 for t in _overshoots(times))


def test_trips_out_that_vary_more_than_their_midpoint_still_get_no_429() -> None:
    # Trips out between 10 and 40 ms, answers back at once. Half of each request's own
    # round trip would date some resets 20 ms early while the next request may take only
    # 10 ms out; half the shortest round trip (5 ms) never does.
    for seed in range(5):
        out = functools.partial(random.Random(seed).uniform, 0.010, 0.040)
        fake, times = _run_one_webhook(out, lambda: 0.0, messages=40, seed=seed)
        assert fake.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}, seed
        assert all(t >= 0.0 for t in _overshoots(times)), seed


def test_many_senders_under_the_global_pace_ask_about_twice_a_request() -> None:
    # 200 webhooks of one tracker, 5 messages each, paced at 50 a second. Every sender
    # told to wait used to wake for the same opening, one got it and the others asked
    # again: 3,937 calls for 1,000 requests (41,000 for 2,000 webhooks of one message),
    # growing with the square of the senders. Each waiter now has its own opening.
    hooks, per_hook = 200, 5
    fake = FakeDiscord(bucket_limit=10**6)
    urls = [fake.create_webhook().url for _ in range(hooks)]
    tracker = RateLimitTracker(rng=random.Random(0), pacing=GlobalPacing(limit=50, period=1.0))
    elapsed: list[float] = []

    async def one(url: str) -> None:
        config = SenderConfig(seed=0, drain_timeout=600.0)
        async with open_webhook_sender(
            url, config=config, tracker=tracker, transport=fake.transport()
        ) as sender:
            receipts = [sender.send_nowait(Message(content=f"m{i}")) for i in range(per_hook)]
            for receipt in receipts:
                await receipt.wait()

    async def main() -> None:
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for url in urls:
                nursery.start_soon(one, url)
        elapsed.append(trio.current_time() - start)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    metrics = tracker.metrics()
    requests = hooks * per_hook
    assert metrics.granted == requests
    assert fake.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}
    calls = metrics.granted + metrics.waits
    assert calls <= 2.5 * requests, calls
    # The pace is kept, not slowed: 1,000 requests at 50 a second, the first 50 at once.
    assert elapsed[0] <= (requests - 50) / 50 + 0.1, elapsed
