"""The sender's delivery loop: the sender task, one message's delivery, dead letters.

:class:`DeliveryLoop` holds a sender's state (buffer, counters, the message in hand) and
the code that runs in its task. A message is delivered or dead-lettered
here, and one message's failure never stops the next. The face is
:class:`~trio_webhook._sender.WebhookSender`; shutdown is :mod:`._draining`.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
from contextlib import aclosing
from typing import Final

import trio

from trio_webhook._buffer import PressureBuffer
from trio_webhook._client import PlanProgress, WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._durable import COMMITTED, MEMORY, Durable
from trio_webhook._errors import (
    DeliveryFailed,
    DiscordHTTPError,
    InvalidRequestBudgetExceeded,
    SenderClosed,
    TransportError,
    ValidationError,
)
from trio_webhook._models import Delivery
from trio_webhook._planning import plan_checked
from trio_webhook._receipts import Item
from trio_webhook._records import DeadLetter, Reason, discord_error_of
from trio_webhook._shed import Shed
from trio_webhook._sinks import DeadLetterSink, make_sink
from trio_webhook._url import redact
from trio_webhook.outbox import OutboxLeaseLost, PendingMessage

__all__ = ["SINK_TIMEOUT", "DeliveryLoop"]

logger: Final = logging.getLogger("trio_webhook")

# How long shutdown may spend handing one record to a sink (a sink that blocks forever,
# such as a full channel nobody reads, must not hang the exit).
SINK_TIMEOUT: Final = 5.0
# Shedding warnings: at most one a second (the counters stay exact), naming a few files.
_SHED_LOG_INTERVAL: Final = 1.0
_SHED_LOG_NAMES: Final = 10


class DeliveryLoop:
    """A sender's state and its task; see :class:`~trio_webhook._sender.WebhookSender`."""

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
        self._buffer: PressureBuffer[Item] = PressureBuffer.from_config(config)
        self._enqueued = 0
        self._delivered = 0
        self._dead = 0
        # The message the sender task is working on, and what of it was delivered.
        self._current: Item | None = None
        self._current_progress = PlanProgress()
        self._sender_scope = trio.CancelScope(shield=True)
        # Set when the sender task ends; the event is made only if shutdown must wait.
        self._sender_finished = False
        self._sender_done: trio.Event | None = None
        # Shedding is logged in summaries (see _on_shed).
        self._shed_log_after = -math.inf
        self._shed_pending_messages = 0
        self._shed_pending_attachments = 0
        self._shed_pending_names: tuple[str, ...] = ()

    def _push_nowait(self, item: Item) -> None:
        """Queue ``item`` in the buffer (shedding past the high-water mark), or raise."""
        shed = self._buffer.push_nowait(item)
        if shed is not None:
            self._on_shed(shed)

    def _on_shed(self, shed: Shed) -> None:
        # Called on the producer's hot path, once per push past the high-water mark: a
        # log record each time would cost more than the push itself and flood the log
        # while a stall lasts. The first shed warns at once; later ones are summed and
        # warned about at most once per _SHED_LOG_INTERVAL (and at shutdown).
        self._shed_pending_messages += shed.messages
        self._shed_pending_attachments += shed.attachments
        names = self._shed_pending_names
        if len(names) < _SHED_LOG_NAMES:
            self._shed_pending_names = names + shed.filenames[: _SHED_LOG_NAMES - len(names)]
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
        self._shed_pending_names = ()

    # -- the tasks ---------------------------------------------------------------------

    async def _run_sender(self) -> None:
        # Shielded: an outer cancellation must not stop the drain; shutdown cancels
        # this scope itself when the drain deadline passes.
        try:
            with self._sender_scope:
                if self._durable is not None:
                    # What an earlier process accepted goes before what this one does.
                    async with aclosing(self._durable.recovered()) as recovered:
                        async for pending in recovered:
                            await self._work_on(self._recover(pending))
                while True:
                    try:
                        item = await self._buffer.take()
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
            self._sender_stopped()

    def _sender_stopped(self) -> None:
        """The sender task has ended: wake a shutdown waiting for it."""
        self._sender_finished = True
        if self._sender_done is not None:
            self._sender_done.set()

    async def _wait_sender_stopped(self) -> None:
        """Until the sender task has ended (a checkpoint, as ``Event.wait``, if it has)."""
        if self._sender_finished:
            await trio.lowlevel.checkpoint()
            return
        if self._sender_done is None:
            self._sender_done = trio.Event()
        await self._sender_done.wait()

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
            plan = plan_checked(
                item.message,
                max_upload_bytes=self._config.max_upload_bytes,
                max_request_bytes=self._config.max_request_bytes,
                split_content=self._config.split_content,
            )
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
            # Discord's answers as they came: read into messages when the producer asks.
            item.receipt._resolve(Delivery.from_answers(self._current_progress.answers))

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
        with trio.move_on_after(SINK_TIMEOUT) as scope:
            await self._put(record)
        if scope.cancelled_caught:
            logger.error(
                "dead-letter sink took over %s s; record dropped (the receipt carries the failure)",
                SINK_TIMEOUT,
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
        discord_error = None
        cause = error.__cause__ if isinstance(error, DeliveryFailed) else error
        if isinstance(cause, DiscordHTTPError):
            body = json.dumps({"code": cause.code, "message": cause.text, "errors": cause.errors})
            discord_error = discord_error_of(cause)
        progress = self._current_progress if item is self._current else PlanProgress()
        self._dead += 1
        failure = DeliveryFailed(
            reason, attempts=attempts, status=status, error=text, discord_error=discord_error
        )
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
