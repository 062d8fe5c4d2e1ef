"""How requests name their rate-limit state: route keys and bucket keys, token-free."""

from __future__ import annotations

import functools
import re
from typing import Final

__all__ = ["bucket_key", "route_key"]

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


# Cached: the memory store asks once an answer, with the same route and hash each time.
@functools.lru_cache(maxsize=1024)
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
