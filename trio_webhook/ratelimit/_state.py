"""Every transition of the rate-limit state, in one place (the data is in ``_records``).

A store holds the state and runs :func:`reserve_slot` (before a request) and
:func:`apply_observation` (after its answer) atomically, with :func:`resolve_bucket` and
:func:`join_channel` when an answer names a route's bucket or channel (those two live in
``_joins``, the gates over every route in ``_gates``; both are re-exported here). Nothing else
changes a :class:`BucketState` or the :class:`GlobalState`, except a strategy's ``learn``
recording a learned limit after an unexplained 429.

A bucket's state is read from its fields at ``now``; nothing stores its name::

                      answer with Remaining (fold)
      +---------+ ------------------------------------> +------+ --grant--+
      | UNKNOWN |                                       | OPEN |          |
      +---------+ <---- roll, no limit known ---------- +------+ <--------+
        |     ^                                          |    ^
        +-----+ one probe in flight,      grant of the   |    | roll: reset_at + jitter
          the others wait a probe         last slot, or  |    | passed; remaining =
          interval                        Remaining 0    v    | limit - in flight
                                                  +-----------+
                                                  | EXHAUSTED |
                                                  +-----------+

- *grant* (:func:`reserve_slot`, every gate open; a fast path when a known bucket has
  slots left and no gate is closed): one more in flight, ``remaining - 1``, the time kept
  in ``grants``. *release* (:func:`apply_observation`): one fewer in flight;
  a transport failure gives the slot back. A reservation never observed lapses at roll.
- *fold*: an answer's ``Remaining`` less our requests in flight, the earliest measured
  reset (dated from the tracker's lead); within one window the count only falls; an
  answer from before our last roll is stale and changes nothing. A count below ours, or
  a 429 on the bucket, marks it *contended*: only then (or in a shared store) are its
  resets jittered.
- *resolve* (:func:`resolve_bucket`): the first answer naming ``X-RateLimit-Bucket`` moves
  the route from its placeholder ``route:...`` to ``bucket:<hash>:<webhook>``, handing over
  reservations, block and history; routes of one bucket then share one state.
- Two conditions lie over every state. *blocked*: a 429 (not global, not the edge's) sets
  ``blocked_until`` to its ``retry_after`` plus jitter, on the route's channel state when
  scoped ``shared``, after the strategy learned from it. *learned*: the adaptive strategy
  paces a limit no header announced until its evidence expires (dropped at roll).
- *forget*: a store drops a state idle for ``idle_ttl`` with nothing pending
  (:meth:`BucketState.is_idle`).

A channel state (``channel:<id>``) is a bucket without announced limits: grants, a block
and a learned limit. The global state holds gates over every route, each open again once
its time passes::

    OPEN --global 429--------------------------------------------> GLOBAL_BLOCKED
    OPEN --edge ban (at least the floor; counted once an episode)--> EDGE_BANNED
    OPEN --pacing.limit grants in the last pacing.period------------> PACED (each
          waiter promised its own opening: ``_gates.pace_wait``)
    OPEN --invalid answers >= budget.slow_at--------------------------> SLOWED (spacing)
    SLOWED --invalid answers >= budget.stop_at------------------------> REFUSED

A request waits for the longest wait of every gate, its bucket and its channel; in
REFUSED it is refused instead, until the count of invalid answers falls below ``stop_at``.
"""

from __future__ import annotations

from bisect import insort
from typing import Final

from trio_webhook.ratelimit._budget import DEFAULT_BUDGET, InvalidRequestBudget, counts_as_invalid
from trio_webhook.ratelimit._gates import fast_open, global_wait
from trio_webhook.ratelimit._headers import DEFAULT_RETRY_AFTER, RateLimitInfo
from trio_webhook.ratelimit._joins import join_channel, resolve_bucket
from trio_webhook.ratelimit._records import (
    GRANTED,
    HISTORY,
    NOTHING_OBSERVED,
    BucketState,
    GlobalPacing,
    GlobalState,
    Jitter,
    Observed,
    Reservation,
)
from trio_webhook.ratelimit._strategies import OPEN_DELAY_IS_BLOCK, Strategy, scaled_reset_jitter

__all__ = [
    "EDGE_BAN_FLOOR",
    "apply_observation",
    "join_channel",
    "reserve_slot",
    "resolve_bucket",
]

# A 429 from Discord's edge (Cloudflare), not its API, is a ban of the whole IP. Its
# Retry-After is often missing or too short to trust; wait at least this long.
EDGE_BAN_FLOOR: Final = 60.0


# --------------------------------------------------------------------------- reserve


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
    if fast_open(bucket, channel, glob, now, pacing) and (
        (bucket.blocked_until <= now and (channel is None or channel.blocked_until <= now))
        if type(strategy) in OPEN_DELAY_IS_BLOCK
        else strategy.delay(bucket, now) == 0.0
        and (channel is None or strategy.delay(channel, now) == 0.0)
    ):
        # The fast path (most requests): it decides as the full path below would, without
        # building a list or asking each gate in turn.
        _grant(bucket, channel, glob, now, pacing, reservation_ttl)
        return GRANTED
    _roll(bucket, now)
    if channel is not None:
        _roll(channel, now)
    bucket.last_used = now
    invalid = glob.invalid.prune(now, budget)
    if invalid >= budget.stop_at:
        resume = glob.invalid.resume_after(now, budget)
        return Reservation(resume, "invalid_budget", refused=budget.refusal(invalid, resume))
    wait, reason = global_wait(glob, pacing, budget, invalid, now)
    bucket_wait = strategy.delay(bucket, now)
    if bucket_wait > wait:
        wait, reason = bucket_wait, "bucket"
    if channel is not None:
        channel.last_used = now
        channel_wait = strategy.delay(channel, now)
        if channel_wait > wait:
            wait, reason = channel_wait, "channel"
    if wait > 0.0:
        if reason == "global_pace":
            insort(glob.promised, now + wait)
        return Reservation(wait, reason)
    _grant(bucket, channel, glob, now, pacing, reservation_ttl)
    return GRANTED


def _roll(state: BucketState, now: float) -> None:
    in_flight = state.in_flight
    if in_flight and in_flight[0] <= now:
        # Kept sorted: the lapsed ones lead.
        state.in_flight = tuple(t for t in in_flight if t > now)
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


def _grant(
    bucket: BucketState,
    channel: BucketState | None,
    glob: GlobalState,
    now: float,
    pacing: GlobalPacing,
    reservation_ttl: float,
) -> None:
    bucket.last_used = now
    expiry, in_flight = now + reservation_ttl, bucket.in_flight
    if in_flight and expiry < in_flight[-1]:  # another tracker's shorter TTL
        bucket.in_flight = tuple(sorted((*in_flight, expiry)))
    else:
        bucket.in_flight = (*in_flight, expiry)
    if bucket.remaining is not None:
        bucket.remaining -= 1
    _remember(bucket, now)
    if channel is not None:
        channel.last_used = now
        _remember(channel, now)
    if pacing.limit > 0:
        glob.grants.append(now)
    glob.last_grant = now


def _remember(state: BucketState, now: float) -> None:
    grants = state.grants
    if not grants:
        # Sized to fit: an idle webhook's bucket holds one grant for a long time, and an
        # appended-to list keeps room for four.
        state.grants = [now]
        return
    grants.append(now)
    if len(grants) > HISTORY:
        del grants[0]


# --------------------------------------------------------------------------- observe


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
    the budget. Every other invalid answer (:func:`counts_as_invalid`) is counted in
    ``glob.invalid``.

    Args:
        bucket: The route's bucket (already resolved to the answer's bucket hash).
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
        join_channel(bucket, channel)
    if bucket.in_flight:
        bucket.in_flight = bucket.in_flight[1:]
    if info is None:
        # The request never reached Discord (or we cannot know): give its slot back.
        if bucket.remaining is not None and bucket.limit is not None:
            bucket.remaining = min(bucket.limit, bucket.remaining + 1)
        return NOTHING_OBSERVED
    if info.edge_ban:
        return _edge_ban(glob, info, now, budget, edge_ban_floor)
    if counts_as_invalid(info):
        glob.invalid.add(now, budget)
    _fold_headers(bucket, info, now, strategy, jitter)
    if info.status == 429:  # is_rate_limited, without the property's call
        _block(bucket, channel, glob, info, now, strategy, jitter)
    return NOTHING_OBSERVED


def _edge_ban(
    glob: GlobalState, info: RateLimitInfo, now: float, budget: InvalidRequestBudget, floor: float
) -> Observed:
    # The edge, not the API, answered: nothing in it is about this bucket.
    started = glob.edge_ban_until <= now
    pause = info.retry_after or 0.0
    if started:
        glob.invalid.add(now, budget)
        pause = max(pause, floor)
    # Later bans of the episode (requests already in flight) may lengthen the pause by
    # what they announce, not by the floor again.
    glob.edge_ban_until = max(glob.edge_ban_until, now + pause)
    return Observed(edge_ban_started=started, edge_ban_until=glob.edge_ban_until)


def _fold_headers(
    bucket: BucketState, info: RateLimitInfo, now: float, strategy: Strategy, jitter: Jitter
) -> None:
    if info.limit is not None:
        bucket.limit = info.limit
    reset_after = info.reset_after
    # Discord counts Reset-After from when it handled the request, somewhere between our
    # send and the answer's arrival; the tracker's lead dates it back from the arrival
    # (`RateLimitTracker.observe` says why that is safe).
    counted_from = now - jitter.lead
    # An answer from the window before our last roll (it was slow to come back) must not
    # reset the count of the current window.
    stale = (
        reset_after is not None
        and bucket.rolled_at is not None
        and bucket.window is not None
        and counted_from + reset_after < bucket.rolled_at + bucket.window / 2
    )
    if reset_after is not None and not stale:
        bucket.window = max(bucket.window or 0.0, reset_after)
        if info.remaining is not None:
            _fold_window(bucket, info.remaining, counted_from + reset_after, bucket.window)
            # Jitter spreads clients that would all fire at the reset. A lone sender (one
            # tracker, or several sharing its store) has no one to spread from: there it
            # would only waste part of every window.
            bucket.reset_jitter = (
                scaled_reset_jitter(strategy, jitter.reset, bucket.window)
                if jitter.shared or bucket.contended
                else 0.0
            )
    elif info.remaining is not None and bucket.remaining is None:
        bucket.remaining = max(0, info.remaining - len(bucket.in_flight))


def _fold_window(bucket: BucketState, announced: int, reset_at: float, window: float) -> None:
    # Our own requests still in flight are not in Discord's count yet.
    remaining = max(0, announced - len(bucket.in_flight))
    if (
        bucket.reset_at is not None
        and bucket.remaining is not None
        and abs(reset_at - bucket.reset_at) < window / 2
    ):
        # Within one window our own count already holds our reservations, so it is exact
        # for a lone sender; Discord's lower count reveals other senders. Answers can come
        # back out of order: the count only ever falls.
        if announced < bucket.remaining:
            bucket.contended = True
        remaining = min(bucket.remaining, announced)
        # Every answer's reset time is late by part of its own trip (the tracker's lead
        # dates it back by no more than is safe); the earliest is the closest. Our own
        # guess made when the window rolled is no answer: it may be early, so it only
        # bounds from below.
        if bucket.reset_measured:
            reset_at = min(reset_at, bucket.reset_at)
        else:
            reset_at = max(reset_at, bucket.reset_at)
    bucket.remaining = remaining
    bucket.reset_at = reset_at
    bucket.reset_measured = True


def _block(
    bucket: BucketState,
    channel: BucketState | None,
    glob: GlobalState,
    info: RateLimitInfo,
    now: float,
    strategy: Strategy,
    jitter: Jitter,
) -> None:
    retry_after = info.retry_after if info.retry_after is not None else DEFAULT_RETRY_AFTER
    until = now + retry_after + jitter.rate_limited
    if info.is_global:
        glob.blocked_until = max(glob.blocked_until, until)
        return
    target = channel if info.scope == "shared" and channel is not None else bucket
    target.last_used = now
    if target is bucket and info.scope != "shared":
        # Refused while our count allowed it: another client spends this bucket too (or
        # our reset came early). Jitter its resets from now on.
        bucket.contended = True
    # Learn first: the strategy reads the block this 429 is part of (or the one before it).
    strategy.learn(target, info, now)
    target.blocked_until = max(target.blocked_until, until)
    if target is channel:
        # Discord did not count the refused message against the channel: neither does the
        # channel's history (a sliding window over it would wait for a phantom). Which of
        # the recent grants it was is unknown; they are milliseconds apart: drop the last.
        _drop_last_grant(channel.grants, now)


def _drop_last_grant(grants: list[float], now: float) -> None:
    last = next((i for i in range(len(grants) - 1, -1, -1) if grants[i] <= now), None)
    if last is not None:
        del grants[last]
