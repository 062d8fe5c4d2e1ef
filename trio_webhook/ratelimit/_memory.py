"""The in-process rate-limit store."""

from __future__ import annotations

from typing import Final

import attrs

from trio_webhook.ratelimit._budget import DEFAULT_BUDGET, InvalidRequestBudget
from trio_webhook.ratelimit._headers import RateLimitInfo
from trio_webhook.ratelimit._keys import bucket_key
from trio_webhook.ratelimit._records import (
    BucketSnapshot,
    BucketState,
    GlobalPacing,
    GlobalSnapshot,
    GlobalState,
    Jitter,
    Observed,
    Reservation,
)
from trio_webhook.ratelimit._state import (
    EDGE_BAN_FLOOR,
    apply_observation,
    join_channel,
    reserve_slot,
    resolve_bucket,
)
from trio_webhook.ratelimit._strategies import Strategy

__all__ = ["MemoryStore"]

_CHANNEL_PREFIX: Final = "channel:"


@attrs.define
class _Route:
    bucket: str
    channel: str | None = None
    last_used: float = 0.0
    # The bucket hash ``bucket`` was keyed by: the same hash again needs no new key.
    hash: str | None = None


@attrs.define
class MemoryStore:
    """Rate-limit state in this process's memory (the default store).

    Every operation runs to completion without awaiting, so under trio each one is atomic.
    Idle buckets and routes are forgotten: at most every ``sweep_interval`` seconds, a
    reserve or update drops whatever has been unused for ``idle_ttl`` seconds and holds no
    reservation, block, pending reset or live learned limit. Memory therefore follows the
    number of *recently used* webhooks, not of all webhooks ever seen.

    Args:
        idle_ttl: Seconds of disuse after which a bucket may be forgotten.
        sweep_interval: Seconds between sweeps.
    """

    idle_ttl: float = 300.0
    sweep_interval: float = 30.0
    _routes: dict[str, _Route] = attrs.field(factory=dict, init=False)
    _buckets: dict[str, BucketState] = attrs.field(factory=dict, init=False)
    _global: GlobalState = attrs.field(factory=GlobalState, init=False)
    _last_sweep: float | None = attrs.field(default=None, init=False)

    def __len__(self) -> int:
        """The number of bucket and channel states held."""
        return len(self._buckets)

    @property
    def route_count(self) -> int:
        """The number of routes mapped to a bucket."""
        return len(self._routes)

    def _route(self, route: str, now: float) -> _Route:
        """The route's entry, used at ``now``, after a sweep if one is due."""
        last = self._last_sweep
        if last is None or now - last >= self.sweep_interval:
            self._sweep(now)
        entry = self._routes.get(route)
        if entry is None:
            entry = self._routes[route] = _Route(bucket_key(route, None))
        entry.last_used = now
        return entry

    def _state(self, key: str) -> BucketState:
        state = self._buckets.get(key)
        if state is None:
            state = self._buckets[key] = BucketState(key)
        return state

    def _sweep(self, now: float) -> None:
        if self._last_sweep is not None and now - self._last_sweep < self.sweep_interval:
            return
        self._last_sweep = now
        for key in [k for k, s in self._buckets.items() if s.is_idle(now, self.idle_ttl)]:
            del self._buckets[key]
        for route in [
            r
            for r, e in self._routes.items()
            if now - e.last_used >= self.idle_ttl and e.bucket not in self._buckets
        ]:
            del self._routes[route]

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
        """See :meth:`RateLimitStore.reserve`."""
        entry = self._route(route, now)
        # The states looked up in place: _state is a call each, and this runs a request.
        bucket = self._buckets.get(entry.bucket)
        if bucket is None:
            bucket = self._state(entry.bucket)
        channel = None
        if entry.channel is not None:
            channel = self._buckets.get(entry.channel)
            if channel is None:
                channel = self._state(entry.channel)
        return reserve_slot(
            bucket,
            channel,
            self._global,
            now,
            strategy=strategy,
            pacing=pacing,
            reservation_ttl=reservation_ttl,
            budget=budget,
        )

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
        """See :meth:`RateLimitStore.update`."""
        entry = self._route(route, now)
        bucket = self._buckets.get(entry.bucket)
        if bucket is None:
            bucket = self._state(entry.bucket)
        if info is not None and info.bucket is not None and info.bucket != entry.hash:
            key = bucket_key(route, info.bucket)
            entry.hash = info.bucket
            if key != entry.bucket:
                bucket = self._remap(entry, key)
        if channel_id is not None and entry.channel != _CHANNEL_PREFIX + channel_id:
            entry.channel = _CHANNEL_PREFIX + channel_id
            fresh = entry.channel not in self._buckets
            channel_state = self._state(entry.channel)
            if fresh:
                # The route's past requests went to this channel too: they count.
                join_channel(bucket, channel_state)
        channel = None
        if entry.channel is not None:
            channel = self._buckets.get(entry.channel)
            if channel is None:
                channel = self._state(entry.channel)
        return apply_observation(
            bucket,
            channel,
            self._global,
            info,
            now,
            strategy=strategy,
            jitter=jitter,
            budget=budget,
            edge_ban_floor=edge_ban_floor,
        )

    def _remap(self, entry: _Route, key: str) -> BucketState:
        old = self._buckets.pop(entry.bucket, None)
        entry.bucket = key
        target = self._buckets[key] = resolve_bucket(key, old, self._buckets.get(key))
        return target

    def snapshot(self, route: str) -> BucketSnapshot | None:
        """See :meth:`RateLimitStore.snapshot`."""
        entry = self._routes.get(route)
        if entry is None or entry.bucket not in self._buckets:
            return None
        return self._buckets[entry.bucket].snapshot()

    def global_snapshot(self, now: float, budget: InvalidRequestBudget) -> GlobalSnapshot:
        """See :meth:`RateLimitStore.global_snapshot`."""
        return self._global.snapshot(now, budget)

    def channel_snapshot(self, channel_id: str) -> BucketSnapshot | None:
        """The learned state of a channel, or ``None``."""
        state = self._buckets.get(_CHANNEL_PREFIX + channel_id)
        return None if state is None else state.snapshot()

    def clear(self) -> None:
        """See :meth:`RateLimitStore.clear`."""
        self._routes.clear()
        self._buckets.clear()
        self._global = GlobalState()
        self._last_sweep = None
