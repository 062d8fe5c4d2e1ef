"""Rate-limit state shared through Redis, by every process and machine that uses it.

How it stays correct without a second copy of the rules: Redis is a versioned register,
not a rule engine. Each operation

1. reads, in one Lua script, the states it touches (the global gate, the route's entry,
   its bucket and channel, and any bucket or channel the answer names) with their
   versions and Redis's clock (``TIME``);
2. runs the memory store's own code on those states (so :func:`~._state.reserve_slot`
   and :func:`~._state.apply_observation` stay the only place the rules live, and the
   strategies run unchanged);
3. writes the result back with a second Lua script that applies it only if no version
   moved meanwhile (compare-and-set); otherwise that script returns the fresh states and
   the operation runs again on them.

So two processes never both take a bucket's last slot: the second one's write finds the
version the first one raised, re-reads, and waits. A reservation that must wait writes
nothing (what the rules changed on the way is recomputed from time alone by the next
reader), so waiters never contend.

If Redis is unreachable, or slower than ``call_timeout``, the store carries on with its
in-memory :attr:`RedisRateLimitStore.fallback`, logs one warning, and tries Redis again
at most once every ``probe_interval`` seconds.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs

from trio_webhook.ratelimit._budget import DEFAULT_BUDGET, InvalidRequestBudget
from trio_webhook.ratelimit._headers import RateLimitInfo
from trio_webhook.ratelimit._keys import bucket_key
from trio_webhook.ratelimit._memory import MemoryStore
from trio_webhook.ratelimit._records import (
    BucketSnapshot,
    GlobalPacing,
    GlobalSnapshot,
    Jitter,
    Observed,
    Reservation,
)
from trio_webhook.ratelimit._state import EDGE_BAN_FLOOR
from trio_webhook.ratelimit._store import AsyncRateLimitStore, RateLimitStore
from trio_webhook.ratelimit._strategies import Strategy
from trio_webhook.stores._redis_link import RedisLink, StoreConflict, redact_redis_url
from trio_webhook.stores._redis_state import CHANNEL_PREFIX, View, parse_view

__all__ = ["RedisRateLimitStore", "StoreConflict", "open_rate_limit_store"]


# --------------------------------------------------------------------------- the store


@attrs.define(eq=False, repr=False)
class RedisRateLimitStore(RedisLink):
    """Rate-limit state in Redis, shared by every process and machine that uses it.

    Bucket state, each channel's learned hidden limit, the global gate and the
    invalid-request count live in Redis under ``prefix``; a reservation and what an
    answer teaches are each applied atomically (a compare-and-set on versions, see the
    module docstring), with Redis's ``TIME`` as the clock. Keys hold the webhook id (the
    routes are token-free, ``POST /webhooks/123/***``), never a token, and expire once
    nothing in them matters any more (``idle_ttl`` after the last use, or later while a
    block, a reset or a learned limit is still ahead).

    Every operation is a coroutine: a tracker with this store is driven through its
    async methods (:meth:`~trio_webhook.ratelimit.RateLimitTracker.areserve`, ...), which
    the client does by itself.

    Args:
        url: ``redis://[:password@]host:port/db`` (or ``rediss://``, ``unix://``).
        prefix: The namespace of every key (several applications can share one Redis).
        scope: The name of the global gate (Discord's 50 requests a second and the
            invalid-request count are per IP address): give processes behind different
            addresses different scopes.
        idle_ttl: Seconds after the last use when a key expires (if nothing in it is
            still ahead).
        call_timeout: Longest wait for Redis on one operation, compare-and-set rounds
            included (seconds); slower counts as down. Four processes contending at full
            speed on two busy cores measured a p99 of 28 ms and a worst of 70 ms
            (``benchmarks/bench_redis.py``), hence 0.25 s.
        connect_timeout: Longest wait for the first connection, made on entering (a
            process starting beside others may need more than ``call_timeout``).
        probe_interval: While Redis is down, try it again at most this often (seconds).
        fallback: The in-memory store used while Redis is down.
        client: A ``coredis.Redis`` to use instead of one made from ``url`` (entered and
            left with this store).
        clock: ``"redis"`` (the default, and the only sound choice for several
            processes): every decision takes Redis's ``TIME``. ``"caller"`` takes the
            ``now`` each call passes instead, so that one process's tests can drive the
            store with simulated times and compare it with a
            :class:`~trio_webhook.ratelimit.MemoryStore` step by step.

    Example::

        async with RedisRateLimitStore("redis://127.0.0.1:6379/0") as store:
            tracker = RateLimitTracker(store=store)
            async with open_webhook_sender(url, tracker=tracker) as sender:
                ...

    Resource handling:
        ``async with`` opens the connection pool and closes it on exit; enter it in the
        task that opens the senders using it (coredis's pool is a task group). Entering
        connects (within ``connect_timeout``) but never fails because Redis is down: the
        store then starts on its fallback, with the one warning.

    Error handling:
        No operation raises because Redis failed: it answers from ``fallback`` instead.
    """

    url: str | None = None
    prefix: str = "trio_webhook"
    scope: str = "default"
    idle_ttl: float = 300.0
    call_timeout: float = 0.25
    connect_timeout: float = 1.0
    probe_interval: float = 1.0
    fallback: MemoryStore = attrs.field(factory=MemoryStore)
    client: Any = None
    clock: Literal["redis", "caller"] = "redis"
    _read: Any = attrs.field(default=None, init=False)
    _cas: Any = attrs.field(default=None, init=False)
    _down: bool = attrs.field(default=False, init=False)
    _next_probe: float = attrs.field(default=-math.inf, init=False)
    _local: dict[str, int] = attrs.field(factory=dict, init=False)
    _last_global: GlobalSnapshot = attrs.field(
        factory=lambda: GlobalSnapshot(0.0, 0.0, 0), init=False
    )
    _conflicts: int = attrs.field(default=0, init=False)
    # Only for the backoff between lost compare-and-set rounds, never for a rate decision.
    _rng: random.Random = attrs.field(factory=random.Random, init=False)
    _outages: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if self.client is None and self.url is None:
            raise ValueError("RedisRateLimitStore: give a url (redis://...) or a client")

    def __repr__(self) -> str:
        where = redact_redis_url(self.url) if self.url is not None else "<client>"
        return f"<RedisRateLimitStore {where} prefix={self.prefix!r} scope={self.scope!r}>"

    # -- the protocol

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
        """See :meth:`RateLimitStore.reserve`; ``now`` only drives the fallback and probes.

        The reservation is taken with Redis's clock, atomically over every process.
        """

        def in_memory() -> Reservation:
            reservation = self.fallback.reserve(
                route,
                now,
                strategy=strategy,
                pacing=pacing,
                reservation_ttl=reservation_ttl,
                budget=budget,
            )
            if reservation.delay == 0.0:
                self._local[route] = self._local.get(route, 0) + 1
            return reservation

        async def in_redis() -> Reservation:
            def decide(scratch: MemoryStore, view: View) -> Reservation:
                return scratch.reserve(
                    route,
                    view.now,
                    strategy=strategy,
                    pacing=pacing,
                    reservation_ttl=reservation_ttl,
                    budget=budget,
                )

            result: Reservation = await self._run(
                route, now, [bucket_key(route, None)], decide, budget, check_all=True
            )
            return result

        result: Reservation = await self._guarded(now, in_redis, in_memory)
        return result

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
        """See :meth:`RateLimitStore.update`; ``now`` only drives the fallback and probes.

        ``Observed.edge_ban_until`` is on the caller's clock (``now`` plus the pause).
        """

        def in_memory() -> Observed:
            return self.fallback.update(
                route,
                info,
                now,
                strategy=strategy,
                channel_id=channel_id,
                jitter=jitter,
                budget=budget,
                edge_ban_floor=edge_ban_floor,
            )

        if self._release_local(route):
            return in_memory()

        async def in_redis() -> Observed:
            def decide(scratch: MemoryStore, view: View) -> Observed:
                observed = scratch.update(
                    route,
                    info,
                    view.now,
                    strategy=strategy,
                    channel_id=channel_id,
                    jitter=jitter,
                    budget=budget,
                    edge_ban_floor=edge_ban_floor,
                )
                if observed.edge_ban_until and view.now != now:
                    # Redis's clock to the caller's: the tracker says how long it lasts.
                    observed = attrs.evolve(
                        observed, edge_ban_until=now + observed.edge_ban_until - view.now
                    )
                return observed

            extras = _update_extras(route, info, channel_id)
            result: Observed = await self._run(route, now, extras, decide, budget, check_all=False)
            return result

        result: Observed = await self._guarded(now, in_redis, in_memory)
        return result

    def _release_local(self, route: str) -> bool:
        """Whether ``route``'s reservation was taken in memory (then it is counted off)."""
        local = self._local.get(route, 0)
        if not local:
            return False
        # Reserved in memory while Redis was down: release it there, or Redis would
        # drop another process's reservation instead.
        if local == 1:
            del self._local[route]
        else:
            self._local[route] = local - 1
        return True

    def global_snapshot(self, now: float, budget: InvalidRequestBudget) -> GlobalSnapshot:
        """The global state as last read from Redis (no I/O), or the fallback's when down.

        Times are on Redis's clock (epoch seconds); ``now`` is used only for the fallback.
        """
        if self._down:
            return self.fallback.global_snapshot(now, budget)
        return self._last_global

    async def snapshot(self, route: str) -> BucketSnapshot | None:
        """The state of ``route``'s bucket in Redis, or ``None`` (times on Redis's clock).

        Raises:
            coredis.exceptions.RedisError: Redis failed (introspection has no fallback).
        """
        global_key, route_key, prefix = self._keys(route)
        reply = await self._read(keys=[global_key, route_key], args=[prefix])
        view = parse_view(reply, global_key, route_key, prefix, None)
        if view.route is None or view.route.bucket not in view.buckets:
            return None
        return view.buckets[view.route.bucket].snapshot()

    async def channel_snapshot(self, channel_id: str) -> BucketSnapshot | None:
        """The learned state of a channel in Redis, or ``None`` (times on Redis's clock)."""
        global_key, _, prefix = self._keys("")
        name = CHANNEL_PREFIX + channel_id
        reply = await self._read(keys=[global_key, f"{self.prefix}:route:"], args=[prefix, name])
        view = parse_view(reply, global_key, f"{self.prefix}:route:", prefix, None)
        state = view.buckets.get(name)
        return None if state is None else state.snapshot()

    async def clear(self) -> None:
        """Forget everything under ``prefix`` (in Redis, for every process) and in memory."""
        self.fallback.clear()
        self._local.clear()
        self._last_global = GlobalSnapshot(0.0, 0.0, 0)
        batch: list[str] = []
        async for key in self.client.scan_iter(match=_glob_escape(self.prefix) + ":*"):
            batch.append(key)
            if len(batch) >= 500:
                await self.client.delete(batch)
                batch = []
        if batch:
            await self.client.delete(batch)


def _update_extras(route: str, info: RateLimitInfo | None, channel_id: str | None) -> list[str]:
    # The states an answer may touch besides the route's: its bucket before and after
    # Discord named it, and the channel whose hidden limit it may teach.
    extras = [bucket_key(route, None)]
    if info is not None and info.bucket is not None:
        extras.append(bucket_key(route, info.bucket))
    if channel_id is not None:
        extras.append(CHANNEL_PREFIX + channel_id)
    return extras


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


# --------------------------------------------------------------------------- from config

# One store per URL in a process, shared by its senders: one connection pool.
_SHARED: dict[str, tuple[RedisRateLimitStore, int]] = {}


@asynccontextmanager
async def open_rate_limit_store(
    target: str | RateLimitStore | AsyncRateLimitStore | None,
) -> AsyncIterator[RateLimitStore | AsyncRateLimitStore | None]:
    """The rate-limit store for a config value (``SenderConfig.rate_limit_store``).

    A URL gives the process's one :class:`RedisRateLimitStore` for it (made and entered
    on first use, closed when the last user leaves); an object is used as it is and stays
    its owner's; ``None`` gives ``None``.

    Resource handling:
        Senders sharing a URL should be opened in one task (nested ``async with``), or
        the store opened in a parent task and passed as an object: the pool's task group
        belongs to the task that entered it first.
    """
    if not isinstance(target, str):
        yield target
        return
    store, users = _SHARED.get(target) or (None, 0)
    if store is None:
        store = RedisRateLimitStore(target)
        await store.__aenter__()
    _SHARED[target] = (store, users + 1)
    try:
        yield store
    finally:
        store, users = _SHARED[target]
        if users > 1:
            _SHARED[target] = (store, users - 1)
        else:
            del _SHARED[target]
            # No cancel scope around it: the pool's task group was entered outside one,
            # and must be left there too (closing it needs no checkpoint to succeed).
            await store.aclose()
