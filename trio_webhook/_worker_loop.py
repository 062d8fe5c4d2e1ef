"""A worker's claim loop: find ready webhooks, lease them, deliver each one's backlog.

:class:`Worker` is what :func:`~trio_webhook._worker.open_worker` runs: a discovery
task that leases ready webhooks (a few a round) and one *partition* task per leased
webhook, which opens an ordinary sender on a view of the outbox (:class:`_Partition`)
until the webhook is idle or its lease is lost.
"""

from __future__ import annotations

import logging
import math
import random
import ssl
from collections.abc import Callable, Sequence
from typing import Final

import attrs
import trio

from trio_webhook._client import WebhookClient
from trio_webhook._client_setup import client_from_config
from trio_webhook._config import SenderConfig
from trio_webhook._models import Message
from trio_webhook._records import DeadLetter
from trio_webhook._sender import SenderStats, open_webhook_sender
from trio_webhook.outbox import (
    OutboxError,
    OutboxLeaseHeld,
    OutboxLeaseLost,
    PendingMessage,
    RedisOutbox,
    StoredDeadLetter,
    WebhookSummary,
)
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.transport import Transport

__all__ = ["Worker", "WorkerStats"]

logger: Final = logging.getLogger("trio_webhook.worker")

# Leases taken per discovery round: workers that start together then share the ready
# webhooks instead of the first one taking them all.
_CLAIMS_PER_ROUND: Final = 4
_RELEASE_SECONDS: Final = 2.0


@attrs.frozen(kw_only=True)
class WorkerStats:
    """A snapshot of what a worker did.

    Attributes:
        webhooks: Webhooks it serves (URLs it was given).
        active: Webhooks whose lease it holds now.
        leases_taken: Leases taken so far (a webhook taken, given back and taken again
            counts twice).
        leases_lost: Leases that ran out while held (the worker stalled) and passed to
            another worker.
        senders: Senders opened (one per backlog delivered).
        delivered: Messages delivered.
        dead: Messages dead-lettered (into the outbox's dead-letter stream).
        recovered_ambiguous: Messages found with a request in flight (a worker died
            while sending them): sent again, they may show twice. This is the bound on
            duplicates.
    """

    webhooks: int
    active: int
    leases_taken: int
    leases_lost: int
    senders: int
    delivered: int
    dead: int
    recovered_ambiguous: int


@attrs.define
class _Counters:
    leases_taken: int = 0
    leases_lost: int = 0
    senders: int = 0
    delivered: int = 0
    dead: int = 0
    recovered_ambiguous: int = 0

    def add(self, stats: SenderStats) -> None:
        self.senders += 1
        self.delivered += stats.delivered
        self.dead += stats.dead
        self.recovered_ambiguous += stats.recovered_ambiguous


class _Partition:
    """The outbox as one worker sender sees it: the worker's outbox, for one webhook.

    It notes what the sender does with it, so the worker knows when the backlog the
    sender found at open is settled (or the lease is lost), and it keeps the lease when
    the sender closes: the worker gives it back when the webhook has been idle.
    """

    def __init__(self, outbox: RedisOutbox, webhook_id: str) -> None:
        self._outbox = outbox
        self._webhook_id = webhook_id
        self.boundary = 0
        self.finished = 0  # the newest entry whose settling was attempted
        self.lost = False
        self.done = trio.Event()

    def _check_done(self) -> None:
        if self.lost or self.finished >= self.boundary:
            self.done.set()

    async def open(self) -> None:
        await self._outbox.open()

    async def aclose(self) -> None:
        """The worker's outbox outlives its senders: nothing to close here."""

    async def claim(self, webhook_id: str) -> None:
        await self._outbox.claim(webhook_id)

    async def release(self, webhook_id: str) -> None:
        """Kept by the worker across senders (see the class docstring)."""

    async def append(
        self,
        webhook_id: str,
        messages: Sequence[Message],
        *,
        cursor: tuple[str, int] | None = None,
    ) -> list[int]:
        return await self._outbox.append(webhook_id, messages, cursor=cursor)

    async def cursor(self, key: str) -> int:
        return await self._outbox.cursor(key)

    async def take(
        self, webhook_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[PendingMessage]:
        return await self._outbox.take(webhook_id, after=after, limit=limit)

    async def last_entry(self, webhook_id: str) -> int:
        entry = await self._outbox.last_entry(webhook_id)
        if webhook_id == self._webhook_id:
            self.boundary = entry
            self._check_done()
        return entry

    async def mark_in_flight(self, entry: int, request: int) -> None:
        try:
            await self._outbox.mark_in_flight(entry, request)
        except OutboxLeaseLost:
            self.lost = True
            self._check_done()
            raise

    async def record_delivered(
        self,
        entry: int,
        request: int,
        *,
        discord_id: str | None = None,
        thread_id: str | None = None,
    ) -> None:
        await self._outbox.record_delivered(
            entry, request, discord_id=discord_id, thread_id=thread_id
        )

    def _finished(self, entry: int) -> None:
        self.finished = max(self.finished, entry)
        self._check_done()

    async def settle_delivered(self, entry: int) -> None:
        try:
            await self._outbox.settle_delivered(entry)
        finally:
            self._finished(entry)

    async def settle_dead(self, entry: int, record: DeadLetter) -> None:
        try:
            await self._outbox.settle_dead(entry, record)
        finally:
            self._finished(entry)

    async def put_dead(self, webhook_id: str, record: DeadLetter) -> int:
        return await self._outbox.put_dead(webhook_id, record)

    async def pending(self, webhook_id: str | None = None) -> list[PendingMessage]:
        return await self._outbox.pending(webhook_id)

    async def dead_letters(
        self, webhook_id: str | None = None, *, include_replayed: bool = False
    ) -> list[StoredDeadLetter]:
        return await self._outbox.dead_letters(webhook_id, include_replayed=include_replayed)

    async def mark_replayed(self, entry: int) -> bool:
        return await self._outbox.mark_replayed(entry)

    async def summary(self) -> list[WebhookSummary]:
        return await self._outbox.summary()


class Worker:
    """A running worker; made by :func:`open_worker`.

    Attributes:
        outbox: Its outbox (one consumer, holding its leases).
        webhooks: The webhook ids it serves.
    """

    def __init__(
        self,
        outbox: RedisOutbox,
        urls: dict[str, str],
        *,
        config: SenderConfig,
        tracker: RateLimitTracker,
        ssl_context: ssl.SSLContext | None,
        transport_factory: Callable[[], Transport] | None,
        poll_interval: float,
        idle_timeout: float,
        max_webhooks: int | None,
        rng: random.Random,
    ) -> None:
        self.outbox: Final = outbox
        self._urls = urls
        self.webhooks: Final = tuple(urls)
        self._config = config
        self._tracker = tracker
        self._ssl_context = ssl_context
        self._transport_factory = transport_factory
        self._poll_interval = poll_interval
        self._idle_timeout = idle_timeout
        self._max_webhooks = max_webhooks if max_webhooks is not None else math.inf
        self._rng = rng
        self._active: set[str] = set()
        self._counters = _Counters()

    def __repr__(self) -> str:
        return f"<Worker {self.outbox!r}: {len(self.webhooks)} webhook(s)>"

    def stats(self) -> WorkerStats:
        """A frozen snapshot of the counters."""
        c = self._counters
        return WorkerStats(
            webhooks=len(self.webhooks),
            active=len(self._active),
            leases_taken=c.leases_taken,
            leases_lost=c.leases_lost,
            senders=c.senders,
            delivered=c.delivered,
            dead=c.dead,
            recovered_ambiguous=c.recovered_ambiguous,
        )

    async def _discover(self, nursery: trio.Nursery) -> None:
        while True:
            free = [w for w in self.webhooks if w not in self._active]
            try:
                ready = await self.outbox.ready(free) if free else []
            except OutboxError as exc:
                logger.warning("worker: cannot look for work: %s", exc)
                ready = []
            self._rng.shuffle(ready)
            taken = 0
            for wid in ready:
                if taken >= _CLAIMS_PER_ROUND or len(self._active) >= self._max_webhooks:
                    break
                try:
                    await self.outbox.claim(wid)
                except OutboxLeaseHeld:
                    continue  # another worker delivers it
                except OutboxError as exc:
                    logger.warning("worker: cannot lease webhook %s: %s", wid, exc)
                    break
                taken += 1
                self._counters.leases_taken += 1
                self._active.add(wid)
                nursery.start_soon(self._serve_partition, wid)
            await trio.sleep(self._poll_interval)

    def _client(self, wid: str) -> WebhookClient:
        return client_from_config(
            self._urls[wid],
            self._config,
            tracker=self._tracker,
            ssl_context=self._ssl_context,
            transport=self._transport_factory() if self._transport_factory else None,
        )

    async def _serve_partition(self, wid: str) -> None:
        """Deliver ``wid``'s backlogs while its lease is ours; give it back once idle."""
        client = self._client(wid)
        logger.info("worker: delivering webhook %s", wid, extra={"webhook_id": wid})
        try:
            await self._partition_loop(wid, client)
        except Exception:
            # One webhook's trouble must not stop the others: give it back; discovery
            # takes it again on a later round.
            logger.exception("worker: webhook %s failed", wid, extra={"webhook_id": wid})
        finally:
            with trio.move_on_after(_RELEASE_SECONDS, shield=True):
                try:
                    await self.outbox.release(wid)
                except OutboxError as exc:
                    logger.warning("worker: could not release webhook %s: %s", wid, exc)
                await client.aclose()
            self._active.discard(wid)
            logger.info("worker: gave webhook %s back", wid, extra={"webhook_id": wid})

    async def _partition_loop(self, wid: str, client: WebhookClient) -> None:
        idle_since = trio.current_time()
        while self.outbox.holds(wid):
            try:
                pending = await self.outbox.last_entry(wid)
            except OutboxError as exc:
                logger.warning("worker: webhook %s: %s", wid, exc)
                pending = 0
            if pending:
                if not await self._deliver_backlog(wid, client):
                    break
                idle_since = trio.current_time()
            elif trio.current_time() - idle_since >= self._idle_timeout:
                return
            else:
                await trio.sleep(self._poll_interval)
        self._counters.leases_lost += 1
        logger.warning(
            "worker: lost the lease on webhook %s (this worker stalled past the lease); "
            "another worker delivers it",
            wid,
            extra={"webhook_id": wid},
        )

    async def _deliver_backlog(self, wid: str, client: WebhookClient) -> bool:
        """One sender delivers what is pending now; whether the lease is still ours."""
        partition = _Partition(self.outbox, wid)
        config = attrs.evolve(self._config, outbox=partition)
        sender = None
        try:
            async with open_webhook_sender(self._urls[wid], config=config, client=client) as s:
                sender = s
                await partition.done.wait()
        except OutboxLeaseHeld:
            return False  # taken over between our look and the sender's claim
        finally:
            if sender is not None:
                self._counters.add(sender.stats())
        return not partition.lost and self.outbox.holds(wid)
