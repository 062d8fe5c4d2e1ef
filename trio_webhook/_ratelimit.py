"""Discord rate limits, sans-IO: header parsing, bucket state, strategies and the tracker.

Nothing here sleeps, reads a clock or draws from the module-level ``random``: every
operation takes ``now`` (seconds on the caller's monotonic clock, ``trio.current_time()``
in the shell) and randomness comes from an injected ``random.Random``. The shell does::

    while (delay := tracker.acquire(route, now=trio.current_time())) > 0:
        await trio.sleep(delay)
    ...send...
    tracker.observe(route, response_or_None, now=trio.current_time(), channel_id=...)

``acquire`` returning ``0.0`` means a slot is *reserved*: the request counts against the
bucket's ``remaining`` until ``observe`` releases it (``None`` for a transport failure), or
until the reservation expires, so a cancelled request never leaks a slot.

Bucket states live only in this module: *unknown* (a placeholder keyed by the route, one
request in flight at a time), *resolved* (``X-RateLimit-Bucket`` seen: routes sharing that
hash and top-level resource share the state), *exhausted* (``remaining`` 0 or a 429: wait for
the reset) and *reset* (the window passed: ``remaining`` goes back to ``limit``).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import deque
from typing import TYPE_CHECKING, Final, Protocol

import attrs

from trio_webhook._http import HTTPResponse

if TYPE_CHECKING:
    from trio_webhook.stores._base import RateLimitStore

__all__ = [
    "AdaptiveStrategy",
    "BucketSnapshot",
    "BucketState",
    "GlobalPacing",
    "GlobalState",
    "Jitter",
    "LearnedLimit",
    "ProactiveStrategy",
    "RateLimitInfo",
    "RateLimitMetrics",
    "RateLimitTracker",
    "ReactiveStrategy",
    "Reservation",
    "Strategy",
    "apply_observation",
    "bucket_key",
    "parse_rate_limit",
    "reserve_slot",
    "retry_after_seconds",
    "route_key",
]

# The unit of a 429 body's ``retry_after``. Discord's docs (discord-api-docs, "Rate
# Limits" -> "Exceeding A Rate Limit") give it in seconds, float, and the ``Retry-After``
# header in whole seconds, rounded up (RFC 9110 delta-seconds: always seconds). API v7 and
# older put milliseconds in the body, and the unversioned URL Discord shows users still
# does (discord-api-docs issue #4722), so the body's unit cannot be trusted. The rule:
# when both are given, the header decides: the body is read in the unit (seconds or
# milliseconds) whose value lies nearer the header, by ratio (ties: seconds, the
# documented unit). Body 1500 with header 1500 is 1500 s; body 1500 with header 2 is
# 1.5 s. Only without a usable header does the guard below apply: no real wait is 1000 s
# long, so a larger body value is taken as milliseconds.
_MILLISECONDS_ABOVE: Final = 1000.0
_LOG_1000: Final = math.log(1000.0)
# While a bucket is unknown, one request probes it; others look again after this long.
PROBE_INTERVAL: Final = 0.05
# A 429 without any usable retry_after waits this long.
DEFAULT_RETRY_AFTER: Final = 1.0
# Jitter on top of a 429's retry_after (Discord's advice; also the retry policy's).
RATE_LIMITED_JITTER: Final = 0.25
# How many grant times a bucket remembers (bounds memory; also the largest learnable limit).
HISTORY: Final = 256

_MAJOR_RE: Final = re.compile(r"/(webhooks|channels|guilds)/([^/\s]+)")


# --------------------------------------------------------------------------- parsing


@attrs.frozen
class RateLimitInfo:
    """What one answer says about rate limits. Unknown fields are ``None``.

    Attributes:
        status: The HTTP status.
        limit: ``X-RateLimit-Limit``.
        remaining: ``X-RateLimit-Remaining``.
        reset_after: Seconds until the bucket resets (``X-RateLimit-Reset-After``, else
            ``X-RateLimit-Reset`` minus the wall-clock ``epoch_now`` given to the parser).
        bucket: ``X-RateLimit-Bucket``, the opaque bucket hash.
        is_global: The 429 is the global (per-IP) limit.
        scope: ``X-RateLimit-Scope``: ``user``, ``global`` or ``shared``.
        retry_after: On a 429: seconds to wait: the body's ``retry_after`` in the unit the
            ``Retry-After`` header shows (a body value above 1000 taken as milliseconds
            when there is no header), else the header (see :func:`retry_after_seconds`).
        code: Discord's JSON error code of a 429 (20028: channel write limit), else ``None``.
    """

    status: int
    limit: int | None = None
    remaining: int | None = None
    reset_after: float | None = None
    bucket: str | None = None
    is_global: bool = False
    scope: str | None = None
    retry_after: float | None = None
    code: int | None = None

    @property
    def is_rate_limited(self) -> bool:
        """Whether the answer was a 429."""
        return self.status == 429


def _float(text: object) -> float | None:
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        return None
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _count(text: str | None) -> int | None:
    value = _float(text)
    if value is None or value < 0 or value > 1e9:
        return None
    return int(value)


def retry_after_seconds(body: float | None, header: float | None) -> float | None:
    """A 429's wait in seconds, from the body's ``retry_after`` and the ``Retry-After`` header.

    The header decides the body's unit (see ``_MILLISECONDS_ABOVE`` for the rule and
    where it comes from); the body's value is kept for its precision.

    Args:
        body: The JSON body's ``retry_after``, seconds or milliseconds.
        header: The ``Retry-After`` header, seconds.

    Returns:
        Seconds, never negative, or ``None`` when neither says anything.
    """
    if body is None:
        return None if header is None else max(0.0, header)
    if body <= 0.0:
        return 0.0
    if header is None or header <= 0.0:
        return body / 1000.0 if body > _MILLISECONDS_ABOVE else body
    # Distances on a log scale (logs of positive finite floats never overflow).
    seconds_off = math.log(body) - math.log(header)
    if abs(seconds_off - _LOG_1000) < abs(seconds_off):
        return body / 1000.0
    return body


def parse_rate_limit(response: HTTPResponse, *, epoch_now: float | None = None) -> RateLimitInfo:
    """Read the rate-limit headers (and a 429's JSON body) of ``response``; never raises.

    Args:
        response: Discord's answer (headers with lower-case names).
        epoch_now: Wall-clock seconds since the epoch; only used to turn
            ``X-RateLimit-Reset`` into seconds when ``Reset-After`` is missing (Reset-After
            is preferred: it has no clock skew).

    Returns:
        The parsed values; garbage and missing headers give ``None`` (or ``False``). Waits
        are never negative.
    """
    headers = response.headers
    limit = _count(headers.get("x-ratelimit-limit"))
    remaining = _count(headers.get("x-ratelimit-remaining"))
    reset_after = _float(headers.get("x-ratelimit-reset-after"))
    if reset_after is None and epoch_now is not None:
        reset = _float(headers.get("x-ratelimit-reset"))
        if reset is not None and math.isfinite(epoch_now):
            reset_after = reset - epoch_now
    if reset_after is not None:
        reset_after = max(0.0, reset_after)
    bucket = headers.get("x-ratelimit-bucket") or None
    if bucket is not None:
        bucket = bucket.strip()[:128] or None
    raw_scope = (headers.get("x-ratelimit-scope") or "").strip().lower()
    scope = raw_scope[:32] or None
    is_global = (headers.get("x-ratelimit-global") or "").strip().lower() == "true"
    retry_after: float | None = None
    code: int | None = None
    if response.status == 429:
        body: object = None
        if response.body[:1] == b"{":
            try:
                body = json.loads(response.body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                body = None
        body_retry_after: float | None = None
        if isinstance(body, dict):
            body_retry_after = _float(body.get("retry_after"))
            if body.get("global") is True:
                is_global = True
            raw_code = body.get("code")
            if isinstance(raw_code, int) and not isinstance(raw_code, bool):
                code = raw_code
        retry_after = retry_after_seconds(body_retry_after, _float(headers.get("retry-after")))
    if scope == "global":
        is_global = True
    return RateLimitInfo(
        status=response.status,
        limit=limit,
        remaining=remaining,
        reset_after=reset_after,
        bucket=bucket,
        is_global=is_global,
        scope=scope,
        retry_after=retry_after,
        code=code,
    )


# --------------------------------------------------------------------------- keys


def route_key(method: str, webhook_id: str | int, token: str, template: str = "") -> str:
    """The rate-limit route of a webhook request, redacted: ``POST /webhooks/123/***``.

    The token is deliberately left out, not hashed: a webhook id has exactly one valid
    token, so the id already names the top-level resource Discord buckets by, and a key
    that holds no token-derived bytes can be logged, stored in Redis and used as a metric
    label safely.

    Args:
        method: The HTTP method.
        webhook_id: The webhook's id.
        token: The webhook's token (unused; accepted so callers pass the whole identity).
        template: The path template below the webhook, as ``/messages/{message_id}``
            (keep the placeholder: every message shares one route).

    Returns:
        The route key.
    """
    del token
    return f"{method.upper()} /webhooks/{webhook_id}/***{template}"


def bucket_key(route: str, bucket_hash: str | None) -> str:
    """The store key of a route's bucket.

    Discord's bucket hash does not include the top-level resource, so two webhooks with
    the same hash are still two buckets: the key is ``hash`` plus the route's major
    parameter. Without a hash the key is a placeholder named after the route.
    """
    if bucket_hash is None:
        return f"route:{route}"
    match = _MAJOR_RE.search(route)
    major = f"{match.group(1)}/{match.group(2)}" if match else ""
    return f"bucket:{bucket_hash}:{major}"


# --------------------------------------------------------------------------- state


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


@attrs.define
class BucketState:
    """The mutable state of one bucket (or of one channel's hidden limit).

    Attributes:
        key: The store key (``route:...`` placeholder, ``bucket:hash:major`` or
            ``channel:id``).
        limit: The announced limit, when known.
        remaining: Slots left in the window: the server's count minus our reservations.
        reset_at: When the announced window resets (caller's clock), when known.
        reset_jitter: Jitter added to a wait for ``reset_at`` (drawn when it was set).
        window: The longest announced window seen (seconds).
        blocked_until: A 429's retry_after (plus jitter) ends here.
        rolled_at: When we last moved to a new window by ourselves (answers from the
            window before it are stale).
        in_flight: Expiry times of the reservations not yet observed.
        grants: When recent requests were let through (at most ``HISTORY``).
        learned: A limit learned from 429s, if any.
        last_used: The last time anything touched the bucket.
        reset_measured: ``reset_at`` comes from an answer (not from our own guess when
            the window rolled).
        channel_synced: Whether ``grants`` made before the route's channel was known have
            been counted in that channel's history.
    """

    key: str
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    reset_jitter: float = 0.0
    window: float | None = None
    blocked_until: float = 0.0
    rolled_at: float | None = None
    in_flight: list[float] = attrs.Factory(list)
    grants: deque[float] = attrs.Factory(lambda: deque(maxlen=HISTORY))
    learned: LearnedLimit | None = None
    last_used: float = 0.0
    channel_synced: bool = False
    reset_measured: bool = False

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


@attrs.define
class GlobalState:
    """Per-process (or per-IP, in a shared store) state: the global gate and pacing.

    Attributes:
        blocked_until: A global 429 blocks every route until then.
        grants: Recent grant times, for pacing under the global rate.
    """

    blocked_until: float = 0.0
    grants: deque[float] = attrs.Factory(deque)


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
        reason: What the wait is for: ``global``, ``global_pace``, ``bucket``, ``channel``,
            or ``""`` when granted.
    """

    delay: float
    reason: str = ""


# --------------------------------------------------------------------------- strategies


class Strategy(Protocol):
    """How long a request must wait, from a bucket's state alone.

    ``delay`` must be pure (same state and ``now``, same answer) and never negative;
    ``learn`` may record evidence in the state after a 429 that no header explained.
    """

    @property
    def reset_jitter(self) -> float:
        """Largest jitter (seconds) added to a wait for a bucket reset."""
        ...

    @property
    def reset_jitter_share(self) -> float:
        """Largest jitter as a share of the bucket's window (the smaller cap wins)."""
        ...

    def delay(self, state: BucketState, now: float) -> float:
        """Seconds to wait before the next request on ``state`` (0: go)."""
        ...

    def learn(self, state: BucketState, info: RateLimitInfo, now: float) -> None:
        """Record what an unexplained (non-global) 429 teaches about ``state``."""
        ...


def _base_delay(state: BucketState, now: float) -> float:
    # What every strategy obeys: a 429's retry_after, and one probe while the bucket is
    # unknown (its limit arrives with the first answer).
    wait = state.blocked_until - now
    if state.limit is None and state.remaining is None and state.in_flight:
        wait = max(wait, PROBE_INTERVAL)
    return max(0.0, wait)


def _reset_wait(state: BucketState, now: float) -> float:
    if state.remaining is not None and state.remaining <= 0 and state.reset_at is not None:
        return max(0.0, state.reset_at + state.reset_jitter - now)
    if state.remaining is not None and state.remaining <= 0 and state.in_flight:
        # Exhausted with no reset time yet: the answers in flight will bring one.
        return PROBE_INTERVAL
    return 0.0


@attrs.frozen
class ReactiveStrategy:
    """Wait only when Discord says so: after a 429, or when ``Remaining`` is 0.

    Attributes:
        reset_jitter: Largest jitter added to a wait for the reset (seconds).
        reset_jitter_share: Largest jitter as a share of the bucket's window (the smaller
            of the two caps wins: 0.25 s on Discord's 2 s buckets, less on shorter ones).
    """

    reset_jitter: float = 0.25
    reset_jitter_share: float = 0.125

    def delay(self, state: BucketState, now: float) -> float:
        """Seconds until the 429 ends or the exhausted bucket resets (0: go)."""
        return max(_base_delay(state, now), _reset_wait(state, now))

    def learn(self, state: BucketState, info: RateLimitInfo, now: float) -> None:
        """Reactive learns nothing."""


@attrs.frozen
class ProactiveStrategy:
    """Spread the last ``threshold`` requests of a window evenly over what is left of it.

    Attributes:
        threshold: When ``Remaining`` falls to this, the rest are spaced out evenly until
            the reset.
        reset_jitter: Largest jitter added to a wait for the reset (seconds).
        reset_jitter_share: Largest jitter as a share of the bucket's window (the smaller
            of the two caps wins: 10 ms on Discord's 2 s buckets, less on shorter ones).
    """

    threshold: int = 1
    reset_jitter: float = 0.01
    reset_jitter_share: float = 0.005

    def __attrs_post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {self.threshold}")

    def delay(self, state: BucketState, now: float) -> float:
        """Seconds to wait: the reset when exhausted, an even share when near it."""
        wait = max(_base_delay(state, now), _reset_wait(state, now))
        remaining, reset_at = state.remaining, state.reset_at
        if (
            wait == 0.0
            and remaining is not None
            and 0 < remaining <= self.threshold
            and reset_at is not None
            and state.grants
        ):
            last = state.grants[-1]
            if reset_at > last:
                wait = max(0.0, last + (reset_at - last) / (remaining + 1) - now)
        return wait

    def learn(self, state: BucketState, info: RateLimitInfo, now: float) -> None:
        """Proactive learns nothing (it trusts the headers)."""


def _sliding_wait(grants: deque[float], limit: int, window: float, now: float) -> float:
    # A sliding-window log: no more than `limit` grants in any `window` seconds. Safe under
    # a fixed-window server too, since every fixed window is one of the sliding ones.
    if limit <= 0:
        return window
    recent = [t for t in grants if t > now - window]
    if len(recent) < limit:
        return 0.0
    oldest_blocking = recent[len(recent) - limit]
    return max(0.0, oldest_blocking + window - now)


@attrs.frozen
class AdaptiveStrategy:
    """Obey the headers, and learn the limits they do not announce (the default).

    After a 429 that no header explains (scope ``shared``, or ``Remaining`` still above 0),
    it estimates the hidden limit from its own recent requests. The *run* is the requests
    let through since the previous 429's wait ended (the whole history the first time). The
    limit is the run's length less the refused request; the window is the 429's
    ``retry_after`` plus the time since the run began (exact when the server counts a window
    from the run's first request). Every further 429 of the same burst (requests already in
    flight when the first came back) lowers the limit by one and teaches nothing else. A
    429 that arrives later, while it already paces at the learned limit, means the estimate
    was too loose: the window grows to ``retry_ratio`` times that ``retry_after`` (Discord
    answers the channel limit's 31st message with a wait of 2/3 to 3/4 of the window), and
    when that does not lengthen it, other senders share the limit and the limit drops by one.

    It then keeps under the learned limit with a sliding-window log (window widened by
    ``margin``). The evidence expires after ``evidence_windows`` learned windows, at most
    ``evidence_ttl`` seconds, after the last confirming 429, and pacing relaxes again, so a
    ``shared`` 429 caused by other senders never slows this one down forever.

    Nothing here is in absolute seconds but the caps, so the strategy behaves the same
    against a time-scaled fake as against Discord.

    Attributes:
        evidence_ttl: Longest time (seconds) a learned limit lasts after its last 429.
        evidence_windows: How many learned windows the evidence lasts (the shorter wins).
        max_window: The longest window it will learn (seconds).
        default_window: The window assumed for a 429 that says neither ``retry_after`` nor
            ``Retry-After`` (Discord's per-channel limit is about 30 messages per 60 s).
        retry_ratio: Window over ``retry_after`` assumed when a learned window proved too
            short (60 s over Discord's shortest observed 40 s wait).
        margin: Relative widening of the learned window (covers latency jitter).
        reset_jitter: Largest jitter added to a wait for a bucket reset (seconds).
        reset_jitter_share: Largest jitter as a share of the bucket's window (the smaller
            of the two caps wins: 10 ms on Discord's 2 s buckets, less on shorter ones).
    """

    evidence_ttl: float = 600.0
    evidence_windows: float = 10.0
    max_window: float = 120.0
    default_window: float = 60.0
    retry_ratio: float = 1.5
    margin: float = 0.02
    reset_jitter: float = 0.01
    reset_jitter_share: float = 0.005

    def delay(self, state: BucketState, now: float) -> float:
        """Seconds to wait: announced limits first, then any learned limit."""
        wait = max(_base_delay(state, now), _reset_wait(state, now))
        learned = state.learned
        if learned is not None and learned.expires_at > now:
            window = learned.window * (1.0 + self.margin)
            wait = max(wait, _sliding_wait(state.grants, learned.limit, window, now))
        return wait

    def learn(self, state: BucketState, info: RateLimitInfo, now: float) -> None:
        """Learn a hidden limit from an unexplained 429 (see the class docstring).

        Called before the 429's own wait is recorded: ``state.blocked_until`` is still the
        end of the previous 429's wait (in the future while this one belongs to its burst).
        """
        explained = info.scope != "shared" and info.remaining == 0
        if explained:
            return
        old = state.learned
        if old is not None and old.expires_at <= now:
            old = None
        if old is not None and state.blocked_until > now:
            # Sent before the burst's first 429 came back: not new evidence. If that 429
            # counted the limit, this request was one too many in the count.
            if old.counted:
                state.learned = attrs.evolve(old, limit=max(1, old.limit - 1))
            return
        if info.retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
            guess = self.default_window
        else:
            retry_after = info.retry_after
            guess = retry_after
        since = max(state.blocked_until, now - self.max_window)
        run = [t for t in state.grants if t >= since]
        if run and now - run[0] + retry_after < self.max_window:
            window = retry_after + (now - run[0])
        else:
            window = min(max(guess, retry_after), self.max_window)
        # The refused request itself was let through by us but not counted by Discord.
        limit = max(1, len(run) - 1)
        counted = True
        if old is not None:
            # Paced at the old limit and still refused.
            wider = min(self.retry_ratio * retry_after, self.max_window)
            if wider > old.window * (1.0 + self.margin):
                window, limit, counted = wider, old.limit, False
            else:
                # The window was long enough: others share the limit. Tighten, never
                # below one; the evidence still expires.
                window = old.window
                limit = max(1, min(limit, old.limit - 1))
        window = max(window, 1e-3)
        state.learned = LearnedLimit(
            limit=min(limit, HISTORY),
            window=window,
            learned_at=now,
            expires_at=now + min(self.evidence_ttl, self.evidence_windows * window),
            scope=info.scope,
            counted=counted,
        )


# --------------------------------------------------------------------------- operations


def _scaled_reset_jitter(strategy: Strategy, draw: float, window: float | None) -> float:
    # ``draw`` is uniform in [0, strategy.reset_jitter); rescale it to the smaller cap, so
    # the jitter stays a small share of short windows (a time-scaled fake, or a bucket
    # with a sub-second reset) instead of a fixed number of milliseconds.
    cap = strategy.reset_jitter
    if cap <= 0.0 or window is None:
        return max(0.0, draw)
    share_cap = max(0.0, strategy.reset_jitter_share * window)
    if share_cap >= cap:
        return max(0.0, draw)
    return max(0.0, draw * share_cap / cap)


def _roll(state: BucketState, now: float) -> None:
    state.in_flight = [t for t in state.in_flight if t > now]
    if state.reset_at is not None and now >= state.reset_at + state.reset_jitter:
        if state.limit is not None:
            state.remaining = max(0, state.limit - len(state.in_flight))
        else:
            state.remaining = None
        # The next window starts no earlier than now; the next answer says exactly.
        state.rolled_at = now
        state.reset_at = now + state.window if state.window else None
        state.reset_measured = False
        state.reset_jitter = 0.0
    if state.learned is not None and state.learned.expires_at <= now:
        state.learned = None


def _global_wait(glob: GlobalState, pacing: GlobalPacing, now: float) -> tuple[float, str]:
    if glob.blocked_until > now:
        return glob.blocked_until - now, "global"
    if pacing.limit <= 0:
        return 0.0, ""
    while glob.grants and glob.grants[0] <= now - pacing.period:
        glob.grants.popleft()
    if len(glob.grants) >= pacing.limit:
        return max(0.0, glob.grants[len(glob.grants) - pacing.limit] + pacing.period - now), (
            "global_pace"
        )
    return 0.0, ""


def reserve_slot(
    bucket: BucketState,
    channel: BucketState | None,
    glob: GlobalState,
    now: float,
    *,
    strategy: Strategy,
    pacing: GlobalPacing,
    reservation_ttl: float,
) -> Reservation:
    """Check every limit a request is under and, if none says wait, reserve a slot.

    This is the one operation a store must run atomically (a Redis store runs it as one
    Lua script over the same fields).

    Returns:
        The reservation: ``delay == 0.0`` when a slot was taken.
    """
    _roll(bucket, now)
    if channel is not None:
        _roll(channel, now)
    bucket.last_used = now
    wait, reason = _global_wait(glob, pacing, now)
    bucket_wait = strategy.delay(bucket, now)
    if bucket_wait > wait:
        wait, reason = bucket_wait, "bucket"
    if channel is not None:
        channel.last_used = now
        channel_wait = strategy.delay(channel, now)
        if channel_wait > wait:
            wait, reason = channel_wait, "channel"
    if wait > 0.0:
        return Reservation(wait, reason)
    bucket.in_flight.append(now + reservation_ttl)
    if bucket.remaining is not None:
        bucket.remaining -= 1
    bucket.grants.append(now)
    if channel is not None:
        channel.grants.append(now)
    if pacing.limit > 0:
        glob.grants.append(now)
    return Reservation(0.0)


def _sync_grants(bucket: BucketState, channel: BucketState) -> None:
    # The requests a webhook sent before its first answer named the channel count against
    # the channel too: without them a channel of n webhooks learns a limit n too low. A
    # store may already have copied them (into a channel it had just created): add only
    # what is missing.
    bucket.channel_synced = True
    present: dict[float, int] = {}
    for t in channel.grants:
        present[t] = present.get(t, 0) + 1
    missing: list[float] = []
    for t in bucket.grants:
        if present.get(t, 0) > 0:
            present[t] -= 1
        else:
            missing.append(t)
    if missing:
        merged = sorted([*channel.grants, *missing])
        channel.grants.clear()
        channel.grants.extend(merged)


def _drop_last_grant(grants: deque[float], now: float) -> None:
    for i in range(len(grants) - 1, -1, -1):
        if grants[i] <= now:
            del grants[i]
            return


def apply_observation(
    bucket: BucketState,
    channel: BucketState | None,
    glob: GlobalState,
    info: RateLimitInfo | None,
    now: float,
    *,
    strategy: Strategy,
    jitter: Jitter,
) -> None:
    """Release one reservation of ``bucket`` and fold in what the answer said.

    Args:
        bucket: The route's bucket (already remapped to the answer's bucket hash).
        channel: The channel state, when the route's channel is known.
        glob: The global state.
        info: The parsed answer, or ``None`` after a transport failure (release only).
        now: The caller's clock.
        strategy: Learns from unexplained 429s.
        jitter: Random draws for the waits this answer starts.
    """
    bucket.last_used = now
    if channel is not None and not bucket.channel_synced:
        _sync_grants(bucket, channel)
    if bucket.in_flight:
        bucket.in_flight.sort()
        bucket.in_flight.pop(0)
    if info is None:
        # The request never reached Discord (or we cannot know): give its slot back.
        if bucket.remaining is not None and bucket.limit is not None:
            bucket.remaining = min(bucket.limit, bucket.remaining + 1)
        return
    if info.limit is not None:
        bucket.limit = info.limit
    stale = (
        info.reset_after is not None
        and bucket.rolled_at is not None
        and bucket.window is not None
        and now + info.reset_after < bucket.rolled_at + bucket.window / 2
    )
    if info.reset_after is not None and not stale:
        # An answer from the window before our last roll (it was slow to come back) must
        # not reset the count of the current window.
        bucket.window = max(bucket.window or 0.0, info.reset_after)
        if info.remaining is not None:
            # Our own requests still in flight are not in Discord's count yet.
            remaining = max(0, info.remaining - len(bucket.in_flight))
            reset_at = now + info.reset_after
            same_window = (
                bucket.reset_at is not None
                and bucket.remaining is not None
                and abs(reset_at - bucket.reset_at) < bucket.window / 2
            )
            if same_window and bucket.remaining is not None and bucket.reset_at is not None:
                # Within one window our own count already holds our reservations, so it is
                # exact for a lone sender; Discord's lower count reveals other senders.
                # Answers can come back out of order: the count only ever falls.
                remaining = min(bucket.remaining, info.remaining)
                # Every answer's reset time is late by its own trip back; the earliest is
                # the closest and still no earlier than the true reset. Our own guess made
                # when the window rolled is no answer: it may be early, so it only bounds
                # from below.
                if bucket.reset_measured:
                    reset_at = min(reset_at, bucket.reset_at)
                else:
                    reset_at = max(reset_at, bucket.reset_at)
            bucket.remaining = remaining
            bucket.reset_at = reset_at
            bucket.reset_measured = True
            bucket.reset_jitter = _scaled_reset_jitter(strategy, jitter.reset, bucket.window)
    elif info.remaining is not None and bucket.remaining is None:
        bucket.remaining = max(0, info.remaining - len(bucket.in_flight))
    if not info.is_rate_limited:
        return
    retry_after = info.retry_after if info.retry_after is not None else DEFAULT_RETRY_AFTER
    until = now + retry_after + jitter.rate_limited
    if info.is_global:
        glob.blocked_until = max(glob.blocked_until, until)
        return
    target = channel if info.scope == "shared" and channel is not None else bucket
    target.last_used = now
    # Learn first: the strategy reads the block this 429 is part of (or the one before it).
    strategy.learn(target, info, now)
    target.blocked_until = max(target.blocked_until, until)
    if target is channel:
        # Discord did not count the refused message against the channel: neither does the
        # channel's history (a sliding window over it would wait for a phantom). Which of
        # the recent grants it was is unknown; they are milliseconds apart: drop the last.
        _drop_last_grant(channel.grants, now)


# --------------------------------------------------------------------------- tracker


@attrs.frozen
class RateLimitMetrics:
    """Counters of one tracker, as a snapshot.

    Attributes:
        waits: Times ``acquire`` said wait.
        wait_seconds: Sum of the waits it asked for.
        granted: Requests let through.
        rate_limited: 429s seen, by scope (``user``, ``shared``, ``global``).
    """

    waits: int
    wait_seconds: float
    granted: int
    rate_limited: dict[str, int]

    @property
    def rate_limited_total(self) -> int:
        """All 429s seen."""
        return sum(self.rate_limited.values())


def _default_store() -> RateLimitStore:
    # Imported here: stores._memory imports this module's state and operations.
    from trio_webhook.stores._memory import MemoryStore

    return MemoryStore()


def _default_strategy() -> Strategy:
    return AdaptiveStrategy()


@attrs.define
class RateLimitTracker:
    """Paces requests under Discord's rate limits; all state lives in a store.

    Args:
        strategy: How to wait (:class:`AdaptiveStrategy` by default).
        store: Where the state lives (:class:`~trio_webhook.stores.MemoryStore` by
            default; share one store, or use a shared one, between senders of one IP).
        rng: Randomness for jitter (seed it for reproducible runs).
        pacing: The proactive global limit (50 requests a second).
        reservation_ttl: Seconds after which an unobserved reservation is dropped (longer
            than the transport's total timeout).

    Example::

        tracker = RateLimitTracker(rng=random.Random(1))
        while (delay := tracker.acquire(route, now=trio.current_time())) > 0:
            await trio.sleep(delay)
        response = await transport.send(request)
        tracker.observe(route, response, now=trio.current_time())

    Error handling:
        Nothing here raises on what Discord sends: garbage headers count as unknown.
    """

    strategy: Strategy = attrs.field(factory=_default_strategy)
    store: RateLimitStore = attrs.field(factory=_default_store)
    rng: random.Random = attrs.field(factory=random.Random)
    pacing: GlobalPacing = attrs.field(factory=GlobalPacing)
    reservation_ttl: float = 30.0
    _waits: int = attrs.field(default=0, init=False)
    _wait_seconds: float = attrs.field(default=0.0, init=False)
    _granted: int = attrs.field(default=0, init=False)
    _rate_limited: dict[str, int] = attrs.field(factory=dict, init=False)

    def reserve(self, route: str, now: float) -> Reservation:
        """Like :meth:`acquire`, with the reason of a wait."""
        reservation = self.store.reserve(
            route,
            now,
            strategy=self.strategy,
            pacing=self.pacing,
            reservation_ttl=self.reservation_ttl,
        )
        if reservation.delay > 0.0:
            self._waits += 1
            self._wait_seconds += reservation.delay
        else:
            self._granted += 1
        return reservation

    def acquire(self, route: str, now: float) -> float:
        """Reserve a slot on ``route`` or say how long to wait first.

        Returns:
            ``0.0`` when a slot is reserved (send now, then :meth:`observe`); otherwise
            the seconds to wait before calling again. Never negative.
        """
        return self.reserve(route, now).delay

    def observe(
        self,
        route: str,
        response: HTTPResponse | None,
        now: float,
        *,
        channel_id: str | None = None,
        epoch_now: float | None = None,
    ) -> RateLimitInfo | None:
        """Release the reservation of ``route`` and learn from the answer.

        Args:
            route: The route passed to :meth:`acquire`.
            response: Discord's answer, or ``None`` after a transport failure.
            now: The caller's clock.
            channel_id: The channel the message went to (from a ``wait=true`` answer), so
                limits learned from ``shared`` 429s pace every webhook of the channel.
            epoch_now: Wall-clock time, only to read ``X-RateLimit-Reset`` when
                ``Reset-After`` is missing.

        Returns:
            The parsed rate-limit information, or ``None`` without a response.
        """
        info = None if response is None else parse_rate_limit(response, epoch_now=epoch_now)
        if info is not None and info.is_rate_limited:
            scope = info.scope or ("global" if info.is_global else "user")
            self._rate_limited[scope] = self._rate_limited.get(scope, 0) + 1
        jitter = Jitter(
            reset=self.rng.uniform(0.0, self.strategy.reset_jitter),
            rate_limited=self.rng.uniform(0.0, RATE_LIMITED_JITTER),
        )
        self.store.update(
            route, info, now, strategy=self.strategy, channel_id=channel_id, jitter=jitter
        )
        return info

    def release(self, route: str, now: float) -> None:
        """Give back a reservation without an answer (the request was never sent)."""
        self.observe(route, None, now)

    def bucket(self, route: str) -> BucketSnapshot | None:
        """The state of ``route``'s bucket, or ``None`` when nothing is known."""
        return self.store.snapshot(route)

    def clear(self) -> None:
        """Forget every bucket and the global state (metrics are kept)."""
        self.store.clear()

    def metrics(self) -> RateLimitMetrics:
        """A snapshot of the counters."""
        return RateLimitMetrics(
            waits=self._waits,
            wait_seconds=self._wait_seconds,
            granted=self._granted,
            rate_limited=dict(self._rate_limited),
        )
