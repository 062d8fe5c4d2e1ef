"""Waits for a rate limit's reset that end at the reset, not up to a millisecond after.

Why: trio sleeps in ``epoll_wait``, whose timeout Python rounds *up* to a whole
millisecond, so a ``trio.sleep`` ends 0.5-1.2 ms late (0.76 ms on average here). A
webhook sending at its limit waits once a window, so each window starts that much late:
at 5 per 0.2 s (``bench_peers.py`` W1) it was 0.4 % of the throughput, the largest part
of what was left (issue 16).

How: wake :data:`EARLY` before the moment and pass the rest in checkpoints (other tasks
run meanwhile), never ending before the moment. Checkpointing costs CPU, so
:class:`SpinBudget` allows it only while it costs under :data:`SPIN_SHARE` of one core,
averaged over time: a lone webhook at its limit spins about 0.5 ms a window, well inside;
a thousand lanes all pacing at once run out of budget, and their waits are plain sleeps
again (as late as before, never earlier).

Only with trio's own clock (``SystemClock``, real time): under ``trio.testing.MockClock``
time moves only while every task sleeps, so a wait there, or on any other clock, is the
plain sleep (tests keep their exact delays).
"""

from __future__ import annotations

from typing import Final

import attrs
import trio

__all__ = ["EARLY", "SPIN_SHARE", "SpinBudget", "sleep_precisely"]

EARLY: Final = 0.0012
"""How long before the moment a precise wait wakes (past trio's timer lateness at p90)."""
SPIN_SHARE: Final = 0.01
"""The share of one core precise waits may spend checkpointing, averaged over time."""
SPIN_BURST: Final = 0.005
"""The most checkpointing time saved up for a burst of waits (seconds)."""


@attrs.define
class SpinBudget:
    """How much checkpointing precise waits may still do: a token bucket of CPU seconds.

    It fills at ``share`` of elapsed time up to ``burst``; each wait's spin is charged.
    Sans-IO: every method takes ``now``.
    """

    share: float = SPIN_SHARE
    burst: float = SPIN_BURST
    tokens: float = SPIN_BURST
    updated: float | None = None

    def _refill(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.share)
        self.updated = now if self.updated is None else max(self.updated, now)

    def early_by(self, now: float) -> float:
        """How early to wake for a wait starting at ``now``: :data:`EARLY`, or 0 if spent."""
        self._refill(now)
        return EARLY if self.tokens >= EARLY else 0.0

    def charge(self, spun: float, now: float) -> None:
        """Count ``spun`` seconds of checkpointing, ended at ``now``."""
        self._refill(now)
        self.tokens -= max(0.0, spun)


_BUDGET: Final = trio.lowlevel.RunVar[SpinBudget]("trio_webhook.spin_budget")


def _system_clock() -> type | None:
    # trio's default clock is not public. Recognised by its class rather than by ruling
    # out MockClock: importing trio.testing costs about 70 ms, and a clock of the user's
    # own may not move while a task checkpoints either. A trio that moves the class
    # gets plain sleeps, as before (a test says so).
    try:
        from trio._core._run import SystemClock
    except ImportError:  # pragma: no cover - depends on trio's layout
        return None
    return SystemClock


_SYSTEM_CLOCK: Final = _system_clock()


async def sleep_precisely(delay: float) -> None:
    """Sleep ``delay`` seconds, ending within a few microseconds after, never before.

    Falls back to ``trio.sleep`` on any clock but trio's own (a ``MockClock``), or once
    the trio run's :class:`SpinBudget` is spent. Cancellable like ``trio.sleep``.
    """
    now = trio.current_time()
    deadline = now + delay
    if delay <= 0 or type(trio.lowlevel.current_clock()) is not _SYSTEM_CLOCK:
        await trio.sleep_until(deadline)
        return
    try:
        budget = _BUDGET.get()
    except LookupError:
        budget = SpinBudget()
        _BUDGET.set(budget)
    early = budget.early_by(now)
    await trio.sleep_until(deadline - early)
    if not early:
        return
    woke = now = trio.current_time()
    while now < deadline:
        await trio.lowlevel.checkpoint()
        now = trio.current_time()
    budget.charge(now - woke, now)
