"""The sender's end: drain within the deadline, then record what is left.

:func:`running` runs a sender's tasks for the life of its ``async with`` block;
:meth:`Draining._shutdown` closes the buffer, lets the sender task deliver what is queued
until ``drain_timeout``, and dead-letters (or, with an outbox, keeps) the rest.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Final, Generic, NoReturn, TypeVar

import trio

from trio_webhook._delivery import SINK_TIMEOUT, DeliveryLoop
from trio_webhook._errors import SenderClosed
from trio_webhook._receipts import Item
from trio_webhook._records import DeadLetter
from trio_webhook._shared_delivery import run_shared_sender

__all__ = ["Draining", "Running", "running"]

logger: Final = logging.getLogger("trio_webhook")

S = TypeVar("S", bound="Draining")


class Draining(DeliveryLoop):
    """Shutdown and draining, on top of the delivery loop."""

    # Set by stop_draining: the drain's scope while it runs, and a drain cut short.
    _drain_scope: trio.CancelScope | None = None
    _drain_stopped: bool = False

    def stop_draining(self) -> None:
        """Cut the drain short: what is still queued is settled now, not at the deadline.

        Settled as at the drain deadline: dead-lettered with reason ``shutdown`` (kept in
        the outbox, with one). Called before the ``async with`` block is left, it makes
        that drain end at once. The command line calls it on a second Ctrl-C.
        """
        self._drain_stopped = True
        if self._drain_scope is not None:
            self._drain_scope.cancel()

    # -- shutdown ----------------------------------------------------------------------

    def _drain_deadline(self) -> float:
        # Now, when stop_draining() came before the block was left.
        timeout = 0.0 if self._drain_stopped else self._config.drain_timeout
        return trio.current_time() + timeout

    async def _shutdown(self) -> None:
        """Drain within ``drain_timeout``, then dead-letter what is left as ``shutdown``.

        Runs shielded (bounded by the drain deadline), so an outer cancellation still
        gets every queued message delivered or recorded.
        """
        self._close_queue()
        if self._durable is None and self._current is None and not self._buffer.queued:
            # Nothing queued or in hand: the sender task ends at its next take (the queue
            # is closed) and the nursery around it waits for that; nothing will be left.
            # (No scopes to enter: an idle sender closes in a few microseconds, which a
            # thousand senders closing at once notice.)
            return
        with trio.CancelScope(deadline=self._drain_deadline(), shield=True) as self._drain_scope:
            if self._durable is not None:
                # Everything accepted is made durable first: a crash during the drain
                # then loses nothing either.
                await self._durable.flush()
            await self._wait_sender_stopped()
        self._sender_scope.cancel()
        with trio.CancelScope(shield=True):
            await self._wait_sender_stopped()
            await self._settle_leftovers()

    async def run_until_drained(self) -> None:
        """Run the delivery loop in this task until :meth:`begin_drain`, then settle the rest.

        For a sender with no outbox whose owner stops it by calling ``begin_drain``
        (a hub's lane): the same drain as leaving a sender's block, without a task and
        a nursery of its own. The loop's scope is shielded, so an outer cancellation
        does not stop it; ``begin_drain`` does, by the drain deadline at the latest.
        """
        assert self._durable is None, "with an outbox the committer needs running()"
        await self._run_sender()
        with trio.CancelScope(shield=True):
            await self._settle_leftovers()

    def begin_drain(self) -> None:
        """Close the queue; :meth:`run_until_drained` delivers what is queued, by the deadline.

        Idempotent: a second call does not move the deadline.
        """
        if self._drain_scope is self._sender_scope:
            return
        self._close_queue()
        self._sender_scope.deadline = self._drain_deadline()
        # stop_draining() then ends this drain at once, as it ends _shutdown's.
        self._drain_scope = self._sender_scope

    def _close_queue(self) -> None:
        self._buffer.close()
        self._flush_shed_log()

    async def _settle_leftovers(self) -> None:
        """Once the sender task has stopped: settle what the drain left (call shielded)."""
        if self._durable is not None:
            # Before the leftovers are settled: a commit still running when it stops
            # completes, and its message then stays in the outbox, not dead-lettered.
            await self._durable.stop()
        left: list[Item] = []
        if self._current is not None:
            left.append(self._current)
        left.extend(self._buffer.drain_nowait())
        self._flush_shed_log()
        if left:
            logger.warning(
                "drain deadline (%.1f s) passed with %d message(s) undelivered",
                self._config.drain_timeout,
                len(left),
                extra={"webhook_id": self._client.url.webhook_id},
            )
        records = self._settle_left(left) if left else []
        self._current = None
        # One deadline for every record: a slow sink must not stretch the exit to
        # N x SINK_TIMEOUT. The receipts already carry each failure.
        if records:
            await self._put_left(records)

    async def _put_left(self, records: list[DeadLetter]) -> None:
        """Hand the drain's leftover records to the sink, within one deadline."""
        written = 0
        with trio.move_on_after(SINK_TIMEOUT):
            for record in records:
                await self._put(record)
                written += 1
        if written < len(records):
            logger.error(
                "dead-letter sink took over %s s at shutdown: %d of %d record(s) not "
                "written (their receipts carry the failure)",
                SINK_TIMEOUT,
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


def running(sender: S) -> Running[S]:
    """The sender's tasks for the life of the ``async with`` block, then the drain."""
    return Running(sender)


class Running(Generic[S]):
    """:func:`running`'s block: the sender's tasks in a nursery, the drain on leaving.

    A class, not a generator-based context manager: those stay alive as long as the
    sender, each with its generator, frame, bound ``__aexit__`` and trio's weak reference
    to the generator (a thousand senders open at once: objects the garbage collector
    walks, issue 16).
    """

    __slots__ = ("_manager", "_sender")

    def __init__(self, sender: S) -> None:
        self._sender = sender
        self._manager: AbstractAsyncContextManager[trio.Nursery] = trio.open_nursery()

    async def __aenter__(self) -> S:
        sender = self._sender
        nursery = await self._manager.__aenter__()
        # start_soon, not start: awaiting a start could be cancelled (an outer
        # cancellation) after one task began, leaving a shielded task that nothing
        # would ever stop. Each task enters its shield before its first checkpoint.
        durable = sender._durable
        if durable is not None and durable.shared is not None:
            # On a shared outbox the outbox's order rules, not this queue's. Chosen here,
            # not in a method the task runs: one coroutine fewer for every waiting sender.
            nursery.start_soon(run_shared_sender, sender, durable)
        else:
            nursery.start_soon(sender._run_sender)
        if sender._durable is not None:
            nursery.start_soon(sender._durable.run_committer)
        return sender

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        raised = exc
        try:
            await self._sender._shutdown()
        except BaseException as error:
            # As a `finally` around the block would: the drain's error takes the place
            # of the block's, which it keeps as its context.
            if error.__context__ is None and error is not exc:
                error.__context__ = exc
            raised = error
        try:
            kind = type(raised) if raised is not None else None
            trace = raised.__traceback__ if raised is not None else None
            if await self._manager.__aexit__(kind, raised, trace):
                return True
        except BaseExceptionGroup as group:
            # The tasks never raise (a message's failure is its own), so the group holds
            # the caller's exception, perhaps beside Cancelled: hand it back as itself,
            # as trio's own as_safe_channel does, so `except KeyError` around the block
            # still works.
            _raise_single(group)
        if raised is not exc:
            assert raised is not None
            raise raised
        return False


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
