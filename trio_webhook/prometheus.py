"""Prometheus export of senders' stats (the ``prometheus`` extra).

A collector reads each sender's :meth:`~trio_webhook.WebhookSender.stats` when Prometheus
scrapes, so sending costs nothing extra: no metric is updated on the hot path. Every
series is labelled with a webhook's id, never its token.

Example::

    from prometheus_client import REGISTRY, start_http_server
    from trio_webhook.prometheus import SenderCollector

    collector = SenderCollector()
    REGISTRY.register(collector)
    start_http_server(9100)
    async with open_webhook_sender(url) as sender:
        collector.add(sender)
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "trio_webhook.prometheus needs prometheus-client: pip install 'trio-webhook[prometheus]'"
    ) from exc

if TYPE_CHECKING:
    from trio_webhook._sender import SenderStats, WebhookSender
    from trio_webhook.ratelimit import RateLimitMetrics, RateLimitTracker

__all__ = ["SenderCollector"]

# (name, help, SenderStats field): counters, exported with Prometheus's ``_total`` suffix.
_COUNTERS: Final = (
    ("messages_enqueued", "Messages accepted by send_nowait/send.", "enqueued"),
    ("messages_delivered", "Messages whose every request Discord accepted.", "delivered"),
    ("dead_letters", "Messages dead-lettered.", "dead"),
    ("requests", "HTTP requests made, retries included.", "requests"),
    ("retries", "Requests repeated after a fault or a 429.", "retries"),
    (
        "ambiguous_retries",
        "Retries after a fault that may have posted the message already.",
        "ambiguous_retries",
    ),
    ("limiter_waits", "Times the rate limiter made a request wait.", "waits"),
    ("limiter_wait_seconds", "Time spent waiting on the rate limiter.", "wait_seconds"),
    ("shed_attachments", "Files dropped from buffered messages.", "shed_attachments"),
    ("shed_messages", "Messages that lost their files under pressure.", "shed_messages"),
)
_GAUGES: Final = (
    ("in_flight", "Messages buffered, queued or being sent.", "in_flight"),
    ("buffered", "Messages in the pressure buffer, before the bounded queue.", "buffered"),
)
_SCOPES: Final = ("user", "shared", "global")
# Per rate-limit tracker (Discord's protections are per IP, so per tracker, not per webhook).
_TRACKER_GAUGES: Final = (
    (
        "invalid_requests",
        "Answers Discord counts towards its invalid-request ban (401, 403, 429 not shared) "
        "in the tracker's current window.",
        "invalid_requests",
    ),
)
_TRACKER_COUNTERS: Final = (
    ("edge_bans", "IP-wide bans by Discord's edge (each paused every route).", "edge_bans"),
    (
        "invalid_budget_refusals",
        "Requests refused because the invalid-request budget was spent.",
        "refused",
    ),
)


class SenderCollector(Collector):
    """A Prometheus collector of the stats of any number of senders.

    Register it once (``REGISTRY.register(collector)``), then :meth:`add` each sender.
    A sender that has closed keeps reporting its final counts until :meth:`remove`
    (counters must not go backwards while the process lives).

    Args:
        senders: Senders to report from the start.
        namespace: The prefix of every metric name.

    Metrics (each labelled ``webhook_id``): counters ``<namespace>_messages_enqueued_total``,
    ``_messages_delivered_total``, ``_dead_letters_total``, ``_requests_total``,
    ``_retries_total``, ``_ambiguous_retries_total``, ``_rate_limited_total`` (also
    labelled ``scope``: ``user``, ``shared``, ``global``), ``_limiter_waits_total``,
    ``_limiter_wait_seconds_total``, ``_shed_attachments_total``,
    ``_shed_messages_total``; gauges ``<namespace>_in_flight`` and ``_buffered``.

    Discord's protections count per IP, so per rate-limit tracker, and those metrics are
    reported once per tracker (labelled ``tracker``: the webhook id of the first reported
    sender that uses it; senders sharing a tracker are not counted twice, so a sum over
    ``tracker`` is the process's figure): gauges ``<namespace>_invalid_requests`` (the
    count in the current window, as of the tracker's latest operation) and
    ``_invalid_request_limit`` (the budget's stop point), counters ``_edge_bans_total``
    and ``_invalid_budget_refusals_total``.

    Thread safety: Prometheus scrapes from its own thread; each sender's snapshot is
    read without locks, so one scrape may see counters a few events apart (each is
    exact on its own).
    """

    def __init__(self, *senders: WebhookSender, namespace: str = "trio_webhook") -> None:
        self._senders: list[WebhookSender] = list(senders)
        self._namespace = namespace

    def add(self, sender: WebhookSender) -> None:
        """Report ``sender``'s stats from the next scrape on."""
        if sender not in self._senders:
            self._senders.append(sender)

    def remove(self, sender: WebhookSender) -> None:
        """Stop reporting ``sender`` (no error if it was not added)."""
        if sender in self._senders:
            self._senders.remove(sender)

    def describe(self) -> Iterator[Metric]:
        """The metric families, without samples (lets the registry check names)."""
        return iter(self._families([], []))

    def collect(self) -> Iterator[Metric]:
        """The metric families with one sample per sender (called on each scrape)."""
        senders = list(self._senders)
        snapshot = [(s.client.url.webhook_id, s.stats()) for s in senders]
        trackers: dict[int, tuple[str, RateLimitTracker]] = {}
        for sender in senders:
            tracker = sender.client.tracker
            trackers.setdefault(id(tracker), (sender.client.url.webhook_id, tracker))
        tracked = [(label, t.metrics(), t.budget.stop_at) for label, t in trackers.values()]
        return iter(self._families(snapshot, tracked))

    def _families(
        self,
        snapshot: list[tuple[str, SenderStats]],
        trackers: list[tuple[str, RateLimitMetrics, int]],
    ) -> list[Metric]:
        prefix = self._namespace
        families: list[Metric] = []
        for name, text, field in _COUNTERS:
            counter = CounterMetricFamily(f"{prefix}_{name}", text, labels=["webhook_id"])
            for webhook_id, stats in snapshot:
                counter.add_metric([webhook_id], float(getattr(stats, field)))
            families.append(counter)
        limited = CounterMetricFamily(
            f"{prefix}_rate_limited", "429s received, by scope.", labels=["webhook_id", "scope"]
        )
        for webhook_id, stats in snapshot:
            scopes = dict.fromkeys(_SCOPES, 0) | dict(stats.rate_limited)
            for scope, count in scopes.items():
                limited.add_metric([webhook_id, scope], float(count))
        families.append(limited)
        for name, text, field in _GAUGES:
            gauge = GaugeMetricFamily(f"{prefix}_{name}", text, labels=["webhook_id"])
            for webhook_id, stats in snapshot:
                gauge.add_metric([webhook_id], float(getattr(stats, field)))
            families.append(gauge)
        for name, text, field in _TRACKER_GAUGES:
            gauge = GaugeMetricFamily(f"{prefix}_{name}", text, labels=["tracker"])
            for label, metrics, _ in trackers:
                gauge.add_metric([label], float(getattr(metrics, field)))
            families.append(gauge)
        stop = GaugeMetricFamily(
            f"{prefix}_invalid_request_limit",
            "The invalid-request count at which the tracker stops sending.",
            labels=["tracker"],
        )
        for label, _, stop_at in trackers:
            stop.add_metric([label], float(stop_at))
        families.append(stop)
        for name, text, field in _TRACKER_COUNTERS:
            counter = CounterMetricFamily(f"{prefix}_{name}", text, labels=["tracker"])
            for label, metrics, _ in trackers:
                counter.add_metric([label], float(getattr(metrics, field)))
            families.append(counter)
        return families
