"""The hub: many webhooks through one object, a sender lane for each, opened on demand.

::

    hub.send_nowait(url, message) ─▶ lane of url (a WebhookSender; opened if none) ─▶ …
                                      │ idle for idle_timeout, nothing in flight
                                      ▼
                                   closed; its counters kept; reopened on the next message

Every lane is a :class:`~trio_webhook.WebhookSender` running in the hub's nursery, so a
message's path, receipt, retries and dead letter are exactly a sender's. The lanes share
one rate-limit tracker, one transport (the process's shared pool by default), one
dead-letter sink and one cap on the messages accepted and not yet settled.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import attrs
import trio

from trio_webhook._config import DEFAULT_CONFIG, SenderConfig
from trio_webhook._draining import _raise_single, running
from trio_webhook._errors import QueueFull, SenderClosed
from trio_webhook._hub_lane import Borrowed, Lane
from trio_webhook._hub_stats import HubStats, compact, sum_stats
from trio_webhook._models import Message
from trio_webhook._receipts import Receipt, SenderStats
from trio_webhook._sender import _strategy, client_from_config, closing_client
from trio_webhook._sinks import make_sink
from trio_webhook._url import WebhookURL, parse_webhook_url
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.stores._redis import open_rate_limit_store
from trio_webhook.transport._base import Transport

__all__ = ["DEFAULT_IDLE_TIMEOUT", "DEFAULT_MAX_BUFFERED_TOTAL", "WebhookHub", "open_webhook_hub"]

DEFAULT_IDLE_TIMEOUT: Final = 60.0
"""Seconds a lane stays open with nothing to do (a lane costs about 20 KiB open)."""
DEFAULT_MAX_BUFFERED_TOTAL: Final = 50_000
"""Messages accepted and not yet settled, over every lane (about 1 KiB each, files aside)."""


@attrs.frozen
class HubParts:
    """What every lane of a hub shares: settings, tracker, transport, trust, limits."""

    config: SenderConfig
    tracker: RateLimitTracker
    transport: Transport | None
    ssl_context: ssl.SSLContext | None
    idle_timeout: float
    max_buffered_total: int


class WebhookHub:
    """Delivers to many webhooks: a lane (a sender) for each, opened when first needed.

    Made by :func:`open_webhook_hub`; see there for the lifecycle.
    """

    def __init__(self, nursery: trio.Nursery, parts: HubParts) -> None:
        self._nursery = nursery
        self._parts = parts
        self._lanes: dict[WebhookURL, Lane] = {}
        # The counters of each closed lane, and all of them summed (stats() adds the open).
        self._closed: dict[WebhookURL, SenderStats] = {}
        self._closed_total = sum_stats(())
        self._pending = 0
        self._room = trio.lowlevel.ParkingLot()
        self._lanes_opened = 0
        self._closing = False

    def __repr__(self) -> str:
        return f"<WebhookHub {len(self._lanes)} lanes open>"

    @property
    def tracker(self) -> RateLimitTracker:
        """The rate-limit tracker every lane paces itself with."""
        return self._parts.tracker

    # -- the producer's side -----------------------------------------------------------

    def send_nowait(self, url: str, message: Message) -> Receipt:
        """Queue ``message`` for the webhook at ``url`` and return at once.

        Messages to one webhook are delivered in the order given; webhooks do not wait on
        one another (except for the rate limits they share). The lane's own rules apply
        as a sender's ``send_nowait``: past its high-water mark the oldest buffered
        message's files are shed.

        Raises:
            InvalidWebhookURL: ``url`` is not a webhook URL.
            ValidationError: The message breaks a Discord limit that splitting cannot fix.
            QueueFull: ``max_buffered_total`` messages over every webhook, or the lane's
                ``max_buffered``, are already waiting.
            SenderClosed: The hub is shutting down.
        """
        if self._pending >= self._parts.max_buffered_total:
            raise QueueFull(
                f"max_buffered_total ({self._parts.max_buffered_total}) messages are waiting "
                f"over every webhook of the hub ({self._pending} now); slow down, use "
                "await hub.send(), or raise max_buffered_total"
            )
        lane = self._lane(url)
        self._pending += 1
        try:
            return lane.send_nowait(message)
        except BaseException:
            self._pending -= 1
            raise

    async def send(self, url: str, message: Message) -> Receipt:
        """Queue ``message`` for ``url``, waiting for room instead of raising or shedding.

        It waits while ``max_buffered_total`` messages are waiting over every webhook,
        then as a sender's ``send`` does (below the lane's high-water mark).

        Cancellation: a cancelled ``send`` queued nothing.

        Raises:
            InvalidWebhookURL: ``url`` is not a webhook URL.
            ValidationError: The message breaks a Discord limit that splitting cannot fix.
            SenderClosed: The hub is shutting down.
        """
        parse_webhook_url(url)  # a bad URL fails before waiting for room
        while self._pending >= self._parts.max_buffered_total:
            await self._room.park()
        lane = self._lane(url)
        self._pending += 1
        try:
            return await lane.send(message)
        except BaseException:
            self._pending -= 1
            raise

    def _lane(self, url: str) -> Lane:
        """The open lane of ``url``'s webhook, opened now if it has none."""
        key = parse_webhook_url(url)
        lane = self._lanes.get(key)
        if lane is None:
            if self._closing:
                raise SenderClosed("the hub is shutting down")
            transport = self._parts.transport
            client = client_from_config(
                url,
                self._parts.config,
                tracker=self._parts.tracker,
                ssl_context=self._parts.ssl_context,
                transport=Borrowed(transport) if transport is not None else None,
            )
            lane = self._lanes[key] = Lane(client, self._parts.config, self._settled)
            self._lanes_opened += 1
            self._nursery.start_soon(self._run_lane, key, lane)
        lane.last_used = trio.current_time()
        return lane

    def _settled(self, count: int) -> None:
        """``count`` messages of some lane were delivered or dead-lettered."""
        self._pending -= count
        if self._room and self._pending < self._parts.max_buffered_total:
            self._room.unpark()

    # -- the lanes ---------------------------------------------------------------------

    async def _run_lane(self, key: WebhookURL, lane: Lane) -> None:
        """Run ``lane`` until it has been idle for ``idle_timeout`` (or the hub closes)."""
        try:
            async with closing_client(lane.client, own=True), running(lane):
                with lane.idle_scope:
                    while True:
                        await trio.sleep_until(lane.last_used + self._parts.idle_timeout)
                        if lane.idle() and trio.current_time() >= (
                            lane.last_used + self._parts.idle_timeout
                        ):
                            break
                        # Still busy (rate-limited, retrying): look again a timeout later.
                        lane.last_used = max(lane.last_used, trio.current_time())
                if not lane.idle_scope.cancelled_caught:
                    # Closing idle: at once, before the drain awaits anything, so that a
                    # message sent from now on opens a new lane rather than reaching one
                    # that is closing. Its counters are final (an empty sender's close
                    # changes none). Closed with the hub, it drains first.
                    self._retire(key, lane)
        finally:
            self._retire(key, lane)

    def _retire(self, key: WebhookURL, lane: Lane) -> None:
        """Move ``lane`` from the open lanes to the closed counters (once)."""
        if self._lanes.get(key) is not lane:
            return
        del self._lanes[key]
        final = compact(lane.stats())
        self._closed_total = sum_stats((final,), self._closed_total)
        previous = self._closed.get(key)
        self._closed[key] = sum_stats((final,), previous) if previous else final

    # -- watching ----------------------------------------------------------------------

    def stats(self) -> HubStats:
        """A snapshot of every webhook's counters summed, and of the lanes."""
        total = sum_stats((lane.stats() for lane in self._lanes.values()), self._closed_total)
        limits = self._parts.tracker.metrics(trio.current_time())
        total = attrs.evolve(
            total, invalid_requests=limits.invalid_requests, edge_bans=limits.edge_bans
        )
        return HubStats(
            total=total,
            lanes=len(self._lanes),
            webhooks=len(self._closed.keys() | self._lanes.keys()),
            lanes_opened=self._lanes_opened,
        )

    def webhook_stats(self, url: str) -> SenderStats | None:
        """The counters of ``url``'s webhook over every lane it had, or ``None`` if unused."""
        key = parse_webhook_url(url)
        lane = self._lanes.get(key)
        closed = self._closed.get(key)
        if lane is None:
            return closed
        return sum_stats((lane.stats(),), closed) if closed is not None else lane.stats()

    async def _aclose(self) -> None:
        """Close every lane: each drains as a sender does, all at once."""
        self._closing = True
        for lane in list(self._lanes.values()):
            lane.idle_scope.cancel()


@asynccontextmanager
async def open_webhook_hub(
    *,
    config: SenderConfig | None = None,
    tracker: RateLimitTracker | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_buffered_total: int = DEFAULT_MAX_BUFFERED_TOTAL,
) -> AsyncIterator[WebhookHub]:
    """Open a hub: send to any number of webhooks through one object.

    Each webhook gets a lane, a :func:`~trio_webhook.open_webhook_sender` sender made
    from ``config``, when its first message comes; the lane closes after
    ``idle_timeout`` seconds with no new message and nothing left to deliver, and
    reopens on the next. Receipts, retries, dead letters and stats are a sender's; the
    lanes share one rate-limit tracker, one transport and one dead-letter sink.

    Args:
        config: Every lane's settings (``queue_cap``, ``max_buffered``, timeouts, retry,
            dead-letter target, ...). An ``outbox`` is not supported by the hub yet.
        tracker: The tracker every lane shares (by default one of ``config``'s strategy,
            with ``config.rate_limit_store`` if set).
        ssl_context: Trust for the server's certificate, for the default transport.
        transport: How every lane reaches Discord (closed when the hub closes); by
            default the process's shared connection pool.
        idle_timeout: Seconds a lane stays open with nothing to do.
        max_buffered_total: Messages accepted and not yet delivered or dead-lettered
            over every webhook; past it ``send_nowait`` raises ``QueueFull`` and
            ``send`` waits.

    Example::

        async with open_webhook_hub() as hub:
            for user in users:
                hub.send_nowait(user.webhook_url, Message(content="build 42 passed"))

    Raises:
        ValueError: ``idle_timeout`` or ``max_buffered_total`` is not positive,
            ``config.outbox`` is set, or ``config.rate_limit_store`` with ``tracker``.

    Resource handling:
        The lanes live in a nursery owned by the block. Leaving it (normally, by an
        exception or by cancellation) drains every lane at once within
        ``config.drain_timeout``, shielded, and dead-letters what is left as
        ``shutdown``, as a sender does.
    """
    config = config if config is not None else DEFAULT_CONFIG
    _check_hub(config, tracker, idle_timeout, max_buffered_total)
    limits = (idle_timeout, max_buffered_total)
    async with _running_hub(config, tracker, transport, ssl_context, limits) as hub:
        yield hub


@asynccontextmanager
async def _running_hub(
    config: SenderConfig,
    tracker: RateLimitTracker | None,
    transport: Transport | None,
    ssl_context: ssl.SSLContext | None,
    limits: tuple[float, int],
) -> AsyncIterator[WebhookHub]:
    """The hub, its tracker and store, its nursery of lanes; on leaving, every lane drains."""
    # One sink for every lane (a JSONL file is appended to by one writer, not 10,000).
    sink = make_sink(config.dead_letter, include_attachments=config.dead_letter_attachments)
    lane_config = attrs.evolve(
        config, dead_letter=sink, dead_letter_attachments=True, rate_limit_store=None
    )
    async with open_rate_limit_store(config.rate_limit_store) as store:
        if tracker is None:
            tracker = RateLimitTracker(strategy=_strategy(config), rng=random.Random(config.seed))
        if store is not None:
            tracker.use_store(store)
        try:
            async with trio.open_nursery() as nursery:
                parts = HubParts(lane_config, tracker, transport, ssl_context, *limits)
                hub = WebhookHub(nursery, parts)
                try:
                    yield hub
                finally:
                    await hub._aclose()
        except BaseExceptionGroup as group:
            # The lanes never raise (a message's failure is its own): the group holds
            # the caller's exception, handed back as itself, as a sender does.
            _raise_single(group)
        finally:
            if transport is not None:
                with trio.move_on_after(1.0, shield=True):
                    await transport.aclose()


def _check_hub(
    config: SenderConfig,
    tracker: RateLimitTracker | None,
    idle_timeout: float,
    max_buffered_total: int,
) -> None:
    if not idle_timeout > 0:
        raise ValueError(f"open_webhook_hub: idle_timeout must be positive (got {idle_timeout})")
    if max_buffered_total < 1:
        raise ValueError(
            f"open_webhook_hub: max_buffered_total must be at least 1 (got {max_buffered_total})"
        )
    if config.outbox is not None:
        raise ValueError(
            "open_webhook_hub: config.outbox is not supported by the hub yet; "
            "use open_webhook_sender per webhook for an outbox"
        )
    if config.rate_limit_store is not None and tracker is not None:
        raise ValueError(
            "open_webhook_hub: config.rate_limit_store is for the tracker made here; "
            "give your tracker= its store (RateLimitTracker(store=...))"
        )
