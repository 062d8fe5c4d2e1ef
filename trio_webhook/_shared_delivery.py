"""The sender task on a shared outbox: deliver in the outbox's order, or wait for the holder.

With ``SenderConfig(share_outbox=True)`` on a :class:`~trio_webhook.outbox.SharedOutbox`
the outbox, not this process's queue, decides the order: a webhook's messages go out in
commit order, whichever process committed them. The sender task then runs
:func:`run_shared_sender` instead of the plain loop:

- **holding the lease**, it takes the outbox's pending entries in order and delivers
  each: its own (the item from its queue, so the receipt resolves) and those other
  processes appended (writing the outcome their appender waits for); the watcher of
  :class:`~trio_webhook._durable.Durable` wakes it when an entry is appended;
- **without the lease** (an *appender*), it takes its own items in order and waits for
  each one's outcome, and tries the lease once a quiet period: when the holder leaves or
  dies, this sender delivers everything pending, its own messages included.
"""

from __future__ import annotations

import logging
from typing import Final

import trio

from trio_webhook._delivery import DeliveryLoop
from trio_webhook._durable import Durable
from trio_webhook._errors import DeliveryFailed
from trio_webhook._models import Delivery
from trio_webhook._progress import PlanProgress
from trio_webhook._receipts import Item
from trio_webhook._records import discord_error_in
from trio_webhook.outbox import OutboxError, Outcome, PendingMessage

__all__ = ["run_shared_sender"]

logger: Final = logging.getLogger("trio_webhook")

# Pending entries read at a time, as recovery does.
_PAGE: Final = 32
# Seconds to wait after the outbox failed a read, before asking again.
_RETRY: Final = 1.0


class _End:
    """The queue is closed and empty: the sender is draining."""


_END: Final = _End()


async def run_shared_sender(sender: DeliveryLoop, durable: Durable) -> None:
    """The sender task of a sender on a shared outbox, for the life of the sender."""
    try:
        with sender._sender_scope:
            await _deliver_upto(sender, durable, None)  # what is pending goes first
            while True:
                got = await _next(sender, durable)
                if isinstance(got, _End):
                    return
                if got is not None:
                    await _handle(sender, durable, got)
                    continue
                if not durable.holding() and await _work_waits(durable):
                    await durable.try_lease()
                await _deliver_upto(sender, durable, None)
    finally:
        sender._sender_stopped()


async def _work_waits(durable: Durable) -> bool:
    """Whether the outbox holds pending messages for the webhook (a lease worth taking)."""
    try:
        return await durable.outbox.last_entry(durable.webhook_id) > 0
    except OutboxError:
        return False


async def _next(sender: DeliveryLoop, durable: Durable) -> Item | _End | None:
    """The next item of this sender's queue, or ``None`` when the outbox has news first."""
    queue = sender._buffer
    try:
        return queue.take_nowait()
    except trio.WouldBlock:
        pass
    except trio.EndOfChannel:
        return _END
    got: list[Item | _End] = []

    async def receive(scope: trio.CancelScope) -> None:
        try:
            got.append(await queue.take())
        except trio.EndOfChannel:
            got.append(_END)
        scope.cancel()

    if not durable.work.is_set():
        # Both waits are cancel-safe: a cancelled take takes nothing off the queue.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive, nursery.cancel_scope)
            await durable.work.wait()
            nursery.cancel_scope.cancel()
    if got:
        return got[0]
    durable.work = trio.Event()
    return None


async def _handle(sender: DeliveryLoop, durable: Durable, item: Item) -> None:
    """Settle one item of this sender's queue: deliver it in its turn, or learn its outcome."""
    if item.receipt.done:
        return  # delivered from the outbox before the queue handed it over
    if not await durable.committed(item) or item.entry is None:
        # Its commit failed: only this process has it, so it goes now, out of the
        # outbox's order rather than lost (the commit error was logged).
        await sender._work_on(item)
        return
    entry = item.entry
    try:
        while not item.receipt.done:
            sender._current = item  # so a drain deadline keeps it
            if durable.holding():
                await _deliver_upto(sender, durable, entry)
                if not item.receipt.done and durable.holding():
                    # Not pending: the previous holder settled it before we took over.
                    await _settle_from_outbox(sender, durable, item, entry)
                continue
            outcome = await durable.wait_outcome(entry)
            if outcome is not None:
                _settle(sender, item, outcome)
            elif not item.receipt.done:
                await durable.try_lease()
    finally:
        durable.local.pop(entry, None)
        if sender._current is item:
            sender._current = None
        # Cut short (the drain deadline): it stays pending, for whoever holds the lease.
        sender._keep(item, f"message {entry} was not settled when this sender stopped")


async def _settle_from_outbox(
    sender: DeliveryLoop, durable: Durable, item: Item, entry: int
) -> None:
    outcome = await durable.wait_outcome(entry)
    if outcome is not None:
        _settle(sender, item, outcome)
    else:
        sender._keep(item, f"message {entry} is neither pending nor settled in the outbox")


async def _deliver_upto(sender: DeliveryLoop, durable: Durable, upto: int | None) -> None:
    """Holding the lease: deliver pending entries in order, up to ``upto`` (or all)."""
    assert durable.shared is not None
    while durable.holding():
        try:
            page = await durable.shared.take(durable.webhook_id, after=durable.cursor, limit=_PAGE)
        except OutboxError as exc:  # the lease held elsewhere now, or the outbox failing
            if durable.holding():
                logger.warning("outbox: cannot read webhook %s: %s", durable.webhook_id, exc)
                await trio.sleep(_RETRY)
            return
        if not page:
            return
        for pending in page:
            if upto is not None and pending.entry > upto:
                return
            await sender._work_on(_item_for(sender, durable, pending))
            durable.cursor = max(durable.cursor, pending.entry)
            if not durable.holding():
                return


def _item_for(sender: DeliveryLoop, durable: Durable, pending: PendingMessage) -> Item:
    """This sender's own item for a pending entry, or one for another process's message."""
    local = durable.local.pop(pending.entry, None)
    if isinstance(local, Item):
        local.resume = PlanProgress(pending.delivered_requests, thread_id=pending.thread_id)
        local.resume.maybe_posted = pending.maybe_posted
        item = local
    else:
        item = sender._recover(pending)  # counted in recovered, as a restart's backlog is
    assert item.resume is not None
    durable.progress[pending.entry] = item.resume
    return item


def _settle(sender: DeliveryLoop, item: Item, outcome: Outcome) -> None:
    """Settle ``item``'s receipt as the holder settled its message."""
    if item.receipt.done:
        return
    if outcome.delivered:
        sender._delivered += 1
        item.receipt._resolve(Delivery.from_answers(outcome.sent))
        return
    sender._dead += 1
    item.receipt._fail(
        DeliveryFailed(
            outcome.reason or "permanent",
            attempts=outcome.attempts,
            status=outcome.status,
            error=outcome.error,
            discord_error=discord_error_in(outcome.body),
        )
    )
