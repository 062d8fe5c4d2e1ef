"""Retry decisions: what an answer means, and whether (and when) to try again.

Everything here is pure. :func:`classify` turns an :class:`HTTPResponse` or a
:class:`TransportError` into one of four verdicts; :meth:`RetryPolicy.decide` turns a verdict
into :class:`RetryAfter` or :class:`GiveUp`. Randomness comes from the ``random.Random`` the
caller passes in, never from the module-level generator, so a seeded run repeats exactly.

Executing a webhook is not idempotent. A fault that may have happened after Discord stored
the message (a read timeout once the body was sent, a 500, a 504) is *ambiguous*: retrying
it can post the message twice. A fault that cannot have reached Discord's application
(connection refused, connect timeout, 502/503 from the edge) is *safe*. The default policy
retries both; ``RetryPolicy(retry_ambiguous=False)`` gives up on ambiguous faults instead.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs

from trio_webhook._errors import TransportError
from trio_webhook._http import HTTPResponse
from trio_webhook._ratelimit import parse_rate_limit

__all__ = [
    "GiveUp",
    "Permanent",
    "RateLimitedOutcome",
    "RetryAfter",
    "RetryDecision",
    "RetryPolicy",
    "Success",
    "Transient",
    "Verdict",
    "classify",
    "decorrelated_jitter",
    "parse_discord_error",
]

UNKNOWN_WEBHOOK: Final = 10015
INVALID_TOKEN: Final = 50027
UNKNOWN_MESSAGE: Final = 10008

# The jitter added on top of a 429's retry_after, so that senders released by the same
# reset do not all hit Discord in the same millisecond.
RATE_LIMIT_JITTER: Final = 0.25


@attrs.frozen
class Success:
    """A 2xx answer."""

    status: int


@attrs.frozen
class RateLimitedOutcome:
    """A 429: wait ``retry_after`` seconds before the next attempt.

    Attributes:
        retry_after: Seconds Discord asked to wait (body ``retry_after``, else the header).
        is_global: The limit is the global (per-IP) one: every route must wait.
        scope: ``user``, ``global`` or ``shared`` as Discord said it, or ``None``.
    """

    retry_after: float
    is_global: bool = False
    scope: str | None = None


@attrs.frozen
class Transient:
    """A fault worth retrying.

    Attributes:
        ambiguous: Discord may already have acted on the request; a retry may post twice.
        detail: A short, redacted description.
    """

    ambiguous: bool
    detail: str


@attrs.frozen
class Permanent:
    """A fault a retry cannot fix.

    Attributes:
        detail: A short, redacted description.
        dead_webhook: The webhook is gone (401, or 404 with code 10015): stop using it.
    """

    detail: str
    dead_webhook: bool = False


Verdict = Success | RateLimitedOutcome | Transient | Permanent


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
        decision = policy.decide(classify(response), attempt=1, previous_delay=None, rng=rng)
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
            verdict: What :func:`classify` said about the last attempt.
            attempt: Attempts made so far, the failed one included (1 after the first).
            previous_delay: The delay returned last time, or ``None``.
            rng: Randomness for the jitter.

        Returns:
            :class:`RetryAfter` with the delay, or :class:`GiveUp` with the reason. A 429
            waits its ``retry_after`` plus 0 to 250 ms of jitter, even beyond ``cap``
            (Discord asked for it).
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
            return RetryAfter(wait + rng.uniform(0.0, RATE_LIMIT_JITTER))
        return RetryAfter(self.backoff(previous_delay, rng))


def parse_discord_error(body: bytes) -> tuple[int, str, Mapping[str, Any] | None]:
    """Discord's error body as ``(code, message, errors)``; never raises.

    Args:
        body: The response body (JSON ``{"code", "message", "errors"?}``, or anything).

    Returns:
        The code (``0`` when absent or not an int), the message (``""`` when absent) and
        the ``errors`` tree of an Invalid Form Body (``None`` when absent).
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError, TypeError):
        return 0, "", None
    if not isinstance(data, dict):
        return 0, "", None
    raw_code = data.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else 0
    raw_message = data.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    raw_errors = data.get("errors")
    errors = raw_errors if isinstance(raw_errors, dict) else None
    return code, message, errors


_TRANSIENT_SAFE_KINDS: Final = frozenset({"connect", "connect_timeout", "pool_timeout"})
_PERMANENT_KINDS: Final = frozenset({"tls", "too_large"})


def classify(outcome: HTTPResponse | TransportError) -> Verdict:
    """What one attempt's outcome means for retrying.

    Args:
        outcome: Discord's answer, or the transport's error.

    Returns:
        - 2xx: :class:`Success`.
        - 429: :class:`RateLimitedOutcome` (retry_after from the body, else the header,
          else 1 s).
        - 500, 504 and other 5xx: :class:`Transient`, ambiguous (Discord may have stored the
          message); 502 and 503 come from the edge: transient and safe.
        - 401: :class:`Permanent`, dead webhook; 404 with code 10015: dead webhook; any
          other 404 (10008, unknown message): permanent, the webhook is fine.
        - Other statuses: :class:`Permanent`.
        - :class:`TransportError`: ``tls`` and ``too_large`` permanent; ``connect``,
          ``connect_timeout`` and ``pool_timeout`` transient and safe; the rest transient,
          ambiguous as the error says.
    """
    if isinstance(outcome, TransportError):
        if outcome.kind in _PERMANENT_KINDS:
            return Permanent(f"transport: {outcome.kind}")
        if outcome.kind in _TRANSIENT_SAFE_KINDS:
            return Transient(ambiguous=False, detail=f"transport: {outcome.kind}")
        return Transient(ambiguous=outcome.ambiguous, detail=f"transport: {outcome.kind}")
    status = outcome.status
    if 200 <= status < 300:
        return Success(status)
    if status == 429:
        info = parse_rate_limit(outcome)
        return RateLimitedOutcome(
            retry_after=info.retry_after if info.retry_after is not None else 1.0,
            is_global=info.is_global,
            scope=info.scope,
        )
    if status in (502, 503):
        return Transient(ambiguous=False, detail=f"status {status} from the edge")
    if 500 <= status < 600:
        return Transient(ambiguous=True, detail=f"status {status}")
    code, _message, _errors = parse_discord_error(outcome.body)
    if status == 401:
        return Permanent(f"status 401 (code {code})", dead_webhook=True)
    if status == 404:
        # Only "unknown webhook" proves the webhook is gone; 10008 is a missing message.
        dead = code == UNKNOWN_WEBHOOK
        return Permanent(f"status 404 (code {code})", dead_webhook=dead)
    return Permanent(f"status {status} (code {code})")
