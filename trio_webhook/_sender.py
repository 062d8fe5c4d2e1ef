"""The sender: ``open_webhook_sender`` and the two tasks behind it.

::

    producer ──send_nowait()──▶ PressureBuffer ──mover task──▶ memory channel (queue_cap)
                                                                  │ sender task
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

import json
import logging
import math
import random
import ssl
import traceback
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Final, NoReturn

import trio

from trio_webhook._buffer import PressureBuffer
from trio_webhook._client import PlanProgress, WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._durable import COMMITTED, MEMORY, Durable, shared_outbox
from trio_webhook._errors import (
    DeliveryFailed,
    DiscordHTTPError,
    InvalidRequestBudgetExceeded,
    SenderClosed,
    TransportError,
    ValidationError,
)
from trio_webhook._limits import check
from trio_webhook._models import Delivery, Message
from trio_webhook._planning import plan_checked
from trio_webhook._receipts import Item, Receipt, SenderStats
from trio_webhook._records import DeadLetter, Reason
from trio_webhook._retry import RetryPolicy
from trio_webhook._shed import Shed
from trio_webhook._sinks import DeadLetterSink, make_sink
from trio_webhook._url import redact
from trio_webhook.outbox import OutboxError, OutboxLeaseLost, PendingMessage
from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    ProactiveStrategy,
    RateLimitTracker,
    ReactiveStrategy,
    Strategy,
)
from trio_webhook.stores._redis import open_rate_limit_store
from trio_webhook.transport._base import Transport
from trio_webhook.transport._dryrun import DryRunTransport

__all__ = [
    "Receipt",
    "SenderStats",
    "WebhookSender",
    "client_from_config",
    "open_webhook_sender",
]

logger: Final = logging.getLogger("trio_webhook")

# How long shutdown may spend handing one record to a sink (a sink that blocks forever,
# such as a full channel nobody reads, must not hang the exit).
_SINK_TIMEOUT: Final = 5.0
# Shedding warnings: at most one a second (the counters stay exact), naming a few files.
_SHED_LOG_INTERVAL: Final = 1.0
_SHED_LOG_NAMES: Final = 10


def _strategy(config: SenderConfig) -> Strategy:
    if config.strategy == "reactive":
        return ReactiveStrategy()
    if config.strategy == "proactive":
        return ProactiveStrategy(threshold=config.proactive_threshold)
    return AdaptiveStrategy()


def client_from_config(
    url: str,
    config: SenderConfig,
    *,
    tracker: RateLimitTracker | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
) -> WebhookClient:
    """A :class:`WebhookClient` with ``config``'s timeouts, retry policy and strategy."""
    rng = random.Random(config.seed)
    return WebhookClient(
        url,
        retry=RetryPolicy(
            base=config.backoff_base,
            cap=config.backoff_cap,
            max_attempts=config.max_attempts,
            retry_ambiguous=config.retry_ambiguous,
        ),
        tracker=tracker or RateLimitTracker(strategy=_strategy(config), rng=rng),
        rng=rng,
        connect_timeout=config.connect_timeout,
        total_timeout=config.total_timeout,
        max_response_bytes=config.max_response_bytes,
        max_upload_bytes=config.max_upload_bytes,
        ssl_context=ssl_context,
        transport=DryRunTransport() if config.dry_run else transport,
    )


class WebhookSender:
    """Queues messages for one webhook and delivers them in order.

    Made by :func:`open_webhook_sender`; see there for the lifecycle.
    """

    def __init__(
        self, client: WebhookClient, config: SenderConfig, durable: Durable | None = None
    ) -> None:
        self._client = client
        self._config = config
        self._durable = durable
        self._kept = 0
        self._recovered = 0
        self._recovered_ambiguous = 0
        self._sink: DeadLetterSink | None = make_sink(
            config.dead_letter, include_attachments=config.dead_letter_attachments
        )
        self._buffer: PressureBuffer[Item] = PressureBuffer.from_config(
            config, on_shed=self._on_shed
        )
        self._send_channel, self._receive_channel = trio.open_memory_channel[Item](config.queue_cap)
        self._enqueued = 0
        self._delivered = 0
        self._dead = 0
        # The message the sender task is working on, and what of it was delivered.
        self._current: Item | None = None
        self._current_progress = PlanProgress()
        self._mover_scope = trio.CancelScope(shield=True)
        self._sender_scope = trio.CancelScope(shield=True)
        self._mover_done = trio.Event()
        self._sender_done = trio.Event()
        # Shedding is logged in summaries (see _on_shed).
        self._shed_log_after = -math.inf
        self._shed_pending_messages = 0
        self._shed_pending_attachments = 0
        self._shed_pending_names: list[str] = []

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
        check(message, max_upload_bytes=self._config.max_upload_bytes)
        item = Item(message)
        self._buffer.push_nowait(item)
        self._enqueued += 1
        if self._durable is not None:
            self._durable.accept(item)
        if logger.isEnabledFor(logging.DEBUG):
            self._log_enqueued()
        return item.receipt

    async def send(self, message: Message) -> Receipt:
        """Queue ``message``, waiting for room below the high-water mark instead of shedding.

        Cancellation: a cancelled ``send`` queued nothing.

        Raises:
            ValidationError: The message breaks a Discord limit that splitting cannot fix.
            SenderClosed: The sender is shutting down.
        """
        check(message, max_upload_bytes=self._config.max_upload_bytes)
        item = Item(message)
        await self._buffer.push(item)
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

    def _on_shed(self, shed: Shed) -> None:
        # Called on the producer's hot path, once per push past the high-water mark: a
        # log record each time would cost more than the push itself and flood the log
        # while a stall lasts. The first shed warns at once; later ones are summed and
        # warned about at most once per _SHED_LOG_INTERVAL (and at shutdown).
        self._shed_pending_messages += shed.messages
        self._shed_pending_attachments += shed.attachments
        names = self._shed_pending_names
        if len(names) < _SHED_LOG_NAMES:
            names.extend(shed.filenames[: _SHED_LOG_NAMES - len(names)])
        now = trio.current_time()
        if now >= self._shed_log_after:
            self._shed_log_after = now + _SHED_LOG_INTERVAL
            self._flush_shed_log()

    def _flush_shed_log(self) -> None:
        attachments = self._shed_pending_attachments
        if not attachments:
            return
        names = self._shed_pending_names
        more = attachments - len(names)
        listed = ", ".join(names) + (f" and {more} more" if more > 0 else "")
        logger.warning(
            "queue above its high-water mark (%d): dropped %d attachment(s) of %d queued "
            "message(s): %s",
            self._buffer.high_water,
            attachments,
            self._shed_pending_messages,
            listed,
            extra={
                "webhook_id": self._client.url.webhook_id,
                "shed_attachments": attachments,
                "filenames": tuple(names),
            },
        )
        self._shed_pending_messages = self._shed_pending_attachments = 0
        self._shed_pending_names = []

    # -- the tasks ---------------------------------------------------------------------

    async def _run_mover(self) -> None:
        # Shielded: an outer cancellation must not stop the drain; shutdown cancels
        # this scope itself when the drain deadline passes.
        try:
            with self._mover_scope:
                await self._buffer.run_mover(self._send_channel)
        finally:
            self._mover_done.set()

    async def _run_sender(self) -> None:
        try:
            with self._sender_scope:
                if self._durable is not None:
                    # What an earlier process accepted goes before what this one does.
                    async with aclosing(self._durable.recovered()) as recovered:
                        async for pending in recovered:
                            await self._work_on(self._recover(pending))
                while True:
                    try:
                        item = await self._receive_channel.receive()
                    except trio.EndOfChannel:
                        return
                    if logger.isEnabledFor(logging.DEBUG):
                        logger.debug(
                            "dequeued a message for webhook %s",
                            self._client.url.webhook_id,
                            extra={"webhook_id": self._client.url.webhook_id},
                        )
                    await self._work_on(item)
        finally:
            self._sender_done.set()

    async def _work_on(self, item: Item) -> None:
        self._current = item
        self._current_progress = item.resume if item.resume is not None else PlanProgress()
        try:
            await self._deliver(item)
        except Exception as exc:
            await self._fail_internal(item, exc)
        self._current = None

    def _recover(self, pending: PendingMessage) -> Item:
        """The item of a message an earlier process left pending (its receipt unheld)."""
        progress = PlanProgress(pending.delivered_requests, thread_id=pending.thread_id)
        progress.maybe_posted = pending.maybe_posted
        item = Item(pending.message, entry=pending.entry, commit=COMMITTED, resume=progress)
        self._enqueued += 1
        self._recovered += 1
        if pending.maybe_posted:
            self._recovered_ambiguous += 1
            logger.warning(
                "outbox: message %d for webhook %s had request %d in flight when its "
                "process stopped; it may be on Discord already: %s",
                pending.entry,
                self._client.url.webhook_id,
                (pending.in_flight or 0) + 1,
                "sending it again (it may show twice)"
                if self._config.retry_ambiguous
                else "dead-lettering it as ambiguous (retry_ambiguous=False)",
                extra={"webhook_id": self._client.url.webhook_id, "entry": pending.entry},
            )
        return item

    async def _deliver(self, item: Item) -> None:
        client = self._client
        durable = self._durable
        if durable is not None and item.commit != MEMORY:
            # Never post before the row exists: a crash right after would post it again.
            await durable.committed(item)
        journal = None
        if durable is not None and item.entry is not None:
            journal = durable.journal(item.entry)
            if self._current_progress.maybe_posted and not self._config.retry_ambiguous:
                error = SenderClosed("a request was in flight when its process stopped")
                await self._dead_letter(item, "ambiguous", error, attempts=1)
                return
        if client.dead is not None:
            await self._dead_letter(
                item, "dead_webhook", client.dead, attempts=0, status=client.dead.status
            )
            return
        wait = self._config.wait
        try:
            # Checked when it was enqueued (and shedding keeps it valid).
            plan = plan_checked(item.message, max_upload_bytes=self._config.max_upload_bytes)
            # The progress record is where a dead letter's ``delivered_requests`` and
            # ``thread_id`` come from, so a replay skips exactly what Discord already shows.
            await client.execute_plan(
                plan, wait=wait, thread_id=None, progress=self._current_progress, journal=journal
            )
        except ValidationError as exc:
            await self._dead_letter(item, "invalid", exc, attempts=0)
        except InvalidRequestBudgetExceeded as exc:
            # Nothing of this request was sent: hammering on would earn the IP an hour's
            # ban from Discord's edge, for every webhook of this process.
            await self._dead_letter(item, "invalid_budget", exc, attempts=0)
        except DeliveryFailed as exc:
            reason: Reason = "ambiguous" if exc.reason == "ambiguous" else "exhausted"
            await self._dead_letter(item, reason, exc, attempts=exc.attempts, status=exc.status)
        except DiscordHTTPError as exc:
            reason = "dead_webhook" if client.dead is not None else "permanent"
            await self._dead_letter(item, reason, exc, attempts=1, status=exc.status)
        except TransportError as exc:
            # An answer that came but could not be read (a 2xx that is not JSON) may mean
            # the message was posted: a replay could show it twice, so say so.
            reason = "ambiguous" if exc.ambiguous else "permanent"
            await self._dead_letter(item, reason, exc, attempts=1)
        except OutboxLeaseLost as exc:
            # Another process took this webhook over; it delivers the message. Posting it
            # here too would show it twice.
            self._keep(item, str(exc))
        else:
            if durable is not None and item.entry is not None:
                with trio.CancelScope(shield=True):
                    await durable.settle_delivered(item.entry)
            self._delivered += 1
            messages = tuple(self._current_progress.messages)
            item.receipt._resolve(Delivery(messages=messages))

    def _keep(self, item: Item, why: str) -> None:
        """Leave ``item`` pending in the outbox for the next sender on it."""
        if item.receipt.done:
            return
        self._kept += 1
        item.receipt._fail(DeliveryFailed("kept", attempts=0, status=None, error=redact(why)))

    async def _fail_internal(self, item: Item, exc: Exception) -> None:
        """The last line of defence: an unexpected error costs this message alone.

        Nothing the library knows of should get here (bad input is refused by
        ``send_nowait``); what does (a bug, a file deleted after it was queued) is
        dead-lettered ``internal`` with the exception's type, and the traceback is logged.
        """
        webhook_id = self._client.url.webhook_id
        # Logged as redacted text, not exc_info: an exception's message may hold a URL.
        trace = redact("".join(traceback.format_exception(exc)))
        logger.error(
            "unexpected %s while delivering a message to webhook %s; dead-lettered it "
            "(reason internal) and going on with the next one\n%s",
            type(exc).__name__,
            webhook_id,
            trace,
            extra={"webhook_id": webhook_id, "reason": "internal"},
        )
        error = RuntimeError(f"{type(exc).__name__}: {exc}")
        progress = self._current_progress if item is self._current else PlanProgress()
        try:
            await self._dead_letter(item, "internal", error, attempts=progress.delivered)
        except Exception:
            logger.exception("dead-lettering failed for webhook %s", webhook_id)
            if not item.receipt.done:
                self._dead += 1
                item.receipt._fail(
                    DeliveryFailed("internal", attempts=0, status=None, error=redact(str(error)))
                )

    async def _dead_letter(
        self,
        item: Item,
        reason: Reason,
        error: Exception,
        *,
        attempts: int,
        status: int | None = None,
    ) -> None:
        record = self._settle_dead(item, reason, error, attempts=attempts, status=status)
        if record is None:
            return
        if self._durable is not None and item.entry is not None:
            with trio.CancelScope(shield=True):
                await self._durable.settle_dead(item.entry, record)
        if self._sink is None:
            return
        with trio.move_on_after(_SINK_TIMEOUT) as scope:
            await self._put(record)
        if scope.cancelled_caught:
            logger.error(
                "dead-letter sink took over %s s; record dropped (the receipt carries the failure)",
                _SINK_TIMEOUT,
                extra={"webhook_id": self._client.url.webhook_id},
            )

    async def _put(self, record: DeadLetter) -> None:
        assert self._sink is not None
        try:
            await self._sink.put(record)
        except Exception:
            # A broken sink must not stop the sender; the receipt already carries the failure.
            logger.exception("dead-letter sink failed for webhook %s", self._client.url.webhook_id)

    def _settle_dead(
        self,
        item: Item,
        reason: Reason,
        error: Exception,
        *,
        attempts: int,
        status: int | None = None,
    ) -> DeadLetter | None:
        """Fail the receipt, count and log it; the record (``None``: nowhere to keep it)."""
        if item.receipt.done:
            return None
        text = redact(str(error))
        body = ""
        cause = error.__cause__ if isinstance(error, DeliveryFailed) else error
        if isinstance(cause, DiscordHTTPError):
            body = json.dumps({"code": cause.code, "message": cause.text, "errors": cause.errors})
        progress = self._current_progress if item is self._current else PlanProgress()
        self._dead += 1
        failure = DeliveryFailed(reason, attempts=attempts, status=status, error=text)
        item.receipt._fail(failure)
        logger.warning(
            "dead-lettered a message for webhook %s (%s): %s",
            self._client.url.webhook_id,
            reason,
            text,
            extra={"webhook_id": self._client.url.webhook_id, "reason": reason},
        )
        if self._sink is None and item.entry is None:
            return None
        return DeadLetter(
            reason=reason,
            message=item.message,
            status=status,
            attempts=attempts,
            error=text,
            body=body,
            webhook_id=self._client.url.webhook_id,
            delivered_requests=progress.delivered,
            thread_id=progress.thread_id,
        )

    # -- shutdown ----------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Drain within ``drain_timeout``, then dead-letter what is left as ``shutdown``.

        Runs shielded (bounded by the drain deadline), so an outer cancellation still
        gets every queued message delivered or recorded.
        """
        self._buffer.close()
        self._flush_shed_log()
        deadline = trio.current_time() + self._config.drain_timeout
        with trio.CancelScope(deadline=deadline, shield=True):
            if self._durable is not None:
                # Everything accepted is made durable first: a crash during the drain
                # then loses nothing either.
                await self._durable.flush()
            await self._sender_done.wait()
        self._mover_scope.cancel()
        self._sender_scope.cancel()
        with trio.CancelScope(shield=True):
            await self._mover_done.wait()
            await self._sender_done.wait()
            if self._durable is not None:
                # Before the leftovers are settled: a commit still running when it stops
                # completes, and its message then stays in the outbox, not dead-lettered.
                await self._durable.stop()
            left: list[Item] = []
            if self._current is not None:
                left.append(self._current)
            while True:
                try:
                    left.append(self._receive_channel.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            left.extend(self._buffer.drain_nowait())
            self._flush_shed_log()
            if left:
                logger.warning(
                    "drain deadline (%.1f s) passed with %d message(s) undelivered",
                    self._config.drain_timeout,
                    len(left),
                    extra={"webhook_id": self._client.url.webhook_id},
                )
            records = self._settle_left(left)
            self._current = None
            self._receive_channel.close()
            # One deadline for every record: a slow sink must not stretch the exit to
            # N x _SINK_TIMEOUT. The receipts already carry each failure.
            written = 0
            with trio.move_on_after(_SINK_TIMEOUT):
                for record in records:
                    await self._put(record)
                    written += 1
            if written < len(records):
                logger.error(
                    "dead-letter sink took over %s s at shutdown: %d of %d record(s) not "
                    "written (their receipts carry the failure)",
                    _SINK_TIMEOUT,
                    len(records) - written,
                    len(records),
                    extra={"webhook_id": self._client.url.webhook_id},
                )

    def _settle_left(self, left: list[Item]) -> list[DeadLetter]:
        """Fail what the drain deadline left; a request in flight makes it ``ambiguous``."""
        timeout = self._config.drain_timeout
        shutdown = SenderClosed(f"still queued when the drain deadline ({timeout:g} s) passed")
        in_flight = SenderClosed(
            f"a request was in flight when the drain deadline ({timeout:g} s) passed: "
            "Discord may have posted it"
        )
        records = []
        for item in left:
            record: DeadLetter | None
            if item.entry is not None:
                # Durable: it stays pending, and the next sender on the outbox delivers
                # it (a request in flight is marked so; that sender treats it as
                # ambiguous).
                self._keep(
                    item,
                    f"still queued when the drain deadline ({timeout:g} s) "
                    "passed; kept in the outbox for the next sender on it",
                )
                continue
            if item is self._current and self._current_progress.maybe_posted:
                record = self._settle_dead(item, "ambiguous", in_flight, attempts=1)
            else:
                record = self._settle_dead(item, "shutdown", shutdown, attempts=0)
            if record is not None:
                records.append(record)
        return records


@asynccontextmanager
async def open_webhook_sender(
    url: str,
    *,
    config: SenderConfig | None = None,
    client: WebhookClient | None = None,
    tracker: RateLimitTracker | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
) -> AsyncIterator[WebhookSender]:
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
        The mover and sender tasks live exactly as long as the ``async with`` block.
        Leaving it (normally, by an exception, or by cancellation from outside) drains the
        queue within ``config.drain_timeout``, in a shielded scope, then dead-letters what
        is left with reason ``shutdown``. Nothing is lost without a record.
    """
    config = config if config is not None else SenderConfig()
    own_client = client is None
    if config.rate_limit_store is not None and (client is not None or tracker is not None):
        raise ValueError(
            "open_webhook_sender: config.rate_limit_store is for the tracker made here; "
            "give a tracker= or client= of your own its store (RateLimitTracker(store=...))"
        )
    if client is None:
        client = client_from_config(
            url, config, tracker=tracker, ssl_context=ssl_context, transport=transport
        )
    elif tracker is not None or ssl_context is not None or transport is not None:
        raise ValueError(
            "open_webhook_sender: pass either client= or the parts of a client to make "
            "(tracker=, ssl_context=, transport=), not both"
        )
    try:
        async with (
            open_rate_limit_store(config.rate_limit_store) as store,
            shared_outbox(config.outbox) as outbox,
        ):
            if store is not None:
                client.tracker.use_store(store)
            durable = None
            if outbox is not None:
                durable = Durable(outbox, client.url.webhook_id)
                await durable.open()
            async with _running(WebhookSender(client, config, durable)) as sender:
                yield sender
    finally:
        if own_client:
            with trio.move_on_after(1.0, shield=True):
                await client.aclose()


@asynccontextmanager
async def _running(sender: WebhookSender) -> AsyncIterator[WebhookSender]:
    """The sender's tasks for the life of the block, then the drain."""
    durable = sender._durable
    try:
        async with trio.open_nursery() as nursery:
            # start_soon, not start: awaiting a start could be cancelled (an outer
            # cancellation) after one task began, leaving a shielded task that nothing
            # would ever stop. Each task enters its shield before its first checkpoint.
            nursery.start_soon(sender._run_mover)
            nursery.start_soon(sender._run_sender)
            if durable is not None:
                nursery.start_soon(durable.run_committer)
            try:
                yield sender
            finally:
                await sender._shutdown()
    except BaseExceptionGroup as group:
        # The tasks never raise (a message's failure is its own), so the group holds the
        # caller's exception, perhaps beside Cancelled: hand it back as itself, as trio's
        # own as_safe_channel does, so `except KeyError` around the block still works.
        _raise_single(group)


def _raise_single(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Re-raise the one exception of ``group`` that is not a Cancelled (else the group)."""
    others = [e for e in group.exceptions if not isinstance(e, trio.Cancelled)]
    if len(others) > 1 or (others and isinstance(others[0], BaseExceptionGroup)):
        raise group
    single = others[0] if others else group.exceptions[0]
    # Keep the exception's own context, not the group it travelled in.
    context = single.__context__
    try:
        raise single
    finally:
        single.__context__ = context
        del single, context
