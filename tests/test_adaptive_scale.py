"""The rate-limit strategies hold no absolute time constant that should scale with the
windows: the same story on windows 20 times shorter gives delays 20 times shorter."""

from __future__ import annotations

import json
import random

import pytest

from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    MemoryStore,
    ProactiveStrategy,
    RateLimitTracker,
    ReactiveStrategy,
    Strategy,
)
from trio_webhook.ratelimit._headers import parse_rate_limit
from trio_webhook.ratelimit._keys import route_key
from trio_webhook.transport._values import HTTPResponse

HOOKS = [route_key("POST", str(100 + i), "token", "") for i in range(3)]


def ok(remaining: int, reset_after: float) -> HTTPResponse:
    headers = {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset-After": f"{reset_after:.6f}",
        "X-RateLimit-Bucket": "b",
    }
    return HTTPResponse(200, headers, b'{"id": "1", "channel_id": "c1"}')


def shared_429(retry_after: float) -> HTTPResponse:
    body = {"message": "rate limited", "retry_after": retry_after, "global": False}
    headers = {"X-RateLimit-Scope": "shared", "X-RateLimit-Remaining": "3"}
    return HTTPResponse(429, headers, json.dumps(body).encode())


def make(strategy: Strategy | None = None) -> RateLimitTracker:
    return RateLimitTracker(
        strategy=strategy or AdaptiveStrategy(), store=MemoryStore(), rng=random.Random(3)
    )


@pytest.mark.parametrize(
    ("strategy", "window", "cap"),
    [
        (AdaptiveStrategy(), 2.0, 0.01),
        (AdaptiveStrategy(), 0.5, 0.0025),
        (ProactiveStrategy(), 0.1, 0.0005),
        (ReactiveStrategy(), 2.0, 0.25),
        (ReactiveStrategy(), 0.5, 0.0625),
    ],
)
def test_reset_jitter_is_a_share_of_the_window_capped_in_seconds(
    strategy: Strategy, window: float, cap: float
) -> None:
    worst = 0.0
    for seed in range(50):
        t = RateLimitTracker(strategy=strategy, store=MemoryStore(), rng=random.Random(seed))
        assert t.acquire(HOOKS[0], 0.0) == 0.0
        t.observe(HOOKS[0], parse_rate_limit(ok(3, window)), 0.0)
        assert t.acquire(HOOKS[0], 0.0) == 0.0
        # Discord counts a request we did not make: another client spends this bucket.
        t.observe(HOOKS[0], parse_rate_limit(ok(0, window)), 0.0)
        delay = t.acquire(HOOKS[0], 0.0)
        assert window <= delay <= window + cap
        worst = max(worst, delay - window)
    assert worst > cap / 2  # the jitter is still there


@pytest.mark.parametrize("strategy", [AdaptiveStrategy(), ProactiveStrategy(), ReactiveStrategy()])
def test_a_lone_sender_waits_for_the_reset_itself_without_jitter(strategy: Strategy) -> None:
    # No one else fires at the reset: jitter would only waste part of every window.
    for seed in range(20):
        t = RateLimitTracker(strategy=strategy, store=MemoryStore(), rng=random.Random(seed))
        assert t.acquire(HOOKS[0], 0.0) == 0.0
        t.observe(HOOKS[0], parse_rate_limit(ok(0, 0.5)), 0.0)
        assert t.acquire(HOOKS[0], 0.0) == 0.5


def test_the_earliest_answer_of_a_window_sets_its_reset() -> None:
    t = make()
    for i, (at, reset_after) in enumerate([(0.020, 0.500), (0.024, 0.494), (0.030, 0.489)]):
        assert t.acquire(HOOKS[0], at - 0.004) == 0.0
        t.observe(HOOKS[0], parse_rate_limit(ok(4 - i, reset_after)), at)
    snapshot = t.bucket(HOOKS[0])
    assert snapshot is not None
    assert snapshot.reset_at == pytest.approx(0.024 + 0.494)  # not 0.520 (the slowest)


def _fill_channel(t: RateLimitTracker, start: float, count: int, gap: float) -> float:
    """``count`` messages round-robin over three webhooks of channel c1; no bucket limit."""
    now = start
    for i in range(count):
        route = HOOKS[i % 3]
        while (delay := t.acquire(route, now)) > 0:
            now += delay
        t.observe(route, parse_rate_limit(HTTPResponse(200, {})), now + gap / 2, channel_id="c1")
        now += gap
    return now


def _burst_429(t: RateLimitTracker, now: float, retry_after: float) -> None:
    """Each webhook has one more request out; all three come back refused."""
    for route in HOOKS:
        while (delay := t.acquire(route, now)) > 0:
            now += delay
    for route in HOOKS:
        t.observe(route, parse_rate_limit(shared_429(retry_after)), now + 0.005, channel_id="c1")


@pytest.mark.parametrize("scale", [1.0, 0.05])
def test_a_channel_of_three_webhooks_learns_the_same_limit_at_any_scale(scale: float) -> None:
    t = make()
    now = _fill_channel(t, 0.0, 30, 0.01 * scale)
    _burst_429(t, now, 41.0 * scale)
    channel = t.store.channel_snapshot("c1")  # type: ignore[union-attr]
    assert channel is not None
    assert channel.learned is not None
    # Every webhook's first request counts (sent before the channel was known), the two
    # extra 429s of the burst lower the count once each, and the refused ones do not
    # count at all: exactly the 30 Discord accepted.
    assert channel.learned.limit == 30
    # retry_after plus the run so far (exact if the window began with the run).
    assert channel.learned.window == pytest.approx(41.3 * scale, rel=0.01)


@pytest.mark.parametrize("scale", [1.0, 0.05])
def test_refused_again_while_paced_widens_the_window_to_retry_ratio(scale: float) -> None:
    t = make()
    now = _fill_channel(t, 0.0, 30, 0.01 * scale)
    _burst_429(t, now, 41.0 * scale)
    now += 41.5 * scale
    now = _fill_channel(t, now, 30, 0.01 * scale)  # paced: the 31st would wait
    _burst_429(t, now + 41.5 * scale, 42.0 * scale)
    channel = t.store.channel_snapshot("c1")  # type: ignore[union-attr]
    assert channel is not None
    assert channel.learned is not None
    assert channel.learned.limit == 30  # the window was too short, not the limit too high
    assert channel.learned.window == pytest.approx(1.5 * 42.0 * scale)
    # Evidence lasts ten learned windows (600 s caps it on Discord's real scale).
    lasts = channel.learned.expires_at - channel.learned.learned_at
    assert lasts == pytest.approx(min(600.0, 10 * 1.5 * 42.0 * scale))
