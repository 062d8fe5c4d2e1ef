"""The rate-limit tracker: the one object the shell talks to, and its metrics.

Nothing here sleeps, reads a clock or draws from the module-level ``random``: every
operation takes ``now`` (seconds on the caller's monotonic clock, ``trio.current_time()``
in the shell) and randomness comes from an injected ``random.Random``. The shell's loop
is :class:`RateLimitTracker`'s example; the answer is parsed once, for ``observe``.
``acquire`` returning ``0.0`` means a slot is *reserved*: the request counts against the
bucket's ``remaining`` until ``observe`` releases it (``None`` for a transport failure), or
until the reservation expires, so a cancelled request never leaks a slot.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Final, cast

import attrs

from trio_webhook._errors import ConfigError, InvalidRequestBudgetExceeded
from trio_webhook.ratelimit._budget import InvalidRequestBudget
from trio_webhook.ratelimit._headers import RateLimitInfo
from trio_webhook.ratelimit._memory import MemoryStore
from trio_webhook.ratelimit._metrics import RateLimitMetrics, RateLimitWait, log_edge_ban
from trio_webhook.ratelimit._records import (
    BucketSnapshot,
    GlobalPacing,
    Jitter,
    Observed,
    Reservation,
)
from trio_webhook.ratelimit._state import EDGE_BAN_FLOOR
from trio_webhook.ratelimit._strategies import AdaptiveStrategy, Strategy

if TYPE_CHECKING:
    from trio_webhook.ratelimit._store import AsyncRateLimitStore, RateLimitStore

__all__ = ["RATE_LIMITED_JITTER", "RateLimitMetrics", "RateLimitTracker", "RateLimitWait"]

# Jitter on top of a 429's retry_after (Discord's advice; also the retry policy's).
RATE_LIMITED_JITTER: Final = 0.25
# Round trips seen before the reset is dated back (see observe): the first ones, slowed
# by connecting and a cold server, are no floor.
LEAD_TRIPS: Final = 16


@attrs.define
class RateLimitTracker:
    """Paces requests under Discord's rate limits; all state lives in a store.

    Args:
        strategy: How to wait (:class:`AdaptiveStrategy` by default).
        store: Where the state lives (:class:`~trio_webhook.ratelimit.MemoryStore` by
            default; share one store, or use a shared one, between senders of one IP).
            An asynchronous store (:class:`~trio_webhook.ratelimit.AsyncRateLimitStore`,
            such as :class:`~trio_webhook.stores.RedisRateLimitStore`) is driven
            through the ``a``-methods (:meth:`areserve`, :meth:`aobserve`, ...).
        rng: Randomness for jitter (seed it for reproducible runs).
        pacing: The proactive global limit (50 requests a second).
        reservation_ttl: Seconds after which an unobserved reservation is dropped (longer
            than the transport's total timeout).
        budget: Discord's invalid-request limit and how near it to slow down and stop
            (:class:`InvalidRequestBudget`).
        edge_ban_floor: The shortest pause of every route after an edge ban (seconds;
            used when ``Retry-After`` is missing or shorter).

    Example::

        tracker = RateLimitTracker(rng=random.Random(1))
        while (delay := tracker.acquire(route, now=trio.current_time())) > 0:
            await trio.sleep(delay)
        response = await transport.send(request)
        info = parse_rate_limit(response)
        tracker.observe(route, info, now=trio.current_time())

    Error handling:
        Nothing here raises on what Discord sends: garbage headers count as unknown.
        :meth:`acquire` raises :class:`~trio_webhook.errors.InvalidRequestBudgetExceeded`
        when the invalid-request budget is spent (:meth:`reserve` returns a refusal).
    """

    # The defaults are frozen, so one instance serves every tracker (issue 16's GC walks).
    strategy: Strategy = attrs.field(default=AdaptiveStrategy())
    store: RateLimitStore | AsyncRateLimitStore = attrs.field(factory=MemoryStore)
    rng: random.Random = attrs.field(factory=random.Random)
    pacing: GlobalPacing = attrs.field(default=GlobalPacing())
    reservation_ttl: float = 30.0
    budget: InvalidRequestBudget = attrs.field(default=InvalidRequestBudget())
    edge_ban_floor: float = EDGE_BAN_FLOOR
    _waits: int = attrs.field(default=0, init=False)
    _wait_seconds: float = attrs.field(default=0.0, init=False)
    _granted: int = attrs.field(default=0, init=False)
    _rate_limited: dict[str, int] = attrs.field(factory=dict, init=False)
    _edge_bans: int = attrs.field(default=0, init=False)
    _refused: int = attrs.field(default=0, init=False)
    _now: float | None = attrs.field(default=None, init=False)
    # The shortest round trip of an observed request, and how many were (see observe).
    _best_trip: float = attrs.field(default=math.inf, init=False)
    _trips: int = attrs.field(default=0, init=False)
    _async: bool = attrs.field(default=False, init=False)
    # The routes told to wait, with why and until when: what a person watching sees.
    _waiting: dict[str, RateLimitWait] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        self._async = inspect.iscoroutinefunction(getattr(self.store, "reserve", None))
        # Checked here, not by an attrs validator: a validator would route every counter
        # update on the hot path through attrs' __setattr__.
        value = self.edge_ban_floor
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ConfigError(
                "RateLimitTracker.edge_ban_floor", value, "a finite number of seconds >= 0"
            )

    @property
    def is_async(self) -> bool:
        """Whether the store is asynchronous (then use :meth:`areserve`, :meth:`aobserve`)."""
        return self._async

    def use_store(self, store: RateLimitStore | AsyncRateLimitStore) -> None:
        """Keep the state in ``store`` from now on (what was in the old store stays there)."""
        self.store = store
        self._async = inspect.iscoroutinefunction(getattr(store, "reserve", None))

    def _sync_store(self) -> RateLimitStore:
        if self._async:
            raise TypeError(
                f"RateLimitTracker.store is asynchronous ({type(self.store).__name__}): "
                "use areserve/aacquire/aobserve/arelease/abucket/aclear"
            )
        return cast("RateLimitStore", self.store)

    def reserve(self, route: str, now: float) -> Reservation:
        """Like :meth:`acquire`, with the reason of a wait, and a refusal instead of raising.

        Returns:
            The reservation. When ``refused`` is set, nothing was reserved and the request
            must not be sent (dead-letter it with that text as the reason); ``delay`` then
            says when sending may resume.

        Raises:
            TypeError: The store is asynchronous (use :meth:`areserve`).
        """
        if self._async:
            self._sync_store()  # raises
        self._now = now
        # Inlined (no helper calls): this and observe run once per request.
        store: RateLimitStore = self.store  # type: ignore[assignment]
        reservation = store.reserve(
            route,
            now,
            strategy=self.strategy,
            pacing=self.pacing,
            reservation_ttl=self.reservation_ttl,
            budget=self.budget,
        )
        return self._count(reservation, route, now)

    async def areserve(self, route: str, now: float) -> Reservation:
        """:meth:`reserve` through an asynchronous store (a synchronous one works too)."""
        if not self._async:
            return self.reserve(route, now)
        self._now = now
        reservation = await cast("AsyncRateLimitStore", self.store).reserve(
            route,
            now,
            strategy=self.strategy,
            pacing=self.pacing,
            reservation_ttl=self.reservation_ttl,
            budget=self.budget,
        )
        return self._count(reservation, route, now)

    def _count(self, reservation: Reservation, route: str, now: float) -> Reservation:
        if reservation.refused is not None:
            self._refused += 1
        elif reservation.delay > 0.0:
            self._waits += 1
            self._wait_seconds += reservation.delay
            self._waiting[route] = RateLimitWait(route, reservation.reason, now + reservation.delay)
        else:
            self._granted += 1
            if self._waiting:
                self._waiting.pop(route, None)
        return reservation

    def waiting(self, now: float) -> tuple[RateLimitWait, ...]:
        """The routes waiting on a limit at ``now``: which, why, and until when.

        For a person watching (the command line's progress line); pacing never reads it.
        """
        expired = [route for route, wait in self._waiting.items() if wait.until <= now]
        for route in expired:
            del self._waiting[route]
        return tuple(self._waiting.values())

    def acquire(self, route: str, now: float) -> float:
        """Reserve a slot on ``route`` or say how long to wait first.

        Returns:
            ``0.0`` when a slot is reserved (send now, then :meth:`observe`); otherwise
            the seconds to wait before calling again. Never negative.

        Raises:
            InvalidRequestBudgetExceeded: Discord's invalid-request budget is nearly
                spent (``budget.stop_at`` reached): do not send; dead-letter the request,
                or wait ``resume_after`` seconds and fix what keeps failing.
        """
        reservation = self.reserve(route, now)
        if reservation.refused is not None:
            raise self._refusal(reservation, now)
        return reservation.delay

    async def aacquire(self, route: str, now: float) -> float:
        """:meth:`acquire` through an asynchronous store (a synchronous one works too)."""
        reservation = await self.areserve(route, now)
        if reservation.refused is not None:
            raise self._refusal(reservation, now)
        return reservation.delay

    def _refusal(self, reservation: Reservation, now: float) -> InvalidRequestBudgetExceeded:
        return InvalidRequestBudgetExceeded(
            self.store.global_snapshot(now, self.budget).invalid_requests,
            self.budget.limit,
            self.budget.window,
            reservation.delay,
            stop_at=self.budget.stop_at,
        )

    def observe(
        self,
        route: str,
        info: RateLimitInfo | None,
        now: float,
        *,
        channel_id: str | None = None,
        epoch_now: float | None = None,
        sent_at: float | None = None,
    ) -> None:
        """Release the reservation of ``route`` and learn from the answer.

        Args:
            route: The route passed to :meth:`acquire`.
            info: What the answer said about rate limits, parsed once per answer (the
                client's ``Outcome.rate_limit``), or ``None`` after a transport failure.
            now: The caller's clock, when the answer arrived.
            channel_id: The channel the message went to (from a ``wait=true`` answer), so
                limits learned from ``shared`` 429s pace every webhook of the channel.
            epoch_now: Wall-clock time, only to say in the log line of an edge ban when it
                ends.
            sent_at: When the request was handed to the transport (same clock as
                ``now``), so that the answer's ``Reset-After`` is counted from nearer the
                moment Discord handled it (below); ``None``: from ``now``.

        The reset: Discord counts ``Reset-After`` from when it handled the request,
        between ``sent_at`` and ``now``. Counting from ``now`` is never early, but late by
        the trip back on every window. The tracker counts from ``now`` less a *lead*: half
        the shortest round trip seen, once ``LEAD_TRIPS`` were (before, the shortest is
        no floor: connecting and a cold server slow the trips out). An answer is early
        by at most the lead less its own trip back, and the request sent at that reset
        is late by its own trip out: two legs at least as long as the shortest round
        trip, so the margin is half of it. A 429 on the bucket (the margin crossed, or
        another client) ends the lead for good and jitters that bucket's resets.
        """
        if self._async:
            self._sync_store()  # raises
        # A synchronous store's update is the Observed itself (not cast: typing.cast is
        # a call, and this runs once an answer).
        observed: Observed = self._update(  # type: ignore[assignment]
            route, info, now, channel_id, sent_at
        )
        if observed.edge_ban_started and info is not None:
            self._edge_bans += 1
            log_edge_ban(route, info, now, observed.edge_ban_until, epoch_now)

    async def aobserve(
        self,
        route: str,
        info: RateLimitInfo | None,
        now: float,
        *,
        channel_id: str | None = None,
        epoch_now: float | None = None,
        sent_at: float | None = None,
    ) -> None:
        """:meth:`observe` through an asynchronous store (a synchronous one works too)."""
        if not self._async:
            self.observe(
                route, info, now, channel_id=channel_id, epoch_now=epoch_now, sent_at=sent_at
            )
            return
        update = self._update(route, info, now, channel_id, sent_at)
        observed = await cast("Awaitable[Observed]", update)
        if observed.edge_ban_started and info is not None:
            self._edge_bans += 1
            log_edge_ban(route, info, now, observed.edge_ban_until, epoch_now)

    def _update(
        self,
        route: str,
        info: RateLimitInfo | None,
        now: float,
        channel_id: str | None,
        sent_at: float | None,
    ) -> Observed | Awaitable[Observed]:
        # The store's update, for either kind of store (an async one returns a coroutine).
        self._now = now
        if info is not None and info.status == 429:  # is_rate_limited, read in place
            scope = info.counted_scope
            self._rate_limited[scope] = self._rate_limited.get(scope, 0) + 1
            if scope == "user":
                self._best_trip = 0.0
        # The random draws the store may need (a store draws nothing), and the lead.
        # By position (reset, rate_limited, shared, lead): one an answer. x * random() is
        # uniform(0, x) to the bit, the same draw without random.py's frame around it.
        random = self.rng.random
        lead = 0.0
        if sent_at is not None:
            # Half the shortest round trip seen, once LEAD_TRIPS were (see observe).
            trip = now - sent_at
            if trip >= 0.0:
                self._trips += 1
                if trip < self._best_trip:
                    self._best_trip = trip
            if self._trips >= LEAD_TRIPS:
                lead = self._best_trip / 2
        jitter = Jitter(
            self.strategy.reset_jitter * random(),
            RATE_LIMITED_JITTER * random(),
            self._async,
            lead,
        )
        return self.store.update(
            route,
            info,
            now,
            strategy=self.strategy,
            channel_id=channel_id,
            jitter=jitter,
            budget=self.budget,
            edge_ban_floor=self.edge_ban_floor,
        )

    def release(self, route: str, now: float) -> None:
        """Give back a reservation without an answer (the request was never sent)."""
        self.observe(route, None, now)

    async def arelease(self, route: str, now: float) -> None:
        """:meth:`release` through an asynchronous store (a synchronous one works too)."""
        await self.aobserve(route, None, now)

    def bucket(self, route: str) -> BucketSnapshot | None:
        """The state of ``route``'s bucket, or ``None`` when nothing is known."""
        return self._sync_store().snapshot(route)

    async def abucket(self, route: str) -> BucketSnapshot | None:
        """:meth:`bucket` through an asynchronous store (a synchronous one works too)."""
        if not self._async:
            return self.bucket(route)
        return await cast("AsyncRateLimitStore", self.store).snapshot(route)

    def clear(self) -> None:
        """Forget every bucket and the global state (metrics are kept)."""
        self._sync_store().clear()

    async def aclear(self) -> None:
        """:meth:`clear` through an asynchronous store (a synchronous one works too)."""
        if not self._async:
            self.clear()
            return
        await cast("AsyncRateLimitStore", self.store).clear()

    def metrics(self, now: float | None = None) -> RateLimitMetrics:
        """A snapshot of the counters.

        Args:
            now: The time at which to count ``invalid_requests``; by default the time of
                the tracker's latest reserve or observe (a scrape from another thread
                cannot read trio's clock).
        """
        when = now if now is not None else self._now
        invalid = 0
        if when is not None:
            invalid = self.store.global_snapshot(when, self.budget).invalid_requests
        return RateLimitMetrics(
            waits=self._waits,
            wait_seconds=self._wait_seconds,
            granted=self._granted,
            rate_limited=dict(self._rate_limited),
            invalid_requests=invalid,
            edge_bans=self._edge_bans,
            refused=self._refused,
        )
