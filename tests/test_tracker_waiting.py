"""What the tracker tells a person watching: which routes wait, on which limit, until when."""

from __future__ import annotations

import random

from trio_webhook.ratelimit import RateLimitInfo, RateLimitTracker, RateLimitWait

ROUTE = "POST /webhooks/1/***"


def _tracker() -> RateLimitTracker:
    return RateLimitTracker(rng=random.Random(0))


def test_a_route_told_to_wait_is_listed_with_the_limit_and_the_end_of_the_wait() -> None:
    tracker = _tracker()
    assert tracker.acquire(ROUTE, now=0.0) == 0.0
    tracker.observe(
        ROUTE, RateLimitInfo(status=204, limit=1, remaining=0, reset_after=2.0, bucket="b"), 0.1
    )
    delay = tracker.acquire(ROUTE, now=0.5)
    assert delay > 0
    assert tracker.waiting(0.5) == (RateLimitWait(ROUTE, "bucket", 0.5 + delay),)


def test_a_wait_ends_when_its_time_passes_or_a_slot_is_granted() -> None:
    tracker = _tracker()
    tracker.acquire(ROUTE, now=0.0)
    tracker.observe(
        ROUTE, RateLimitInfo(status=204, limit=1, remaining=0, reset_after=2.0, bucket="b"), 0.1
    )
    delay = tracker.acquire(ROUTE, now=0.5)
    assert tracker.waiting(0.5 + delay) == ()  # its time has passed
    tracker.acquire(ROUTE, now=1.0)
    assert tracker.waiting(1.0) != ()
    assert tracker.acquire(ROUTE, now=10.0) == 0.0
    assert tracker.waiting(10.0) == ()  # granted


def test_a_global_429_makes_the_route_wait_on_the_global_limit() -> None:
    tracker = _tracker()
    tracker.acquire(ROUTE, now=0.0)
    tracker.observe(ROUTE, RateLimitInfo(status=429, retry_after=3.0, is_global=True), 0.1)
    tracker.acquire(ROUTE, now=0.2)
    [wait] = tracker.waiting(0.2)
    assert wait.reason == "global"
    assert 3.0 <= wait.until <= 3.5
