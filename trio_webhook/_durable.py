"""One sender's use of an outbox: group commit, the per-request journal, and recovery.

The sender stays the same with or without an outbox; with one, it asks this module
three things:

- ``accept(item)`` on ``send_nowait``/``send`` (never awaits): the item joins the next
  group commit, which the committer task runs as soon as the previous one is done, so a
  message is durable within one commit's time (a few milliseconds);
- before delivering an item, ``committed(item)``: a message is never posted before its
  row exists, or a crash right after the post would post it again on restart;
- the journal (``mark_in_flight`` before each request, ``record_delivered`` after), and
  ``settle_delivered`` / ``settle_dead`` at the end.

On open, what an earlier process left pending (entries up to :attr:`Durable.boundary`)
comes first, in its original order, from :meth:`Durable.recovered`.

Shared (``SenderConfig(share_outbox=True)`` on a
:class:`~trio_webhook.outbox.SharedOutbox`): a sender whose webhook's lease another
process holds still opens, as an *appender*: it commits without the lease, and each
message's receipt settles from the :class:`~trio_webhook.outbox.Outcome` the holder
writes. A watcher task blocks on the outbox for entries other processes append, so the
holder picks them up in commit order (:mod:`trio_webhook._shared_delivery` runs that
sender loop), and an appender takes the lease once it is free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import attrs
import trio

from trio_webhook._models import Message
from trio_webhook._progress import PlanProgress
from trio_webhook._received import answer_object
from trio_webhook.outbox import (
    Outbox,
    OutboxError,
    OutboxLeaseHeld,
    OutboxTarget,
    Outcome,
    PendingMessage,
    SharedOutbox,
    open_outbox,
)

if TYPE_CHECKING:
    from trio_webhook._records import DeadLetter

__all__ = [
    "COMMITTED",
    "FAILED",
    "MEMORY",
    "PENDING",
    "Durable",
    "DurableItem",
    "RequestJournal",
    "shared_outbox",
]

logger: Final = logging.getLogger("trio_webhook")

# An item's durability: in memory only (no outbox), waiting for its group commit,
# committed (it has an entry), or its commit failed (delivered from memory only).
MEMORY: Final = 0
PENDING: Final = 1
COMMITTED: Final = 2
FAILED: Final = 3
# Recovered messages are read in pages, so a large backlog is never all in memory.
_RECOVERY_PAGE: Final = 32
# A shared outbox's blocking reads last at most this long (seconds): how soon an idle
# appender notices that the lease is free, and the bound on a missed wake-up.
WATCH_BLOCK: Final = 1.0


class Durable:
    """The outbox shell of one sender (one webhook).

    Args:
        outbox: The outbox (shared by every sender of the process).
        webhook_id: The webhook (never its token).
        share: Run as an appender while another process holds the lease, when the
            outbox is a :class:`~trio_webhook.outbox.SharedOutbox` (else: refuse, as
            before, with :class:`~trio_webhook.outbox.OutboxLeaseHeld`).
    """

    def __init__(self, outbox: Outbox, webhook_id: str, *, share: bool = False) -> None:
        self.outbox = outbox
        self.webhook_id = webhook_id
        self.boundary = 0
        self.errors = 0
        self.shared: SharedOutbox | None = (
            outbox if share and isinstance(outbox, SharedOutbox) else None
        )
        # Shared: committed items of this sender by entry, until settled; the progress
        # of each message being delivered (for the outcome its appender reads); the
        # newest entry delivered and the newest seen; set when the outbox has news.
        self.local: dict[int, DurableItem] = {}
        self.progress: dict[int, PlanProgress] = {}
        self.cursor = 0
        self.seen = 0
        self.work = trio.Event()
        self._tick = 0.0
        self._queue: list[DurableItem] = []
        self._wakeup = trio.Event()
        self._lot = trio.lowlevel.ParkingLot()
        self._accepted = 0
        self._settled_commits = 0
        self._scope = trio.CancelScope(shield=True)
        self._done = trio.Event()

    async def open(self) -> None:
        """Claim the webhook's lease and note what an earlier process left pending.

        Shared, a lease held elsewhere makes this sender an appender instead.
        """
        if self.shared is not None:
            if not await self.try_lease():
                logger.info(
                    "outbox: webhook %s is delivered by another process; this sender "
                    "commits its messages for it, and takes over when its lease is free",
                    self.webhook_id,
                    extra={"webhook_id": self.webhook_id},
                )
            self.seen = await self.outbox.last_entry(self.webhook_id)
            return
        await self.outbox.claim(self.webhook_id)
        self.boundary = await self.outbox.last_entry(self.webhook_id)

    # -- sharing ---------------------------------------------------------------------------

    def holding(self) -> bool:
        """Shared: whether this sender holds the lease (delivers) now."""
        return self.shared is not None and self.shared.holds(self.webhook_id)

    async def try_lease(self) -> bool:
        """Shared: take the lease if it is free; whether this sender holds it now."""
        assert self.shared is not None
        was = self.holding()
        try:
            await self.shared.claim(self.webhook_id)
        except OutboxLeaseHeld:
            return False
        except OutboxError as exc:
            logger.warning("outbox: cannot claim webhook %s: %s", self.webhook_id, exc)
            return False
        if not was:
            self.cursor = 0  # everything pending is ours to deliver now, in order
        return True

    async def wait_outcome(self, entry: int) -> Outcome | None:
        """Shared: the outcome of ``entry`` once the holder settles it (``None``: not yet)."""
        assert self.shared is not None
        try:
            return await self.shared.wait_outcome(entry, WATCH_BLOCK)
        except OutboxError as exc:
            logger.warning("outbox: cannot read the outcome of message %d: %s", entry, exc)
            await trio.sleep(WATCH_BLOCK)
            return None

    async def _watch(self) -> None:
        """Shared: wake the sender when entries are appended.

        As an appender, also after each quiet period: it then looks for a free lease.
        """
        assert self.shared is not None
        while True:
            try:
                newest = await self.shared.wait_appended(self.webhook_id, self.seen, WATCH_BLOCK)
            except OutboxError as exc:
                logger.warning("outbox: cannot watch webhook %s: %s", self.webhook_id, exc)
                await trio.sleep(WATCH_BLOCK)
                newest = self.seen
            if newest > self.seen and self.holding():
                self.work.set()  # news for the holder: pick it up
            elif not self.holding() and trio.current_time() >= self._tick:
                # An appender only needs a tick now and then, to look for a free lease.
                self._tick = trio.current_time() + WATCH_BLOCK
                self.work.set()
            self.seen = max(self.seen, newest)

    # -- group commit --------------------------------------------------------------------

    def accept(self, item: DurableItem) -> None:
        """Queue ``item`` for the next group commit (never awaits)."""
        item.commit = PENDING
        self._queue.append(item)
        self._accepted += 1
        self._wakeup.set()

    async def run_committer(self) -> None:
        """Commit what was accepted, a batch at a time, until :meth:`stop`."""
        try:
            # Shielded, as the sender's own tasks: the drain must still commit.
            with self._scope:
                async with trio.open_nursery() as nursery:
                    if self.shared is not None:
                        nursery.start_soon(self._watch)
                    while True:
                        await self._wakeup.wait()
                        self._wakeup = trio.Event()
                        await self._commit_batch()
        finally:
            self._done.set()

    async def _commit_batch(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            entries = await self._append([i.message for i in batch])
        except Exception as exc:
            # Not lost: each is still queued in memory and will be delivered while this
            # process lives, but a crash would lose it. Say so loudly.
            self.errors += len(batch)
            logger.error(
                "outbox: could not commit %d message(s) for webhook %s (%s: %s); they "
                "stay queued in memory only, and a crash would lose them",
                len(batch),
                self.webhook_id,
                type(exc).__name__,
                exc,
                extra={"webhook_id": self.webhook_id},
            )
            for item in batch:
                item.commit = FAILED
        else:
            for item, entry in zip(batch, entries, strict=True):
                item.entry, item.commit = entry, COMMITTED
                if self.shared is not None:
                    self.local[entry] = item
        self._settled_commits += len(batch)
        self._lot.unpark_all()

    async def _append(self, messages: list[Message]) -> list[int]:
        if self.shared is not None and not self.holding():
            # An appender: its outcomes are kept for it to read.
            return await self.shared.append_unleased(self.webhook_id, messages)
        try:
            # The holder delivers these itself: no outcome to keep for anyone.
            return await self.outbox.append(self.webhook_id, messages)
        except OutboxLeaseHeld:
            if self.shared is None:
                raise
            return await self.shared.append_unleased(self.webhook_id, messages)

    async def committed(self, item: DurableItem) -> bool:
        """Wait for ``item``'s group commit; whether it is durable."""
        while item.commit == PENDING:
            await self._lot.park()
        return item.commit == COMMITTED

    async def flush(self) -> None:
        """Wait until every message accepted so far has been through a commit."""
        target = self._accepted
        while self._settled_commits < target:
            await self._lot.park()

    async def stop(self) -> None:
        """Stop the committer (after a :meth:`flush`) and give the lease back."""
        self._scope.cancel()
        with trio.CancelScope(shield=True):
            await self._done.wait()
            try:
                await self.outbox.release(self.webhook_id)
            except Exception:
                logger.exception("outbox: could not release webhook %s", self.webhook_id)

    # -- recovery ------------------------------------------------------------------------

    async def recovered(self) -> AsyncGenerator[PendingMessage, None]:
        """What an earlier process left pending for this webhook, in order, in pages."""
        cursor = 0
        while cursor < self.boundary:
            page = await self.outbox.take(self.webhook_id, after=cursor, limit=_RECOVERY_PAGE)
            page = [p for p in page if p.entry <= self.boundary]
            if not page:
                return
            for pending in page:
                yield pending
            cursor = page[-1].entry

    # -- the journal -----------------------------------------------------------------------

    def journal(self, entry: int) -> RequestJournal:
        """The journal of one committed message."""
        return RequestJournal(self.outbox, entry)

    async def settle_delivered(self, entry: int) -> None:
        """The whole message was delivered: its row goes.

        Shared, Discord's answers go with it to the message's appender.
        """
        if self.shared is None:
            await self.outbox.settle_delivered(entry)
            return
        progress = self.progress.pop(entry, None)
        sent = [answer_object(a) for a in progress.answers] if progress is not None else []
        await self.shared.settle_delivered(entry, sent=sent)

    async def settle_dead(self, entry: int, record: DeadLetter) -> None:
        """The message was dead-lettered: the record takes its row's place."""
        self.progress.pop(entry, None)
        await self.outbox.settle_dead(entry, record)


@attrs.define(eq=False)
class DurableItem:
    """What the durable shell needs of a sender's queued item."""

    message: Message
    entry: int | None = None
    commit: int = MEMORY


@attrs.frozen
class RequestJournal:
    """Marks each request of one message in the outbox, before and after it is sent.

    Handed to :meth:`WebhookClient.execute_plan`: a crash between the two marks leaves
    the request *in flight*, which a restart treats as ambiguous.
    """

    outbox: Outbox
    entry: int

    async def sending(self, request: int) -> None:
        """Request ``request`` (0-based) is about to go out."""
        await self.outbox.mark_in_flight(self.entry, request)

    async def delivered(
        self, request: int, *, discord_id: str | None, thread_id: str | None
    ) -> None:
        """Request ``request`` was delivered (with Discord's id when waited for)."""
        await self.outbox.record_delivered(
            self.entry, request, discord_id=discord_id, thread_id=thread_id
        )


# One outbox object per file and process, shared by every sender on it (one worker
# thread, one connection, one lease owner), closed when its last sender closes.
_SHARED: Final[dict[str, tuple[Outbox, int]]] = {}


@asynccontextmanager
async def shared_outbox(target: OutboxTarget) -> AsyncIterator[Outbox | None]:
    """The outbox for a config value, for the life of the block.

    A path gives the process's one :class:`~trio_webhook.outbox.SQLiteOutbox` on that
    file (made on first use, closed when the last user leaves); an object is used as
    it is and stays its owner's; ``None`` gives ``None``.
    """
    if target is None or not isinstance(target, str | os.PathLike):
        yield open_outbox(target)
        return
    name = os.fspath(target)
    # A URL names its server; abspath only joins strings (no file system access).
    key = name if "://" in name else os.path.abspath(name)  # noqa: ASYNC240
    outbox, users = _SHARED.get(key) or (open_outbox(target), 0)
    assert outbox is not None
    _SHARED[key] = (outbox, users + 1)
    try:
        yield outbox
    finally:
        outbox, users = _SHARED[key]
        if users > 1:
            _SHARED[key] = (outbox, users - 1)
        else:
            del _SHARED[key]
            with trio.CancelScope(shield=True):
                await outbox.aclose()
