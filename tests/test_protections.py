"""Discord's own protections in the tracker: the invalid-request budget and edge bans.

The tracker is sans-IO, so most of this runs on plain ``now`` values with exact numbers;
one test drives the shell's loop on trio's MockClock.
"""

from __future__ import annotations

import json
import logging
import math
import random

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from trio_webhook._errors import ConfigError, InvalidRequestBudgetExceeded
from trio_webhook.ratelimit import InvalidRequestBudget, MemoryStore, RateLimitTracker
from trio_webhook.ratelimit._budget import InvalidRequestWindow
from trio_webhook.ratelimit._headers import parse_rate_limit
from trio_webhook.ratelimit._keys import route_key
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.transport._values import HTTPResponse

TOKEN = "s3cret-token"
ROUTE = route_key("POST", "123", TOKEN, "")
OTHER = route_key("POST", "456", "other-token", "")
SMALL = InvalidRequestBudget(limit=100, window=60.0, slow_share=0.5, stop_share=0.9)

HTML_1015 = (
    b"<!DOCTYPE html><html><head><title>Access denied | discord.com used Cloudflare to "
    b"restrict access</title></head><body><h1>Error 1015</h1>You are being rate limited."
    b"</body></html>"
)


def tracker(**kw: object) -> RateLimitTracker:
    return RateLimitTracker(
        store=MemoryStore(),
        rng=random.Random(0),
        pacing=GlobalPacing(limit=0),
        **kw,  # type: ignore[arg-type]
    )


def edge_ban(retry_after: str | None = "5") -> HTTPResponse:
    headers = {"Content-Type": "text/html; charset=UTF-8"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return HTTPResponse(429, headers, HTML_1015)


def user_429(retry_after: float = 1.0) -> HTTPResponse:
    body = {"message": "You are being rate limited.", "retry_after": retry_after}
    return HTTPResponse(
        429,
        {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": "h1",
            "X-RateLimit-Scope": "user",
            "Retry-After": str(math.ceil(retry_after)),
        },
        json.dumps(body).encode(),
    )


def shared_429() -> HTTPResponse:
    body = {"message": "You are being rate limited.", "retry_after": 40.0, "global": False}
    return HTTPResponse(
        429,
        {"X-RateLimit-Scope": "shared", "X-RateLimit-Remaining": "3", "Retry-After": "40"},
        json.dumps(body).encode(),
    )


def routes(n: int) -> list[str]:
    # Distinct webhooks: an unknown bucket lets one probe through at a time.
    return [route_key("POST", str(1000 + i), TOKEN, "") for i in range(n)]


def fail(t: RateLimitTracker, status: int, now: float, times: int = 1) -> None:
    for _ in range(times):
        if status == 429:
            t.observe(ROUTE, parse_rate_limit(user_429()), now)
        else:
            t.observe(
                ROUTE,
                parse_rate_limit(HTTPResponse(status, {}, b'{"message": "Unauthorized"}')),
                now,
            )


# ----------------------------------------------------------------- edge bans: parsing


@pytest.mark.parametrize(
    ("response", "banned"),
    [
        (edge_ban(), True),
        (HTTPResponse(429, {"Content-Type": "text/html"}, b"error code: 1015"), True),
        (HTTPResponse(429, {}, b"  \n<html>denied</html>"), True),
        (HTTPResponse(429, {"Retry-After": "30"}), True),  # Retry-After alone: not Discord's
        (HTTPResponse(429, {}, b"error code: 1015"), True),
        (HTTPResponse(429, {}, b'{"message": "no retry_after"}'), True),
        (user_429(), False),
        (shared_429(), False),
        # Discord's JSON 429 body whose headers a proxy stripped is still Discord's API.
        (HTTPResponse(429, {}, b'{"retry_after": 1.5, "global": false}'), False),
        (HTTPResponse(429, {"X-RateLimit-Global": "true"}), False),
        (HTTPResponse(403, {"Content-Type": "text/html"}, HTML_1015), False),
        (HTTPResponse(200, {}), False),
    ],
)
def test_an_html_or_headerless_429_is_an_edge_ban(response: HTTPResponse, banned: bool) -> None:
    assert parse_rate_limit(response).edge_ban is banned


def test_an_edge_bans_wait_is_its_retry_after_header() -> None:
    assert parse_rate_limit(edge_ban("17")).retry_after == 17.0
    assert parse_rate_limit(edge_ban(None)).retry_after is None


# ----------------------------------------------------------------- edge bans: the tracker


def test_an_edge_ban_pauses_every_route_for_its_retry_after_at_least_the_floor() -> None:
    t = tracker()
    assert t.acquire(ROUTE, 10.0) == 0.0
    t.observe(ROUTE, parse_rate_limit(edge_ban("5")), 10.0)  # Retry-After 5 s < the 60 s floor
    for route in (ROUTE, OTHER):
        reservation = t.reserve(route, 10.0)
        assert (reservation.delay, reservation.reason) == (60.0, "edge_ban")
    assert t.acquire(OTHER, 69.0) == 1.0
    assert t.acquire(OTHER, 70.0) == 0.0

    longer = tracker()
    longer.observe(ROUTE, parse_rate_limit(edge_ban("120")), 0.0)
    assert longer.acquire(OTHER, 0.0) == 120.0


def test_the_edge_ban_floor_is_configurable_and_used_without_retry_after() -> None:
    t = tracker(edge_ban_floor=5.0)
    t.observe(ROUTE, parse_rate_limit(edge_ban(None)), 0.0)
    assert t.acquire(OTHER, 0.0) == 5.0
    t.observe(ROUTE, parse_rate_limit(edge_ban("2")), 100.0)
    assert t.acquire(OTHER, 100.0) == 5.0
    with pytest.raises(ConfigError, match=r"edge_ban_floor=-1\.0 .*>= 0"):
        tracker(edge_ban_floor=-1.0)


def test_an_edge_ban_teaches_the_bucket_nothing() -> None:
    t = tracker()
    assert t.acquire(ROUTE, 0.0) == 0.0
    t.observe(ROUTE, parse_rate_limit(edge_ban("5")), 0.0)
    snapshot = t.bucket(ROUTE)
    assert snapshot is not None
    assert (snapshot.learned, snapshot.blocked_until, snapshot.in_flight) == (None, 0.0, 0)
    assert t.acquire(ROUTE, 60.0) == 0.0


def test_one_error_log_and_one_count_per_ban_episode(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    t = tracker()
    in_flight = routes(3)
    for route in in_flight:
        assert t.acquire(route, 0.0) == 0.0  # three requests in flight when the ban begins
    for route, now in zip(in_flight, (0.1, 0.2, 0.3), strict=True):
        t.observe(route, parse_rate_limit(edge_ban("5")), now)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert errors[0].name == "trio_webhook"
    assert errors[0].levelno == logging.ERROR
    text = errors[0].getMessage()
    assert "IP address" in text
    assert "every route" in text
    assert "60.0 s" in text
    assert "60.1 s on the tracker's clock" in text  # when it ends
    assert TOKEN not in text
    m = t.metrics(now=1.0)
    assert (m.edge_bans, m.invalid_requests, m.rate_limited) == (1, 1, {"edge": 3})
    # The pause is the first ban's: the floor is not applied again by each ban of the
    # episode (only a longer announced Retry-After would lengthen it).
    assert t.acquire(OTHER, 1.0) == pytest.approx(59.1)
    t.observe(in_flight[0], parse_rate_limit(edge_ban("100")), 1.0)
    assert t.acquire(OTHER, 1.0) == 100.0
    assert t.metrics(now=1.0).edge_bans == 1

    # After the pause, a new ban is a new episode.
    t.observe(ROUTE, parse_rate_limit(edge_ban("5")), 101.0)
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 2
    m = t.metrics(now=101.0)
    assert (m.edge_bans, m.invalid_requests) == (2, 2)


def test_the_edge_ban_log_names_the_wall_clock_end_when_given(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = tracker()
    t.observe(ROUTE, parse_rate_limit(edge_ban("90")), 5.0, epoch_now=1_800_000_000.0)
    (record,) = caplog.records
    assert "until 2027-01-15 08:01:30 UTC" in record.getMessage()


def test_the_shell_loop_waits_out_an_edge_ban_on_the_mock_clock() -> None:
    async def body() -> float:
        t = RateLimitTracker(rng=random.Random(0))
        assert t.acquire(ROUTE, trio.current_time()) == 0.0
        t.observe(ROUTE, parse_rate_limit(edge_ban("3")), trio.current_time())
        while (delay := t.acquire(OTHER, trio.current_time())) > 0:  # noqa: ASYNC110
            await trio.sleep(delay)
        return trio.current_time()

    assert trio.run(body, clock=trio.testing.MockClock(autojump_threshold=0)) == 60.0


# ----------------------------------------------------------------- the budget: counting


def test_401_403_and_429_count_but_shared_429s_and_others_do_not() -> None:
    t = tracker()
    fail(t, 401, 0.0)
    fail(t, 403, 0.0)
    t.observe(ROUTE, parse_rate_limit(user_429()), 0.0)
    t.observe(ROUTE, parse_rate_limit(shared_429()), 0.0)
    for status in (200, 204, 400, 404, 413, 500, 502):
        fail(t, status, 0.0)
    t.observe(ROUTE, None, 0.0)
    assert t.metrics(now=0.0).invalid_requests == 3


def test_the_count_slides_with_one_second_slots() -> None:
    t = tracker(budget=InvalidRequestBudget(window=10.0))
    fail(t, 401, 0.5, times=3)
    fail(t, 403, 5.2, times=2)
    assert t.metrics(now=9.9).invalid_requests == 5
    # The oldest slot ([0, 1) s) is still counted until 11 s: one slot more, never less.
    assert t.metrics(now=10.9).invalid_requests == 5
    assert t.metrics(now=11.0).invalid_requests == 2
    assert t.metrics(now=16.0).invalid_requests == 0
    # Without ``now``: as of the tracker's latest operation (5.2 s).
    assert t.metrics().invalid_requests == 5


def test_shared_429s_never_count_nor_tighten_pacing_forever() -> None:
    t = tracker(budget=SMALL)
    for i in range(200):
        assert t.acquire(ROUTE, 1000.0 * i) == 0.0
        t.observe(ROUTE, parse_rate_limit(shared_429()), 1000.0 * i)
    assert t.metrics(now=200_000.0).invalid_requests == 0
    snapshot = t.bucket(ROUTE)
    assert snapshot is not None
    assert snapshot.learned is None or snapshot.learned.expires_at <= 200_000.0
    assert t.acquire(ROUTE, 200_000.0) == 0.0


# ----------------------------------------------------------------- the budget: slowing down


def test_spacing_formula_with_exact_numbers() -> None:
    default = InvalidRequestBudget()
    assert (default.slow_at, default.stop_at, default.slots) == (5000, 9500, 600)
    assert default.spacing(0) == 0.0
    assert default.spacing(5000) == 0.0
    assert default.spacing(7250) == pytest.approx(600 / 4500)
    assert default.spacing(9000) == pytest.approx(600 * 4000 / (4500 * 500))
    assert default.spacing(9499) == pytest.approx(600 * 4499 / 4500)
    assert default.spacing(9500) == 0.0  # refused instead
    assert (SMALL.slow_at, SMALL.stop_at) == (50, 90)
    assert SMALL.spacing(70) == 1.5
    assert SMALL.spacing(80) == 4.5


def test_near_the_limit_grants_are_spaced_across_every_route() -> None:
    t = tracker(budget=SMALL)
    r = routes(8)
    fail(t, 401, 0.0, times=49)
    # Below slow_at nothing waits.
    for route in r[:3]:
        assert t.acquire(route, 0.5) == 0.0
    fail(t, 401, 0.5, times=21)  # 70 counted: spacing 1.5 s
    assert t.acquire(r[3], 1.0) == 1.0  # 1.5 s after the last grant (0.5 s)
    reservation = t.reserve(r[4], 1.0)
    assert (reservation.delay, reservation.reason, reservation.refused) == (
        1.0,
        "invalid_budget",
        None,
    )
    assert t.acquire(r[4], 2.0) == 0.0
    assert t.acquire(r[3], 2.0) == 1.5
    fail(t, 403, 2.0, times=10)  # 80 counted: spacing 4.5 s
    assert t.acquire(r[3], 3.0) == 3.5
    assert t.acquire(r[3], 6.5) == 0.0
    # The first 70 leave the count at 61 s (slot 0), and the spacing with them.
    assert t.metrics(now=62.0).invalid_requests == 10
    for route in r[5:]:
        assert t.acquire(route, 62.0) == 0.0


# ----------------------------------------------------------------- the budget: stopping


def test_at_the_stop_point_reserve_refuses_and_acquire_raises() -> None:
    t = tracker(budget=SMALL)
    fail(t, 401, 0.5, times=50)
    fail(t, 429, 30.5, times=40)  # 90 = stop_at
    reservation = t.reserve(ROUTE, 31.0)
    # Slot 0 leaves the count at 61 s: 40 < 90 again.
    assert (reservation.delay, reservation.reason) == (30.0, "invalid_budget")
    assert reservation.refused is not None
    assert "90 answers with status 401, 403 or 429 in the last 60 s" in reservation.refused
    assert "resume in 30.0 s" in reservation.refused
    assert TOKEN not in reservation.refused
    with pytest.raises(InvalidRequestBudgetExceeded) as caught:
        t.acquire(OTHER, 41.0)
    error = caught.value
    assert (error.count, error.limit, error.window, error.resume_after) == (90, 100, 60.0, 20.0)
    assert error.stop_at == 90
    assert "Stop sending to webhooks that answer 401 or 403" in str(error)
    assert "resume in 20.0 s" in str(error)
    m = t.metrics(now=41.0)
    assert (m.refused, m.waits, m.granted, m.invalid_requests) == (2, 0, 0, 90)
    # 40 left in the window: below slow_at, nothing waits.
    assert t.acquire(ROUTE, 61.0) == 0.0


def test_a_refusal_is_a_wait_for_shells_that_only_read_the_delay() -> None:
    t = tracker(budget=InvalidRequestBudget(limit=10, window=5.0, stop_share=1.0))
    fail(t, 401, 2.0, times=10)
    assert t.reserve(ROUTE, 2.0).delay == 6.0  # slot 2 leaves the count at (2 + 5 + 1) s
    assert t.reserve(ROUTE, 8.0).delay == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"limit": 0}, r"InvalidRequestBudget\.limit=0 is invalid: expected an int >= 1"),
        ({"window": math.nan}, r"InvalidRequestBudget\.window=nan .*finite number above 0"),
        ({"stop_share": 1.5}, r"InvalidRequestBudget\.stop_share=1\.5 .*a share in \(0, 1\]"),
        ({"slow_share": 0.0}, r"InvalidRequestBudget\.slow_share=0\.0"),
        ({"slow_share": 0.9, "stop_share": 0.8}, r"slow_share=0\.9 .*stop_share=0\.8"),
        ({"granularity": 0.0}, r"InvalidRequestBudget\.granularity=0\.0"),
        ({"window": 10.0, "granularity": 20.0}, r"granularity=20\.0 .*window=10\.0"),
    ],
)
def test_budget_values_are_checked(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        InvalidRequestBudget(**kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------- the budget: properties


def _slot_brute(times: list[float], now: float, budget: InvalidRequestBudget) -> int:
    oldest = math.floor(now / budget.granularity) - budget.slots
    return sum(1 for t in times if math.floor(t / budget.granularity) >= oldest)


class BudgetCounter(RuleBasedStateMachine):
    """The tracker's count against a brute-force count of every qualifying answer."""

    budget = InvalidRequestBudget(limit=10**9, window=60.0, granularity=1.0)

    def __init__(self) -> None:
        super().__init__()
        self.tracker = tracker(budget=self.budget)
        self.now = 0.0
        self.times: list[float] = []
        self.banned_until = 0.0
        self.fresh = 0

    @rule(dt=st.floats(0.0, 40.0))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule(
        status=st.sampled_from([200, 204, 400, 401, 403, 404, 429, 500]),
        shared=st.booleans(),
        times=st.integers(1, 5),
    )
    def answer(self, status: int, shared: bool, times: int) -> None:
        headers = {"X-RateLimit-Scope": "shared" if shared else "user"}
        for _ in range(times):
            self.tracker.observe(ROUTE, parse_rate_limit(HTTPResponse(status, headers)), self.now)
            if status in (401, 403) or (status == 429 and not shared):
                self.times.append(self.now)

    @rule(retry_after=st.sampled_from(["1", "90", None]))
    def ban(self, retry_after: str | None) -> None:
        self.tracker.observe(ROUTE, parse_rate_limit(edge_ban(retry_after)), self.now)
        pause = float(retry_after or 0)
        if self.now >= self.banned_until:  # a new episode counts once, paused for the floor
            self.times.append(self.now)
            pause = max(pause, self.tracker.edge_ban_floor)
        self.banned_until = max(self.banned_until, self.now + pause)

    @rule()
    def reserve(self) -> None:
        self.fresh += 1
        reservation = self.tracker.reserve(route_key("POST", str(self.fresh), TOKEN), self.now)
        if self.now < self.banned_until:
            assert reservation.reason == "edge_ban"
            assert reservation.delay == pytest.approx(self.banned_until - self.now)
        else:
            assert reservation.delay == 0.0

    @invariant()
    def count_matches_brute_force(self) -> None:
        count = self.tracker.metrics(now=self.now).invalid_requests
        window = self.budget.window
        in_window = sum(1 for t in self.times if self.now - window < t <= self.now)
        one_slot_more = sum(1 for t in self.times if self.now - window - 1.0 < t <= self.now)
        assert in_window <= count <= one_slot_more
        assert count == _slot_brute(self.times, self.now, self.budget)

    @invariant()
    def memory_is_bounded_by_the_slots(self) -> None:
        window = self.tracker.store._global.invalid  # type: ignore[union-attr]
        assert isinstance(window, InvalidRequestWindow)
        assert len(window.slots) <= self.budget.slots + 1


TestBudgetCounter = BudgetCounter.TestCase
TestBudgetCounter.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


@given(
    events=st.lists(st.tuples(st.floats(0.0, 5.0), st.integers(1, 30)), max_size=60),
    granularity=st.sampled_from([0.25, 1.0, 2.5]),
    probe=st.floats(0.0, 30.0),
)
def test_window_count_prune_and_resume_agree(
    events: list[tuple[float, int]], granularity: float, probe: float
) -> None:
    budget = InvalidRequestBudget(limit=100, window=10.0, stop_share=0.5, granularity=granularity)
    window = InvalidRequestWindow()
    now, times = 0.0, []
    for dt, n in events:
        now += dt
        for _ in range(n):
            window.add(now, budget)
            times.append(now)
    now += probe
    count = window.count(now, budget)
    assert count == _slot_brute(times, now, budget)
    resume = window.resume_after(now, budget)
    assert window.prune(now, budget) == count
    if count < budget.stop_at:
        assert resume == 0.0
    else:
        assert resume > 0.0
        assert window.count(now + resume, budget) < budget.stop_at
        before = max(now, now + resume - granularity / 2)
        assert before == now or window.count(before, budget) >= budget.stop_at
