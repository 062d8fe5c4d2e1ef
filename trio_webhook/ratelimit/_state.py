"""Bucket and global rate-limit state, and every transition of it.

Bucket states live only in this module: *unknown* (a placeholder keyed by the route, one
request in flight at a time), *resolved* (``X-RateLimit-Bucket`` seen: routes sharing that
hash and top-level resource share the state), *exhausted* (``remaining`` 0 or a 429: wait for
the reset) and *reset* (the window passed: ``remaining`` goes back to ``limit``).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Final, Protocol

import attrs

from trio_webhook.ratelimit._budget import (
    DEFAULT_BUDGET,
    InvalidRequestBudget,
    InvalidRequestWindow,
    counts_as_invalid,
)
from trio_webhook.ratelimit._headers import DEFAULT_RETRY_AFTER, RateLimitInfo
from trio_webhook.ratelimit._records import (
    NOTHING_OBSERVED,
    BucketSnapshot,
    GlobalPacing,
    GlobalSnapshot,
    Jitter,
    LearnedLimit,
    Observed,
    Reservation,
)

__all__ = [
    "EDGE_BAN_FLOOR",
    "HISTORY",
    "BucketState",
    "GlobalState",
    "Strategy",
    "apply_observation",
    "bucket_key",
    "reserve_slot",
    "route_key",
]

# A 429 from Discord's edge (Cloudflare), not its API, is a ban of the whole IP. Its
# Retry-After is often missing or too short to trust; wait at least this long.
EDGE_BAN_FLOOR: Final = 60.0
# How many grant times a bucket remembers (bounds memory; also the largest learnable limit).
HISTORY: Final = 256

_MAJOR_RE: Final = re.compile(r"/(webhooks|channels|guilds)/([^/\s]+)")


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
        return Reservation(resume, "invalid_budget", refused=budget.refusal(invalid, resume))
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
        return NOTHING_OBSERVED
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
        return NOTHING_OBSERVED
    retry_after = info.retry_after if info.retry_after is not None else DEFAULT_RETRY_AFTER
    until = now + retry_after + jitter.rate_limited
    if info.is_global:
        glob.blocked_until = max(glob.blocked_until, until)
        return NOTHING_OBSERVED
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
    return NOTHING_OBSERVED
