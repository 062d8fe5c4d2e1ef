"""The exceptions trio-webhook raises.

Every exception derives from :class:`WebhookError`::

    WebhookError
    ├── ValidationError (also ValueError)  a message breaks Discord's limits; nothing was sent
    │   └── JSONMessageError    Message.from_json: the JSON is not a message (problems)
    ├── InvalidWebhookURL (also ValueError) the URL is not a webhook URL we can use
    ├── DiscordHTTPError                    Discord answered with an error status
    │   ├── Unauthorized        401: bad token; the webhook is dead
    │   ├── Forbidden           403
    │   ├── WebhookNotFound     404 on the webhook (code 10015); the webhook is dead
    │   ├── MessageNotFound     404 on a message (code 10008); the webhook is fine
    │   ├── PayloadTooLarge     413 / code 40005
    │   └── RateLimited         429 that the retry policy would not wait out
    ├── TransportError                      no usable answer: connect, TLS, timeout, protocol
    ├── InvalidRequestBudgetExceeded        stopped before Discord's edge bans the IP
    ├── DeliveryFailed                      a message could not be delivered (after retries)
    ├── ConfigError (also ValueError)       a setting is missing, malformed or inconsistent
    ├── DeadLetterFormatError (also ValueError) a dead-letter file holds a bad line
    ├── QueueFull                           send_nowait past the hard cap of buffered messages
    └── SenderClosed                        the sender no longer accepts messages

No message or attribute of these exceptions ever holds a webhook token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

__all__ = [
    "ConfigError",
    "DeadLetterFormatError",
    "DeliveryFailed",
    "DiscordHTTPError",
    "Forbidden",
    "InvalidRequestBudgetExceeded",
    "InvalidWebhookURL",
    "JSONMessageError",
    "JSONProblem",
    "MessageNotFound",
    "PayloadTooLarge",
    "QueueFull",
    "RateLimited",
    "SenderClosed",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "Violation",
    "WebhookError",
    "WebhookNotFound",
]


# Discord's JSON error codes that change what the library does, defined once here (Discord's
# API docs, "Opcodes and Status Codes" -> "JSON Error Codes").
UNKNOWN_WEBHOOK: Final = 10015
"""404 on the webhook itself: it was deleted (the webhook is dead)."""
UNKNOWN_MESSAGE: Final = 10008
"""404 on a message endpoint: the message is gone (the webhook is fine)."""
INVALID_TOKEN: Final = 50027
"""401: the webhook's token is wrong (the webhook is dead)."""
ENTITY_TOO_LARGE: Final = 40005
"""413: the request (an upload) is larger than Discord accepts."""


class WebhookError(Exception):
    """The base of every exception raised by trio-webhook."""


@attrs.frozen
class Violation:
    """One broken Discord limit.

    Attributes:
        path: Where in the message, as in ``embeds[3].fields[7].value``.
        limit: The limit Discord enforces (a count, a length, or a size in bytes).
        actual: What the message has.
        detail: A sentence saying what is wrong and how to fix it.
    """

    path: str
    limit: int
    actual: int
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


class ValidationError(WebhookError, ValueError):
    """A message breaks one or more of Discord's limits; nothing was sent.

    Attributes:
        violations: Every broken limit, not just the first.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        lines = "; ".join(str(v) for v in self.violations)
        count = len(self.violations)
        super().__init__(
            f"message breaks {count} Discord limit{'s' if count != 1 else ''}: {lines}"
        )


@attrs.frozen
class JSONProblem:
    """One problem of a message's JSON (:class:`JSONMessageError`).

    Attributes:
        path: Where in the JSON, as ``embeds[2].fields[0].value`` (``""``: the whole value).
        detail: What is wrong, as ``expected a string, got a number``.
        expected: The JSON type expected there, as ``a string``; ``None`` when the type
            was right (an unknown key, a value a model refuses).
        given: The JSON type given, as ``a number``; ``None`` for a missing or unknown key.
    """

    path: str
    detail: str
    expected: str | None = None
    given: str | None = None

    def __str__(self) -> str:
        return f"{self.path or 'message'}: {self.detail}"


class JSONMessageError(ValidationError):
    """A message's JSON cannot be read: every problem, each with its path.

    Raised by ``Message.from_json``. Each problem is also a :class:`Violation` (with
    ``limit`` and ``actual`` 0) in ``violations``, for code that handles any
    :class:`ValidationError`.

    Attributes:
        problems: Every problem found, in the order of the JSON.
    """

    def __init__(self, problems: Sequence[JSONProblem]) -> None:
        self.problems: tuple[JSONProblem, ...] = tuple(problems)
        self.violations = tuple(Violation(p.path, 0, 0, p.detail) for p in self.problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = f"{len(self.problems)} problems in the message JSON: " + "; ".join(
                str(p) for p in self.problems
            )
        super(ValidationError, self).__init__(text)  # not ValidationError's wording


class InvalidWebhookURL(WebhookError, ValueError):
    """The webhook URL is malformed or not allowed (the message never holds the token)."""


class DiscordHTTPError(WebhookError):
    """Discord answered with an error status.

    Attributes:
        status: The HTTP status.
        code: Discord's JSON error code (``0`` when the body had none).
        text: Discord's error message, or a short excerpt of a non-JSON body.
        errors: The ``errors`` tree of an Invalid Form Body (50035), else ``None``.
        route: The redacted route, as ``POST /webhooks/123/***``.
    """

    def __init__(
        self,
        status: int,
        code: int = 0,
        text: str = "",
        errors: Mapping[str, Any] | None = None,
        route: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.text = text
        self.errors = errors
        self.route = route
        where = f" on {route}" if route else ""
        what = f"code {code}: {text}" if code else text or "no error body"
        super().__init__(f"Discord answered {status}{where} ({what})")


class Unauthorized(DiscordHTTPError):
    """401: the webhook token is invalid (code 50027). The webhook is dead; stop using it."""


class Forbidden(DiscordHTTPError):
    """403: the webhook may not do this (missing permission, or a blocked request)."""


class WebhookNotFound(DiscordHTTPError):
    """404 on the webhook itself (code 10015): it was deleted. Stop using it."""


class MessageNotFound(DiscordHTTPError):
    """404 on a message endpoint (code 10008): the message is gone; the webhook is fine."""


class PayloadTooLarge(DiscordHTTPError):
    """413 or code 40005: the request was too large; send smaller files."""


class RateLimited(DiscordHTTPError):
    """429 that the retry policy did not wait out.

    Attributes:
        retry_after: Seconds Discord asked to wait.
        is_global: Whether the limit was the global one.
        scope: ``user``, ``global`` or ``shared`` (``None`` when not said).
    """

    def __init__(
        self,
        retry_after: float,
        *,
        is_global: bool = False,
        scope: str | None = None,
        code: int = 0,
        text: str = "",
        route: str = "",
    ) -> None:
        self.retry_after = retry_after
        self.is_global = is_global
        self.scope = scope
        super().__init__(429, code, text or f"rate limited for {retry_after:.3f} s", None, route)


TransportErrorKind = Literal[
    "connect",  # refused, unreachable, DNS: the request never left
    "connect_timeout",
    "tls",  # certificate or handshake failure: permanent, never retried
    "write_timeout",
    "read_timeout",
    "pool_timeout",
    "protocol",  # the peer broke HTTP, or dropped the connection mid-response
    "too_large",  # the response body passed the bound we read
]


class TransportError(WebhookError):
    """No usable HTTP answer arrived.

    Attributes:
        kind: What failed (``connect``, ``connect_timeout``, ``tls``, ``write_timeout``,
            ``read_timeout``, ``pool_timeout``, ``protocol``, ``too_large``).
        ambiguous: ``True`` when Discord may have received and acted on the request
            (a read timeout after the body was sent); a retry may then post twice.
        route: The redacted route.
    """

    def __init__(
        self, kind: TransportErrorKind, detail: str, *, ambiguous: bool, route: str = ""
    ) -> None:
        self.kind: TransportErrorKind = kind
        self.ambiguous = ambiguous
        self.route = route
        self.detail = detail
        where = f" on {route}" if route else ""
        super().__init__(f"{kind.replace('_', ' ')}{where}: {detail}")


class DeliveryFailed(WebhookError):
    """A message could not be delivered; it went to the dead-letter sink, if one is set.

    Attributes:
        reason: ``permanent``, ``exhausted``, ``dead_webhook``, ``ambiguous``, ``shutdown``,
            ``invalid`` or ``internal``.
        attempts: Requests made for the failing part of the message.
        status: The last HTTP status, or ``None`` when no answer came.
        error: A short text of the last error (redacted).
        discord_error: Discord's JSON error of the last answer, as Discord sent it
            (``code``, ``message`` and, for an Invalid Form Body, ``errors``; redacted),
            or ``None`` when the failure was not an answer from Discord.
    """

    def __init__(
        self,
        reason: str,
        *,
        attempts: int,
        status: int | None,
        error: str,
        discord_error: Mapping[str, Any] | None = None,
    ) -> None:
        self.reason = reason
        self.attempts = attempts
        self.status = status
        self.error = error
        self.discord_error = discord_error
        got = f"status {status}" if status is not None else "no answer"
        super().__init__(f"delivery failed ({reason}) after {attempts} attempt(s), {got}: {error}")


class QueueFull(WebhookError):
    """``send_nowait`` was called with the hard cap of buffered messages reached.

    Slow down the producer, use ``await sender.send()`` (which waits for room), or raise
    ``SenderConfig.max_buffered``.
    """


class SenderClosed(WebhookError):
    """The sender is closing or closed and accepts no more messages."""


class ConfigError(WebhookError, ValueError):
    """A configuration value is missing, malformed or inconsistent.

    Attributes:
        key: The setting (or environment variable) at fault.
        value: The offending value, as given.
        expected: What would have been accepted.
    """

    def __init__(self, key: str, value: object, expected: str, *, where: str = "") -> None:
        self.key = key
        self.value = value
        self.expected = expected
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{key}={value!r} is invalid: expected {expected}")


class DeadLetterFormatError(WebhookError, ValueError):
    """A dead-letter file holds a line that is not a record (the message names the line)."""


class InvalidRequestBudgetExceeded(WebhookError):
    """The rate-limit tracker stopped sending: Discord's invalid-request budget is nearly spent.

    Discord's edge bans an IP address for an hour after 10,000 answers with status 401,
    403 or 429 (429s scoped ``shared`` excepted) in 10 minutes. Near that point the
    tracker refuses to send anything rather than earn the ban. Nothing was sent.

    Attributes:
        count: Invalid answers counted in the window.
        limit: Discord's limit per window (``InvalidRequestBudget.limit``).
        window: The window, seconds.
        resume_after: Seconds until the count falls below the stop point again.
        stop_at: The count at which the tracker stops (a share of ``limit``).
    """

    def __init__(
        self,
        count: int,
        limit: int,
        window: float,
        resume_after: float,
        *,
        stop_at: int | None = None,
    ) -> None:
        self.count = count
        self.limit = limit
        self.window = window
        self.resume_after = resume_after
        self.stop_at = limit if stop_at is None else stop_at
        super().__init__(
            f"stopped sending: {count} answers with status 401, 403 or 429 in the last "
            f"{window:g} s, and the tracker stops at {self.stop_at} (Discord's edge bans "
            f"the IP address for an hour at {limit} per {window:g} s); nothing was sent. "
            "Stop sending to webhooks that answer 401 or 403 (deleted, or a wrong token) "
            "and share one RateLimitTracker between the senders of this process; sending "
            f"may resume in {resume_after:.1f} s"
        )
