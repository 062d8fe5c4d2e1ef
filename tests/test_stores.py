from __future__ import annotations

import random

from trio_webhook.ratelimit import AdaptiveStrategy, RateLimitInfo, RateLimitTracker
from trio_webhook.ratelimit._headers import parse_rate_limit
from trio_webhook.ratelimit._keys import route_key
from trio_webhook.ratelimit._records import GlobalPacing, Jitter
from trio_webhook.stores import MemoryStore, RateLimitStore
from trio_webhook.transport._values import HTTPResponse

STRATEGY = AdaptiveStrategy()
PACING = GlobalPacing(limit=0)


def _ok(bucket: str) -> HTTPResponse:
    return HTTPResponse(
        200,
        {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset-After": "2.0",
            "X-RateLimit-Bucket": bucket,
        },
    )


def test_memory_store_satisfies_the_protocol() -> None:
    store: RateLimitStore = MemoryStore()
    reservation = store.reserve(
        "POST /webhooks/1/***", 0.0, strategy=STRATEGY, pacing=PACING, reservation_ttl=30.0
    )
    assert reservation.delay == 0.0
    store.update(
        "POST /webhooks/1/***",
        RateLimitInfo(status=200, limit=5, remaining=4, reset_after=2.0, bucket="h"),
        0.05,
        strategy=STRATEGY,
        channel_id=None,
        jitter=Jitter(),
    )
    snapshot = store.snapshot("POST /webhooks/1/***")
    assert snapshot is not None
    assert snapshot.key == "bucket:h:webhooks/1"
    assert (snapshot.limit, snapshot.remaining, snapshot.in_flight) == (5, 4, 0)
    store.clear()
    assert store.snapshot("POST /webhooks/1/***") is None


def test_memory_stays_bounded_with_thousands_of_webhooks() -> None:
    store = MemoryStore(idle_ttl=60.0, sweep_interval=10.0)
    tracker = RateLimitTracker(store=store, rng=random.Random(0))
    now = 0.0
    peak = 0
    for i in range(20_000):
        route = route_key("POST", str(i), "t", "")
        while (delay := tracker.acquire(route, now)) > 0:
            now += delay
        tracker.observe(
            route, parse_rate_limit(_ok(f"hash{i % 7}")), now + 0.02, channel_id=str(i % 500)
        )
        now += 0.025  # 40 requests a second, each to a new webhook
        peak = max(peak, len(store))
    # About 60-70 s of webhooks (+ their channels) are live at any time, not 20,000.
    assert peak < 3_500
    assert store.route_count < 3_500
    now += 1_000.0
    tracker.acquire(route_key("POST", "x", "t", ""), now)
    assert len(store) <= 1
    assert store.route_count <= 1


def test_busy_or_learned_buckets_are_not_forgotten() -> None:
    store = MemoryStore(idle_ttl=10.0, sweep_interval=1.0)
    tracker = RateLimitTracker(store=store, rng=random.Random(0))
    route = route_key("POST", "1", "t", "")
    assert tracker.acquire(route, 0.0) == 0.0
    shared = HTTPResponse(
        429, {"X-RateLimit-Scope": "shared"}, b'{"retry_after": 45.0, "global": false}'
    )
    tracker.observe(route, parse_rate_limit(shared), 0.1)
    tracker.acquire(route_key("POST", "2", "t", ""), 30.0)  # a sweep runs
    snapshot = tracker.bucket(route)
    assert snapshot is not None
    assert snapshot.learned is not None  # the evidence outlives idle_ttl
    assert snapshot.blocked_until > 30.0


def test_placeholder_hands_its_reservations_to_the_discovered_bucket() -> None:
    store = MemoryStore()
    tracker = RateLimitTracker(store=store, rng=random.Random(0), pacing=PACING)
    execute = route_key("POST", "1", "t", "")
    edit = route_key("PATCH", "1", "t", "/messages/{message_id}")
    assert tracker.acquire(execute, 0.0) == 0.0
    assert tracker.acquire(edit, 0.0) == 0.0
    tracker.observe(execute, parse_rate_limit(_ok("same")), 0.05)
    tracker.observe(edit, parse_rate_limit(_ok("same")), 0.06)
    first = tracker.bucket(execute)
    assert first is not None
    assert first == tracker.bucket(edit)
    assert first.in_flight == 0
    assert len(store) == 1
