"""Discord rate limits, sans-IO: header parsing, bucket state, strategies and the tracker.

Nothing here sleeps, reads a clock or draws from the module-level ``random``: every
operation takes ``now`` (seconds on the caller's monotonic clock, ``trio.current_time()``
in the shell) and randomness comes from an injected ``random.Random``. The shell does::

    while (delay := tracker.acquire(route, now=trio.current_time())) > 0:
        await trio.sleep(delay)
    ...send, then parse the answer once: info = parse_rate_limit(response)...
    tracker.observe(route, info_or_None, now=trio.current_time(), channel_id=...)

``acquire`` returning ``0.0`` means a slot is *reserved*: the request counts against the
bucket's ``remaining`` until ``observe`` releases it (``None`` for a transport failure), or
until the reservation expires, so a cancelled request never leaks a slot.

Bucket states live only in this module: *unknown* (a placeholder keyed by the route, one
request in flight at a time), *resolved* (``X-RateLimit-Bucket`` seen: routes sharing that
hash and top-level resource share the state), *exhausted* (``remaining`` 0 or a 429: wait for
the reset) and *reset* (the window passed: ``remaining`` goes back to ``limit``).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import random
import re
from collections import deque
from typing import TYPE_CHECKING, Final, Protocol

import attrs

from trio_webhook._errors import ConfigError, InvalidRequestBudgetExceeded
from trio_webhook._http import HTTPResponse

if TYPE_CHECKING:
    from trio_webhook.stores._base import RateLimitStore

__all__ = [
    "AdaptiveStrategy",
    "BucketSnapshot",
    "BucketState",
    "DEFAULT_BUDGET",
    "EDGE_BAN_FLOOR",
    "GlobalPacing",
    "GlobalSnapshot",
    "GlobalState",
    "InvalidRequestBudget",
    "InvalidRequestWindow",
    "Jitter",
    "LearnedLimit",
    "Observed",
    "ProactiveStrategy",
    "RateLimitInfo",
    "RateLimitMetrics",
    "RateLimitTracker",
    "ReactiveStrategy",
    "Reservation",
    "Strategy",
    "apply_observation",
    "bucket_key",
    "counts_as_invalid",
    "edge_ban_cause",
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
# A 429 from Discord's edge (Cloudflare), not its API, is a ban of the whole IP. Its
# Retry-After is often missing or too short to trust; wait at least this long.
EDGE_BAN_FLOOR: Final = 60.0
# While a bucket is unknown, one request probes it; others look again after this long.
PROBE_INTERVAL: Final = 0.05
# A 429 without any usable retry_after waits this long.
DEFAULT_RETRY_AFTER: Final = 1.0
# Jitter on top of a 429's retry_after (Discord's advice; also the retry policy's).
RATE_LIMITED_JITTER: Final = 0.25
# How many grant times a bucket remembers (bounds memory; also the largest learnable limit).
HISTORY: Final = 256

_MAJOR_RE: Final = re.compile(r"/(webhooks|channels|guilds)/([^/\s]+)")
# The statuses Discord's edge counts towards its invalid-request ban (429s scoped
# ``shared`` excepted).
INVALID_STATUSES: Final = frozenset({401, 403, 429})

logger: Final = logging.getLogger("trio_webhook")


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
        edge_ban: The 429 came from Discord's edge (Cloudflare), not its API: an HTML body
            (Cloudflare error 1015), or neither an ``X-RateLimit-*`` header nor Discord's
            JSON body. It bans the whole IP address, not one bucket (see
            :func:`edge_ban_cause`).
        edge_ban_cause: Why the 429 is the edge's (for the log line of the ban), else ``""``.
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
    edge_ban: bool = False
    edge_ban_cause: str = ""

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


def edge_ban_cause(response: HTTPResponse) -> str:
    """Why ``response`` is a 429 from Discord's edge, an IP-wide ban; ``""`` when it is not.

    Every 429 of Discord's API carries ``X-RateLimit-Scope`` (and usually the bucket
    headers) and a JSON body with ``retry_after``. Cloudflare's, in front of it, carries
    neither: an HTML page (error 1015) or a bare ``error code: 1015`` with at most a
    ``Retry-After``. So a 429 is the edge's when its body is HTML (starts with ``<`` or is
    typed ``text/html``), or when no header's name starts with ``X-RateLimit-`` and the
    body is not Discord's JSON (an object with ``retry_after``; a proxy may strip headers,
    never write that body). ``Retry-After`` alone does not make it Discord's: Cloudflare
    sends that header too.
    """
    if response.status != 429:
        return ""
    return _edge_ban_cause(response, _json_object(response.body))


def _edge_ban_cause(response: HTTPResponse, body: dict[str, object] | None) -> str:
    content_type = response.headers.get("content-type", "").lower()
    if response.body.lstrip()[:1] == b"<" or "text/html" in content_type:
        return "with an HTML body (Cloudflare error 1015)"
    if any(name.startswith("x-ratelimit-") for name in response.headers):
        return ""
    if body is not None and "retry_after" in body:
        return ""
    return "without any X-RateLimit-* header or Discord's JSON body"


def _json_object(body: bytes) -> dict[str, object] | None:
    if body[:1] != b"{":
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


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
    edge_ban_cause = ""
    if response.status == 429:
        body = _json_object(response.body)
        edge_ban_cause = _edge_ban_cause(response, body)
        body_retry_after: float | None = None
        if body is not None:
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
        edge_ban=bool(edge_ban_cause),
        edge_ban_cause=edge_ban_cause,
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


def _positive_finite(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{type(instance).__name__}.{attribute.name}", value, "a finite number above 0"
        )


def _share(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 < value <= 1.0):
        raise ConfigError(f"{type(instance).__name__}.{attribute.name}", value, "a share in (0, 1]")


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{type(instance).__name__}.{attribute.name}", value, "an int >= 1")


@attrs.frozen
class InvalidRequestBudget:
    """Discord's invalid-request limit, and how close to it the tracker may go.

    Discord's edge bans an IP address for an hour after ``limit`` answers with status
    401, 403 or 429 in ``window`` seconds; 429s scoped ``shared`` do not count
    (discord-api-docs, "Rate Limits" -> "Invalid Request Limit aka Cloudflare bans").
    The tracker counts them (:class:`InvalidRequestWindow`), and:

    - below ``slow_at`` (``slow_share`` of the limit) it adds nothing;
    - from ``slow_at`` to ``stop_at`` it spaces grants (across every route) at least
      :meth:`spacing` seconds apart;
    - from ``stop_at`` (``stop_share`` of the limit) on, it refuses to send until the
      count falls below it again.

    Attributes:
        limit: Invalid answers allowed per window (Discord's 10,000).
        window: Seconds (Discord's 10 minutes).
        slow_share: Share of ``limit`` where slowing down begins.
        stop_share: Share of ``limit`` where sending stops (at least ``slow_share``).
        granularity: Seconds per counting slot: the count keeps one number per slot, so
            memory is ``window / granularity`` slots whatever the traffic, and the count
            may hold up to one slot of answers older than ``window`` (it errs on the side
            of counting too many).
    """

    limit: int = attrs.field(default=10_000, validator=_at_least_one)
    window: float = attrs.field(default=600.0, validator=_positive_finite)
    slow_share: float = attrs.field(default=0.5, validator=_share)
    stop_share: float = attrs.field(default=0.95, validator=_share)
    granularity: float = attrs.field(default=1.0, validator=_positive_finite)
    # Derived once: reserve reads them on every request.
    _slow_at: int = attrs.field(init=False, repr=False, eq=False)
    _stop_at: int = attrs.field(init=False, repr=False, eq=False)
    _slots: int = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.slow_share > self.stop_share:
            raise ConfigError(
                "InvalidRequestBudget.slow_share",
                self.slow_share,
                f"a share no larger than stop_share={self.stop_share!r}",
            )
        if self.granularity > self.window:
            raise ConfigError(
                "InvalidRequestBudget.granularity",
                self.granularity,
                f"at most window={self.window!r} seconds",
            )
        object.__setattr__(self, "_slow_at", max(0, round(self.slow_share * self.limit)))
        object.__setattr__(self, "_stop_at", max(1, round(self.stop_share * self.limit)))
        object.__setattr__(self, "_slots", math.ceil(self.window / self.granularity))

    @property
    def slow_at(self) -> int:
        """The count from which grants are spaced out (``slow_share`` of ``limit``)."""
        return self._slow_at

    @property
    def stop_at(self) -> int:
        """The count from which nothing is sent (``stop_share`` of ``limit``)."""
        return self._stop_at

    @property
    def slots(self) -> int:
        """Counting slots a window spans (the count keeps one more: the current one)."""
        return self._slots

    def spacing(self, count: int) -> float:
        """The least time between two grants when ``count`` invalid answers are counted.

        ``spacing(c) = window * (c - slow_at) / ((stop_at - slow_at) * (stop_at - c))`` for
        ``slow_at <= c < stop_at``, else 0. The first factor ramps from 0 at ``slow_at`` to
        1 at ``stop_at``; the second, ``window / (stop_at - c)``, is the spacing that makes
        what is left of the budget last a whole window even if every answer from now on
        were invalid. With the defaults: 0 s at 5,000, 0.13 s at 7,250, 1.07 s at 9,000,
        about 600 s at 9,499 (then :meth:`stop_at`).
        """
        slow, stop = self.slow_at, self.stop_at
        if count < slow or count >= stop:
            return 0.0
        return self.window * (count - slow) / ((stop - slow) * (stop - count))


DEFAULT_BUDGET: Final = InvalidRequestBudget()


@attrs.define
class InvalidRequestWindow:
    """The invalid answers of the last window, counted per slot (bounded memory).

    Slot ``k`` holds the answers observed at times ``t`` with ``floor(t / granularity) ==
    k``. At ``now`` (slot ``K``) the count is the sum of slots ``K - budget.slots`` to
    ``K``: every answer of the last ``window`` seconds, plus those of the oldest,
    partly expired slot, so ``brute(window) <= count <= brute(window + granularity)``
    when ``window`` is a whole number of slots. At most ``slots + 1`` slots are kept.

    Attributes:
        slots: ``[slot index, answers]`` pairs, oldest first.
        total: The sum of their answers.
    """

    slots: deque[list[int]] = attrs.Factory(deque)
    total: int = 0

    def prune(self, now: float, budget: InvalidRequestBudget) -> int:
        """Drop the slots that left the window; return the count at ``now``."""
        if not self.slots:
            return 0
        oldest = math.floor(now / budget.granularity) - budget.slots
        while self.slots and self.slots[0][0] < oldest:
            self.total -= self.slots.popleft()[1]
        return self.total

    def count(self, now: float, budget: InvalidRequestBudget) -> int:
        """The count at ``now``, without changing anything."""
        oldest = math.floor(now / budget.granularity) - budget.slots
        return sum(n for k, n in self.slots if k >= oldest)

    def add(self, now: float, budget: InvalidRequestBudget) -> None:
        """Count one invalid answer observed at ``now``."""
        self.prune(now, budget)
        slot = math.floor(now / budget.granularity)
        if self.slots and self.slots[-1][0] >= slot:
            # Same slot (or a clock that stepped back): keep the slots in order.
            self.slots[-1][1] += 1
        else:
            self.slots.append([slot, 1])
        self.total += 1

    def resume_after(self, now: float, budget: InvalidRequestBudget) -> float:
        """Seconds until the count falls below ``budget.stop_at`` (0 if it already is)."""
        count = self.prune(now, budget)
        for slot, answers in self.slots:
            if count < budget.stop_at:
                break
            count -= answers
            # Slot k leaves the count when the current slot reaches k + slots + 1.
            leaves_at = (slot + budget.slots + 1) * budget.granularity
            if count < budget.stop_at:
                return max(leaves_at - now, 1e-6)
        return 0.0


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
    """

    blocked_until: float = 0.0
    grants: deque[float] = attrs.Factory(deque)
    edge_ban_until: float = 0.0
    invalid: InvalidRequestWindow = attrs.Factory(InvalidRequestWindow)
    last_grant: float | None = None

    def snapshot(self, now: float, budget: InvalidRequestBudget) -> GlobalSnapshot:
        """A frozen copy for introspection."""
        return GlobalSnapshot(
            blocked_until=self.blocked_until,
            edge_ban_until=self.edge_ban_until,
            invalid_requests=self.invalid.count(now, budget),
        )


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
_NOTHING_OBSERVED: Final = Observed()


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
    wait, reason = 0.0, ""
    if glob.edge_ban_until > now:
        wait, reason = glob.edge_ban_until - now, "edge_ban"
    if glob.blocked_until - now > wait:
        wait, reason = glob.blocked_until - now, "global"
    if wait > 0.0:
        return wait, reason
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
    budget: InvalidRequestBudget = DEFAULT_BUDGET,
) -> Reservation:
    """Check every limit a request is under and, if none says wait, reserve a slot.

    This is the one operation a store must run atomically (a Redis store runs it as one
    Lua script over the same fields).

    Returns:
        The reservation: ``delay == 0.0`` when a slot was taken; ``refused`` set when the
        invalid-request budget forbids sending at all.
    """
    _roll(bucket, now)
    if channel is not None:
        _roll(channel, now)
    bucket.last_used = now
    invalid = glob.invalid.prune(now, budget)
    if invalid >= budget.stop_at:
        resume = glob.invalid.resume_after(now, budget)
        return Reservation(resume, "invalid_budget", refused=_refusal(invalid, budget, resume))
    wait, reason = _global_wait(glob, pacing, now)
    spacing = budget.spacing(invalid)
    if spacing > 0.0 and glob.last_grant is not None:
        budget_wait = glob.last_grant + spacing - now
        if budget_wait > wait:
            wait, reason = budget_wait, "invalid_budget"
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
    glob.last_grant = now
    return Reservation(0.0)


def _refusal(count: int, budget: InvalidRequestBudget, resume: float) -> str:
    return (
        f"invalid-request budget spent: {count} answers with status 401, 403 or 429 in the "
        f"last {budget.window:g} s, at or above the stop point of {budget.stop_at} "
        f"(Discord's edge bans the IP address for an hour at {budget.limit} per "
        f"{budget.window:g} s); sending may resume in {resume:.1f} s"
    )


def counts_as_invalid(info: RateLimitInfo) -> bool:
    """Whether Discord's edge counts ``info`` towards its invalid-request ban.

    Status 401, 403 or 429, except a 429 scoped ``shared`` (another sender's limit on a
    shared resource: not this client's fault, and Discord says it does not count).
    """
    return info.status in INVALID_STATUSES and not (info.status == 429 and info.scope == "shared")


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
    budget: InvalidRequestBudget = DEFAULT_BUDGET,
    edge_ban_floor: float = EDGE_BAN_FLOOR,
) -> Observed:
    """Release one reservation of ``bucket`` and fold in what the answer said.

    An edge ban (:attr:`RateLimitInfo.edge_ban`) pauses every route (``glob``) for its
    ``retry_after``, at least ``edge_ban_floor`` seconds, and teaches the bucket nothing.
    Edge bans that arrive while one is under way belong to the same episode: a longer
    ``retry_after`` lengthens the pause, but they count neither as a new episode nor in
    the budget. Every other
    invalid answer (:func:`counts_as_invalid`) is counted in ``glob.invalid``.

    Args:
        bucket: The route's bucket (already remapped to the answer's bucket hash).
        channel: The channel state, when the route's channel is known.
        glob: The global state.
        info: The parsed answer, or ``None`` after a transport failure (release only).
        now: The caller's clock.
        strategy: Learns from unexplained 429s.
        jitter: Random draws for the waits this answer starts.
        budget: How invalid answers are counted.
        edge_ban_floor: The shortest pause for an edge ban (seconds).

    Returns:
        Whether the answer began an edge-ban episode, and when the pause ends.
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
        return _NOTHING_OBSERVED
    if info.edge_ban:
        # The edge, not the API, answered: nothing in it is about this bucket.
        started = glob.edge_ban_until <= now
        pause = info.retry_after or 0.0
        if started:
            glob.invalid.add(now, budget)
            pause = max(pause, edge_ban_floor)
        # Later bans of the episode (requests already in flight) may lengthen the pause by
        # what they announce, not by the floor again.
        glob.edge_ban_until = max(glob.edge_ban_until, now + pause)
        return Observed(edge_ban_started=started, edge_ban_until=glob.edge_ban_until)
    if counts_as_invalid(info):
        glob.invalid.add(now, budget)
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
        return _NOTHING_OBSERVED
    retry_after = info.retry_after if info.retry_after is not None else DEFAULT_RETRY_AFTER
    until = now + retry_after + jitter.rate_limited
    if info.is_global:
        glob.blocked_until = max(glob.blocked_until, until)
        return _NOTHING_OBSERVED
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
    return _NOTHING_OBSERVED


# --------------------------------------------------------------------------- tracker


@attrs.frozen
class RateLimitMetrics:
    """Counters of one tracker, as a snapshot.

    Attributes:
        waits: Times ``acquire`` said wait.
        wait_seconds: Sum of the waits it asked for.
        granted: Requests let through.
        rate_limited: 429s seen, by scope (``user``, ``shared``, ``global``, and ``edge``
            for the edge's own 429s: :attr:`RateLimitInfo.edge_ban`).
        invalid_requests: Answers counted towards Discord's invalid-request limit (401,
            403, 429 not ``shared``; an edge-ban episode once) in the store's current
            window.
        edge_bans: Edge-ban episodes this tracker began (each paused every route).
        refused: Reservations refused because the invalid-request budget was spent.
    """

    waits: int
    wait_seconds: float
    granted: int
    rate_limited: dict[str, int]
    invalid_requests: int = 0
    edge_bans: int = 0
    refused: int = 0

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

    strategy: Strategy = attrs.field(factory=_default_strategy)
    store: RateLimitStore = attrs.field(factory=_default_store)
    rng: random.Random = attrs.field(factory=random.Random)
    pacing: GlobalPacing = attrs.field(factory=GlobalPacing)
    reservation_ttl: float = 30.0
    budget: InvalidRequestBudget = attrs.field(factory=InvalidRequestBudget)
    edge_ban_floor: float = EDGE_BAN_FLOOR
    _waits: int = attrs.field(default=0, init=False)
    _wait_seconds: float = attrs.field(default=0.0, init=False)
    _granted: int = attrs.field(default=0, init=False)
    _rate_limited: dict[str, int] = attrs.field(factory=dict, init=False)
    _edge_bans: int = attrs.field(default=0, init=False)
    _refused: int = attrs.field(default=0, init=False)
    _now: float | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        # Checked here, not by an attrs validator: a validator would route every counter
        # update on the hot path through attrs' __setattr__.
        value = self.edge_ban_floor
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ConfigError(
                "RateLimitTracker.edge_ban_floor", value, "a finite number of seconds >= 0"
            )

    def reserve(self, route: str, now: float) -> Reservation:
        """Like :meth:`acquire`, with the reason of a wait, and a refusal instead of raising.

        Returns:
            The reservation. When ``refused`` is set, nothing was reserved and the request
            must not be sent (dead-letter it with that text as the reason); ``delay`` then
            says when sending may resume.
        """
        self._now = now
        reservation = self.store.reserve(
            route,
            now,
            strategy=self.strategy,
            pacing=self.pacing,
            reservation_ttl=self.reservation_ttl,
            budget=self.budget,
        )
        if reservation.refused is not None:
            self._refused += 1
        elif reservation.delay > 0.0:
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

        Raises:
            InvalidRequestBudgetExceeded: Discord's invalid-request budget is nearly
                spent (``budget.stop_at`` reached): do not send; dead-letter the request,
                or wait ``resume_after`` seconds and fix what keeps failing.
        """
        reservation = self.reserve(route, now)
        if reservation.refused is not None:
            raise InvalidRequestBudgetExceeded(
                self.store.global_snapshot(now, self.budget).invalid_requests,
                self.budget.limit,
                self.budget.window,
                reservation.delay,
                stop_at=self.budget.stop_at,
            )
        return reservation.delay

    def observe(
        self,
        route: str,
        info: RateLimitInfo | None,
        now: float,
        *,
        channel_id: str | None = None,
        epoch_now: float | None = None,
    ) -> None:
        """Release the reservation of ``route`` and learn from the answer.

        Args:
            route: The route passed to :meth:`acquire`.
            info: What the answer said about rate limits, parsed once per answer (the
                client's ``Outcome.rate_limit``), or ``None`` after a transport failure.
            now: The caller's clock.
            channel_id: The channel the message went to (from a ``wait=true`` answer), so
                limits learned from ``shared`` 429s pace every webhook of the channel.
            epoch_now: Wall-clock time, only to say in the log line of an edge ban when it
                ends.
        """
        self._now = now
        if info is not None and info.is_rate_limited:
            if info.edge_ban:
                scope = "edge"
            else:
                scope = info.scope or ("global" if info.is_global else "user")
            self._rate_limited[scope] = self._rate_limited.get(scope, 0) + 1
        jitter = Jitter(
            reset=self.rng.uniform(0.0, self.strategy.reset_jitter),
            rate_limited=self.rng.uniform(0.0, RATE_LIMITED_JITTER),
        )
        observed = self.store.update(
            route,
            info,
            now,
            strategy=self.strategy,
            channel_id=channel_id,
            jitter=jitter,
            budget=self.budget,
            edge_ban_floor=self.edge_ban_floor,
        )
        if observed.edge_ban_started and info is not None:
            self._edge_bans += 1
            self._log_edge_ban(route, info, now, observed.edge_ban_until, epoch_now)

    def _log_edge_ban(
        self,
        route: str,
        info: RateLimitInfo,
        now: float,
        until: float,
        epoch_now: float | None,
    ) -> None:
        # One error per episode (the store says which answer began it): the requests in
        # flight when the ban began come back banned too, and would flood the log.
        pause = until - now
        ends = f"{until:.1f} s on the tracker's clock"
        if epoch_now is not None and math.isfinite(epoch_now):
            try:
                wall = datetime.datetime.fromtimestamp(epoch_now + pause, datetime.UTC)
                ends = f"{wall:%Y-%m-%d %H:%M:%S} UTC"
            except (OverflowError, OSError, ValueError):
                pass
        logger.error(
            "Discord's edge (Cloudflare) banned this IP address: a 429 on %s came %s. "
            "This ban covers every webhook, not one bucket: every route of this tracker is "
            "paused for %.1f s, until %s, and resumes by itself then. Such bans follow too "
            "many invalid requests (401, 403, 429) or too many requests from one IP.",
            route,
            info.edge_ban_cause or "from Discord's edge",
            pause,
            ends,
            extra={"route": route, "edge_ban_seconds": pause},
        )

    def release(self, route: str, now: float) -> None:
        """Give back a reservation without an answer (the request was never sent)."""
        self.observe(route, None, now)

    def bucket(self, route: str) -> BucketSnapshot | None:
        """The state of ``route``'s bucket, or ``None`` when nothing is known."""
        return self.store.snapshot(route)

    def clear(self) -> None:
        """Forget every bucket and the global state (metrics are kept)."""
        self.store.clear()

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
