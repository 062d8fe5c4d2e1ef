"""The sender: ``open_webhook_sender`` and the task behind it.

::

    producer ──send_nowait()──▶ PressureBuffer (queue_cap ready, then shed-able)
                                       │ sender task (takes the oldest)
                                       ▼
                  plan ─▶ WebhookClient (limiter, retry) ─▶ receipt
                                       │
                                       └─▶ dead letter (sink)

Every message ends in exactly one of two ways: delivered (its receipt resolves with the
:class:`Delivery`) or dead-lettered (its receipt raises :class:`DeliveryFailed` and the
record goes to the sink). ``stats()`` counts both, so ``enqueued == delivered + dead +
in_flight`` always holds.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Final

import trio

from trio_webhook._client import WebhookClient
from trio_webhook._client_setup import client_from_config, close_client
from trio_webhook._config import DEFAULT_CONFIG, SenderConfig
from trio_webhook._draining import Draining, running
from trio_webhook._durable import Durable, shared_outbox
from trio_webhook._errors import QueueFull
from trio_webhook._limits import check
from trio_webhook._models import Message
from trio_webhook._receipts import Item, Receipt, SenderStats
from trio_webhook.outbox import OutboxError
from trio_webhook.ratelimit import (
    RateLimitTracker,
)
from trio_webhook.stores._redis import open_rate_limit_store
from trio_webhook.transport._base import Transport

__all__ = [
    "Receipt",
    "SenderStats",
    "WebhookSender",
    "open_webhook_sender",
]

logger: Final = logging.getLogger("trio_webhook")


class WebhookSender(Draining):
    """Queues messages for one webhook and delivers them in order.

    Made by :func:`open_webhook_sender`; see there for the lifecycle.
    """

    def __repr__(self) -> str:
        return f"<WebhookSender {self._client.url.redacted}>"

    @property
    def client(self) -> WebhookClient:
        """The client the sender delivers through."""
        return self._client

    # -- the producer's side -----------------------------------------------------------

    def send_nowait(self, message: Message) -> Receipt:
        """Queue ``message`` and return at once; never waits on the network.

        Past the high-water mark the attachments of the oldest buffered message are shed
        (with a warning and a count); embeds and content never are.

        Raises:
            ValidationError: The message breaks a Discord limit that splitting cannot fix.
            QueueFull: ``max_buffered`` messages are already buffered.
            SenderClosed: The sender is shutting down.
        """
        check(
            message,
            max_upload_bytes=self._config.max_upload_bytes,
            max_request_bytes=self._config.max_request_bytes,
            split_content=self._config.split_content,
        )
        item = Item(message)
        self._push_nowait(item)
        self._enqueued += 1
        if self._durable is not None:
            self._durable.accept(item)
        if logger.isEnabledFor(logging.DEBUG):
            self._log_enqueued()
        return item.receipt

    async def send(self, message: Message, *, wait_for_room: bool = True) -> Receipt:
        """Queue ``message``, waiting for room below the high-water mark instead of shedding.

        With an outbox it returns once the message is committed.

        Args:
            message: The message.
            wait_for_room: ``False`` raises ``QueueFull`` instead of waiting when the
                buffer is at its high-water mark (it never sheds either), for a caller
                that would rather answer "try later", as the relay's 503 does.

        Cancellation: a cancelled ``send`` queued nothing.

        Raises:
            ValidationError: The message breaks a Discord limit that splitting cannot fix.
            QueueFull: With ``wait_for_room=False``, the buffer is at its high-water mark.
            OutboxError: The outbox could not commit it (it is queued in memory only).
            SenderClosed: The sender is shutting down.
        """
        check(
            message,
            max_upload_bytes=self._config.max_upload_bytes,
            max_request_bytes=self._config.max_request_bytes,
            split_content=self._config.split_content,
        )
        item = Item(message)
        if wait_for_room:
            await self._buffer.push(item)
        else:
            await trio.lowlevel.checkpoint()
            self._push_if_room(item)
        self._enqueued += 1
        if logger.isEnabledFor(logging.DEBUG):
            self._log_enqueued()
        if self._durable is not None:
            self._durable.accept(item)
            # Shielded: the message is queued; the caller may stop waiting, but the
            # promise of send() is that it returns once the message is committed.
            with trio.CancelScope(shield=True):
                durable = await self._durable.committed(item)
            if not durable:
                raise OutboxError(
                    "the message is queued and will be delivered while this process lives, "
                    "but the outbox could not commit it (see the error logged): a crash "
                    "now would lose it"
                )
        return item.receipt

    def _push_if_room(self, item: Item) -> None:
        """Queue ``item`` below the high-water mark (so nothing is shed), or refuse it."""
        buffered, mark = len(self._buffer), self._buffer.high_water
        if buffered >= mark:
            raise QueueFull(
                f"{buffered} messages are buffered, at the high-water mark (high_water="
                f"{mark}); send(wait_for_room=False) refuses rather than waits: try again "
                "later, or raise high_water"
            )
        self._push_nowait(item)

    async def flush(self) -> None:
        """Wait until every message accepted so far is committed to the outbox.

        Without an outbox it returns at once (there is nothing to commit). A crash after
        ``flush`` returns loses none of the messages it covered.
        """
        if self._durable is None:
            await trio.lowlevel.checkpoint()
            return
        await self._durable.flush()

    def _log_enqueued(self) -> None:
        webhook_id = self._client.url.webhook_id
        logger.debug(
            "enqueued message %d for webhook %s",
            self._enqueued,
            webhook_id,
            extra={"webhook_id": webhook_id, "seq": self._enqueued},
        )

    def stats(self) -> SenderStats:
        """A frozen snapshot of the counters."""
        counters = self._client.counters
        buffer = self._buffer.statistics()
        limits = self._client.tracker.metrics(trio.current_time())
        return SenderStats(
            enqueued=self._enqueued,
            delivered=self._delivered,
            dead=self._dead,
            in_flight=self._enqueued - self._delivered - self._dead - self._kept,
            requests=counters.requests,
            retries=counters.retries,
            ambiguous_retries=counters.ambiguous_retries,
            rate_limited=dict(counters.rate_limited),
            waits=counters.waits,
            wait_seconds=counters.wait_seconds,
            shed_attachments=buffer.shed_attachments,
            shed_messages=buffer.shed_messages,
            buffered=buffer.buffered,
            invalid_requests=limits.invalid_requests,
            edge_bans=limits.edge_bans,
            kept=self._kept,
            recovered=self._recovered,
            recovered_ambiguous=self._recovered_ambiguous,
            outbox_errors=self._durable.errors if self._durable is not None else 0,
        )


def open_webhook_sender(
    url: str,
    *,
    config: SenderConfig | None = None,
    client: WebhookClient | None = None,
    tracker: RateLimitTracker | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
) -> AbstractAsyncContextManager[WebhookSender]:
    """Open a sender for one webhook: queue without blocking, deliver in order.

    Args:
        url: The webhook URL.
        config: Queue sizes, timeouts, retry, strategy, dead-letter target, dry run.
        client: A client to deliver through (its own retry policy and timeouts then
            apply, not ``config``'s); by default one is made from ``config`` and closed
            on exit.
        tracker: The rate-limit tracker of the client made here (``config``'s strategy
            is then the tracker's own). Give the senders of one process the same
            tracker, so they pace the global limit and a channel's hidden limit together.
        ssl_context: Trust for the server's certificate, for the client made here.
        transport: How the client made here reaches Discord, such as
            ``FakeDiscord.transport()`` (its own timeouts apply, not ``config``'s).

    Example::

        async with open_webhook_sender(url, config=SenderConfig(dead_letter="dead.jsonl")) as s:
            s.send_nowait(Message(embeds=[Embed(title="build 42 passed")]))

    Raises:
        ValueError: ``client`` is given together with ``tracker``, ``ssl_context`` or
            ``transport`` (those build a client; a given client has its own), or
            ``config.rate_limit_store`` together with ``client`` or ``tracker``.

    Resource handling:
        The sender task lives exactly as long as the ``async with`` block.
        Leaving it (normally, by an exception, or by cancellation from outside) drains the
        queue within ``config.drain_timeout``, in a shielded scope, then dead-letters what
        is left with reason ``shutdown``. Nothing is lost without a record.
    """
    return _SenderBlock(url, config, client, tracker, ssl_context, transport)


class _SenderBlock:
    """:func:`open_webhook_sender`'s block: the client, the running sender, the close.

    A class, not a generator-based context manager: those stay alive as long as the
    sender (a generator, its frame, a bound ``__aexit__`` and trio's weak reference to
    the generator each), objects the garbage collector walks at a thousand senders.
    """

    __slots__ = ("_client", "_inner", "_own", "_parts")

    def __init__(
        self,
        url: str,
        config: SenderConfig | None,
        client: WebhookClient | None,
        tracker: RateLimitTracker | None,
        ssl_context: ssl.SSLContext | None,
        transport: Transport | None,
    ) -> None:
        self._parts = (url, config, client, tracker, ssl_context, transport)
        self._own = client is None
        self._client: WebhookClient | None = None
        self._inner: AbstractAsyncContextManager[WebhookSender] | None = None

    async def __aenter__(self) -> WebhookSender:
        url, config, client, tracker, ssl_context, transport = self._parts
        config = config if config is not None else DEFAULT_CONFIG
        client = self._client = _client_for(url, config, client, tracker, ssl_context, transport)
        if config.rate_limit_store is None and config.outbox is None:
            # Nothing to open beside the sender (the usual one).
            self._inner = running(WebhookSender(client, config))
        else:
            self._inner = _opened(client, config)
        try:
            return await self._inner.__aenter__()
        except BaseException:
            await self._close()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._inner is not None
        try:
            return await self._inner.__aexit__(exc_type, exc, tb)
        finally:
            await self._close()

    async def _close(self) -> None:
        if self._own and self._client is not None:
            await close_client(self._client)


def _client_for(
    url: str,
    config: SenderConfig,
    client: WebhookClient | None,
    tracker: RateLimitTracker | None,
    ssl_context: ssl.SSLContext | None,
    transport: Transport | None,
) -> WebhookClient:
    """The client given, or one made from ``config``; refuses a mix of the two."""
    if config.rate_limit_store is not None and (client is not None or tracker is not None):
        raise ValueError(
            "open_webhook_sender: config.rate_limit_store is for the tracker made here; "
            "give a tracker= or client= of your own its store (RateLimitTracker(store=...))"
        )
    if client is None:
        return client_from_config(
            url, config, tracker=tracker, ssl_context=ssl_context, transport=transport
        )
    if tracker is not None or ssl_context is not None or transport is not None:
        raise ValueError(
            "open_webhook_sender: pass either client= or the parts of a client to make "
            "(tracker=, ssl_context=, transport=), not both"
        )
    return client


@asynccontextmanager
async def _opened(client: WebhookClient, config: SenderConfig) -> AsyncIterator[WebhookSender]:
    """A running sender on ``client``, with ``config``'s rate-limit store and outbox."""
    async with (
        open_rate_limit_store(config.rate_limit_store) as store,
        shared_outbox(config.outbox) as outbox,
    ):
        if store is not None:
            client.tracker.use_store(store)
        durable = None
        if outbox is not None:
            durable = Durable(outbox, client.url.webhook_id, share=config.share_outbox)
            await durable.open()
        async with running(WebhookSender(client, config, durable)) as sender:
            yield sender
