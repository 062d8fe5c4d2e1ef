"""Parsing and redacting webhook URLs.

A webhook URL holds a password (the token). It is parsed once, up front, and from then on
only its redacted form (``/webhooks/{id}/***``) is ever shown.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

import attrs

from trio_webhook._errors import InvalidWebhookURL

__all__ = ["WebhookURL", "parse_webhook_url", "redact"]

API_VERSION: Final = 10

_PATH_RE: Final = re.compile(
    r"^(?P<prefix>.*?)/api(?:/v(?P<version>\d+))?/webhooks/(?P<id>[^/]*)/(?P<token>[^/]*)/?$"
)
_SNOWFLAKE_RE: Final = re.compile(r"^\d{1,20}$")
_TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9_\-.]{1,200}$")
# Anything that looks like a webhook path, in any text: used to scrub logs and errors.
_SECRET_RE: Final = re.compile(r"(/webhooks/[^/?# \t\r\n]+/)[^/?#\"'<> \t\r\n]+")


def redact(text: str) -> str:
    """Replace every webhook token in ``text`` with ``***``.

    Example:
        >>> redact("POST https://discord.com/api/v10/webhooks/123/abc-DEF?wait=true")
        'POST https://discord.com/api/v10/webhooks/123/***?wait=true'
    """
    return _SECRET_RE.sub(r"\1***", text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen
class WebhookURL:
    """A parsed webhook URL.

    Attributes:
        base: Scheme, host, port and any path prefix before ``/api``.
        webhook_id: The webhook's snowflake.
        token: The secret; never shown in a repr.
    """

    base: str
    webhook_id: str
    token: str = attrs.field(repr=False)

    @property
    def api_base(self) -> str:
        """The API root every request goes to: always version 10."""
        return f"{self.base}/api/v{API_VERSION}"

    @property
    def redacted(self) -> str:
        """The URL with the token replaced by ``***``: safe to log."""
        return f"{self.api_base}/webhooks/{self.webhook_id}/***"

    def path(self, suffix: str = "") -> str:
        """The request path below the API root (holds the token: never log it)."""
        return f"/webhooks/{self.webhook_id}/{self.token}{suffix}"

    def route(self, method: str, suffix: str = "") -> str:
        """A redacted route name for logs and errors, as ``POST /webhooks/123/***``."""
        return f"{method} /webhooks/{self.webhook_id}/***{suffix}"

    def __str__(self) -> str:
        return self.redacted


def parse_webhook_url(url: str) -> WebhookURL:
    """Parse and check a webhook URL.

    Accepts ``https://discord.com/api/webhooks/{id}/{token}`` and its ``discordapp.com``,
    ``ptb.``/``canary.`` and versioned (``/api/v9/...``) forms, and any other base URL of
    the same shape (a fake Discord): ``https``, or ``http`` to a loopback host only. The
    version is always replaced by v10.

    Raises:
        InvalidWebhookURL: The URL is malformed; the message says which part, and never
            repeats the token.
    """
    if not isinstance(url, str):
        raise InvalidWebhookURL(f"webhook URL must be a str, not {type(url).__name__}")
    return _parse(url)


# A program sends to the same few URLs again and again (a hub, on every message): the
# parse (urlsplit, regexes, an ipaddress check) runs once a URL. WebhookURL is frozen,
# so sharing it is safe; a bad URL's exception is never cached.
@functools.lru_cache(maxsize=4096)
def _parse(url: str) -> WebhookURL:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise InvalidWebhookURL("webhook URL is malformed (could not parse host or port)") from None
    if parts.scheme not in ("https", "http"):
        raise InvalidWebhookURL(
            f"webhook URL must use https (got scheme {parts.scheme!r}); "
            "copy it from the channel's Integrations > Webhooks settings"
        )
    if not host:
        raise InvalidWebhookURL("webhook URL has no host")
    if parts.scheme == "http" and not _is_loopback(host):
        raise InvalidWebhookURL(
            f"webhook URL uses plain http to {host!r}: only https is allowed, "
            "except to a loopback host (a local fake)"
        )
    if parts.username or parts.password:
        raise InvalidWebhookURL("webhook URL must not carry a user name or password")
    match = _PATH_RE.match(parts.path)
    if match is None:
        raise InvalidWebhookURL(
            "webhook URL path must look like /api/webhooks/{id}/{token} "
            f"(got {redact(parts.path)!r})"
        )
    webhook_id, token = match["id"], match["token"]
    if not _SNOWFLAKE_RE.match(webhook_id):
        # Not echoed: a token pasted into the id's place must not show.
        raise InvalidWebhookURL(
            f"webhook id must be a numeric snowflake (got {len(webhook_id)} characters, "
            "not all digits)"
        )
    if not _TOKEN_RE.match(token):
        raise InvalidWebhookURL(
            f"webhook token is malformed ({len(token)} characters; expected letters, digits, "
            "'-' and '_')"
        )
    netloc = parts.netloc.rsplit("@", 1)[-1]
    base = f"{parts.scheme}://{netloc}{match['prefix']}"
    return WebhookURL(base=base, webhook_id=webhook_id, token=token)
