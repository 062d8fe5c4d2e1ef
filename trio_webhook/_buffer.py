"""PressureBuffer: the unbounded-looking, bounded-in-fact queue in front of the sender.

Producers append without ever waiting (:meth:`PressureBuffer.push_nowait`); the sender
task takes the oldest entry (:meth:`PressureBuffer.take`). The ``ready`` entries at the
front, up to ``ready_cap`` (the sender's ``queue_cap``), are next in line and never shed;
behind them is the buffer proper. Past its high-water mark each new message strips the
attachments of the oldest buffered message that still has some, so memory stays bounded
while embeds and content are kept and the newest messages keep their files. Past
``max_buffered`` a push raises :class:`~trio_webhook.QueueFull`.

There is no task between the producers and the sender: a mover task feeding a memory
channel cost a task, a channel and a lock a sender, and a task switch a burst (issue 16),
and what the channel held depended on when that task had last run.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import attrs
import trio

from trio_webhook._errors import QueueFull, SenderClosed
from trio_webhook._models import Message
from trio_webhook._shed import Shed, strip_attachments

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
        buffered: Messages waiting in the buffer, behind the ``ready`` ones.
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
    """A FIFO of messages for one consumer, shedding attachments under pressure.

    Args:
        high_water: Buffered messages (behind the ready ones) past which each push sheds
            the attachments of the oldest buffered message that still has some.
        max_buffered: Hard cap of buffered messages (``>= high_water``).
        ready_cap: Entries at the front that are next in line: never shed, and not
            counted as buffered (a sender's ``queue_cap``).

    Resource handling:
        Nothing to close but the buffer itself: :meth:`close` refuses pushes, and
        :meth:`take` raises ``trio.EndOfChannel`` once the buffer is closed and empty.
        :meth:`drain_nowait` takes what is left. The buffer holds no reference to its
        owner (no callback), so a sender and its buffer are freed by reference counting,
        not left for the garbage collector.

    Example::

        buffer = PressureBuffer[Entry[None]](high_water=200, max_buffered=10_000)
        shed = buffer.push_nowait(Entry(Message(content="hi"), None))
        entry = await buffer.take()
    """

    high_water: int = attrs.field(default=200, validator=_check_positive)
    max_buffered: int = attrs.field(default=10_000, validator=_check_positive)
    ready_cap: int = attrs.field(default=1, validator=_check_positive, kw_only=True)

    # The front, at most ready_cap entries; the buffer proper is non-empty only while the
    # front is full, so the oldest entry is always ready[0].
    _ready: collections.deque[T] = attrs.field(init=False, factory=collections.deque)
    _deque: collections.deque[T] = attrs.field(init=False, factory=collections.deque)
    # The cursor: every buffered entry that still has attachments, oldest first (the
    # deque's order). Shedding pops its left end, and a take drops an entry from it when
    # it moves that entry to the front: as an ordered part of the deque, its left end is
    # the deque's left end whenever that entry is in it at all, so one identity test says
    # so. Each entry goes in and out at most once: O(1) amortised per push, never a scan
    # of the deque, and nothing stored per entry but the reference (a sequence number
    # beside each was one more object per buffered message).
    # Made on first use, as _room: most senders never see a file or a waiting push, and a
    # thousand idle senders then hold fewer objects for the garbage collector to walk.
    _with_files: collections.deque[T] | None = attrs.field(init=False, default=None)
    # The consumer parked in take(), woken by hand: one task at most (a ParkingLot would
    # be two more objects a sender, and a list and a generator each push that wakes it).
    _taker: trio.lowlevel.Task | None = attrs.field(init=False, default=None)
    _room: trio.lowlevel.ParkingLot | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)
    _shed_attachments: int = attrs.field(init=False, default=0)
    _shed_messages: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if self.max_buffered < self.high_water:
            raise ValueError(
                f"max_buffered ({self.max_buffered}) must be >= high_water ({self.high_water})"
            )

    @classmethod
    def from_config(cls, config: SenderConfig) -> PressureBuffer[T]:
        """A buffer with ``config``'s high-water mark, hard cap and ``queue_cap``."""
        return cls(config.high_water_mark, config.max_buffered, ready_cap=config.queue_cap)

    def __len__(self) -> int:
        """Buffered entries, behind the ready ones (what the high-water mark counts)."""
        return len(self._deque)

    @property
    def queued(self) -> int:
        """Every entry not yet taken: the ready ones and the buffered ones."""
        return len(self._ready) + len(self._deque)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def statistics(self) -> BufferStatistics:
        """A frozen snapshot of the buffer's state and counters."""
        return BufferStatistics(
            buffered=len(self._deque),
            high_water=self.high_water,
            max_buffered=self.max_buffered,
            shed_attachments=self._shed_attachments,
            shed_messages=self._shed_messages,
        )

    def push_nowait(self, entry: T) -> Shed | None:
        """Append ``entry`` without waiting; past the high-water mark, shed attachments.

        Returns:
            What this push shed, or ``None`` when nothing was.

        Raises:
            QueueFull: ``max_buffered`` messages are already buffered; nothing was added.
            SenderClosed: The buffer is closed.
        """
        if self._closed:
            raise SenderClosed("the sender is closed; it accepts no more messages")
        # No lock anywhere: nothing in this class awaits between reading and changing
        # the deques, and trio switches tasks only at checkpoints.
        shed = None
        if not self._deque and len(self._ready) < self.ready_cap:
            self._ready.append(entry)
        else:
            buffered = len(self._deque)
            if buffered >= self.max_buffered:
                raise QueueFull(
                    f"{buffered} messages are buffered (max_buffered={self.max_buffered}); "
                    "slow down, use `await send()` to wait for room, or raise max_buffered"
                )
            shed = self._append(entry)
        # Once per push: no call when nobody waits (the hot path).
        if self._taker is not None:
            self._wake_taker()
        return shed

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
            if len(self._deque) < self.high_water:
                # Room now, and nothing awaits between this check and the append, so the
                # push lands at or under the mark and sheds nothing.
                self.push_nowait(entry)
                return
            if self._room is None:
                self._room = trio.lowlevel.ParkingLot()
            await self._room.park()

    def take_nowait(self) -> T:
        """The oldest entry, taken off the buffer.

        Raises:
            trio.WouldBlock: Nothing is queued (and the buffer is open).
            trio.EndOfChannel: The buffer is closed and empty.
        """
        ready = self._ready
        if not ready:
            if self._closed:
                raise trio.EndOfChannel
            raise trio.WouldBlock
        entry = ready.popleft()
        if self._deque:
            ready.append(self._popleft())
            room = self._room
            if room:
                room.unpark_all()
        return entry

    async def take(self) -> T:
        """The oldest entry, waiting for one if none is queued.

        Cancellation: a cancelled ``take`` took nothing. It checks for cancellation
        first, but does not yield when an entry is there: the consumer parks on its own
        work anyway (a task switch a message saved).

        Raises:
            trio.EndOfChannel: The buffer is closed and empty.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while not self._ready and not self._closed:
            # Nothing awaits between the emptiness check and parking, so no push can
            # slip in unseen.
            if self._taker is not None:
                raise RuntimeError("PressureBuffer.take: another task is already waiting")
            self._taker = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort_take)
        return self.take_nowait()

    def _abort_take(self, _: object) -> trio.lowlevel.Abort:
        # A cancelled take leaves; it took nothing.
        self._taker = None
        return trio.lowlevel.Abort.SUCCEEDED

    def _wake_taker(self) -> None:
        task = self._taker
        if task is not None:
            self._taker = None
            trio.lowlevel.reschedule(task)

    def close(self) -> None:
        """Accept no more pushes; :meth:`take` ends once the buffer is empty.

        Waiting :meth:`push` calls raise ``SenderClosed``. Idempotent.
        """
        self._closed = True
        self._wake_taker()
        if self._room is not None:
            self._room.unpark_all()

    def drain_nowait(self) -> list[T]:
        """Take every queued entry, oldest first (for dead-lettering at shutdown).

        Entries are taken as they are: shedding is for messages that will still be sent,
        and these are about to be dead-lettered whole.
        """
        taken = [*self._ready, *self._deque]
        self._ready.clear()
        self._deque.clear()
        self._with_files = None
        if self._room is not None:
            self._room.unpark_all()
        return taken

    # -- the changes to the deques; none of them awaits ---------------------------------

    def _append(self, entry: T) -> Shed | None:
        self._deque.append(entry)
        if entry.message.attachments:
            if self._with_files is None:
                self._with_files = collections.deque()
            self._with_files.append(entry)
        if len(self._deque) > self.high_water:
            return self._shed_oldest()
        return None

    def _shed_oldest(self) -> Shed | None:
        with_files = self._with_files
        if not with_files:
            return None
        victim = with_files.popleft()
        files = victim.message.attachments
        victim.message = strip_attachments(victim.message)
        self._shed_messages += 1
        self._shed_attachments += len(files)
        # One file (the usual case) without a comprehension: it would allocate a function,
        # a list and an iterator, each counting towards the next garbage collection.
        names = (files[0].filename,) if len(files) == 1 else tuple([f.filename for f in files])
        return Shed(1, len(files), names)

    def _popleft(self) -> T:
        entry = self._deque.popleft()
        with_files = self._with_files
        if with_files and with_files[0] is entry:
            with_files.popleft()
        return entry
