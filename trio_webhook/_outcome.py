"""What one answer means, decided once: :func:`interpret` turns an answer into an Outcome.

Pure: no I/O, no clock, no randomness. The client's loop is::

    reserve -> send -> outcome = interpret(answer_or_error, route) -> observe -> decide

and every later step reads the :class:`Outcome`: the tracker learns from
``outcome.rate_limit``, the retry policy decides on ``outcome.verdict``, the client raises
``outcome.error`` and marks the webhook dead on ``outcome.dead_webhook``. Nothing else
looks at a status code or parses an error body, so two places can never disagree about
what an answer means.

Executing a webhook is not idempotent. A fault that may have happened after Discord stored
the message (a read timeout once the body was sent, a 500, a 504) is *ambiguous*: retrying
it can post the message twice. A fault that cannot have reached Discord's application
(connection refused, connect timeout, 502/503 from the edge) is *safe*.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from trio_webhook._errors import (
    ENTITY_TOO_LARGE,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    DiscordHTTPError,
    Forbidden,
    MessageNotFound,
    PayloadTooLarge,
    RateLimited,
    TransportError,
    Unauthorized,
    WebhookNotFound,
)
from trio_webhook._url import redact
from trio_webhook.ratelimit._headers import DEFAULT_RETRY_AFTER, RateLimitInfo, parse_rate_limit
from trio_webhook.transport._values import HTTPResponse, top_level_fields

__all__ = [
    "CHANNEL",
    "Outcome",
    "Permanent",
    "RateLimitedOutcome",
    "Success",
    "Transient",
    "Verdict",
    "classify",
    "interpret",
    "parse_discord_error",
]

# How much of a non-JSON error body an exception (and a log line) keeps.
ERROR_EXCERPT: Final = 300


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
        dead_webhook: The webhook is gone (401, or 404 on the webhook): stop using it.
    """

    detail: str
    dead_webhook: bool = False


Verdict = Success | RateLimitedOutcome | Transient | Permanent


# No slots: one for every answer (see PlannedRequest, trio_webhook._models).
@attrs.frozen(slots=False)
class Outcome:
    """Everything one answer means, computed once by :func:`interpret`.

    Attributes:
        verdict: Success, rate limited, transient (retry) or permanent.
        rate_limit: What the answer's headers (and a 429's body) say about rate limits;
            ``None`` when no answer came (a transport error).
        error: The typed exception to raise when the attempt is not retried (``None``
            for a success).
        channel_id: The channel a message landed in (a ``wait=true`` answer), so the
            tracker can pace webhooks that share a channel.
        members: The top-level members of a message answer that :func:`interpret` was
            asked to read (``channel_id`` always), or ``None`` when the answer is no
            message (a 204, an error) or not a JSON object.
    """

    verdict: Verdict
    rate_limit: RateLimitInfo | None = None
    error: DiscordHTTPError | TransportError | None = None
    channel_id: str | None = None
    members: Mapping[str, Any] | None = None

    @property
    def dead_webhook(self) -> bool:
        """Whether the answer proves the webhook is gone (stop using it)."""
        return isinstance(self.verdict, Permanent) and self.verdict.dead_webhook


def parse_discord_error(body: bytes) -> tuple[int, str, Mapping[str, Any] | None]:
    """Discord's error body as ``(code, message, errors)``; never raises.

    Args:
        body: The response body (JSON ``{"code", "message", "errors"?}``, or anything).

    Returns:
        The code (``0`` when absent or not an int), the message (``""`` when absent) and
        the ``errors`` tree of an Invalid Form Body (``None`` when absent).
    """
    if body[:1] != b"{":
        return 0, "", None
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


def _interpret_error(error: TransportError) -> Outcome:
    detail = f"transport: {error.kind}"
    if error.kind in _PERMANENT_KINDS:
        return Outcome(Permanent(detail), error=error)
    safe = error.kind in _TRANSIENT_SAFE_KINDS
    return Outcome(Transient(ambiguous=error.ambiguous and not safe, detail=detail), error=error)


def _message_members(response: HTTPResponse, read: frozenset[str]) -> Mapping[str, Any] | None:
    # Only a message answer (wait=true) names the channel. Read no further than the
    # members (see top_level_fields); the rest when someone asks for the message.
    if response.status != 200 or not response.body.startswith(b"{"):
        return None
    return top_level_fields(response.body, read if "channel_id" in read else read | CHANNEL)


CHANNEL: Final = frozenset({"channel_id"})
"""What :func:`interpret` reads of a message answer unless asked for more."""
# Discord's two success statuses, made once (frozen, so shared).
_SUCCESSES: Final = {200: Success(200), 204: Success(204)}


def _not_found(code: int, route: str) -> tuple[type[DiscordHTTPError], bool]:
    # Only Discord's code tells what is missing: 10003 (an unknown thread given as
    # thread_id) is neither the webhook nor the message. Without a code, the route says.
    on_message = "/messages/" in route
    if code == UNKNOWN_WEBHOOK or (code == 0 and not on_message):
        return WebhookNotFound, True
    if code == UNKNOWN_MESSAGE or (code == 0 and on_message):
        return MessageNotFound, False
    return DiscordHTTPError, False


def _rate_limited(info: RateLimitInfo, code: int, text: str, route: str) -> Outcome:
    retry_after = info.retry_after if info.retry_after is not None else DEFAULT_RETRY_AFTER
    verdict = RateLimitedOutcome(retry_after, info.is_global, info.scope)
    error = RateLimited(
        retry_after,
        is_global=info.is_global,
        scope=info.scope,
        code=code,
        text=text,
        route=route,
    )
    return Outcome(verdict, rate_limit=info, error=error)


def interpret(
    answer: HTTPResponse | TransportError, route: str = "", *, read: frozenset[str] = CHANNEL
) -> Outcome:
    """What one attempt's answer means: the single place that decides it.

    Args:
        answer: Discord's answer, or the transport's error.
        route: The redacted route of the request (``POST /webhooks/123/***``); it names
            the error and tells a missing message from a missing webhook.
        read: The top-level members of a message answer to read now (``channel_id``,
            which the tracker needs, is read in any case), into ``Outcome.members``.

    Returns:
        - 2xx: :class:`Success`, with the channel a ``wait=true`` message landed in.
        - 429: :class:`RateLimitedOutcome` (``retry_after`` as the rate-limit parser read
          it, else 1 s) and a :class:`RateLimited` error.
        - 502 and 503 come from Discord's edge: transient and safe. 500, 504 and the other
          5xx: transient and ambiguous (Discord may have stored the message).
        - 401: permanent, dead webhook (:class:`Unauthorized`). 404 with code 10015, or
          without a code on a webhook route: permanent, dead webhook
          (:class:`WebhookNotFound`). 404 with code 10008, or without a code on a message
          route: :class:`MessageNotFound`, the webhook is fine. 403: :class:`Forbidden`;
          413 or code 40005: :class:`PayloadTooLarge`. Every other status: permanent.
        - A :class:`TransportError`: ``tls`` and ``too_large`` are permanent; ``connect``,
          ``connect_timeout`` and ``pool_timeout`` transient and safe; the rest transient,
          ambiguous as the error says.
    """
    if isinstance(answer, TransportError):
        return _interpret_error(answer)
    status = answer.status
    info = parse_rate_limit(answer)
    if 200 <= status < 300:
        success = _SUCCESSES.get(status) or Success(status)
        members = _message_members(answer, read)
        channel = members.get("channel_id") if members is not None else None
        return Outcome(success, info, None, None if channel is None else str(channel), members)
    code, text, errors = parse_discord_error(answer.body)
    if not text and answer.body:
        text = answer.body[:ERROR_EXCERPT].decode("utf-8", "replace")
    text = redact(text)
    if status == 429:
        return _rate_limited(info, code, text, route)
    verdict: Verdict
    cls: type[DiscordHTTPError] = DiscordHTTPError
    dead = False
    if 500 <= status < 600:
        edge = status in (502, 503)
        detail = f"status {status} from the edge" if edge else f"status {status}"
        verdict = Transient(ambiguous=not edge, detail=detail)
    else:
        if status == 401:
            cls, dead = Unauthorized, True
        elif status == 403:
            cls = Forbidden
        elif status == 404:
            cls, dead = _not_found(code, route)
        elif status == 413 or code == ENTITY_TOO_LARGE:
            cls = PayloadTooLarge
        verdict = Permanent(f"status {status} (code {code})", dead_webhook=dead)
    return Outcome(verdict, rate_limit=info, error=cls(status, code, text, errors, route))


def classify(answer: HTTPResponse | TransportError) -> Verdict:
    """The retry verdict of :func:`interpret` alone (for callers that need no more)."""
    return interpret(answer).verdict
