"""The protocol every rate-limit store implements."""

from __future__ import annotations

from typing import Protocol

from trio_webhook.ratelimit._budget import DEFAULT_BUDGET, InvalidRequestBudget
from trio_webhook.ratelimit._headers import RateLimitInfo
from trio_webhook.ratelimit._records import (
    BucketSnapshot,
    GlobalPacing,
    GlobalSnapshot,
    Jitter,
    Observed,
    Reservation,
)
from trio_webhook.ratelimit._state import EDGE_BAN_FLOOR
from trio_webhook.ratelimit._strategies import Strategy

__all__ = ["AsyncRateLimitStore", "RateLimitStore"]


class RateLimitStore(Protocol):
    """Where a :class:`~trio_webhook.ratelimit.RateLimitTracker` keeps its state.

    Two operations change state, and each must be **atomic**: no other reserve or update
    may interleave with it. That is what keeps two senders from taking the last slot of a
    bucket twice.

    - :meth:`reserve` reads the global state, the route's bucket and its channel, asks the
      strategy for a delay and, when it is zero, records the reservation, all at once.
    - :meth:`update` releases a reservation and folds in an answer's headers, counts it
      towards the invalid-request budget, and pauses every route on an edge ban.

    The arguments are plain values (strings, floats, frozen attrs records of numbers) and
    the random draws are made by the tracker beforehand (:class:`Jitter`), so a store
    never needs randomness or a clock of its own. A Redis store maps each operation onto
    one ``EVALSHA`` of a Lua script: ``reserve(key, now, ...) -> delay`` with the bucket
    as a hash (``limit``, ``remaining``, ``reset_at``, ``blocked_until``), reservations and
    recent grants as sorted sets scored by time, the route-to-bucket map as a hash, and
    the strategy's numbers (threshold, learned limit and window, margin) as ``ARGV``;
    the global state (the 429 gate, the edge-ban pause, the last grant, and the
    invalid-request count as a hash of per-slot counts, slot index to answers, pruned by
    the same rule as :class:`~trio_webhook.ratelimit._budget.InvalidRequestWindow`) under
    one per-IP key; keys get a TTL of ``idle_ttl`` so Redis expires idle buckets by
    itself. Because the Redis client is asynchronous, that store will offer the same
    methods as coroutines (an ``AsyncRateLimitStore`` with this shape), used by an async
    twin of the tracker.

    :class:`~trio_webhook.ratelimit.MemoryStore` is the in-process implementation; the pure
    functions :func:`~trio_webhook.ratelimit._state.reserve_slot` and
    :func:`~trio_webhook.ratelimit._state.apply_observation` define what both operations do.
    """

    def reserve(
        self,
        route: str,
        now: float,
        *,
        strategy: Strategy,
        pacing: GlobalPacing,
        reservation_ttl: float,
        budget: InvalidRequestBudget = DEFAULT_BUDGET,
    ) -> Reservation:
        """Atomically check every limit on ``route`` and reserve a slot when none says wait.

        Args:
            route: The redacted route key.
            now: The caller's monotonic clock, seconds.
            strategy: Computes the bucket's delay.
            pacing: The global requests-per-period limit.
            reservation_ttl: Seconds after which an unobserved reservation lapses.
            budget: The invalid-request budget: slows grants down near it, refuses at it.

        Returns:
            ``Reservation(0.0)`` when a slot was reserved, else the delay and its reason
            (and ``refused`` when the budget forbids sending).
        """
        ...

    def update(
        self,
        route: str,
        info: RateLimitInfo | None,
        now: float,
        *,
        strategy: Strategy,
        channel_id: str | None,
        jitter: Jitter,
        budget: InvalidRequestBudget = DEFAULT_BUDGET,
        edge_ban_floor: float = EDGE_BAN_FLOOR,
    ) -> Observed:
        """Atomically release one reservation of ``route`` and apply an answer.

        Args:
            route: The redacted route key.
            info: The parsed answer, or ``None`` after a transport failure.
            now: The caller's monotonic clock, seconds.
            strategy: Learns from unexplained 429s.
            channel_id: The channel the route posts to, when known.
            jitter: The random draws for any wait this answer starts.
            budget: How invalid answers are counted.
            edge_ban_floor: The shortest pause of every route after an edge ban.

        Returns:
            What :func:`~trio_webhook.ratelimit._state.apply_observation` returned: whether
            this answer began an edge-ban episode (so exactly one caller logs it).
        """
        ...

    def global_snapshot(self, now: float, budget: InvalidRequestBudget) -> GlobalSnapshot:
        """The global gates and the invalid-request count at ``now`` (changes nothing)."""
        ...

    def snapshot(self, route: str) -> BucketSnapshot | None:
        """The state of ``route``'s bucket, or ``None`` when nothing is known."""
        ...

    def clear(self) -> None:
        """Forget everything."""
        ...


class AsyncRateLimitStore(Protocol):
    """The asynchronous twin of :class:`RateLimitStore`, for stores that do I/O.

    :meth:`reserve` and :meth:`update` are coroutines with the same arguments, results
    and atomicity as :class:`RateLimitStore`'s;
    :class:`~trio_webhook.stores.RedisRateLimitStore` is one. A tracker with such a
    store is driven through its async methods (``areserve``, ``aobserve``, ...), and the
    client picks them by itself (:attr:`RateLimitTracker.is_async`).

    :meth:`global_snapshot` stays synchronous (metrics are read from any thread): it
    returns the global state as the store last saw it, without I/O.
    """

    async def reserve(
        self,
        route: str,
        now: float,
        *,
        strategy: Strategy,
        pacing: GlobalPacing,
        reservation_ttl: float,
        budget: InvalidRequestBudget = DEFAULT_BUDGET,
    ) -> Reservation:
        """See :meth:`RateLimitStore.reserve`."""
        ...

    async def update(
        self,
        route: str,
        info: RateLimitInfo | None,
        now: float,
        *,
        strategy: Strategy,
        channel_id: str | None,
        jitter: Jitter,
        budget: InvalidRequestBudget = DEFAULT_BUDGET,
        edge_ban_floor: float = EDGE_BAN_FLOOR,
    ) -> Observed:
        """See :meth:`RateLimitStore.update`."""
        ...

    def global_snapshot(self, now: float, budget: InvalidRequestBudget) -> GlobalSnapshot:
        """The global state as last seen (no I/O)."""
        ...

    async def snapshot(self, route: str) -> BucketSnapshot | None:
        """See :meth:`RateLimitStore.snapshot`."""
        ...

    async def clear(self) -> None:
        """Forget everything."""
        ...
