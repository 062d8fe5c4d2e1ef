"""The seam's rules, shared by every transport.

The :class:`Transport` protocol, the timeouts check, the User-Agent, the TLS and
too-large failures, and the filter that keeps tokens out of library logs. The values that
cross the seam (:class:`HTTPRequest`, :class:`HTTPResponse`) live in ``_values``, which
imports nothing but attrs, so the pure core can read them.
"""

from __future__ import annotations

import logging
import ssl
from typing import Final, Protocol

from trio_webhook._errors import TransportError
from trio_webhook._url import redact
from trio_webhook._version import __version__
from trio_webhook.transport._values import HTTPRequest, HTTPResponse

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_USER_AGENT",
    "Transport",
    "check_timeouts",
    "find_ssl_error",
    "install_log_redaction",
    "tls_error",
    "too_large_error",
]

PROJECT_URL: Final = "https://github.com/trio-webhook/trio-webhook"
DEFAULT_USER_AGENT: Final = f"DiscordBot ({PROJECT_URL}, {__version__}) trio-webhook"
"""Every transport's ``User-Agent``: Discord's edge may block one not of this form."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 1024 * 1024
"""The largest answer body a transport reads by default (1 MiB)."""


def check_timeouts(connect_timeout: float, total_timeout: float) -> None:
    """Refuse a timeout that is not positive, naming both values (every transport's rule)."""
    if connect_timeout <= 0 or total_timeout <= 0:
        raise ValueError(
            f"timeouts must be positive (connect_timeout={connect_timeout}, "
            f"total_timeout={total_timeout})"
        )


def too_large_error(status: int, limit: int, route: str) -> TransportError:
    """The error for an answer whose body passed ``max_response_bytes`` (every transport's).

    It names the status: after a 2xx Discord has acted on the request (the message is
    posted) and only its answer is unreadable, which a dead letter's reader must be able
    to tell apart from a refusal. Ambiguous whatever the status, so a 2xx is never
    retried into a duplicate nor reported as refused.
    """
    return TransportError(
        "too_large",
        f"the body of a {status} answer passed max_response_bytes ({limit} bytes); "
        "not read further",
        ambiguous=True,
        route=route,
    )


class Transport(Protocol):
    """The network seam: send one request, get status, headers and a bounded body back.

    Implementations raise :class:`TransportError` for every failure to get an answer and
    never follow redirects.
    """

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send ``request`` and return the answer (any status)."""
        ...

    async def aclose(self) -> None:
        """Close connections."""
        ...


class _RedactTokens(logging.Filter):
    """Rewrites a record's message so no webhook token reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_FILTER: Final = _RedactTokens()


def install_log_redaction() -> None:
    """Attach the token-redacting filter to httpx's and httpcore's loggers (idempotent).

    httpx logs every request's full URL at INFO on the ``httpx`` logger; a filter on a
    logger sees only that logger's own records, so every httpcore child gets one too.
    """
    names = ["httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2"]
    names += [n for n in logging.root.manager.loggerDict if n.startswith(("httpx.", "httpcore."))]
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def find_ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` behind ``exc`` (its causes and contexts), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


def tls_error(ssl_error: ssl.SSLError, route: str) -> TransportError:
    """The error for a failed TLS handshake or certificate check (every transport's).

    Permanent: a retry meets the same certificate.
    """
    reason = getattr(ssl_error, "verify_message", None) or ssl_error.reason or "handshake"
    return TransportError(
        "tls",
        f"TLS failure ({reason}); check the server certificate, or pass an ssl_context "
        "that trusts the server's CA",
        ambiguous=False,
        route=route,
    )
