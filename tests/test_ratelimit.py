from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook._outcome import interpret
from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    MemoryStore,
    ProactiveStrategy,
    RateLimitInfo,
    RateLimitTracker,
    ReactiveStrategy,
    Strategy,
)
from trio_webhook.ratelimit._headers import parse_rate_limit
from trio_webhook.ratelimit._keys import route_key
from trio_webhook.ratelimit._records import BucketState, GlobalPacing
from trio_webhook.transport._values import HTTPResponse

ROUTE = route_key("POST", "123", "s3cret-token", "")
OTHER = route_key("POST", "456", "other-token", "")
STRATEGIES: list[Strategy] = [ReactiveStrategy(), ProactiveStrategy(), AdaptiveStrategy()]


def ok(remaining: int, reset_after: float, *, limit: int = 5, bucket: str = "h1") -> HTTPResponse:
    return HTTPResponse(
        200,
        {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset-After": str(reset_after),
            "X-RateLimit-Bucket": bucket,
        },
    )


def too_many(
    retry_after: float,
    *,
    scope: str = "user",
    is_global: bool = False,
    remaining: int = 0,
    bucket: str = "h1",
    reset_after: float | None = None,
) -> HTTPResponse:
    body = {"message": "You are being rate limited.", "retry_after": retry_after}
    body["global"] = is_global
    return HTTPResponse(
        429,
        {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset-After": str(retry_after if reset_after is None else reset_after),
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Scope": scope,
            "Retry-After": str(int(retry_after) + 1),
        },
        json.dumps(body).encode(),
    )


def tracker(strategy: Strategy | None = None, seed: int = 0, **kw: object) -> RateLimitTracker:
    return RateLimitTracker(
        strategy=strategy or AdaptiveStrategy(),
        store=MemoryStore(),
        rng=random.Random(seed),
        **kw,  # type: ignore[arg-type]
    )


def go(t: RateLimitTracker, route: str, now: float) -> None:
    assert t.acquire(route, now) == 0.0


# ----------------------------------------------------------------- parsing

header_names = st.sampled_from(
    [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Reset-After",
        "X-RateLimit-Bucket",
        "X-RateLimit-Global",
        "X-RateLimit-Scope",
        "Retry-After",
        "Content-Type",
    ]
)
header_values = st.one_of(
    st.text(max_size=30),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**30), 10**30).map(str),
)
bodies = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=40).map(lambda t: ("<html>" + t).encode()),
    st.dictionaries(
        st.sampled_from(["retry_after", "global", "code", "message"]),
        st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=5)),
    ).map(lambda d: json.dumps(d).encode()),
)


@given(
    status=st.sampled_from([200, 204, 400, 429, 500]),
    headers=st.dictionaries(st.one_of(header_names, st.text(max_size=10)), header_values),
    body=bodies,
    epoch_now=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_parsing_garbage_never_raises_and_never_gives_negative_waits(
    status: int, headers: dict[str, str], body: bytes, epoch_now: float | None
) -> None:
    info = parse_rate_limit(HTTPResponse(status, headers, body), epoch_now=epoch_now)
    for value in (info.reset_after, info.retry_after):
        assert value is None or value >= 0
    assert not info.edge_ban or status == 429
    assert info.limit is None or info.limit >= 0
    assert info.remaining is None or info.remaining >= 0


def _count_by_float(text: str) -> int | None:
    """A count read the general way (float, then int), as before the digits' shortcut."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(value) or value < 0 or value > 1e9:
        return None
    return int(value)


@given(
    st.one_of(
        st.integers(0, 10**12).map(str),
        st.text(alphabet="0123456789 .e+-_\u00b2\u0663", max_size=12),
        st.text(max_size=12),
    )
)
def test_a_count_header_reads_as_float_then_int_would(text: str) -> None:
    """The shortcut for plain digits changes no count (nor any garbage's None)."""
    info = parse_rate_limit(HTTPResponse(200, {"X-RateLimit-Remaining": text}))
    assert info.remaining == _count_by_float(text)


def test_parse_prefers_reset_after_and_falls_back_to_reset() -> None:
    both = HTTPResponse(200, {"X-RateLimit-Reset": "1000.5", "X-RateLimit-Reset-After": "0.25"})
    assert parse_rate_limit(both, epoch_now=999.0).reset_after == 0.25
    reset_only = HTTPResponse(200, {"X-RateLimit-Reset": "1000.5"})
    assert parse_rate_limit(reset_only, epoch_now=999.0).reset_after == pytest.approx(1.5)
    assert parse_rate_limit(reset_only).reset_after is None


def test_parse_429_body_seconds_milliseconds_and_header_fallback() -> None:
    assert parse_rate_limit(too_many(1.5)).retry_after == 1.5
    millis = HTTPResponse(429, {}, b'{"retry_after": 4500, "global": true, "code": 20028}')
    info = parse_rate_limit(millis)
    assert info.retry_after == 4.5
    assert info.is_global
    assert info.code == 20028
    assert parse_rate_limit(HTTPResponse(429, {"Retry-After": "7"})).retry_after == 7.0
    assert parse_rate_limit(HTTPResponse(429, {"X-RateLimit-Scope": "global"})).is_global


def _body_429(retry_after: float, retry_after_header: str | None) -> HTTPResponse:
    headers = {"X-RateLimit-Scope": "user"}
    if retry_after_header is not None:
        headers["Retry-After"] = retry_after_header
    body = json.dumps({"message": "You are being rate limited.", "retry_after": retry_after})
    return HTTPResponse(429, headers, body.encode())


@pytest.mark.parametrize(
    ("body", "header", "seconds"),
    [
        (1500, "1500", 1500.0),  # the header says seconds: a 25-minute wait, not 1.5 s
        (1500, "2", 1.5),  # the header says the body is in milliseconds
        (1500, None, 1.5),  # no header: above 1000 is milliseconds
        (600, "1", 0.6),  # the header decides below 1000 too
        (45.2, "46", 45.2),
        (0.25, "1", 0.25),
        (4500, "5", 4.5),
    ],
)
def test_retry_after_header_decides_the_body_unit(
    body: float, header: str | None, seconds: float
) -> None:
    assert parse_rate_limit(_body_429(body, header)).retry_after == pytest.approx(seconds)


@given(st.floats(0.05, 1e5))
def test_body_retry_after_is_read_right_in_either_unit_when_the_header_is_given(
    seconds: float,
) -> None:
    # Discord's header is the wait rounded up to whole seconds; from 0.05 s on, the two
    # readings of the body are far enough apart for the header to tell them apart.
    header = str(math.ceil(seconds))
    assert parse_rate_limit(_body_429(seconds, header)).retry_after == seconds
    in_millis = parse_rate_limit(_body_429(seconds * 1000.0, header)).retry_after
    assert in_millis == pytest.approx(seconds)


def test_route_key_never_holds_the_token() -> None:
    assert ROUTE == "POST /webhooks/123/***"
    assert "s3cret" not in ROUTE
    messages = route_key("patch", 123, "s3cret-token", "/messages/{message_id}")
    assert messages == "PATCH /webhooks/123/***/messages/{message_id}"


# ----------------------------------------------------------------- one parse per answer


def test_observe_learns_from_the_outcome_the_client_parsed_once() -> None:
    # The client interprets each answer once; the tracker reads that parse, never the
    # response again.
    outcome = interpret(ok(remaining=0, reset_after=0.75), ROUTE)
    assert outcome.rate_limit is not None
    t = tracker(ReactiveStrategy(reset_jitter=0.0))
    go(t, ROUTE, 0.0)
    t.observe(ROUTE, outcome.rate_limit, 0.0, channel_id=outcome.channel_id)
    assert t.acquire(ROUTE, 0.0) == 0.75
    snapshot = t.bucket(ROUTE)
    assert snapshot is not None
    assert (snapshot.limit, snapshot.remaining, snapshot.in_flight) == (5, 0, 0)


def test_a_message_answer_is_walked_once_for_the_members_asked_for() -> None:
    # The client asks for the ids where it needs them; the channel is read in any case
    # (the tracker paces by it), and an answer that is no message has no members.
    body = b'{"id": "11", "type": 0, "channel_id": 22, "content": "x"}'
    answer = HTTPResponse(200, {"content-type": "application/json"}, body)
    plain = interpret(answer, ROUTE)
    assert (plain.channel_id, plain.members) == ("22", {"channel_id": 22})
    both = interpret(answer, ROUTE, read=frozenset({"id", "channel_id"}))
    assert both.members == {"id": "11", "channel_id": 22}
    assert interpret(answer, ROUTE, read=frozenset({"id"})).members == both.members
    assert interpret(HTTPResponse(204, {}), ROUTE).members is None
    assert interpret(HTTPResponse(200, {}, b"not json"), ROUTE).members is None


def test_an_edge_ban_parsed_elsewhere_is_logged_with_its_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    info = RateLimitInfo(429, edge_ban=True, edge_ban_cause="with an HTML body (test)")
    t = tracker()
    t.observe(ROUTE, info, 0.0)
    (record,) = caplog.records
    assert "came with an HTML body (test)" in record.getMessage()
    assert t.acquire(OTHER, 0.0) == 60.0


# ----------------------------------------------------------------- exact timing


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: type(s).__name__)
def test_429_waits_retry_after_plus_up_to_250_ms(strategy: Strategy) -> None:
    for seed in range(20):
        t = tracker(strategy, seed)
        go(t, ROUTE, 10.0)
        t.observe(ROUTE, parse_rate_limit(too_many(1.5)), 10.0)
        delay = t.acquire(ROUTE, 10.0)
        assert 1.5 <= delay <= 1.75
        assert t.acquire(ROUTE, 10.0 + delay) == 0.0


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: type(s).__name__)
def test_remaining_zero_waits_for_reset_after(strategy: Strategy) -> None:
    t = tracker(strategy)
    go(t, ROUTE, 0.0)
    t.observe(ROUTE, parse_rate_limit(ok(remaining=0, reset_after=0.75)), 0.0)
    delay = t.acquire(ROUTE, 0.0)
    assert 0.75 <= delay <= 0.75 + strategy.reset_jitter
    assert t.acquire(ROUTE, delay / 2) > 0.0
    assert t.acquire(ROUTE, delay) == 0.0


def test_global_429_blocks_every_route_until_it_passes() -> None:
    t = tracker()
    go(t, ROUTE, 0.0)
    go(t, OTHER, 0.0)
    t.observe(ROUTE, parse_rate_limit(too_many(2.0, scope="global", is_global=True)), 0.0)
    t.observe(OTHER, parse_rate_limit(ok(4, 2.0, bucket="h2")), 0.0)
    never_seen = route_key("POST", "789", "t", "")
    for route in (ROUTE, OTHER, never_seen):
        assert 2.0 <= t.acquire(route, 0.5) + 0.5 <= 2.25
        assert t.reserve(route, 0.5).reason == "global"
    assert t.acquire(never_seen, 2.3) == 0.0
    assert t.metrics().rate_limited == {"global": 1}


def test_routes_sharing_a_bucket_hash_gate_each_other() -> None:
    execute = ROUTE
    edit = route_key("PATCH", "123", "s3cret-token", "/messages/{message_id}")
    t = tracker()
    go(t, execute, 0.0)
    t.observe(execute, parse_rate_limit(ok(remaining=1, reset_after=1.0, bucket="shared")), 0.0)
    go(t, edit, 0.1)
    t.observe(edit, parse_rate_limit(ok(remaining=0, reset_after=0.9, bucket="shared")), 0.1)
    assert t.bucket(execute) == t.bucket(edit)
    assert t.acquire(execute, 0.2) >= 0.8
    assert t.acquire(edit, 0.2) >= 0.8


def test_same_hash_on_two_webhooks_is_two_buckets() -> None:
    # Discord's hash leaves out the top-level resource: webhook 456 is not limited by 123.
    t = tracker()
    go(t, ROUTE, 0.0)
    t.observe(ROUTE, parse_rate_limit(ok(remaining=0, reset_after=2.0, bucket="same")), 0.0)
    assert t.acquire(OTHER, 0.0) == 0.0


def test_reservations_stop_two_acquires_taking_the_last_slot() -> None:
    t = tracker(ReactiveStrategy())
    go(t, ROUTE, 0.0)
    t.observe(ROUTE, parse_rate_limit(ok(remaining=1, reset_after=2.0)), 0.0)
    assert t.acquire(ROUTE, 0.1) == 0.0
    assert t.acquire(ROUTE, 0.1) > 0.0


def test_unknown_bucket_lets_one_probe_through_at_a_time() -> None:
    t = tracker()
    go(t, ROUTE, 0.0)
    assert t.acquire(ROUTE, 0.0) > 0.0
    t.observe(ROUTE, parse_rate_limit(ok(remaining=4, reset_after=2.0)), 0.02)
    assert t.acquire(ROUTE, 0.02) == 0.0


def test_transport_failure_releases_the_slot() -> None:
    t = tracker(ReactiveStrategy())
    go(t, ROUTE, 0.0)
    t.observe(ROUTE, parse_rate_limit(ok(remaining=1, reset_after=100.0)), 0.0)
    go(t, ROUTE, 1.0)
    assert t.acquire(ROUTE, 1.0) > 0.0
    t.observe(ROUTE, None, 1.5)  # connection refused: the slot comes back
    go(t, ROUTE, 1.5)


def test_an_unobserved_reservation_lapses_instead_of_leaking() -> None:
    # A request cancelled between acquire and observe never reports back.
    t = tracker(reservation_ttl=5.0)
    go(t, ROUTE, 0.0)
    assert t.acquire(ROUTE, 4.0) > 0.0
    assert t.acquire(ROUTE, 5.0) == 0.0


def test_proactive_spreads_the_last_requests_over_the_window() -> None:
    t = tracker(ProactiveStrategy(threshold=2))
    go(t, ROUTE, 0.0)
    t.observe(ROUTE, parse_rate_limit(ok(remaining=2, reset_after=3.0)), 0.0)
    # Two left, three seconds to go: one a second, not both at once.
    assert t.acquire(ROUTE, 0.0) == pytest.approx(1.0)
    go(t, ROUTE, 1.0)
    assert t.acquire(ROUTE, 1.0) == pytest.approx(1.0)


def test_global_pacing_caps_requests_per_second_across_routes() -> None:
    t = tracker(pacing=GlobalPacing(limit=50, period=1.0))
    routes = [route_key("POST", str(i), "t", "") for i in range(60)]
    granted = [r for r in routes if t.acquire(r, 0.0) == 0.0]
    assert len(granted) == 50
    reservation = t.reserve(routes[55], 0.0)
    assert reservation.reason == "global_pace"
    assert reservation.delay == pytest.approx(1.0)
    assert t.acquire(routes[55], 1.0) == 0.0


# ----------------------------------------------------------------- adaptive learning


def _send_burst(t: RateLimitTracker, route: str, start: float, count: int, gap: float) -> float:
    now = start
    for i in range(count):
        while (delay := t.acquire(route, now)) > 0:
            now += delay
        # No bucket headers: only the hidden limit is in play.
        t.observe(route, parse_rate_limit(HTTPResponse(200, {})), now + 0.01, channel_id="c1")
        now += gap
        del i
    return now


def test_adaptive_learns_a_hidden_limit_from_a_shared_429_and_paces_under_it() -> None:
    t = tracker(AdaptiveStrategy(evidence_ttl=600.0))
    now = _send_burst(t, ROUTE, 0.0, 30, 0.4)  # 30 messages in 12 s
    go(t, ROUTE, now)
    t.observe(
        ROUTE, parse_rate_limit(too_many(48.0, scope="shared", remaining=3, reset_after=1.0)), now
    )
    assert t.metrics().rate_limited == {"shared": 1}
    channel = t.store.channel_snapshot("c1")  # type: ignore[union-attr]
    assert channel is not None
    assert channel.learned is not None
    assert channel.learned.limit == 30
    assert channel.learned.window == pytest.approx(60.0, abs=0.5)
    # After the retry_after, it paces: never more than 30 in any 60 s.
    sent: list[float] = []
    now += 48.3
    while now < 400.0:
        delay = t.acquire(ROUTE, now)
        if delay > 0:
            now += delay
            continue
        sent.append(now)
        t.observe(ROUTE, parse_rate_limit(HTTPResponse(200, {})), now + 0.01, channel_id="c1")
        now += 0.01
    assert max(sum(1 for s in sent if a <= s < a + 60) for a in sent) <= 30
    assert len(sent) >= 150  # and it still uses the limit: about 30 a minute


def test_shared_evidence_ages_out_and_pacing_relaxes() -> None:
    shared_429 = HTTPResponse(
        429, {"X-RateLimit-Scope": "shared"}, b'{"retry_after": 48.0, "global": false}'
    )
    t = tracker(AdaptiveStrategy(evidence_ttl=120.0))
    now = _send_burst(t, ROUTE, 0.0, 30, 0.4)
    go(t, ROUTE, now)
    t.observe(ROUTE, parse_rate_limit(shared_429), now, channel_id="c1")
    paced = _send_burst(t, ROUTE, now + 48.5, 40, 0.0)
    assert paced > now + 48.5 + 30  # while the evidence holds, 40 take more than a window
    later = now + 130.0  # the evidence is older than its ttl
    assert _send_burst(t, ROUTE, later, 40, 0.0) == pytest.approx(later)  # no pacing left
    channel = t.store.channel_snapshot("c1")  # type: ignore[union-attr]
    assert channel is not None
    assert channel.learned is None


def test_channel_limits_pace_every_webhook_of_the_channel() -> None:
    t = tracker()
    now = _send_burst(t, ROUTE, 0.0, 15, 0.4)
    now = _send_burst(t, OTHER, now, 15, 0.4)
    go(t, OTHER, now)
    t.observe(
        OTHER,
        parse_rate_limit(too_many(48.0, scope="shared", remaining=3, reset_after=1.0, bucket="h2")),
        now,
    )
    assert t.reserve(ROUTE, now + 1.0).reason == "channel"


def test_explained_user_429_teaches_nothing() -> None:
    t = tracker()
    go(t, ROUTE, 0.0)
    t.observe(ROUTE, parse_rate_limit(too_many(1.0, scope="user", remaining=0)), 0.0)
    snapshot = t.bucket(ROUTE)
    assert snapshot is not None
    assert snapshot.learned is None


# ----------------------------------------------------------------- properties


@given(
    status=st.sampled_from([200, 429]),
    limit=st.one_of(st.none(), st.integers(0, 100).map(str), st.text(max_size=4)),
    remaining=st.one_of(st.none(), st.integers(-5, 100).map(str), st.text(max_size=4)),
    reset_after=st.one_of(st.none(), st.floats(-10, 1e4).map(str), st.text(max_size=4)),
    retry_after=st.one_of(st.none(), st.floats(-10, 1e5), st.text(max_size=4)),
    scope=st.sampled_from([None, "user", "shared", "global", "??"]),
    now=st.floats(0, 1e6),
    seed=st.integers(0, 100),
    strategy=st.sampled_from(STRATEGIES),
)
def test_delays_are_never_negative_and_bounded_by_what_discord_asked(
    status: int,
    limit: str | None,
    remaining: str | None,
    reset_after: str | None,
    retry_after: float | str | None,
    scope: str | None,
    now: float,
    seed: int,
    strategy: Strategy,
) -> None:
    headers = {
        k: v
        for k, v in {
            "X-RateLimit-Limit": limit,
            "X-RateLimit-Remaining": remaining,
            "X-RateLimit-Reset-After": reset_after,
            "X-RateLimit-Scope": scope,
        }.items()
        if v is not None
    }
    body = json.dumps({"retry_after": retry_after}).encode()
    response = HTTPResponse(status, headers, body)
    info = parse_rate_limit(response)
    t = tracker(strategy, seed)
    go(t, ROUTE, now)
    t.observe(ROUTE, info, now)
    delay = t.acquire(ROUTE, now)
    assert delay >= 0.0
    # Never longer than the longest wait Discord asked for, plus jitter and the pacing
    # window of a learned limit (the adaptive strategy's own cap).
    asked = max(info.retry_after or 0.0, info.reset_after or 0.0, 1.0)
    assert delay <= asked + 0.25 + 0.05 + 125.0


@given(strategy=st.sampled_from(STRATEGIES), now=st.floats(0, 1e6))
def test_fresh_state_never_waits(strategy: Strategy, now: float) -> None:
    assert strategy.delay(BucketState("k"), now) == 0.0


def test_clear_and_metrics() -> None:
    t = tracker()
    go(t, ROUTE, 0.0)
    t.observe(ROUTE, parse_rate_limit(ok(remaining=0, reset_after=1.0)), 0.0)
    assert t.acquire(ROUTE, 0.0) > 0
    m = t.metrics()
    assert (m.granted, m.waits) == (1, 1)
    assert m.wait_seconds > 0
    t.clear()
    assert t.bucket(ROUTE) is None
    assert t.acquire(ROUTE, 0.0) == 0.0
