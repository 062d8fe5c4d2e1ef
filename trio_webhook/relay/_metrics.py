"""``/metrics``: Prometheus's text format, written by hand (no extra dependency).

Every series is labelled with a webhook's id, never its token. Counters of the relay's
own answers live in :class:`RelayCounters`; the rest is read when Prometheus scrapes:
the outbox's summary (queue depth, oldest pending), the shared tracker (429s by scope,
the invalid-request count) and the dead-letter sink.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from trio_webhook.ratelimit import RateLimitMetrics
from trio_webhook.relay._lanes import LaneView

__all__ = ["CONTENT_TYPE", "RelayCounters", "render"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
_PREFIX: Final = "trio_webhook_relay_"
_SCOPES: Final = ("user", "shared", "global", "edge")


@attrs.define
class RelayCounters:
    """What the relay answered, counted as it answers.

    Attributes:
        answers: Answers to posts, by status.
        ignored_keys: Payload keys dropped because the library does not model them.
        refused_auth: Posts refused for a missing or wrong secret, or an id not allowed.
    """

    answers: collections.Counter[int] = attrs.field(factory=collections.Counter)
    ignored_keys: int = 0
    refused_auth: int = 0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    # The 0.0.4 text format names a counter's family with its _total suffix.
    full = f"{_PREFIX}{name}{'_total' if kind == 'counter' else ''}"
    lines = [f"# HELP {full} {text}", f"# TYPE {full} {kind}"]
    lines += [f"{full}{labels} {value:g}" for labels, value in samples]
    return lines


def _by(label: str, values: Mapping[str, float]) -> list[tuple[str, float]]:
    return [(f'{{{label}="{_escape(k)}"}}', v) for k, v in sorted(values.items())]


def _webhook_families(views: list[LaneView], dead: Mapping[str, int]) -> list[str]:
    depth = {v.webhook_id: float(max(v.pending or 0, v.in_flight)) for v in views}
    ages = {v.webhook_id: v.oldest_age for v in views if v.oldest_age is not None}
    return [
        *_family(
            "queue_depth",
            "gauge",
            "Messages accepted and not yet settled, by webhook.",
            _by("webhook_id", depth),
        ),
        *_family(
            "oldest_pending_seconds",
            "gauge",
            "Age of the oldest message not yet delivered, by webhook.",
            _by("webhook_id", ages),
        ),
        *_family(
            "dead_letters",
            "counter",
            "Messages dead-lettered, by webhook.",
            _by("webhook_id", {k: float(v) for k, v in dead.items()}),
        ),
        *_family(
            "senders_open",
            "gauge",
            "Webhooks with an open sender.",
            [("", sum(v.open for v in views))],
        ),
    ]


def render(
    views: list[LaneView],
    limits: RateLimitMetrics,
    dead: Mapping[str, int],
    counters: RelayCounters,
) -> str:
    """The metrics page."""
    scopes = {s: float(limits.rate_limited.get(s, 0)) for s in _SCOPES}
    answers = {str(k): float(v) for k, v in counters.answers.items()}
    lines = [
        *_webhook_families(views, dead),
        *_family(
            "rate_limited", "counter", "429s Discord answered, by scope.", _by("scope", scopes)
        ),
        *_family(
            "invalid_requests",
            "gauge",
            "Answers counted towards Discord's invalid-request limit (10 minutes).",
            [("", limits.invalid_requests)],
        ),
        *_family("answers", "counter", "Answers to posts, by HTTP status.", _by("status", answers)),
        *_family(
            "ignored_keys",
            "counter",
            "Payload keys the relay dropped.",
            [("", counters.ignored_keys)],
        ),
        *_family(
            "refused_auth",
            "counter",
            "Posts refused by the secret or the allow-list.",
            [("", counters.refused_auth)],
        ),
    ]
    return "\n".join(lines) + "\n"
