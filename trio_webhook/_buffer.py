"""PressureBuffer: the unbounded-looking, bounded-in-fact queue in front of the sender.

Producers append without ever waiting (:meth:`PressureBuffer.push_nowait`); a mover task
(:meth:`PressureBuffer.run_mover`) feeds a bounded trio memory channel from the left.
Past the high-water mark each new message strips the attachments of the oldest buffered
message that still has some, so memory stays bounded while embeds and content are kept
and the newest messages keep their files. Past ``max_buffered`` a push raises
:class:`~trio_webhook.QueueFull`.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import attrs
import trio

from trio_webhook._errors import QueueFull, SenderClosed
from trio_webhook._models import Message
from trio_webhook._shed import Shed, merge_shed, strip_attachments

if TYPE_CHECKING:
    from trio_webhook._config import SenderConfig

__all__ = ["BufferEntry", "BufferStatistics", "Entry", "PressureBuffer", "Shed"]


class BufferEntry(Protocol):
    """What the buffer holds: anything with a writable ``message``.

    Shedding replaces ``entry.message`` with a copy without attachments, in place, so
    the caller's own item (with its receipt and whatever else) stays the same object.
    """

    message: Message


P = TypeVar("P")
T = TypeVar("T", bound=BufferEntry)


@attrs.define
class Entry(Generic[P]):
    """A ready-made :class:`BufferEntry`: a message and anything riding along with it."""

    message: Message
    payload: P


@attrs.frozen
class BufferStatistics:
    """A snapshot of a :class:`PressureBuffer`.

    Attributes:
        buffered: Messages waiting in the buffer (not yet handed to the channel).
        high_water: Buffered messages past which attachments are shed.
        max_buffered: The hard cap; pushes past it raise ``QueueFull``.
        shed_attachments: Files dropped so far.
        shed_messages: Messages that lost their attachments so far.
    """

    buffered: int
    high_water: int
    max_buffered: int
    shed_attachments: int
    shed_messages: int


def _check_positive(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attr.name} must be >= 1, got {value}")


# No validation on assignment: attrs would otherwise route every counter update on the hot
# path through its setattr hook (a third of a push's time). Bounds are checked at creation.
@attrs.define(on_setattr=attrs.setters.NO_OP)
class PressureBuffer(Generic[T]):
    """A FIFO of messages in front of a bounded channel, shedding attachments under pressure.

    Args:
        high_water: Buffered messages past which each push sheds the attachments of the
            oldest buffered message that still has some.
        max_buffered: Hard cap of buffered messages (``>= high_water``).
        on_shed: Called with every :class:`Shed`, whichever task shed (see
            :meth:`push_nowait`); the place to log a warning and count.

    Resource handling:
        :meth:`run_mover` owns the send channel it is given and closes it when the buffer
        is closed and empty, or when the mover is cancelled. An entry the mover holds when
        cancelled is put back at the front, so :meth:`drain_nowait` still returns it.

    Example::

        buffer = PressureBuffer[Entry[None]](high_water=200, max_buffered=10_000)
        send, receive = trio.open_memory_channel[Entry[None]](100)
        nursery.start_soon(buffer.run_mover, send)
        buffer.push_nowait(Entry(Message(content="hi"), None))
    """

    high_water: int = attrs.field(default=200, validator=_check_positive)
    max_buffered: int = attrs.field(default=10_000, validator=_check_positive)
    on_shed: Callable[[Shed], object] | None = attrs.field(default=None, kw_only=True)

    _deque: collections.deque[T] = attrs.field(init=False, factory=collections.deque)
    # Entries pushed while the lock was held (see push_nowait), folded in by the next holder.
    _pending: list[T] = attrs.field(init=False, factory=list)
    # The cursor: every buffered entry that still has attachments, oldest first (the
    # deque's order). Shedding pops its left end, and the mover drops an entry from it
    # when it pops that entry: as an ordered part of the deque, its left end is the
    # deque's left end whenever that entry is in it at all, so one identity test says
    # so. Each entry goes in and out at most once: O(1) amortised per push, never a scan
    # of the deque, and nothing stored per entry but the reference (a sequence number
    # beside each was one more object per buffered message).
    _with_files: collections.deque[T] = attrs.field(init=False, factory=collections.deque)
    _lock: trio.Lock = attrs.field(init=False, factory=trio.Lock)
    _not_empty: trio.lowlevel.ParkingLot = attrs.field(init=False, factory=trio.lowlevel.ParkingLot)
    _room: trio.lowlevel.ParkingLot = attrs.field(init=False, factory=trio.lowlevel.ParkingLot)
    _closed: bool = attrs.field(init=False, default=False)
    _shed_attachments: int = attrs.field(init=False, default=0)
    _shed_messages: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if self.max_buffered < self.high_water:
            raise ValueError(
                f"max_buffered ({self.max_buffered}) must be >= high_water ({self.high_water})"
            )

    @classmethod
    def from_config(
        cls, config: SenderConfig, *, on_shed: Callable[[Shed], object] | None = None
    ) -> PressureBuffer[T]:
        """A buffer with ``config``'s high-water mark and hard cap."""
        return cls(config.high_water_mark, config.max_buffered, on_shed=on_shed)

    def __len__(self) -> int:
        return len(self._deque) + len(self._pending)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def statistics(self) -> BufferStatistics:
        """A frozen snapshot of the buffer's state and counters."""
        return BufferStatistics(
            buffered=len(self),
            high_water=self.high_water,
            max_buffered=self.max_buffered,
            shed_attachments=self._shed_attachments,
            shed_messages=self._shed_messages,
        )

    def push_nowait(self, entry: T) -> Shed | None:
        """Append ``entry`` without waiting; past the high-water mark, shed attachments.

        Returns:
            What this push shed (the same :class:`Shed` is passed to ``on_shed``), or
            ``None`` when nothing was.

        Raises:
            QueueFull: ``max_buffered`` messages are already buffered; nothing was added.
            SenderClosed: The buffer is closed.
        """
        if self._closed:
            raise SenderClosed("the sender is closed; it accepts no more messages")
        buffered = len(self._deque) + len(self._pending)
        if buffered >= self.max_buffered:
            raise QueueFull(
                f"{buffered} messages are buffered (max_buffered={self.max_buffered}); "
                "slow down, use `await send()` to wait for room, or raise max_buffered"
            )
        if self._lock.locked():
            # The lock is held only by the mover, and only between acquiring it and its
            # critical section: trio's Lock.acquire ends with a checkpoint *after* taking
            # the lock, and this task may run right then. No critical section here ever
            # awaits, so the holder is never half-way through a change. Waiting is not
            # allowed and dropping is not either: stage the entry, and the holder folds it
            # in (in order, shedding as needed) before it touches the deque.
            self._pending.append(entry)
            if self._not_empty:
                self._not_empty.unpark_all()
            return None
        # The lock is free, so no task is inside a critical section, and none can enter
        # one before this returns: nothing below awaits, and trio switches tasks only at
        # checkpoints. Taking the lock anyway gains no exclusion and cost a quarter of a
        # push (trio registers the holder with a parking-lot breaker, then removes it).
        shed = self._fold_pending() if self._pending else None
        more = self._append(entry)
        # This runs once per push: skip the wake-up call when nobody waits (the hot path).
        if self._not_empty:
            self._not_empty.unpark_all()
        if shed is not None:
            more = merge_shed(shed, more)
        if more is not None and self.on_shed is not None:
            self.on_shed(more)
        return more

    async def push(self, entry: T) -> None:
        """Append ``entry`` once the buffer is below the high-water mark; never sheds.

        Cancellation: if cancelled while waiting for room, the entry was not added.

        Raises:
            SenderClosed: The buffer is (or becomes, while waiting) closed.
        """
        await trio.lowlevel.checkpoint()
        while True:
            if self._closed:
                raise SenderClosed("the sender is closed; it accepts no more messages")
            if len(self) < self.high_water:
                # Room now, and nothing awaits between this check and the append, so the
                # push lands at or under the mark and sheds nothing.
                self.push_nowait(entry)
                return
            await self._room.park()

    async def run_mover(
        self,
        send_channel: trio.MemorySendChannel[T],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Move entries, oldest first, into ``send_channel`` until closed and empty.

        Takes the lock around each pop only, never across the channel send, so pushes
        are never held up by a full channel. Closes ``send_channel`` when done.

        Cancellation: the entry being sent, if any, goes back to the front of the buffer,
        and the channel is closed; :meth:`drain_nowait` then returns everything not sent.
        """
        async with send_channel:
            task_status.started()
            while True:
                if self._lock.locked():  # only while drain() waits for its turn
                    async with self._lock:
                        shed, entry = self._take()
                else:
                    # As in push_nowait: the lock is free and nothing here awaits, so no
                    # task can be inside a critical section; taking the lock would add a
                    # task switch a message and exclude nothing.
                    shed, entry = self._take()
                if shed is not None and self.on_shed is not None:
                    self.on_shed(shed)
                if entry is None:
                    if self._closed:
                        return
                    # Nothing awaits between the emptiness check above and parking, so
                    # no push can slip in unseen.
                    await self._not_empty.park()
                    continue
                if self._room:
                    self._room.unpark_all()
                try:
                    # Room in the channel: no yield (the loop still checkpoints once the
                    # channel is full or the buffer empty, at most queue_cap entries on).
                    send_channel.send_nowait(entry)
                    continue
                except trio.WouldBlock:
                    pass
                except BaseException:
                    self._unpop(entry)
                    raise
                try:
                    await send_channel.send(entry)
                except BaseException:
                    # A cancelled trio send delivered nothing: put the entry back first
                    # in line, so shutdown dead-letters it instead of losing it.
                    self._unpop(entry)
                    raise

    def _take(self) -> tuple[Shed | None, T | None]:
        """Fold the staged pushes in and pop the oldest entry (a critical section)."""
        shed = self._fold_pending()
        return shed, (self._popleft() if self._deque else None)

    def close(self) -> None:
        """Accept no more pushes; the mover ends once the buffer is empty.

        Waiting :meth:`push` calls raise ``SenderClosed``. Idempotent.
        """
        self._closed = True
        self._not_empty.unpark_all()
        self._room.unpark_all()

    def drain_nowait(self) -> list[T]:
        """Take every buffered entry, oldest first (for dead-lettering at shutdown).

        Call it once the mover has stopped.

        Raises:
            trio.WouldBlock: The mover is between taking the lock and its critical
                section (it is still running); use :meth:`drain` instead.
        """
        self._lock.acquire_nowait()
        try:
            # Staged entries are taken as they are: shedding is for messages that will
            # still be sent, and these are about to be dead-lettered whole.
            taken = [*self._deque, *self._pending]
            self._pending = []
            self._deque.clear()
            self._with_files.clear()
        finally:
            self._lock.release()
        self._room.unpark_all()
        return taken

    async def drain(self) -> list[T]:
        """Like :meth:`drain_nowait`, but waits for the lock if the mover holds it."""
        async with self._lock:
            pass
        return self.drain_nowait()

    # -- the critical sections: called with the lock held; none of them awaits ------------

    def _append(self, entry: T) -> Shed | None:
        self._deque.append(entry)
        if entry.message.attachments:
            self._with_files.append(entry)
        if len(self._deque) > self.high_water:
            return self._shed_oldest()
        return None

    def _shed_oldest(self) -> Shed | None:
        if not self._with_files:
            return None
        victim = self._with_files.popleft()
        files = victim.message.attachments
        victim.message = strip_attachments(victim.message)
        self._shed_messages += 1
        self._shed_attachments += len(files)
        # One file (the usual case) without a comprehension: it would allocate a function,
        # a list and an iterator, each counting towards the next garbage collection.
        names = (files[0].filename,) if len(files) == 1 else tuple([f.filename for f in files])
        return Shed(1, len(files), names)

    def _fold_pending(self) -> Shed | None:
        if not self._pending:
            return None
        staged, self._pending = self._pending, []
        # Summed once at the end: merging Shed by Shed copied the growing tuple of names
        # each time, quadratic in the entries staged (a burst of 100,000: seconds).
        messages = attachments = 0
        names: list[str] = []
        for entry in staged:
            shed = self._append(entry)
            if shed is not None:
                messages += shed.messages
                attachments += shed.attachments
                names.extend(shed.filenames)
        return Shed(messages, attachments, tuple(names)) if messages else None

    def _popleft(self) -> T:
        entry = self._deque.popleft()
        with_files = self._with_files
        if with_files and with_files[0] is entry:
            with_files.popleft()
        return entry

    def _unpop(self, entry: T) -> None:
        # Runs while unwinding, so it cannot await for the lock; the mover is the only
        # task that ever holds the lock across a checkpoint, and it is this task.
        self._deque.appendleft(entry)
        if entry.message.attachments:
            self._with_files.appendleft(entry)
