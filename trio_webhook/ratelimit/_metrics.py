"""What a tracker reports: its counters as a snapshot, its waits, the edge ban's log line."""

from __future__ import annotations

import datetime
import logging
import math
from typing import Final

import attrs

from trio_webhook.ratelimit._headers import RateLimitInfo

__all__ = ["RateLimitMetrics", "RateLimitWait", "log_edge_ban"]

logger: Final = logging.getLogger("trio_webhook")


@attrs.frozen
class RateLimitWait:
    """A route told to wait before its next request.

    Attributes:
        route: The route (redacted: ``POST /webhooks/{id}/***``).
        reason: Which limit: ``bucket`` (the webhook's), ``channel`` (the channel's hidden
            one), ``global``, ``global_pace``, ``edge_ban`` or ``invalid_budget``.
        until: When the wait ends, on the clock the tracker is given.
    """

    route: str
    reason: str
    until: float


@attrs.frozen
class RateLimitMetrics:
    """Counters of one tracker, as a snapshot.

    Attributes:
        waits: Times ``acquire`` said wait.
        wait_seconds: Sum of the waits it asked for.
        granted: Requests let through.
        rate_limited: 429s seen, by scope (``user``, ``shared``, ``global``, and ``edge``
            for the edge's own 429s: :attr:`RateLimitInfo.edge_ban`).
        invalid_requests: Answers counted towards Discord's invalid-request limit (401,
            403, 429 not ``shared``; an edge-ban episode once) in the store's current
            window.
        edge_bans: Edge-ban episodes this tracker began (each paused every route).
        refused: Reservations refused because the invalid-request budget was spent.
    """

    waits: int
    wait_seconds: float
    granted: int
    rate_limited: dict[str, int]
    invalid_requests: int = 0
    edge_bans: int = 0
    refused: int = 0

    @property
    def rate_limited_total(self) -> int:
        """All 429s seen."""
        return sum(self.rate_limited.values())


def log_edge_ban(
    route: str,
    info: RateLimitInfo,
    now: float,
    until: float,
    epoch_now: float | None,
) -> None:
    """Log the start of an edge-ban episode: what paused, for how long, and why."""
    # One error per episode (the store says which answer began it): the requests in
    # flight when the ban began come back banned too, and would flood the log.
    pause = until - now
    ends = f"{until:.1f} s on the tracker's clock"
    if epoch_now is not None and math.isfinite(epoch_now):
        try:
            wall = datetime.datetime.fromtimestamp(epoch_now + pause, datetime.UTC)
            ends = f"{wall:%Y-%m-%d %H:%M:%S} UTC"
        except (OverflowError, OSError, ValueError):
            pass
    logger.error(
        "Discord's edge (Cloudflare) banned this IP address: a 429 on %s came %s. "
        "This ban covers every webhook, not one bucket: every route of this tracker is "
        "paused for %.1f s, until %s, and resumes by itself then. Such bans follow too "
        "many invalid requests (401, 403, 429) or too many requests from one IP.",
        route,
        info.edge_ban_cause or "from Discord's edge",
        pause,
        ends,
        extra={"route": route, "edge_ban_seconds": pause},
    )
