"""The rate-limit strategies: how long a request waits, from a bucket's state alone."""

from __future__ import annotations

from typing import Final, Protocol

import attrs

from trio_webhook.ratelimit._headers import DEFAULT_RETRY_AFTER, RateLimitInfo
from trio_webhook.ratelimit._records import HISTORY, BucketState, LearnedLimit

__all__ = [
    "AdaptiveStrategy",
    "ProactiveStrategy",
    "ReactiveStrategy",
    "Strategy",
    "scaled_reset_jitter",
]

# While a bucket is unknown, one request probes it; others look again after this long.
PROBE_INTERVAL: Final = 0.05


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


def scaled_reset_jitter(strategy: Strategy, draw: float, window: float | None) -> float:
    """The jitter of a wait for a reset: ``draw`` rescaled to the strategy's smaller cap.

    ``draw`` is uniform in ``[0, strategy.reset_jitter)``; rescaled, the jitter stays a
    small share of short windows (a time-scaled fake, or a bucket with a sub-second reset)
    instead of a fixed number of milliseconds.
    """
    cap = strategy.reset_jitter
    if cap <= 0.0 or window is None:
        return max(0.0, draw)
    share_cap = max(0.0, strategy.reset_jitter_share * window)
    if share_cap >= cap:
        return max(0.0, draw)
    return max(0.0, draw * share_cap / cap)


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


def _sliding_wait(grants: list[float], limit: int, window: float, now: float) -> float:
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
        limit, window, counted = self._estimate(state, info, now, old)
        state.learned = LearnedLimit(
            limit=min(limit, HISTORY),
            window=window,
            learned_at=now,
            expires_at=now + min(self.evidence_ttl, self.evidence_windows * window),
            scope=info.scope,
            counted=counted,
        )

    def _estimate(
        self, state: BucketState, info: RateLimitInfo, now: float, old: LearnedLimit | None
    ) -> tuple[int, float, bool]:
        # The limit, the window and whether the limit was counted: from the run of grants
        # since the previous 429's wait ended, and from a learned limit still live.
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
        if old is None:
            return limit, max(window, 1e-3), True
        # Paced at the old limit and still refused.
        wider = min(self.retry_ratio * retry_after, self.max_window)
        if wider > old.window * (1.0 + self.margin):
            return old.limit, max(wider, 1e-3), False
        # The window was long enough: others share the limit. Tighten, never below one;
        # the evidence still expires.
        return max(1, min(limit, old.limit - 1)), max(old.window, 1e-3), True


# The strategies whose delay on a bucket the fast path found open (slots left, its reset
# ahead, nothing learned, nothing in flight lapsed) is what every strategy obeys there, a
# 429's ``blocked_until``: the fast path then reads that field rather than asking them
# (a test holds each to it). Not ProactiveStrategy, which spaces the window's last
# requests; nor a strategy of the user's, or a subclass: those are always asked.
OPEN_DELAY_IS_BLOCK: Final = frozenset({ReactiveStrategy, AdaptiveStrategy})
