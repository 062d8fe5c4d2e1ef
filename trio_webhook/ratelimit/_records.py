"""The frozen values that cross the store seam: what a store is given and returns.

A store takes plain values (numbers, strings and these records) so that a Redis store can
pass them to a Lua script as they are; the mutable state they describe is in ``_state``.
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = [
    "BucketSnapshot",
    "GlobalPacing",
    "GlobalSnapshot",
    "Jitter",
    "LearnedLimit",
    "NOTHING_OBSERVED",
    "Observed",
    "Reservation",
]


@attrs.frozen
class LearnedLimit:
    """A limit no header announced, learned from a 429.

    Attributes:
        limit: Requests allowed per ``window``.
        window: Seconds.
        learned_at: When (caller's clock).
        expires_at: When the evidence ages out and pacing relaxes.
        scope: The 429's scope (``shared`` for the per-channel limit).
        counted: The limit was counted from the requests let through (so each further 429
            of the same burst lowers it by one); ``False`` when the 429 widened the window.
    """

    limit: int
    window: float
    learned_at: float
    expires_at: float
    scope: str | None = None
    counted: bool = True


@attrs.frozen
class BucketSnapshot:
    """A read-only view of a bucket (what :meth:`RateLimitTracker.bucket` returns)."""

    key: str
    limit: int | None
    remaining: int | None
    reset_at: float | None
    blocked_until: float
    in_flight: int
    learned: LearnedLimit | None


@attrs.frozen
class GlobalSnapshot:
    """A read-only view of the global state (what a store's ``global_snapshot`` returns).

    Attributes:
        blocked_until: End of the global 429's block.
        edge_ban_until: End of the edge ban's pause.
        invalid_requests: Invalid answers counted in the window at the given time.
    """

    blocked_until: float
    edge_ban_until: float
    invalid_requests: int


@attrs.frozen
class GlobalPacing:
    """The proactive global limit: at most ``limit`` requests per ``period`` seconds.

    Discord allows 50 requests a second per IP address for unauthenticated requests.
    ``limit=0`` turns pacing off (the global 429 gate stays).
    """

    limit: int = 50
    period: float = 1.0


@attrs.frozen
class Jitter:
    """Random draws made by the tracker and handed to the store, so a store stays pure.

    Attributes:
        reset: Added to a wait for a bucket reset.
        rate_limited: Added to a 429's retry_after.
    """

    reset: float = 0.0
    rate_limited: float = 0.0


@attrs.frozen
class Reservation:
    """The answer of one reservation attempt.

    Attributes:
        delay: ``0.0``: a slot is reserved, send now. Otherwise seconds to wait before
            asking again (nothing was reserved).
        reason: What the wait is for: ``edge_ban``, ``global``, ``global_pace``,
            ``invalid_budget``, ``bucket``, ``channel``, or ``""`` when granted.
        refused: When set, do not send at all: the invalid-request budget is spent
            (reason ``invalid_budget``). A token-free text saying how many invalid answers
            in how long and when sending may resume (in ``delay`` seconds).
    """

    delay: float
    reason: str = ""
    refused: str | None = None


@attrs.frozen
class Observed:
    """What folding in one answer changed beyond the buckets (returned by a store's update).

    Attributes:
        edge_ban_started: The answer began a new edge-ban episode (none was under way).
        edge_ban_until: For an edge-ban answer, when the pause ends; else 0.0.
    """

    edge_ban_started: bool = False
    edge_ban_until: float = 0.0


# What most answers change beyond the buckets: nothing (shared: one less allocation).
NOTHING_OBSERVED: Final = Observed()
