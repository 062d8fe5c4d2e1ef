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

import json
import logging
import math
import random
import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Literal

import attrs
import trio

from trio_webhook.ratelimit._budget import DEFAULT_BUDGET, InvalidRequestBudget
from trio_webhook.ratelimit._headers import RateLimitInfo
from trio_webhook.ratelimit._keys import bucket_key
from trio_webhook.ratelimit._memory import MemoryStore, _Route
from trio_webhook.ratelimit._records import (
    BucketSnapshot,
    BucketState,
    GlobalPacing,
    GlobalSnapshot,
    GlobalState,
    Jitter,
    LearnedLimit,
    Observed,
    Reservation,
)
from trio_webhook.ratelimit._state import EDGE_BAN_FLOOR
from trio_webhook.ratelimit._store import AsyncRateLimitStore, RateLimitStore
from trio_webhook.ratelimit._strategies import Strategy
from trio_webhook.stores._lua import CAS_SCRIPT, READ_SCRIPT

__all__ = ["RedisRateLimitStore", "StoreConflict", "open_rate_limit_store"]

logger: Final = logging.getLogger("trio_webhook")

_CHANNEL_PREFIX: Final = "channel:"
# Compare-and-set rounds before an operation gives up (then the fallback answers once).
MAX_ROUNDS: Final = 64
_PASSWORD_RE: Final = re.compile(r"(//[^:/@]*:)[^@/]*@")


class StoreConflict(Exception):
    """Every compare-and-set round of one operation lost to another writer."""


def redact_redis_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and reprs)."""
    return _PASSWORD_RE.sub(r"\1***@", url)


# --------------------------------------------------------------------------- codec
# Lists, not dicts: every operation encodes and decodes a few states.


def _dump_bucket(state: BucketState) -> str:
    learned = state.learned
    return json.dumps(
        [
            state.limit,
            state.remaining,
            state.reset_at,
            state.reset_jitter,
            state.window,
            state.blocked_until,
            state.rolled_at,
            state.in_flight,
            list(state.grants),
            None
            if learned is None
            else [
                learned.limit,
                learned.window,
                learned.learned_at,
                learned.expires_at,
                learned.scope,
                learned.counted,
            ],
            state.last_used,
            state.channel_synced,
            state.reset_measured,
        ],
        separators=(",", ":"),
    )


def _load_bucket(key: str, text: str) -> BucketState:
    (
        limit,
        remaining,
        reset_at,
        reset_jitter,
        window,
        blocked_until,
        rolled_at,
        in_flight,
        grants,
        learned,
        last_used,
        channel_synced,
        reset_measured,
    ) = json.loads(text)
    state = BucketState(
        key,
        limit=limit,
        remaining=remaining,
        reset_at=reset_at,
        reset_jitter=reset_jitter,
        window=window,
        blocked_until=blocked_until,
        rolled_at=rolled_at,
        in_flight=in_flight,
        last_used=last_used,
        channel_synced=channel_synced,
        reset_measured=reset_measured,
    )
    state.grants.extend(grants)
    if learned is not None:
        state.learned = LearnedLimit(*learned)
    return state


def _dump_global(state: GlobalState) -> str:
    return json.dumps(
        [
            state.blocked_until,
            list(state.grants),
            state.edge_ban_until,
            list(state.invalid.slots),
            state.invalid.total,
            state.last_grant,
        ],
        separators=(",", ":"),
    )


def _load_global(text: str) -> GlobalState:
    if not text:
        return GlobalState()
    blocked_until, grants, edge_ban_until, slots, total, last_grant = json.loads(text)
    state = GlobalState(
        blocked_until=blocked_until,
        grants=deque(grants),
        edge_ban_until=edge_ban_until,
        last_grant=last_grant,
    )
    state.invalid.slots.extend(slots)
    state.invalid.total = total
    return state


def _bucket_horizon(state: BucketState) -> float:
    # The last moment anything in the state still matters: it must not expire before.
    horizon = max(state.blocked_until, state.reset_at or 0.0, max(state.in_flight, default=0.0))
    if state.learned is not None:
        horizon = max(horizon, state.learned.expires_at)
    return horizon


def _lasting(state: BucketState) -> tuple[float | None, int, bool]:
    # What a waiting reservation may change that depends on when it was computed.
    return state.rolled_at, len(state.in_flight), state.learned is None


_FRESH: Final = (None, 0, True)


# --------------------------------------------------------------------------- one read


@attrs.define
class _View:
    """What the read script returned: Redis's time, and each state with its version."""

    now: float
    versions: dict[str, str]  # Redis key -> version
    raw: dict[str, str]  # Redis key -> the state's text ("" when missing)
    glob: GlobalState
    route: _Route | None
    buckets: dict[str, BucketState]


def _parse(
    reply: Sequence[Any], global_key: str, route_key: str, prefix: str, now: float | None
) -> _View:
    if now is None:
        now = int(reply[0]) + int(reply[1]) / 1_000_000
    versions = {global_key: str(reply[2]), route_key: str(reply[4])}
    raw = {global_key: str(reply[3]), route_key: str(reply[5])}
    route = None
    if raw[route_key]:
        bucket, _, channel = raw[route_key].partition("\n")
        route = _Route(bucket, channel or None, now)
    buckets: dict[str, BucketState] = {}
    for i in range(6, len(reply), 3):
        name, version, text = str(reply[i]), str(reply[i + 1]), str(reply[i + 2])
        versions[prefix + name] = version
        raw[prefix + name] = text
        if text:
            buckets[name] = _load_bucket(name, text)
    return _View(now, versions, raw, _load_global(raw[global_key]), route, buckets)


def _scratch(view: _View, route: str) -> MemoryStore:
    # The memory store's code, run on the states just read: the rules stay in one place.
    store = MemoryStore(idle_ttl=math.inf, sweep_interval=math.inf)
    store._last_sweep = view.now
    store._global = view.glob
    store._buckets = view.buckets
    if view.route is not None:
        store._routes[route] = view.route
    return store


# --------------------------------------------------------------------------- the store


@attrs.define(eq=False, repr=False)
class RedisRateLimitStore:
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

    # -- life

    async def __aenter__(self) -> RedisRateLimitStore:
        if self.client is None:
            import coredis
            from coredis.retry import NoRetryPolicy

            assert self.url is not None
            # No retries of its own: a failed call falls back at once, and the store
            # probes again later.
            self.client = coredis.Redis.from_url(
                self.url,
                decode_responses=True,
                retry_policy=NoRetryPolicy(),
                connect_timeout=self.connect_timeout,
            )
        await self.client.__aenter__()
        self._read = self.client.register_script(READ_SCRIPT)
        self._cas = self.client.register_script(CAS_SCRIPT)
        try:
            # Connect and load both scripts now, so no operation pays for either.
            with trio.fail_after(self.connect_timeout):
                for script in (READ_SCRIPT, CAS_SCRIPT):
                    await self.client.script_load(script)
        except Exception as exc:
            # Start on the fallback; the first operation tries Redis again.
            self._went_down(-math.inf, exc)
            self._next_probe = -math.inf
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._read is not None:
            self._read = self._cas = None
            await self.client.__aexit__(None, None, None)

    # -- what the tracker reads

    @property
    def available(self) -> bool:
        """Whether the last operation reached Redis (``False``: the fallback answers)."""
        return not self._down

    @property
    def conflicts(self) -> int:
        """Compare-and-set rounds lost to another writer (each cost one more round trip)."""
        return self._conflicts

    @property
    def outages(self) -> int:
        """Times Redis went down (each logged one warning)."""
        return self._outages

    def _keys(self, route: str) -> tuple[str, str, str]:
        p = self.prefix
        return f"{p}:global:{self.scope}", f"{p}:route:{route}", f"{p}:state:"

    # -- failure handling

    async def _guarded(self, now: float, redis_op: Any, memory_op: Any) -> Any:
        if self._down and now < self._next_probe:
            return memory_op()
        try:
            with trio.fail_after(self.call_timeout):
                result = await redis_op()
        except Exception as exc:
            # Whatever went wrong with Redis (refused, reset, too slow, lost every
            # compare-and-set round), delivery must go on: the fallback answers.
            self._went_down(now, exc)
            return memory_op()
        if self._down:
            self._down = False
            logger.info(
                "Redis rate-limit store %s answers again: rate limits are shared again",
                self,
                extra={"redis_store": repr(self)},
            )
        return result

    def _went_down(self, now: float, exc: BaseException) -> None:
        self._next_probe = now + self.probe_interval
        if self._down:
            return
        self._down = True
        self._outages += 1
        # Once an outage: every request would log it otherwise.
        reason = f"no answer within {self.call_timeout:g} s"
        if not isinstance(exc, trio.TooSlowError):
            reason = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "Redis rate-limit store %s failed (%s): pacing with this process's memory "
            "until it answers again (probing every %g s); other processes' requests are "
            "not counted meanwhile",
            self,
            redact_redis_url(reason),
            self.probe_interval,
            extra={"redis_store": repr(self)},
        )

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
            def decide(scratch: MemoryStore, view: _View) -> Reservation:
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

        local = self._local.get(route, 0)
        if local:
            # Reserved in memory while Redis was down: release it there, or Redis would
            # drop another process's reservation instead.
            if local == 1:
                del self._local[route]
            else:
                self._local[route] = local - 1
            return in_memory()

        async def in_redis() -> Observed:
            def decide(scratch: MemoryStore, view: _View) -> Observed:
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

            extras = [bucket_key(route, None)]
            if info is not None and info.bucket is not None:
                extras.append(bucket_key(route, info.bucket))
            if channel_id is not None:
                extras.append(_CHANNEL_PREFIX + channel_id)
            result: Observed = await self._run(route, now, extras, decide, budget, check_all=False)
            return result

        result: Observed = await self._guarded(now, in_redis, in_memory)
        return result

    async def _run(
        self,
        route: str,
        now: float,
        extras: list[str],
        decide: Any,
        budget: InvalidRequestBudget,
        *,
        check_all: bool,
    ) -> Any:
        global_key, route_key, prefix = self._keys(route)
        caller_now = now if self.clock == "caller" else None
        reply = await self._read(keys=[global_key, route_key], args=[prefix, *extras])
        for lost in range(MAX_ROUNDS):
            view = _parse(reply, global_key, route_key, prefix, caller_now)
            scratch = _scratch(view, route)
            before = {k: _lasting(b) for k, b in view.buckets.items()}
            result = decide(scratch, view)
            self._last_global = scratch._global.snapshot(view.now, budget)
            if (
                isinstance(result, Reservation)
                and result.delay > 0.0
                and all(_lasting(b) == before.get(k, _FRESH) for k, b in view.buckets.items())
            ):
                # A wait writes only a new window, lapsed reservations or an expired
                # learned limit: all else it changed (pruned history, last use) the next
                # reader recomputes from time alone, so waiters do not contend with senders.
                return result
            keys, args = self._commit(view, scratch, route, budget, check_all=check_all)
            answer = await self._cas(keys=keys, args=[prefix, len(keys), *args, *extras])
            if int(answer[0]) == 1:
                return result
            self._conflicts += 1
            if lost < 4:
                reply = answer[1:]
                continue
            # Losing again and again to writers at full speed: step aside for a random
            # moment (growing, at most 20 ms), then read afresh, or one process can starve.
            await trio.sleep(self._rng.uniform(0.0, min(0.0005 * 2**lost, 0.02)))
            reply = await self._read(keys=[global_key, route_key], args=[prefix, *extras])
        raise StoreConflict(f"{MAX_ROUNDS} compare-and-set rounds lost on {route}")

    def _commit(
        self,
        view: _View,
        scratch: MemoryStore,
        route: str,
        budget: InvalidRequestBudget,
        *,
        check_all: bool,
    ) -> tuple[list[str], list[str | int]]:
        global_key, route_key, prefix = self._keys(route)
        now = view.now
        keys: list[str] = []
        args: list[str | int] = []

        def put(key: str, op: str, text: str, horizon: float) -> None:
            keys.append(key)
            ttl = max(self.idle_ttl, horizon - now) + 1.0
            text = text if op == "w" else ""
            args.extend((view.versions.get(key, "0"), op, text, math.ceil(ttl * 1000)))

        # The global key and the route key come first, where the script expects them;
        # an update checks only what it changes (so it never contends with reservations
        # elsewhere), a reservation everything it read (its grant depends on all of it).
        unchanged = "c" if check_all else "s"
        glob = scratch._global
        text = _dump_global(glob)
        horizon = max(glob.blocked_until, glob.edge_ban_until)
        if glob.invalid.total:
            horizon = max(horizon, now + budget.window + budget.granularity)
        before = view.raw[global_key]
        if text != before and budget.spacing(glob.invalid.count(now, budget)) == 0.0:
            # The time of the last grant is read only to space grants near the
            # invalid-request limit. Far from it, writing it on every grant would make
            # every grant of every process contend on this one key for nothing.
            granted_at = glob.last_grant
            glob.last_grant = _load_global(before).last_grant
            if _dump_global(glob) == before:
                text = before
            glob.last_grant = granted_at
        put(global_key, "w" if text != before else unchanged, text, horizon)
        entry = scratch._routes[route]
        route_text = f"{entry.bucket}\n{entry.channel or ''}"
        states = scratch._buckets
        route_horizon = max(
            (_bucket_horizon(states[k]) for k in (entry.bucket, entry.channel) if k in states),
            default=0.0,
        )
        changed = route_text != view.raw[route_key]
        put(route_key, "w" if changed else unchanged, route_text, route_horizon)
        for name, state in states.items():
            key = prefix + name
            text = _dump_bucket(state)
            if text != view.raw.get(key, ""):
                put(key, "w", text, _bucket_horizon(state))
            elif check_all:
                put(key, "c", "", 0.0)
        for key, before in view.raw.items():
            name = key[len(prefix) :]
            if key.startswith(prefix) and before and name not in states:
                put(key, "d", "", 0.0)
        return keys, args

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
        view = _parse(reply, global_key, route_key, prefix, None)
        if view.route is None or view.route.bucket not in view.buckets:
            return None
        return view.buckets[view.route.bucket].snapshot()

    async def channel_snapshot(self, channel_id: str) -> BucketSnapshot | None:
        """The learned state of a channel in Redis, or ``None`` (times on Redis's clock)."""
        global_key, _, prefix = self._keys("")
        name = _CHANNEL_PREFIX + channel_id
        reply = await self._read(keys=[global_key, f"{self.prefix}:route:"], args=[prefix, name])
        view = _parse(reply, global_key, f"{self.prefix}:route:", prefix, None)
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
