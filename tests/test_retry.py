from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook._errors import TransportError
from trio_webhook._outcome import (
    Permanent,
    RateLimitedOutcome,
    Success,
    Transient,
    classify,
    parse_discord_error,
)
from trio_webhook._retry import GiveUp, RetryAfter, RetryPolicy, RetryState, decorrelated_jitter
from trio_webhook.transport._values import HTTPResponse


def _error(status: int, code: int) -> HTTPResponse:
    return HTTPResponse(status, {}, json.dumps({"code": code, "message": "x"}).encode())


@given(
    seed=st.integers(0, 2**32),
    base=st.floats(0.001, 5.0),
    spread=st.floats(0.0, 100.0),
    steps=st.integers(1, 30),
)
def test_decorrelated_jitter_stays_within_base_and_cap_and_is_reproducible(
    seed: int, base: float, spread: float, steps: int
) -> None:
    cap = base + spread

    def sequence() -> list[float]:
        rng = random.Random(seed)
        out: list[float] = []
        previous: float | None = None
        for _ in range(steps):
            previous = decorrelated_jitter(previous, rng, base, cap)
            out.append(previous)
        return out

    first = sequence()
    assert all(base <= d <= cap for d in first)
    assert first == sequence()


def test_first_delay_is_drawn_between_base_and_three_times_base() -> None:
    delays = [decorrelated_jitter(None, random.Random(i), 0.25, 10.0) for i in range(200)]
    assert min(delays) >= 0.25
    assert max(delays) <= 0.75


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"base": 0}, "base"),
        ({"base": -1.0}, "base"),
        ({"cap": float("nan")}, "cap"),
        ({"base": 2.0, "cap": 1.0}, "cap"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_policy_rejects_bad_settings_with_a_clear_message(
    kwargs: dict[str, float], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (HTTPResponse(200, {}), Success(200)),
        (HTTPResponse(204, {}), Success(204)),
        (HTTPResponse(500, {}), Transient(ambiguous=True, detail="status 500")),
        (HTTPResponse(504, {}), Transient(ambiguous=True, detail="status 504")),
        (HTTPResponse(502, {}), Transient(ambiguous=False, detail="status 502 from the edge")),
        (HTTPResponse(503, {}), Transient(ambiguous=False, detail="status 503 from the edge")),
        (HTTPResponse(520, {}), Transient(ambiguous=True, detail="status 520")),
    ],
)
def test_classify_statuses(outcome: HTTPResponse, expected: object) -> None:
    assert classify(outcome) == expected


def test_classify_dead_webhooks_and_missing_messages() -> None:
    unauthorized = classify(_error(401, 50027))
    assert isinstance(unauthorized, Permanent)
    assert unauthorized.dead_webhook
    gone = classify(_error(404, 10015))
    assert isinstance(gone, Permanent)
    assert gone.dead_webhook
    missing_message = classify(_error(404, 10008))
    assert isinstance(missing_message, Permanent)
    assert not missing_message.dead_webhook
    bad_request = classify(_error(400, 50006))
    assert isinstance(bad_request, Permanent)
    assert not bad_request.dead_webhook


def test_classify_429_reads_body_then_header() -> None:
    body = json.dumps({"retry_after": 1.5, "global": True}).encode()
    verdict = classify(HTTPResponse(429, {"X-RateLimit-Scope": "global"}, body))
    assert verdict == RateLimitedOutcome(retry_after=1.5, is_global=True, scope="global")
    header_only = classify(HTTPResponse(429, {"Retry-After": "3", "X-RateLimit-Scope": "shared"}))
    assert header_only == RateLimitedOutcome(retry_after=3.0, is_global=False, scope="shared")
    nothing = classify(HTTPResponse(429, {}, b"<html>"))
    assert isinstance(nothing, RateLimitedOutcome)
    assert nothing.retry_after == 1.0


@pytest.mark.parametrize(
    ("kind", "ambiguous_flag", "expected"),
    [
        ("tls", False, Permanent("transport: tls")),
        ("too_large", True, Permanent("transport: too_large")),
        ("connect", True, Transient(False, "transport: connect")),
        ("connect_timeout", False, Transient(False, "transport: connect_timeout")),
        ("pool_timeout", False, Transient(False, "transport: pool_timeout")),
        ("read_timeout", True, Transient(True, "transport: read_timeout")),
        ("write_timeout", False, Transient(False, "transport: write_timeout")),
        ("protocol", True, Transient(True, "transport: protocol")),
    ],
)
def test_classify_transport_errors(kind: str, ambiguous_flag: bool, expected: object) -> None:
    error = TransportError(kind, "boom", ambiguous=ambiguous_flag)  # type: ignore[arg-type]
    assert classify(error) == expected


def test_decide_429_waits_exactly_retry_after_even_past_the_cap() -> None:
    # One jitter: the tracker holds the bucket for retry_after plus its jitter, and the
    # retry waits for the tracker; the policy adds none of its own.
    policy = RetryPolicy(cap=10.0)
    decision = policy.decide(RateLimitedOutcome(42.0), 1, None, random.Random(3))
    assert decision == RetryAfter(42.0)


def test_retry_state_is_frozen_and_each_attempt_returns_its_successor() -> None:
    rng = random.Random(0)
    start = RetryState(RetryPolicy(max_attempts=3))
    first = start.after(Transient(True, "read timeout"), rng)
    assert isinstance(first, RetryState)
    assert (start.attempts, start.maybe_posted) == (0, False)  # unchanged
    assert (first.attempts, first.maybe_posted) == (1, True)
    assert first.delay is not None
    assert 0.25 <= first.delay <= 0.75
    second = first.after(RateLimitedOutcome(2.0), rng)
    assert isinstance(second, RetryState)
    # A later 429 proves nothing about the earlier ambiguous attempt.
    assert (second.attempts, second.delay, second.maybe_posted) == (2, 2.0, True)
    assert second.after(Transient(False, "refused"), rng) == GiveUp("exhausted")
    assert start.after(Permanent("400"), rng) == GiveUp("permanent")


def test_decide_counts_attempts_and_gives_up_with_reasons() -> None:
    policy = RetryPolicy(max_attempts=3)
    rng = random.Random(0)
    transient = Transient(ambiguous=False, detail="x")
    assert isinstance(policy.decide(transient, 1, None, rng), RetryAfter)
    assert isinstance(policy.decide(RateLimitedOutcome(1.0), 2, None, rng), RetryAfter)
    assert policy.decide(transient, 3, 1.0, rng) == GiveUp("exhausted")
    assert policy.decide(RateLimitedOutcome(1.0), 3, None, rng) == GiveUp("exhausted")
    assert policy.decide(Permanent("x"), 1, None, rng) == GiveUp("permanent")
    assert policy.decide(Permanent("x", dead_webhook=True), 1, None, rng) == GiveUp("dead_webhook")


def test_at_most_once_policy_gives_up_on_ambiguous_faults_only() -> None:
    policy = RetryPolicy(retry_ambiguous=False)
    rng = random.Random(0)
    assert policy.decide(Transient(True, "read timeout"), 1, None, rng) == GiveUp("ambiguous")
    assert isinstance(policy.decide(Transient(False, "refused"), 1, None, rng), RetryAfter)


@given(
    verdict=st.one_of(
        st.builds(Transient, st.booleans(), st.text()),
        st.builds(RateLimitedOutcome, st.floats(allow_nan=True, allow_infinity=True)),
    ),
    attempt=st.integers(1, 10),
    previous=st.one_of(st.none(), st.floats(0, 1e6)),
    seed=st.integers(0, 1000),
)
def test_decide_never_returns_a_negative_or_unbounded_backoff(
    verdict: Transient | RateLimitedOutcome, attempt: int, previous: float | None, seed: int
) -> None:
    policy = RetryPolicy()
    decision = policy.decide(verdict, attempt, previous, random.Random(seed))
    if isinstance(decision, RetryAfter):
        assert decision.delay >= 0
        if isinstance(verdict, Transient):
            assert policy.base <= decision.delay <= policy.cap


@given(st.binary())
def test_parse_discord_error_never_raises(body: bytes) -> None:
    code, message, errors = parse_discord_error(body)
    assert errors is None or isinstance(errors, dict)
    assert isinstance(code, int)
    assert isinstance(message, str)


def test_parse_discord_error_reads_the_form_errors() -> None:
    body = json.dumps(
        {"code": 50035, "message": "Invalid Form Body", "errors": {"content": {"_errors": []}}}
    ).encode()
    assert parse_discord_error(body) == (
        50035,
        "Invalid Form Body",
        {"content": {"_errors": []}},
    )
    assert parse_discord_error(b'{"code": true, "message": 3}') == (0, "", None)
