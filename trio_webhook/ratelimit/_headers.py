"""Reading Discord's answers: the rate-limit headers, a 429's body, and edge bans.

One parse per answer: :func:`parse_rate_limit` turns a response into a frozen
:class:`RateLimitInfo` (``trio_webhook._outcome.interpret`` calls it once per answer), and
everything downstream (the tracker, the retry policy, the error raised) reads that value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Final

import attrs

from trio_webhook.transport._values import HTTPResponse

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "RateLimitInfo",
    "edge_ban_cause",
    "parse_rate_limit",
    "retry_after_seconds",
]

# The unit of a 429 body's ``retry_after``. Discord's docs (discord-api-docs, "Rate
# Limits" -> "Exceeding A Rate Limit") give it in seconds, float, and the ``Retry-After``
# header in whole seconds, rounded up (RFC 9110 delta-seconds: always seconds). API v7 and
# older put milliseconds in the body, and the unversioned URL Discord shows users still
# does (discord-api-docs issue #4722), so the body's unit cannot be trusted. The rule:
# when both are given, the header decides: the body is read in the unit (seconds or
# milliseconds) whose value lies nearer the header, by ratio (ties: seconds, the
# documented unit). Body 1500 with header 1500 is 1500 s; body 1500 with header 2 is
# 1.5 s. Only without a usable header does the guard below apply: no real wait is 1000 s
# long, so a larger body value is taken as milliseconds.
_MILLISECONDS_ABOVE: Final = 1000.0
_LOG_1000: Final = math.log(1000.0)
# A 429 without any usable retry_after waits this long.
DEFAULT_RETRY_AFTER: Final = 1.0


# No slots: one for every answer (see PlannedRequest, trio_webhook._models).
@attrs.frozen(slots=False)
class RateLimitInfo:
    """What one answer says about rate limits. Unknown fields are ``None``.

    Attributes:
        status: The HTTP status.
        limit: ``X-RateLimit-Limit``.
        remaining: ``X-RateLimit-Remaining``.
        reset_after: Seconds until the bucket resets (``X-RateLimit-Reset-After``, else
            ``X-RateLimit-Reset`` minus the wall-clock ``epoch_now`` given to the parser).
        bucket: ``X-RateLimit-Bucket``, the opaque bucket hash.
        is_global: The 429 is the global (per-IP) limit.
        scope: ``X-RateLimit-Scope``: ``user``, ``global`` or ``shared``.
        retry_after: On a 429: seconds to wait: the body's ``retry_after`` in the unit the
            ``Retry-After`` header shows (a body value above 1000 taken as milliseconds
            when there is no header), else the header (see :func:`retry_after_seconds`).
        code: Discord's JSON error code of a 429 (20028: channel write limit), else ``None``.
        edge_ban: The 429 came from Discord's edge (Cloudflare), not its API: an HTML body
            (Cloudflare error 1015), or neither an ``X-RateLimit-*`` header nor Discord's
            JSON body. It bans the whole IP address, not one bucket (see
            :func:`edge_ban_cause`).
        edge_ban_cause: Why the 429 is the edge's (for the log line of the ban), else ``""``.
    """

    status: int
    limit: int | None = None
    remaining: int | None = None
    reset_after: float | None = None
    bucket: str | None = None
    is_global: bool = False
    scope: str | None = None
    retry_after: float | None = None
    code: int | None = None
    edge_ban: bool = False
    edge_ban_cause: str = ""

    @property
    def counted_scope(self) -> str:
        """The scope a 429 is counted under (the one rule the tracker and client share).

        ``edge`` for an edge ban, else Discord's scope, else ``global`` or ``user``.
        """
        if self.edge_ban:
            return "edge"
        return self.scope or ("global" if self.is_global else "user")

    @property
    def is_rate_limited(self) -> bool:
        """Whether the answer was a 429."""
        return self.status == 429


def _float(text: object) -> float | None:
    # A header is a str; the other types come from a 429's JSON body.
    if type(text) is not str and (isinstance(text, bool) or not isinstance(text, (int, float))):
        return None
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _count(text: str | None) -> int | None:
    # Plain ASCII digits (every count Discord sends) read as int() reads them, which is
    # what float() then int() would give; anything else the general way.
    if type(text) is str and len(text) < 10 and text.isascii() and text.isdigit():
        return int(text)
    value = _float(text)
    if value is None or value < 0 or value > 1e9:
        return None
    return int(value)


def edge_ban_cause(response: HTTPResponse) -> str:
    """Why ``response`` is a 429 from Discord's edge, an IP-wide ban; ``""`` when it is not.

    Every 429 of Discord's API carries ``X-RateLimit-Scope`` (and usually the bucket
    headers) and a JSON body with ``retry_after``. Cloudflare's, in front of it, carries
    neither: an HTML page (error 1015) or a bare ``error code: 1015`` with at most a
    ``Retry-After``. So a 429 is the edge's when its body is HTML (starts with ``<`` or is
    typed ``text/html``), or when no header's name starts with ``X-RateLimit-`` and the
    body is not Discord's JSON (an object with ``retry_after``; a proxy may strip headers,
    never write that body). ``Retry-After`` alone does not make it Discord's: Cloudflare
    sends that header too.
    """
    if response.status != 429:
        return ""
    return _edge_ban_cause(response, _json_object(response.body))


def _edge_ban_cause(response: HTTPResponse, body: dict[str, object] | None) -> str:
    content_type = response.headers.get("content-type", "").lower()
    if response.body.lstrip()[:1] == b"<" or "text/html" in content_type:
        return "with an HTML body (Cloudflare error 1015)"
    if any(name.startswith("x-ratelimit-") for name in response.headers):
        return ""
    if body is not None and "retry_after" in body:
        return ""
    return "without any X-RateLimit-* header or Discord's JSON body"


def _json_object(body: bytes) -> dict[str, object] | None:
    if body[:1] != b"{":
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def retry_after_seconds(body: float | None, header: float | None) -> float | None:
    """A 429's wait in seconds, from the body's ``retry_after`` and the ``Retry-After`` header.

    The header decides the body's unit (see ``_MILLISECONDS_ABOVE`` for the rule and
    where it comes from); the body's value is kept for its precision.

    Args:
        body: The JSON body's ``retry_after``, seconds or milliseconds.
        header: The ``Retry-After`` header, seconds.

    Returns:
        Seconds, never negative, or ``None`` when neither says anything.
    """
    if body is None:
        return None if header is None else max(0.0, header)
    if body <= 0.0:
        return 0.0
    if header is None or header <= 0.0:
        return body / 1000.0 if body > _MILLISECONDS_ABOVE else body
    # Distances on a log scale (logs of positive finite floats never overflow).
    seconds_off = math.log(body) - math.log(header)
    if abs(seconds_off - _LOG_1000) < abs(seconds_off):
        return body / 1000.0
    return body


def parse_rate_limit(response: HTTPResponse, *, epoch_now: float | None = None) -> RateLimitInfo:
    """Read the rate-limit headers (and a 429's JSON body) of ``response``; never raises.

    Args:
        response: Discord's answer (headers with lower-case names).
        epoch_now: Wall-clock seconds since the epoch; only used to turn
            ``X-RateLimit-Reset`` into seconds when ``Reset-After`` is missing (Reset-After
            is preferred: it has no clock skew).

    Returns:
        The parsed values; garbage and missing headers give ``None`` (or ``False``). Waits
        are never negative.
    """
    headers = response.headers
    get = headers.get
    # Most answers have no scope and no global header: nothing to strip then.
    raw_scope = get("x-ratelimit-scope")
    scope = (raw_scope.strip().lower()[:32] or None) if raw_scope else None
    raw_global = get("x-ratelimit-global")
    is_global = scope == "global" or (
        raw_global is not None and raw_global.strip().lower() == "true"
    )
    raw_bucket = get("x-ratelimit-bucket")
    retry_after: float | None = None
    code: int | None = None
    edge_ban_cause = ""
    if response.status == 429:
        retry_after, code, body_global, edge_ban_cause = _read_429(response)
        is_global = is_global or body_global
    # By position, in the field order (one per answer).
    return RateLimitInfo(
        response.status,
        _count(get("x-ratelimit-limit")),
        _count(get("x-ratelimit-remaining")),
        _reset_after(headers, epoch_now),
        (raw_bucket.strip()[:128] or None) if raw_bucket else None,
        is_global,
        scope,
        retry_after,
        code,
        bool(edge_ban_cause),
        edge_ban_cause,
    )


def _reset_after(headers: Mapping[str, str], epoch_now: float | None) -> float | None:
    reset_after = _float(headers.get("x-ratelimit-reset-after"))
    if reset_after is None and epoch_now is not None:
        reset = _float(headers.get("x-ratelimit-reset"))
        if reset is not None and math.isfinite(epoch_now):
            reset_after = reset - epoch_now
    return None if reset_after is None else max(0.0, reset_after)


def _read_429(response: HTTPResponse) -> tuple[float | None, int | None, bool, str]:
    # A 429's wait, Discord's error code, whether the body says global, and why the
    # answer is the edge's ("" when it is the API's).
    body = _json_object(response.body)
    cause = _edge_ban_cause(response, body)
    body_retry_after: float | None = None
    code: int | None = None
    is_global = False
    if body is not None:
        body_retry_after = _float(body.get("retry_after"))
        is_global = body.get("global") is True
        raw_code = body.get("code")
        if isinstance(raw_code, int) and not isinstance(raw_code, bool):
            code = raw_code
    header = _float(response.headers.get("retry-after"))
    return retry_after_seconds(body_retry_after, header), code, is_global, cause
