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
from trio_webhook.outbox import Outbox, OutboxTarget, PendingMessage, open_outbox

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


class Durable:
    """The outbox shell of one sender (one webhook).

    Args:
        outbox: The outbox (shared by every sender of the process).
        webhook_id: The webhook (never its token).
    """

    def __init__(self, outbox: Outbox, webhook_id: str) -> None:
        self.outbox = outbox
        self.webhook_id = webhook_id
        self.boundary = 0
        self.errors = 0
        self._queue: list[DurableItem] = []
        self._wakeup = trio.Event()
        self._lot = trio.lowlevel.ParkingLot()
        self._accepted = 0
        self._settled_commits = 0
        self._scope = trio.CancelScope(shield=True)
        self._done = trio.Event()

    async def open(self) -> None:
        """Claim the webhook's lease and note what an earlier process left pending."""
        await self.outbox.claim(self.webhook_id)
        self.boundary = await self.outbox.last_entry(self.webhook_id)

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
            entries = await self.outbox.append(self.webhook_id, [i.message for i in batch])
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
        self._settled_commits += len(batch)
        self._lot.unpark_all()

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
        """The whole message was delivered: its row goes."""
        await self.outbox.settle_delivered(entry)

    async def settle_dead(self, entry: int, record: DeadLetter) -> None:
        """The message was dead-lettered: the record takes its row's place."""
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
