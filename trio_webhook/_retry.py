"""Retry decisions: whether (and when) to try again after an answer.

Everything here is pure. What an answer means is decided once, by
:func:`trio_webhook._outcome.interpret`; :meth:`RetryPolicy.decide` turns its verdict into
:class:`RetryAfter` or :class:`GiveUp`. Randomness comes from the ``random.Random`` the
caller passes in, never from the module-level generator, so a seeded run repeats exactly.

The default policy retries both safe and ambiguous faults (see ``_outcome``);
``RetryPolicy(retry_ambiguous=False)`` gives up on ambiguous faults instead.
"""

from __future__ import annotations

import math
import random
from typing import Literal

import attrs

from trio_webhook._outcome import Permanent, RateLimitedOutcome, Success, Transient, Verdict

__all__ = [
    "GiveUp",
    "RetryAfter",
    "RetryDecision",
    "RetryPolicy",
    "RetryState",
    "decorrelated_jitter",
]


@attrs.frozen
class RetryAfter:
    """Try again after ``delay`` seconds."""

    delay: float


GiveUpReason = Literal["permanent", "dead_webhook", "exhausted", "ambiguous", "success"]


@attrs.frozen
class GiveUp:
    """Stop: ``reason`` is ``permanent``, ``dead_webhook``, ``exhausted`` or ``ambiguous``.

    (``success`` is returned only if :meth:`RetryPolicy.decide` is asked about a success.)
    """

    reason: GiveUpReason


RetryDecision = RetryAfter | GiveUp


def decorrelated_jitter(
    previous: float | None, rng: random.Random, base: float, cap: float
) -> float:
    """The next backoff delay: ``min(cap, rng.uniform(base, previous * 3))``.

    This is AWS's "decorrelated jitter": each delay is drawn between ``base`` and three
    times the previous one, so retries spread out without synchronising.

    Args:
        previous: The previous delay, or ``None`` for the first retry. The first delay uses
            ``previous = base``, so it is drawn from ``[base, 3 * base]`` (0.25 to 0.75 s
            by default).
        rng: The random generator (seed it for reproducible sequences).
        base: The smallest delay, seconds (> 0).
        cap: The largest delay, seconds (>= base).

    Returns:
        A delay in ``[base, cap]``.
    """
    prev = base if previous is None or not math.isfinite(previous) else max(previous, base)
    return min(cap, max(base, rng.uniform(base, prev * 3)))


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"RetryPolicy.{attribute.name} must be a finite number > 0, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry one request.

    Attributes:
        base: Smallest backoff delay, seconds.
        cap: Largest backoff delay, seconds (a 429 may ask for longer; it is honoured).
        max_attempts: Attempts per request, the first included (a 429 counts as one).
        retry_ambiguous: Retry faults that may already have posted the message (read
            timeouts, 500, 504). ``False`` gives up on them with reason ``ambiguous``
            (at most once delivery).

    Raises:
        ValueError: On a non-positive ``base``, a ``cap`` below ``base`` or
            ``max_attempts`` below 1.

    Example::

        policy = RetryPolicy(max_attempts=3, retry_ambiguous=False)
        verdict = interpret(response).verdict
        decision = policy.decide(verdict, attempt=1, previous_delay=None, rng=rng)
    """

    base: float = attrs.field(default=0.25, validator=_positive)
    cap: float = attrs.field(default=10.0, validator=_positive)
    max_attempts: int = 5
    retry_ambiguous: bool = True

    def __attrs_post_init__(self) -> None:
        if self.cap < self.base:
            raise ValueError(
                f"RetryPolicy.cap ({self.cap}) must be >= base ({self.base}); raise cap"
            )
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts must be an int >= 1, got {self.max_attempts!r}"
            )

    def backoff(self, previous: float | None, rng: random.Random) -> float:
        """The next transient-fault delay (decorrelated jitter within ``[base, cap]``)."""
        return decorrelated_jitter(previous, rng, self.base, self.cap)

    def decide(
        self,
        verdict: Verdict,
        attempt: int,
        previous_delay: float | None,
        rng: random.Random,
    ) -> RetryDecision:
        """Whether to try again after ``attempt`` attempts ended in ``verdict``.

        Args:
            verdict: What :func:`~trio_webhook._outcome.interpret` said about the last attempt.
            attempt: Attempts made so far, the failed one included (1 after the first).
            previous_delay: The delay returned last time, or ``None``.
            rng: Randomness for the jitter.

        Returns:
            :class:`RetryAfter` with the delay, or :class:`GiveUp` with the reason. A 429
            waits its ``retry_after``, even beyond ``cap`` (Discord asked for it). Its
            jitter is the rate limiter's alone: the tracker holds the bucket for
            ``retry_after`` plus 0 to 250 ms, and the retry waits for the tracker.
        """
        if isinstance(verdict, Success):
            return GiveUp("success")
        if isinstance(verdict, Permanent):
            return GiveUp("dead_webhook" if verdict.dead_webhook else "permanent")
        if isinstance(verdict, Transient) and verdict.ambiguous and not self.retry_ambiguous:
            return GiveUp("ambiguous")
        if attempt >= self.max_attempts:
            return GiveUp("exhausted")
        if isinstance(verdict, RateLimitedOutcome):
            wait = max(0.0, verdict.retry_after) if math.isfinite(verdict.retry_after) else 0.0
            return RetryAfter(wait)
        return RetryAfter(self.backoff(previous_delay, rng))


@attrs.frozen
class RetryState:
    """Where the retries of one request stand: a frozen value, each attempt's successor.

    As urllib3's ``Retry.increment``: nothing mutates it; :meth:`after` returns the next
    state (its ``delay`` says how long to wait before the next attempt) or :class:`GiveUp`.

    Attributes:
        policy: The policy that decides.
        attempts: Attempts made so far.
        delay: The wait before the next attempt (``None`` before the first).
        maybe_posted: An earlier attempt ended in an ambiguous fault: whatever later
            attempts answer, the message may be posted already.

    Example::

        state = RetryState(policy)
        while True:
            outcome = interpret(await transport.send(request))
            if isinstance(outcome.verdict, Success):
                break
            step = state.after(outcome.verdict, rng)
            if isinstance(step, GiveUp):
                raise ...
            state = step
            await trio.sleep(state.delay)
    """

    policy: RetryPolicy
    attempts: int = 0
    delay: float | None = None
    maybe_posted: bool = False

    def after(self, verdict: Verdict, rng: random.Random) -> RetryState | GiveUp:
        """The state after one more attempt that ended in ``verdict`` (not a success)."""
        attempts = self.attempts + 1
        decision = self.policy.decide(verdict, attempts, self.delay, rng)
        if isinstance(decision, GiveUp):
            return decision
        ambiguous = isinstance(verdict, Transient) and verdict.ambiguous
        return RetryState(self.policy, attempts, decision.delay, self.maybe_posted or ambiguous)
