"""The data of rate-limit state: what a store holds, and the values crossing its seam.

A store holds :class:`BucketState` and :class:`GlobalState` (plain fields, so that a Redis
store can keep them as hashes and sorted sets) and takes and returns the frozen values
below. What changes them is in ``_state``: every transition, and the diagram of the states.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import attrs

from trio_webhook.ratelimit._budget import InvalidRequestBudget, InvalidRequestWindow

__all__ = [
    "HISTORY",
    "BucketSnapshot",
    "BucketState",
    "GlobalPacing",
    "GlobalSnapshot",
    "GlobalState",
    "Jitter",
    "LearnedLimit",
    "GRANTED",
    "NOTHING_OBSERVED",
    "Observed",
    "Reservation",
]

# How many grant times a bucket remembers (bounds memory; also the largest learnable limit).
HISTORY: Final = 256


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


@attrs.define
class BucketState:
    """The mutable state of one bucket (or of one channel's hidden limit).

    Attributes:
        key: The store key (``route:...`` placeholder, ``bucket:hash:major`` or
            ``channel:id``).
        limit: The announced limit, when known.
        remaining: Slots left in the window: the server's count minus our reservations.
        reset_at: When the announced window resets (caller's clock), when known.
        reset_jitter: Jitter added to a wait for ``reset_at`` (drawn when it was set; 0.0
            unless the bucket is ``contended`` or the store shared).
        window: The longest announced window seen (seconds).
        blocked_until: A 429's retry_after (plus jitter) ends here.
        rolled_at: When we last moved to a new window by ourselves (answers from the
            window before it are stale).
        in_flight: Expiry times of the reservations not yet observed, soonest first (a
            tuple, replaced on change: an idle bucket holds the shared empty one).
        grants: When recent requests were let through, oldest first (at most
            ``HISTORY``; a list: an idle bucket holds one or two, and a deque costs 760
            bytes even empty).
        learned: A limit learned from 429s, if any.
        last_used: The last time anything touched the bucket.
        reset_measured: ``reset_at`` comes from an answer (not from our own guess when
            the window rolled).
        channel_synced: Whether ``grants`` made before the route's channel was known have
            been counted in that channel's history.
        contended: Another client spends this bucket too (Discord counted requests we did
            not make, or refused one our count allowed): its resets are jittered.
    """

    key: str
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    reset_jitter: float = 0.0
    window: float | None = None
    blocked_until: float = 0.0
    rolled_at: float | None = None
    in_flight: tuple[float, ...] = ()
    grants: list[float] = attrs.Factory(list)
    learned: LearnedLimit | None = None
    last_used: float = 0.0
    channel_synced: bool = False
    reset_measured: bool = False
    contended: bool = False

    def snapshot(self) -> BucketSnapshot:
        """A frozen copy for introspection."""
        return BucketSnapshot(
            key=self.key,
            limit=self.limit,
            remaining=self.remaining,
            reset_at=self.reset_at,
            blocked_until=self.blocked_until,
            in_flight=len(self.in_flight),
            learned=self.learned,
        )

    def is_idle(self, now: float, idle_ttl: float) -> bool:
        """Whether nothing about this bucket still matters (it can be forgotten)."""
        return (
            now - self.last_used >= idle_ttl
            and not any(t > now for t in self.in_flight)
            and self.blocked_until <= now
            and (self.reset_at is None or self.reset_at <= now)
            and (self.learned is None or self.learned.expires_at <= now)
        )


@attrs.define
class GlobalState:
    """Per-process (or per-IP, in a shared store) state: the global gates and pacing.

    Attributes:
        blocked_until: A global 429 blocks every route until then.
        grants: Recent grant times, for pacing under the global rate.
        edge_ban_until: An edge ban (:attr:`RateLimitInfo.edge_ban`) pauses every route
            until then.
        invalid: The invalid answers (401, 403, 429 not ``shared``) of the last window.
        last_grant: When the last request was let through (spaces grants near the
            invalid-request limit).
        promised: When the requests told to wait for the global pace were told to come
            back, sorted: each waiter is handed its own opening of the pace, so N waiters
            do not all wake for the one slot that opens and ask again (N squared calls).
            Not shared between processes; a hint, never a reservation.
    """

    blocked_until: float = 0.0
    grants: deque[float] = attrs.Factory(deque)
    edge_ban_until: float = 0.0
    invalid: InvalidRequestWindow = attrs.Factory(InvalidRequestWindow)
    last_grant: float | None = None
    promised: list[float] = attrs.Factory(list)

    def snapshot(self, now: float, budget: InvalidRequestBudget) -> GlobalSnapshot:
        """A frozen copy for introspection."""
        return GlobalSnapshot(
            blocked_until=self.blocked_until,
            edge_ban_until=self.edge_ban_until,
            invalid_requests=self.invalid.count(now, budget),
        )


@attrs.frozen
class GlobalPacing:
    """The proactive global limit: at most ``limit`` requests per ``period`` seconds.

    Discord allows 50 requests a second per IP address for unauthenticated requests.
    ``limit=0`` turns pacing off (the global 429 gate stays).
    """

    limit: int = 50
    period: float = 1.0


# No slots: one for every answer (see PlannedRequest, trio_webhook._models).
@attrs.frozen(slots=False)
class Jitter:
    """What the tracker hands the store beside the answer, so a store stays pure.

    Random draws, and how far before ``now`` the answer's reset clock started.

    Attributes:
        reset: Added to a wait for a bucket reset, where jitter applies (``shared``, or a
            bucket another client spends too).
        rate_limited: Added to a 429's retry_after.
        shared: The store is shared with other processes: every reset wait is jittered,
            so that their senders do not all fire at the same instant.
        lead: Seconds before ``now`` from which the answer's ``Reset-After`` counts (about
            half the request's round trip: see ``RateLimitTracker.observe``).
    """

    reset: float = 0.0
    rate_limited: float = 0.0
    shared: bool = False
    lead: float = 0.0


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
# What a reservation that got its slot returns (shared: one less allocation a request).
GRANTED: Final = Reservation(0.0)
