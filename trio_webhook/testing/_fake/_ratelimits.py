"""The fake's own rate limits: route buckets, the global limit, the hidden channel limit.

Each webhook has a bucket per route. Every window is fixed and opens at the first request
after the previous one ended, as Discord's buckets behave. The state here only counts and
refuses; the routes decide what to do next.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

import attrs

from trio_webhook.testing._fake._http import Rejected, json_response

__all__ = ["RateLimits", "Window"]

_Headers = tuple[tuple[str, str], ...]


@attrs.define
class Window:
    """A fixed window that opens at the first request after the previous one expired."""

    limit: int
    length: float
    start: float | None = None
    count: int = 0

    def roll(self, now: float) -> None:
        """Forget the window if it has expired by ``now``."""
        if self.start is None or now >= self.start + self.length:
            self.clear()

    def clear(self) -> None:
        """Start afresh: the next request opens a new window."""
        self.start = None
        self.count = 0

    def take(self, now: float) -> None:
        """Count one request, opening the window at ``now`` if none is open."""
        if self.start is None:
            self.start = now
        self.count += 1

    def full(self) -> bool:
        """Whether the window admits no more requests."""
        return self.count >= self.limit

    def reset_after(self, now: float) -> float:
        """Seconds from ``now`` until the window resets (its whole length if none is open)."""
        if self.start is None:
            return self.length
        return max(0.0, self.start + self.length - now)


@attrs.define
class _ChannelLimit:
    window: Window
    blocked_until: float = -math.inf


@attrs.define
class RateLimits:
    """The windows of one fake, and the 429s they gave by scope.

    Attributes:
        bucket_limit: Requests per window in each webhook route's bucket.
        bucket_window: That window, in (scaled) seconds.
        channel_limit: Messages per channel per ``channel_window``; ``None``: no limit.
        channel_window: That window, in (scaled) seconds.
        global_limit: Requests per ``global_window`` over all webhooks; ``None``: no limit.
        global_window: That window, in (scaled) seconds.
        epoch_offset: Added to trio's clock for ``X-RateLimit-Reset``.
        rng: The fake's seeded rng (the channel limit's ``Retry-After`` draws from it).
        counts: Real 429s by scope (``user``, ``shared``, ``global``).
    """

    bucket_limit: int
    bucket_window: float
    channel_limit: int | None
    channel_window: float
    global_limit: int | None
    global_window: float
    epoch_offset: float
    rng: random.Random
    counts: dict[str, int] = attrs.Factory(lambda: {"user": 0, "shared": 0, "global": 0})
    _buckets: dict[tuple[str, str], Window] = attrs.Factory(dict)
    _channels: dict[str, _ChannelLimit] = attrs.Factory(dict)
    _global: Window = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._global = Window(self.global_limit or 0, self.global_window)

    def admit(self, webhook_id: str, route: str, now: float) -> _Headers:
        """Count a request against the global limit and its route's bucket.

        Returns:
            The bucket's ``X-RateLimit-*`` headers, for the answer.

        Raises:
            Rejected: A 429 (scope ``global`` or ``user``) when a window is full; the
                request is not counted.
        """
        bucket = self._buckets.get((webhook_id, route))
        if bucket is None:
            bucket = self._buckets[(webhook_id, route)] = Window(
                self.bucket_limit, self.bucket_window
            )
        bucket.roll(now)
        if self.global_limit is not None:
            self._global.roll(now)
            if self._global.full():
                headers = self._headers(bucket, route, now)
                raise self._too_many(self._global.reset_after(now), "global", headers)
            self._global.take(now)
        if bucket.full():
            raise self._too_many(bucket.reset_after(now), "user", self._headers(bucket, route, now))
        bucket.take(now)
        return self._headers(bucket, route, now)

    def admit_message(self, channel_id: str, now: float) -> None:
        """Count a message against its channel's hidden limit (never in headers).

        Once the limit is hit, the channel stays blocked for a random 2/3 to 3/4 of the
        window, and then a fresh window starts.

        Raises:
            Rejected: A 429 with scope ``shared`` and code 20028.
        """
        if self.channel_limit is None:
            return
        state = self._channels.get(channel_id)
        if state is None:
            state = _ChannelLimit(Window(self.channel_limit, self.channel_window))
            self._channels[channel_id] = state
        if now >= state.blocked_until:
            state.window.roll(now)
        if now < state.blocked_until:
            raise self._too_many(state.blocked_until - now, "shared", (), code=20028)
        if state.window.full():
            retry_after = self.rng.uniform(2 / 3, 3 / 4) * self.channel_window
            state.blocked_until = now + retry_after
            state.window.clear()
            raise self._too_many(retry_after, "shared", (), code=20028)
        state.window.take(now)

    def _headers(self, bucket: Window, route: str, now: float) -> _Headers:
        reset_after = bucket.reset_after(now)
        return (
            ("x-ratelimit-limit", str(bucket.limit)),
            ("x-ratelimit-remaining", str(max(0, bucket.limit - bucket.count))),
            ("x-ratelimit-reset", f"{self.epoch_offset + now + reset_after:.3f}"),
            ("x-ratelimit-reset-after", f"{reset_after:.3f}"),
            ("x-ratelimit-bucket", hashlib.md5(route.encode()).hexdigest()),
        )

    def _too_many(
        self, retry_after: float, scope: str, headers: _Headers, code: int | None = None
    ) -> Rejected:
        self.counts[scope] += 1
        body: dict[str, Any] = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": scope == "global",
        }
        if code is not None:
            body["code"] = code
        extra = [("retry-after", str(math.ceil(retry_after))), ("x-ratelimit-scope", scope)]
        if scope == "global":
            extra.append(("x-ratelimit-global", "true"))
        return Rejected(json_response(429, body, [*headers, *extra]))
