"""The hub's counters: one webhook's :class:`SenderStats`, and every webhook's summed.

Pure values and sums: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

import attrs

from trio_webhook._receipts import SenderStats

__all__ = ["HubStats", "add_stats", "sum_stats"]

_NONE: Final[Mapping[str, int]] = MappingProxyType({})
# Counters of the one tracker every lane shares: the same in every lane, never summed.
_SHARED_FIELDS: Final = frozenset({"invalid_requests", "edge_bans"})
_ZERO: Final = SenderStats(
    enqueued=0,
    delivered=0,
    dead=0,
    in_flight=0,
    requests=0,
    retries=0,
    ambiguous_retries=0,
    rate_limited=_NONE,
    waits=0,
    wait_seconds=0.0,
    shed_attachments=0,
    shed_messages=0,
    buffered=0,
)


@attrs.frozen
class HubStats:
    """A snapshot of a hub's counters (``hub.stats()``).

    ``total.enqueued == total.delivered + total.dead + total.in_flight`` holds in every
    snapshot, as for one sender.

    Attributes:
        total: Every webhook's counters summed, those of closed lanes included
            (``invalid_requests`` and ``edge_bans`` are the shared tracker's own).
        lanes: Lanes open now (a webhook with a sender running).
        webhooks: Webhooks the hub has sent to (open lanes and closed ones).
        lanes_opened: Lanes opened so far (a webhook's lane reopens after it closed idle).
    """

    total: SenderStats
    lanes: int
    webhooks: int
    lanes_opened: int


def add_stats(a: SenderStats, b: SenderStats) -> SenderStats:
    """``a`` and ``b`` summed, field by field (``rate_limited`` by scope)."""
    rate_limited = dict(a.rate_limited)
    for scope, count in b.rate_limited.items():
        rate_limited[scope] = rate_limited.get(scope, 0) + count
    values = {
        field.name: getattr(a, field.name) + getattr(b, field.name)
        for field in attrs.fields(SenderStats)
        if field.name != "rate_limited" and field.name not in _SHARED_FIELDS
    }
    return SenderStats(
        **values,
        rate_limited=MappingProxyType(rate_limited) if rate_limited else _NONE,
        invalid_requests=b.invalid_requests,
        edge_bans=b.edge_bans,
    )


def sum_stats(stats: Iterable[SenderStats], start: SenderStats | None = None) -> SenderStats:
    """Every snapshot of ``stats`` summed onto ``start`` (zero counters by default)."""
    total = start if start is not None else _ZERO
    for one in stats:
        total = add_stats(total, one)
    return total


def compact(stats: SenderStats) -> SenderStats:
    """``stats`` as kept for a closed lane: an empty ``rate_limited`` shares one mapping."""
    return stats if stats.rate_limited else attrs.evolve(stats, rate_limited=_NONE)
