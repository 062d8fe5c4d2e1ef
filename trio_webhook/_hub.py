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

import ssl
from collections import OrderedDict

import attrs
import trio

from trio_webhook._client_setup import client_from_config, closing_client
from trio_webhook._config import SenderConfig
from trio_webhook._errors import QueueFull, SenderClosed
from trio_webhook._hub_lane import Borrowed, Lane
from trio_webhook._hub_stats import HubStats, compact, sum_stats
from trio_webhook._models import Message
from trio_webhook._receipts import Receipt, SenderStats
from trio_webhook._url import WebhookURL, parse_webhook_url
from trio_webhook.outbox import Outbox, OutboxError
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.transport._base import Transport

__all__ = ["HubParts", "WebhookHub"]


@attrs.frozen
class HubParts:
    """What every lane of a hub shares: settings, tracker, transport, trust, limits, outbox."""

    config: SenderConfig
    tracker: RateLimitTracker
    transport: Transport | None
    ssl_context: ssl.SSLContext | None
    idle_timeout: float
    max_buffered_total: int
    outbox: Outbox | None = None


class WebhookHub:
    """Delivers to many webhooks: a lane (a sender) for each, opened when first needed.

    Made by :func:`~trio_webhook.hub.open_webhook_hub`; see there for the lifecycle.
    """

    def __init__(self, nursery: trio.Nursery, parts: HubParts) -> None:
        self._nursery = nursery
        self._parts = parts
        # Least recently used first: the reaper looks at the first lane only (see _reap).
        self._lanes: OrderedDict[WebhookURL, Lane] = OrderedDict()
        # With an outbox: lanes retired and still closing (a new lane waits for its lease).
        self._closing_lanes: dict[WebhookURL, Lane] = {}
        # The counters of each closed lane, and all of them summed (stats() adds the open).
        # Keyed by webhook id, not the parsed URL: an idle webhook then keeps no token,
        # base or URL object (about 250 bytes of issue 16's 2 KiB an idle webhook).
        self._closed: dict[str, SenderStats] = {}
        self._closed_total = sum_stats(())
        self._pending = 0
        self._room = trio.lowlevel.ParkingLot()
        self._lanes_opened = 0
        self._closing = False
        self._reaper = trio.CancelScope()
        nursery.start_soon(self._reap)

    def __repr__(self) -> str:
        return f"<WebhookHub {len(self._lanes)} lanes open>"

    @property
    def tracker(self) -> RateLimitTracker:
        """The rate-limit tracker every lane paces itself with."""
        return self._parts.tracker

    @property
    def outbox(self) -> Outbox | None:
        """The outbox every lane commits to (``None`` without one)."""
        return self._parts.outbox

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

    async def send(self, url: str, message: Message, *, wait_for_room: bool = True) -> Receipt:
        """Queue ``message`` for ``url``, waiting for room instead of raising or shedding.

        It waits while ``max_buffered_total`` messages are waiting over every webhook,
        then as a sender's ``send`` does (below the lane's high-water mark). With an
        outbox it also waits for the lane to open, and returns once the message is
        committed.

        Args:
            url: The webhook URL.
            message: The message.
            wait_for_room: ``False`` raises ``QueueFull`` where it would wait for room
                (for a caller that answers "try later" during a long outage).

        Cancellation: a cancelled ``send`` queued nothing (once the lane has the message,
        the wait for its commit is shielded, as a sender's).

        Raises:
            InvalidWebhookURL: ``url`` is not a webhook URL.
            ValidationError: The message breaks a Discord limit that splitting cannot fix.
            QueueFull: With ``wait_for_room=False``, the hub or the lane is full.
            OutboxError: The webhook cannot be opened in the outbox (nothing was queued),
                or its commit failed (queued in memory only).
            SenderClosed: The hub is shutting down.
        """
        parse_webhook_url(url)  # a bad URL fails before waiting for room
        while self._pending >= self._parts.max_buffered_total:
            if not wait_for_room:
                raise QueueFull(
                    f"max_buffered_total ({self._parts.max_buffered_total}) messages are "
                    "waiting over every webhook of the hub; try again later"
                )
            await self._room.park()
        lane = self._lane(url)
        if not lane.opened.is_set():
            await lane.opened.wait()
        if lane.open_error is not None:
            raise OutboxError(
                f"the outbox cannot open webhook {lane.client.url.webhook_id} now "
                f"({type(lane.open_error).__name__}: {lane.open_error})"
            )
        self._pending += 1
        try:
            return await lane.send(message, wait_for_room=wait_for_room)
        except BaseException:
            self._pending -= 1
            raise

    async def open_lane(self, url: str) -> None:
        """Open ``url``'s lane now, without a message: it delivers the outbox's backlog.

        The lane closes when idle as any other. Used at start for webhooks with a
        backlog that an earlier run left (the outbox keeps ids, never tokens).

        Raises:
            InvalidWebhookURL: ``url`` is not a webhook URL.
            SenderClosed: The hub is shutting down.
        """
        lane = self._lane(url)
        await lane.opened.wait()

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
            lane = Lane(client, self._parts.config, self._settled, self._parts.outbox)
            self._lanes[key] = lane
            self._lanes_opened += 1
            self._nursery.start_soon(self._run_lane, key, lane)
        else:
            self._lanes.move_to_end(key)
        lane.last_used = trio.current_time()
        return lane

    def _settled(self, count: int) -> None:
        """``count`` messages of some lane were settled (a negative count: recovered)."""
        self._pending -= count
        if self._room and self._pending < self._parts.max_buffered_total:
            self._room.unpark()

    # -- the lanes ---------------------------------------------------------------------

    async def _run_lane(self, key: WebhookURL, lane: Lane) -> None:
        """Run ``lane`` until it is stopped: idle (see :meth:`_reap`) or the hub closing."""
        try:
            async with closing_client(lane.client, own=True):
                before = self._closing_lanes.get(key)
                if before is not None:
                    # Its lease goes back as it closes: claiming it first would lose it.
                    with trio.CancelScope(shield=True):
                        await before.closed.wait()
                await lane.open()
                if lane.open_error is not None and lane.idle():
                    # Nothing to deliver from memory: the next message tries the open again.
                    self._retire(key, lane)
                    return
                await lane.run()
        finally:
            lane.opened.set()
            self._retire(key, lane)
            lane.closed.set()
            if self._closing_lanes.get(key) is lane:
                del self._closing_lanes[key]

    async def _reap(self) -> None:
        """Stop each lane ``idle_timeout`` after its last message, once it has nothing to do.

        One task for every lane, not a timer in each: the lanes are kept least recently
        used first, so the first lane's time is the soonest any lane can be due.
        """
        with self._reaper:
            while True:
                wake_at = self._reap_first(trio.current_time())
                if wake_at is not None:
                    await trio.sleep_until(wake_at)

    def _reap_first(self, now: float) -> float | None:
        """Stop the least recently used lane if it is idle; when to look next (None: now).

        A function of its own so that the reaper holds no lane while it sleeps.
        """
        timeout = self._parts.idle_timeout
        if not self._lanes:
            # A lane opened from now on is due a timeout from its opening, or later.
            return now + timeout
        key, lane = next(iter(self._lanes.items()))
        if now < lane.last_used + timeout:
            return lane.last_used + timeout
        if lane.idle() and lane.opened.is_set():
            # Retired before its drain awaits anything, so that a message sent from now
            # on opens a new lane rather than reaching one that is closing. Its counters
            # are final (an empty sender's close changes none).
            self._retire(key, lane)
            lane.stop()
        else:
            # Still busy (opening, rate-limited, retrying): look again a timeout later.
            lane.last_used = now
            self._lanes.move_to_end(key)
        return None

    def _retire(self, key: WebhookURL, lane: Lane) -> None:
        """Move ``lane`` from the open lanes to the closed counters (once)."""
        if self._lanes.get(key) is not lane:
            return
        del self._lanes[key]
        if self._parts.outbox is not None:
            self._closing_lanes[key] = lane
        final = compact(lane.stats())
        self._closed_total = sum_stats((final,), self._closed_total)
        previous = self._closed.get(key.webhook_id)
        self._closed[key.webhook_id] = sum_stats((final,), previous) if previous else final

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
            webhooks=len(self._closed.keys() | {key.webhook_id for key in self._lanes}),
            lanes_opened=self._lanes_opened,
        )

    def webhook_stats(self, url: str) -> SenderStats | None:
        """The counters of ``url``'s webhook over every lane it had, or ``None`` if unused."""
        key = parse_webhook_url(url)
        lane = self._lanes.get(key)
        closed = self._closed.get(key.webhook_id)
        if lane is None:
            return closed
        return sum_stats((lane.stats(),), closed) if closed is not None else lane.stats()

    def is_open(self, url: str) -> bool:
        """Whether ``url``'s webhook has a lane open now."""
        return parse_webhook_url(url) in self._lanes

    async def aclose(self) -> None:
        """Refuse new messages and close every lane now; return once all are closed.

        Each lane drains as a sender does (within ``config.drain_timeout``), all at
        once. Leaving the hub's block does the same; this lets a server answer the
        posters still waiting before it stops listening.
        """
        self._begin_close()
        for lane in [*self._lanes.values(), *self._closing_lanes.values()]:
            await lane.closed.wait()

    def _begin_close(self) -> None:
        """Close every lane: each drains as a sender does, all at once."""
        self._closing = True
        self._reaper.cancel()
        for lane in list(self._lanes.values()):
            lane.stop()
