"""The lanes: the relay over a :class:`~trio_webhook.hub.WebhookHub`, a lane per webhook.

The hub opens a sender lane per webhook on demand and closes it when idle; its lanes
share one :class:`~trio_webhook.ratelimit.RateLimitTracker` (so the global limit, a
channel's hidden limit and the invalid-request budget are paced together; in Redis when
``sender.rate_limit_store`` is a URL), one outbox and one dead-letter sink.
:class:`Lanes` is the whole interface the app uses (``submit``, ``views``, ``closing``).

Tokens: the outbox keeps webhook ids only, so what an earlier run left pending can be
delivered at start only for the webhooks listed in ``RelayConfig.webhooks``; any other
is delivered when its next post arrives (that post's lane recovers the backlog first).
"""

from __future__ import annotations

import collections
import hmac
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Final

import attrs
import trio

from trio_webhook._errors import QueueFull, SenderClosed
from trio_webhook._hub import WebhookHub
from trio_webhook._hub_open import open_webhook_hub
from trio_webhook._models import Message
from trio_webhook._receipts import Receipt
from trio_webhook._records import DeadLetter
from trio_webhook._sinks import DeadLetterSink, make_sink
from trio_webhook._url import WebhookURL, parse_webhook_url
from trio_webhook.outbox import Outbox, OutboxError, WebhookSummary
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.relay._answers import Refused
from trio_webhook.relay._config import RelayConfig

__all__ = ["LaneView", "Lanes", "RelaySink", "open_lanes"]

logger: Final = logging.getLogger("trio_webhook.relay")

# Seconds beyond the senders' drain_timeout that closing may take (closing the outbox).
_CLOSE_SLACK: Final = 5.0
# Retry-After of a 503 for a webhook whose queue is full: long enough for a paced
# webhook to take a few messages (5 per 2 s), short against an alert's repeat interval.
_FULL_RETRY_AFTER: Final = 5


class RelaySink:
    """The lanes' dead-letter sink: counts by webhook for the metrics, then passes on.

    Records go on to the configured ``dead_letter`` target (the outbox keeps its own).
    A waiting poster gets Discord's error from its receipt (``DeliveryFailed``), not
    from here.
    """

    def __init__(self, inner: DeadLetterSink | None) -> None:
        self._inner = inner
        self.dead: collections.Counter[str] = collections.Counter()

    async def put(self, record: DeadLetter) -> None:
        """Count ``record`` and pass it on."""
        self.dead[record.webhook_id or ""] += 1
        if self._inner is not None:
            await self._inner.put(record)


@attrs.frozen
class LaneView:
    """What the metrics show of one webhook.

    Attributes:
        webhook_id: The webhook (never its token).
        open: Whether a sender is open for it.
        in_flight: Messages its sender holds (queued or being sent).
        pending: Messages in the outbox not yet settled (``None``: not read).
        oldest_age: Seconds since the oldest pending one was accepted, or ``None``.
    """

    webhook_id: str
    open: bool
    in_flight: int
    pending: int | None
    oldest_age: float | None


class Lanes:
    """The relay's webhooks, a hub lane each. Made by :func:`open_lanes`."""

    def __init__(
        self, config: RelayConfig, hub: WebhookHub, outbox: Outbox, sink: RelaySink
    ) -> None:
        self.config = config
        self.hub = hub
        self.outbox = outbox
        self.sink = sink
        self.closing = False
        # Each webhook's token and upstream URL (one token per webhook at a time).
        self._urls: dict[str, tuple[str, str]] = {}

    @property
    def tracker(self) -> RateLimitTracker:
        """The tracker every lane shares."""
        return self.hub.tracker

    def _checked(self, url: WebhookURL) -> str:
        """``url``'s upstream URL; refuses a second token for a webhook with an open lane."""
        if self.closing:
            raise Refused(503, 0, "the relay is shutting down; try again shortly")
        wid = url.webhook_id
        known = self._urls.get(wid)
        if known is not None and self.hub.is_open(known[1]):
            if not hmac.compare_digest(known[0].encode(), url.token.encode()):
                # One lane per webhook: a second token for it is refused, as Discord
                # refuses a wrong one, rather than mixed into the first one's queue.
                raise Refused(401, 50027, "Invalid Webhook Token")
            return known[1]
        upstream = f"{self.config.upstream.rstrip('/')}/api/v10/webhooks/{wid}/{url.token}"
        self._urls[wid] = (url.token, upstream)
        return upstream

    async def submit(self, url: WebhookURL, message: Message) -> Receipt:
        """Commit ``message`` for ``url``'s webhook (to the outbox); its receipt.

        Raises:
            Refused: 503 while shutting down, when the webhook's queue is full (with
                ``Retry-After``), or when the outbox cannot take the message.
        """
        key = self._checked(url)
        try:
            return await self.hub.send(key, message, wait_for_room=False)
        except QueueFull:
            raise Refused(
                503,
                0,
                "the relay's queue for this webhook is full (Discord is slow or down); "
                f"try again in {_FULL_RETRY_AFTER} s",
                retry_after=_FULL_RETRY_AFTER,
            ) from None
        except SenderClosed:
            raise Refused(503, 0, "the relay is shutting down; try again shortly") from None
        except OutboxError as exc:
            logger.error("outbox: cannot commit for webhook %s: %s", url.webhook_id, exc)
            raise Refused(503, 0, "the relay cannot commit the message now") from None

    async def recover(self) -> None:
        """Open a lane for each listed webhook with a backlog; say which must wait."""
        known = {u.webhook_id: u for u in map(parse_webhook_url, self.config.webhooks)}
        for summary in await self.outbox.summary():
            if not summary.pending:
                continue
            wid = summary.webhook_id
            if wid in known:
                await self.hub.open_lane(self._checked(known[wid]))
                continue
            logger.warning(
                "%d message(s) pending for webhook %s from an earlier run: delivered when its "
                "next post arrives (or list its URL in the relay's webhooks to deliver at start)",
                summary.pending,
                wid,
                extra={"webhook_id": wid},
            )

    async def views(self) -> list[LaneView]:
        """Each webhook with an open lane or a backlog, for the metrics."""
        try:
            summaries = {s.webhook_id: s for s in await self.outbox.summary()}
        except OutboxError:
            summaries = {}
        # A webhook whose lane closed is forgotten here (the hub keeps its counters).
        self._urls = {w: u for w, u in self._urls.items() if self.hub.is_open(u[1])}
        ids = sorted(set(self._urls) | {w for w, s in summaries.items() if s.pending})
        return [self._view(wid, summaries.get(wid)) for wid in ids]

    def _view(self, wid: str, summary: WebhookSummary | None) -> LaneView:
        url = self._urls.get(wid)
        stats = self.hub.webhook_stats(url[1]) if url is not None else None
        age = None
        if summary is not None and summary.oldest_pending is not None:
            age = max(0.0, (datetime.now(UTC) - summary.oldest_pending).total_seconds())
        pending = summary.pending if summary is not None else None
        in_flight = stats.in_flight if stats is not None else 0
        return LaneView(wid, url is not None, in_flight, pending, age)

    async def aclose(self) -> None:
        """Refuse new posts, then let every lane drain (its own ``drain_timeout``)."""
        self.closing = True
        # Each lane's drain is bounded by drain_timeout; this bounds a stuck close.
        with trio.move_on_after(self.config.sender.drain_timeout + _CLOSE_SLACK, shield=True):
            await self.hub.aclose()


@asynccontextmanager
async def open_lanes(
    config: RelayConfig, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Lanes]:
    """The relay's lanes for the life of the block; leaving it drains them.

    Resource handling:
        The hub opens the outbox and (with a ``redis://`` ``rate_limit_store``) the
        Redis store for the whole block, so the lanes share them; it closes them last.
    """
    sender = config.sender
    sink = RelaySink(
        make_sink(sender.dead_letter, include_attachments=sender.dead_letter_attachments)
    )
    # Relays on one Redis outbox share it: a post for a webhook another relay delivers
    # is committed here and delivered there (SQLite: refused, 503).
    hub_config = attrs.evolve(sender, dead_letter=sink, wait=True, share_outbox=True)
    async with open_webhook_hub(
        config=hub_config, ssl_context=ssl_context, idle_timeout=config.idle_timeout
    ) as hub:
        outbox = hub.outbox
        assert outbox is not None  # RelayConfig requires one
        lanes = Lanes(config, hub, outbox, sink)
        try:
            await lanes.recover()
            yield lanes
        finally:
            await lanes.aclose()
