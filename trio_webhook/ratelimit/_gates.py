"""The gates over every route, read before a grant, and the fast path's test.

The global 429, the edge ban, the global pace and the invalid-request spacing. Pure reads
of the state (:mod:`._state` holds every transition and calls these); they only drop what
has expired.
"""

from __future__ import annotations

from trio_webhook.ratelimit._budget import InvalidRequestBudget
from trio_webhook.ratelimit._records import BucketState, GlobalPacing, GlobalState

__all__ = ["fast_open", "global_wait", "pace_wait"]


def fast_open(
    bucket: BucketState,
    channel: BucketState | None,
    glob: GlobalState,
    now: float,
    pacing: GlobalPacing,
) -> bool:
    """Whether nothing but the strategy can hold a request back (the fast path's test).

    Slots left in a window that has not ended, no reservation lapsing, no live evidence,
    no gate over every route closed, and no invalid answer counted (which could space or
    refuse grants): then the full :func:`~trio_webhook.ratelimit._state.reserve_slot`
    would change nothing before asking the strategy. Drops the pace's expired grants.
    """
    remaining = bucket.remaining
    reset_at = bucket.reset_at
    in_flight = bucket.in_flight
    if (
        remaining is None
        or remaining <= 0
        or reset_at is None
        or now >= reset_at
        or (in_flight and in_flight[0] <= now)
        or bucket.learned is not None
        or glob.invalid.slots
        or glob.edge_ban_until > now
        or glob.blocked_until > now
    ):
        return False
    if channel is not None and (
        channel.in_flight or channel.reset_at is not None or channel.learned is not None
    ):
        return False
    if pacing.limit > 0:
        grants = glob.grants
        while grants and grants[0] <= now - pacing.period:
            grants.popleft()
        return len(grants) < pacing.limit
    return True


def global_wait(
    glob: GlobalState, pacing: GlobalPacing, budget: InvalidRequestBudget, invalid: int, now: float
) -> tuple[float, str]:
    """The longest wait of the gates over every route, and its reason.

    An edge ban, a global 429, the global pace, and the spacing near the invalid-request
    limit (``invalid`` answers counted).
    """
    wait, reason = 0.0, ""
    if glob.edge_ban_until > now:
        wait, reason = glob.edge_ban_until - now, "edge_ban"
    if glob.blocked_until - now > wait:
        wait, reason = glob.blocked_until - now, "global"
    if wait <= 0.0 and pacing.limit > 0:
        pace = pace_wait(glob, pacing, now)
        if pace > 0.0:
            wait, reason = pace, "global_pace"
    spacing = budget.spacing(invalid)
    if spacing > 0.0 and glob.last_grant is not None:
        budget_wait = glob.last_grant + spacing - now
        if budget_wait > wait:
            wait, reason = budget_wait, "invalid_budget"
    return wait, reason


def pace_wait(glob: GlobalState, pacing: GlobalPacing, now: float) -> float:
    """Seconds until the global pace lets one more request through (0.0: now).

    The pace is a sliding window: the k-th oldest of the last ``limit`` grants frees a
    slot one period after it was made. Each request told to wait is promised the next
    opening no earlier waiter holds (the caller records it in ``glob.promised``), so
    waiters come back one per opening instead of all at the first, where all but one
    would ask again, and again: N waiters would cost N squared calls.
    """
    grants, promised, limit = glob.grants, glob.promised, pacing.limit
    while grants and grants[0] <= now - pacing.period:
        grants.popleft()
    while promised and promised[0] <= now:
        promised.pop(0)
    if len(grants) < limit:
        # A slot is open: take it (work-conserving; a waiter it was promised to finds the
        # next one when it comes back).
        return 0.0
    cycle, k = divmod(len(promised), limit)
    opening = grants[len(grants) - limit + k] + pacing.period * (1 + cycle)
    return max(0.0, opening - now)
