"""Waits for a reset end at the reset, never before it, and spin only within their budget.

The budget is sans-IO (hypothesis drives it); the wait itself runs on trio's real clock
here, because that clock's rounding is what it corrects: the tests assert that no wait
ends early and that a lone sender over real sockets gets no 429, never how fast it was.
"""

from __future__ import annotations

import itertools
import random

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook import Message, SenderConfig, open_webhook_sender
from trio_webhook._precise_wait import _BUDGET, _SYSTEM_CLOCK, EARLY, SpinBudget, sleep_precisely
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.testing import FakeDiscord, serve_fake_discord

steps = st.lists(st.tuples(st.floats(0.0, 0.5), st.floats(0.0, 0.003)), min_size=1, max_size=60)


@given(steps)
def test_the_budget_never_saves_more_than_its_burst_and_spins_only_with_tokens(
    waits: list[tuple[float, float]],
) -> None:
    budget = SpinBudget()
    now = 0.0
    for gap, spun in waits:
        now += gap
        early = budget.early_by(now)
        assert budget.tokens <= budget.burst
        assert early == (EARLY if budget.tokens >= EARLY else 0.0)
        if early:
            budget.charge(spun, now + spun)
            assert budget.tokens <= budget.burst


def test_a_lone_webhook_at_its_limit_stays_within_the_budget() -> None:
    # One wait a 0.2 s window, each spinning its whole EARLY: 0.6 % of a core.
    budget = SpinBudget()
    for window in range(1000):
        now = window * 0.2
        assert budget.early_by(now) == EARLY
        budget.charge(EARLY, now + EARLY)


def test_a_thousand_waits_at_once_spend_the_budget_then_sleep_plainly() -> None:
    budget = SpinBudget()
    precise = 0
    for _ in range(1000):
        if budget.early_by(10.0):
            precise += 1
            budget.charge(EARLY, 10.0)
    assert precise == 4  # the burst of 5 ms holds four waits' 1.2 ms
    # The budget refills at 1 % of the time that passes: the fifth wait's 1.2 ms after
    # 0.1 s, the whole burst after 0.5 s.
    assert budget.early_by(10.05) == 0.0
    assert budget.early_by(10.5) == EARLY


async def test_trios_own_clock_is_recognised() -> None:
    # Otherwise every wait would quietly be a plain sleep again, a millisecond late.
    assert type(trio.lowlevel.current_clock()) is _SYSTEM_CLOCK


async def test_a_precise_wait_never_ends_before_its_deadline() -> None:
    rng = random.Random(7)
    for _ in range(40):
        delay = rng.uniform(0.0, 0.004)
        deadline = trio.current_time() + delay
        await sleep_precisely(delay)
        assert trio.current_time() >= deadline


async def test_a_spent_budget_makes_the_wait_a_plain_sleep() -> None:
    spent = SpinBudget(tokens=0.0)
    _BUDGET.set(spent)
    deadline = trio.current_time() + 0.002
    await sleep_precisely(0.002)
    assert trio.current_time() >= deadline
    # No spin: nothing charged (a spin would overdraw it below 0), only the refill.
    assert 0.0 <= spent.tokens < EARLY


def test_under_the_mock_clock_a_wait_is_the_exact_sleep() -> None:
    ends: list[float] = []

    async def main() -> None:
        await sleep_precisely(0.25)
        ends.append(trio.current_time())
        await sleep_precisely(0.0)
        ends.append(trio.current_time())

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert ends == [0.25, 0.25]


async def test_a_lone_sender_over_real_sockets_gets_no_429_and_no_early_window() -> None:
    window, limit, messages = 0.05, 5, 40
    fake = FakeDiscord(bucket_limit=limit, bucket_window=window, seed=3)
    hook = fake.create_webhook()
    async with serve_fake_discord(fake, tls=False) as server:
        config = SenderConfig(seed=3, drain_timeout=60.0)
        tracker = RateLimitTracker(rng=random.Random(3))
        async with open_webhook_sender(
            server.webhook_url(hook), config=config, tracker=tracker
        ) as sender:
            receipts = [sender.send_nowait(Message(content=f"m{i}")) for i in range(messages)]
            for receipt in receipts:
                await receipt.wait()
    assert fake.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}
    times = sorted(r.time for r in fake.requests if r.status is not None and r.status < 300)
    assert len(times) == messages
    starts = times[::limit]
    assert all(later >= earlier + window for earlier, later in itertools.pairwise(starts))
