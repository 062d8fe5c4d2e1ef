"""The lanes: one library sender per webhook, opened on demand, closed when idle.

Every sender shares one :class:`~trio_webhook.ratelimit.RateLimitTracker` (so the global
limit, a channel's hidden limit and the invalid-request budget are paced together; in
Redis when ``sender.rate_limit_store`` is a URL) and one outbox. :class:`Lanes` is the
whole interface the app uses (``submit``, ``watch``, ``views``, ``closing``), so a hub of
many webhooks can take its place.

Tokens: the outbox keeps webhook ids only, so what an earlier run left pending can be
delivered at start only for the webhooks listed in ``RelayConfig.webhooks``; any other
is delivered when its next post arrives (that post's sender recovers the backlog first).
"""

from __future__ import annotations

import collections
import hmac
import logging
import random
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Final

import attrs
import trio

from trio_webhook._durable import shared_outbox
from trio_webhook._errors import SenderClosed
from trio_webhook._models import Message
from trio_webhook._receipts import Receipt
from trio_webhook._records import DeadLetter
from trio_webhook._sender import WebhookSender, _strategy, open_webhook_sender
from trio_webhook._sinks import DeadLetterSink, make_sink
from trio_webhook._url import WebhookURL, parse_webhook_url
from trio_webhook.outbox import Outbox, OutboxError, WebhookSummary
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.relay._answers import Refused
from trio_webhook.relay._config import RelayConfig
from trio_webhook.stores._redis import open_rate_limit_store

__all__ = ["LaneView", "Lanes", "RelaySink", "open_lanes"]

logger: Final = logging.getLogger("trio_webhook.relay")

# Seconds beyond the senders' drain_timeout that closing may take (closing the outbox).
_CLOSE_SLACK: Final = 5.0
# How long a waiting poster waits for the dead letter (and Discord's body) of its message
# after the receipt failed: the sender hands it to the sink right after.
_RECORD_WAIT: Final = 2.0


class RelaySink:
    """The senders' dead-letter sink: counts, hands Discord's answer to a waiting poster.

    Records go on to the configured ``dead_letter`` target (the outbox keeps its own).
    """

    def __init__(self, inner: DeadLetterSink | None) -> None:
        self._inner = inner
        self.dead: collections.Counter[str] = collections.Counter()
        self._watched: dict[int, tuple[trio.Event, list[DeadLetter]]] = {}

    async def put(self, record: DeadLetter) -> None:
        """Count ``record``, wake its poster if one waits, and pass it on."""
        self.dead[record.webhook_id or ""] += 1
        watched = self._watched.get(id(record.message))
        if watched is not None:
            watched[1].append(record)
            watched[0].set()
        if self._inner is not None:
            await self._inner.put(record)

    def watch(self, message: Message) -> None:
        """Start catching ``message``'s dead letter (before it can fail)."""
        self._watched.setdefault(id(message), (trio.Event(), []))

    def unwatch(self, message: Message) -> None:
        """Stop catching ``message``'s dead letter."""
        self._watched.pop(id(message), None)

    async def record_for(self, message: Message) -> DeadLetter | None:
        """The dead letter of a watched ``message`` once the sender hands it over."""
        watched = self._watched.get(id(message))
        if watched is None:
            return None
        with trio.move_on_after(_RECORD_WAIT):
            await watched[0].wait()
        return watched[1][0] if watched[1] else None


@attrs.define(eq=False)
class _Lane:
    url: WebhookURL
    sender: WebhookSender | None = None
    users: int = 0
    last_used: float = 0.0
    closing: bool = False
    failed: str | None = None
    ready: trio.Event = attrs.field(factory=trio.Event)
    done: trio.Event = attrs.field(factory=trio.Event)
    stop: trio.Event = attrs.field(factory=trio.Event)


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
    """One sender per webhook for the relay. Made by :func:`open_lanes`."""

    def __init__(
        self,
        config: RelayConfig,
        tracker: RateLimitTracker,
        outbox: Outbox,
        nursery: trio.Nursery,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.config = config
        self.tracker = tracker
        self.outbox = outbox
        self.sink = RelaySink(
            make_sink(
                config.sender.dead_letter, include_attachments=config.sender.dead_letter_attachments
            )
        )
        self.closing = False
        self._nursery = nursery
        self._ssl = ssl_context
        self._lanes: dict[str, _Lane] = {}
        self._sender_config = attrs.evolve(
            config.sender,
            rate_limit_store=None,
            dead_letter=self.sink,
            dead_letter_attachments=True,
            wait=True,
            # Relays on one Redis outbox share it: a post for a webhook another relay
            # delivers is committed here and delivered there (SQLite: refused, 503).
            share_outbox=True,
        )

    def _open(self, url: WebhookURL) -> _Lane:
        lane = _Lane(url, last_used=trio.current_time())
        self._lanes[url.webhook_id] = lane
        self._nursery.start_soon(self._run, lane)
        return lane

    async def _lane(self, url: WebhookURL) -> _Lane:
        while True:
            if self.closing:
                raise Refused(503, 0, "the relay is shutting down; try again shortly")
            lane = self._lanes.get(url.webhook_id)
            if lane is None:
                return self._open(url)
            if not lane.closing:
                if not hmac.compare_digest(lane.url.token.encode(), url.token.encode()):
                    # One sender per webhook: a second token for it is refused, as Discord
                    # refuses a wrong one, rather than mixed into the first one's queue.
                    raise Refused(401, 50027, "Invalid Webhook Token")
                return lane
            await lane.done.wait()

    async def submit(self, url: WebhookURL, message: Message) -> Receipt:
        """Commit ``message`` for ``url``'s webhook (to the outbox); its receipt.

        Raises:
            Refused: 503 while shutting down or when the webhook's sender cannot open.
        """
        lane = await self._lane(url)
        lane.users += 1
        try:
            await lane.ready.wait()
            if lane.sender is None:
                raise Refused(
                    503, 0, f"the relay cannot deliver to this webhook now: {lane.failed}"
                )
            return await lane.sender.send(message)
        except SenderClosed:
            raise Refused(503, 0, "the relay is shutting down; try again shortly") from None
        except OutboxError as exc:
            logger.error("outbox: cannot commit for webhook %s: %s", url.webhook_id, exc)
            raise Refused(503, 0, "the relay cannot commit the message now") from None
        finally:
            lane.users -= 1
            lane.last_used = trio.current_time()

    async def _run(self, lane: _Lane) -> None:
        wid = lane.url.webhook_id
        upstream = f"{self.config.upstream.rstrip('/')}/api/v10/webhooks/{wid}/{lane.url.token}"
        try:
            async with open_webhook_sender(
                upstream, config=self._sender_config, tracker=self.tracker, ssl_context=self._ssl
            ) as sender:
                lane.sender = sender
                lane.ready.set()
                logger.info("opened the sender for webhook %s", wid, extra={"webhook_id": wid})
                await self._until_idle(lane, sender)
                lane.closing = True
        except Exception as exc:  # one webhook's failure must not stop the relay
            lane.failed = type(exc).__name__
            logger.error(
                "cannot open the sender for webhook %s: %s", wid, exc, extra={"webhook_id": wid}
            )
        finally:
            lane.closing = True
            lane.ready.set()
            lane.done.set()
            if self._lanes.get(wid) is lane:
                del self._lanes[wid]
        logger.info("closed the sender for webhook %s", wid, extra={"webhook_id": wid})

    async def _until_idle(self, lane: _Lane, sender: WebhookSender) -> None:
        idle = self.config.idle_timeout
        while not lane.stop.is_set():
            with trio.move_on_at(lane.last_used + idle):
                await lane.stop.wait()
            if lane.users or sender.stats().in_flight:
                lane.last_used = trio.current_time()  # idle counts from the last work
            elif trio.current_time() >= lane.last_used + idle:
                return

    async def recover(self) -> None:
        """Open a lane for each listed webhook with a backlog; say which must wait."""
        known = {u.webhook_id: u for u in map(parse_webhook_url, self.config.webhooks)}
        for summary in await self.outbox.summary():
            if not summary.pending:
                continue
            wid = summary.webhook_id
            if wid in known:
                self._open(known[wid])
                continue
            logger.warning(
                "%d message(s) pending for webhook %s from an earlier run: delivered when its "
                "next post arrives (or list its URL in the relay's webhooks to deliver at start)",
                summary.pending,
                wid,
                extra={"webhook_id": wid},
            )

    async def views(self) -> list[LaneView]:
        """Each webhook with an open sender or a backlog, for the metrics."""
        try:
            summaries = {s.webhook_id: s for s in await self.outbox.summary()}
        except OutboxError:
            summaries = {}
        ids = sorted(set(self._lanes) | {w for w, s in summaries.items() if s.pending})
        return [self._view(wid, summaries.get(wid)) for wid in ids]

    def _view(self, wid: str, summary: WebhookSummary | None) -> LaneView:
        lane = self._lanes.get(wid)
        sender = lane.sender if lane is not None else None
        in_flight = sender.stats().in_flight if sender is not None else 0
        age = None
        if summary is not None and summary.oldest_pending is not None:
            age = max(0.0, (datetime.now(UTC) - summary.oldest_pending).total_seconds())
        pending = summary.pending if summary is not None else None
        return LaneView(
            wid, sender is not None and not lane.closing if lane else False, in_flight, pending, age
        )

    async def aclose(self) -> None:
        """Refuse new posts, then let every sender drain (its own ``drain_timeout``)."""
        self.closing = True
        for lane in list(self._lanes.values()):
            lane.stop.set()
        # Each sender's drain is bounded by drain_timeout; this bounds a stuck close.
        with trio.move_on_after(self.config.sender.drain_timeout + _CLOSE_SLACK, shield=True):
            for lane in list(self._lanes.values()):
                await lane.done.wait()


@asynccontextmanager
async def open_lanes(
    config: RelayConfig, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Lanes]:
    """The relay's lanes for the life of the block; leaving it drains them.

    Resource handling:
        Opens the outbox and (with a ``redis://`` ``rate_limit_store``) the Redis store
        for the whole block, so the senders share them; closes them last.
    """
    sender = config.sender
    async with (
        open_rate_limit_store(sender.rate_limit_store) as store,
        shared_outbox(sender.outbox) as outbox,
    ):
        assert outbox is not None  # RelayConfig requires one
        tracker = RateLimitTracker(strategy=_strategy(sender), rng=random.Random(sender.seed))
        if store is not None:
            tracker.use_store(store)
        async with trio.open_nursery() as nursery:
            lanes = Lanes(config, tracker, outbox, nursery, ssl_context)
            try:
                await lanes.recover()
                yield lanes
            finally:
                await lanes.aclose()
