"""The Redis store's link to Redis: connecting, the two scripts, the fallback.

:class:`RedisLink` is the half of :class:`~trio_webhook.stores.RedisRateLimitStore`
that talks to Redis: it connects and loads the scripts, runs one operation's
compare-and-set rounds (:meth:`RedisLink._run`), and when Redis fails or is slow answers
from the in-memory fallback (:meth:`RedisLink._guarded`), with one warning an outage.
"""

from __future__ import annotations

import logging
import math
import random
import re
from typing import Any, Final, Literal, Self

import trio

from trio_webhook._extras import require
from trio_webhook.ratelimit._budget import InvalidRequestBudget
from trio_webhook.ratelimit._records import GlobalSnapshot, Reservation
from trio_webhook.stores._lua import CAS_SCRIPT, READ_SCRIPT
from trio_webhook.stores._redis_state import (
    FRESH,
    lasting,
    parse_view,
    plan_commit,
    scratch_store,
)

__all__ = ["MAX_ROUNDS", "RedisLink", "StoreConflict", "redact_redis_url"]

logger: Final = logging.getLogger("trio_webhook")

# Compare-and-set rounds before an operation gives up (then the fallback answers once).
MAX_ROUNDS: Final = 64
_PASSWORD_RE: Final = re.compile(r"(//[^:/@]*:)[^@/]*@")


class StoreConflict(Exception):
    """Every compare-and-set round of one operation lost to another writer."""


def redact_redis_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and reprs)."""
    return _PASSWORD_RE.sub(r"\1***@", url)


class RedisLink:
    """Connecting, compare-and-set rounds and falling back: a base of the Redis store.

    It holds no fields of its own: :class:`~trio_webhook.stores.RedisRateLimitStore`
    declares them all (they are its arguments).
    """

    url: str | None
    prefix: str
    scope: str
    idle_ttl: float
    call_timeout: float
    connect_timeout: float
    probe_interval: float
    client: Any
    clock: Literal["redis", "caller"]
    _read: Any
    _cas: Any
    _down: bool
    _next_probe: float
    _last_global: GlobalSnapshot
    _conflicts: int
    _rng: random.Random
    _outages: int

    # -- life

    async def __aenter__(self) -> Self:
        if self.client is None:
            require("coredis", extra="redis", needed_by="a redis:// rate-limit store")
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

    # -- one operation

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
            view = parse_view(reply, global_key, route_key, prefix, caller_now)
            scratch = scratch_store(view, route)
            before = {k: lasting(b) for k, b in view.buckets.items()}
            result = decide(scratch, view)
            self._last_global = scratch._global.snapshot(view.now, budget)
            if (
                isinstance(result, Reservation)
                and result.delay > 0.0
                and all(lasting(b) == before.get(k, FRESH) for k, b in view.buckets.items())
            ):
                # A wait writes only a new window, lapsed reservations or an expired
                # learned limit: all else it changed (pruned history, last use) the next
                # reader recomputes from time alone, so waiters do not contend with senders.
                return result
            keys, args = plan_commit(
                view,
                scratch,
                route,
                budget,
                (global_key, route_key, prefix),
                idle_ttl=self.idle_ttl,
                check_all=check_all,
            )
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
