"""The whole-request deadline of the HTTP/1.1 transport, kept by one task a pool.

A cancel scope a request (``trio.move_on_after``) cost about 7 µs of CPU, a few per
cent of a whole delivery: trio builds a cancel status, registers the deadline in its
heap and runs two generator-based context managers on the way in and out. Every wait
of an exchange after the pool slot and the connection is a wait on its socket, so the
deadline does not need a cancel scope: a :class:`DeadlineKeeper` (one system task of the
trio run, for a whole pool) sleeps until the soonest deadline of the requests in flight
and *aborts* the socket of a request still unfinished then. The task waiting on it wakes
with ``trio.ClosedResourceError``; the transport sees :attr:`Deadline.aborted` and
raises the timeout of the phase it was in. A request waiting for a pool slot is taken
out of the pool's queue and woken, to raise :class:`DeadlinePassed`; connecting takes a
cancel scope of its own (up to :attr:`Deadline.at`, as the connect timeout does); a
request that finds its deadline passed between waits raises :class:`DeadlinePassed`.

Starting and ending a deadline is an append and a dictionary entry; the keeper wakes
once a timeout at most while requests finish in time, not once a request.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable
from typing import Final, Literal, Protocol

import trio

from trio_webhook._errors import TransportError, TransportErrorKind

__all__ = ["Deadline", "DeadlineKeeper", "DeadlinePassed", "Phase", "deadline_error"]

Phase = Literal["pool", "connect", "write", "read"]
# A deadline's error by phase (a part-written request is not ambiguous: never acted on).
_DEADLINES: Final[dict[Phase, tuple[TransportErrorKind, str, bool]]] = {
    "pool": ("pool_timeout", "no free connection", False),
    "connect": ("connect_timeout", "not connected", False),
    "write": ("write_timeout", "request not sent", False),
    "read": ("read_timeout", "no complete answer", True),
}


def deadline_error(phase: Phase, total_timeout: float, route: str) -> TransportError:
    """The error of a request whose whole deadline passed in ``phase``."""
    kind, what, ambiguous = _DEADLINES[phase]
    within = f"within {total_timeout:g} s"
    return TransportError(kind, f"{what} {within}", ambiguous=ambiguous, route=route)


class _Abortable(Protocol):
    def abort(self) -> None: ...


class DeadlinePassed(Exception):
    """The request's deadline passed between two waits (internal to the transport)."""


class Deadline:
    """One request's deadline: when, how far it got, and the stream to abort at ``at``."""

    __slots__ = (
        "_now",
        "_queue",
        "_task",
        "aborted",
        "at",
        "expired",
        "granted",
        "key",
        "phase",
        "stream",
    )

    def __init__(self, at: float, key: int, now: Callable[[], float] = trio.current_time) -> None:
        self.at: Final = at
        self.key: Final = key
        self._now = now
        self.phase: Phase = "pool"
        self.stream: _Abortable | None = None
        """The stream the request is waiting on now (``None``: between waits)."""
        self.expired = False
        """The deadline passed before the request ended."""
        self.aborted = False
        """The keeper closed :attr:`stream` under the request (its errors are the deadline's)."""
        self.granted = False
        """The pool handed this request a slot it waited for."""
        # Waiting for a pool slot: the task parked, and the pool's queue it waits in.
        self._task: trio.lowlevel.Task | None = None
        self._queue: deque[Deadline] | None = None

    def park(self, task: trio.lowlevel.Task, queue: deque[Deadline]) -> None:
        """``task`` waits in ``queue`` for a slot: at the deadline, take it out and wake it."""
        self._task, self._queue = task, queue
        queue.append(self)

    def grant(self) -> trio.lowlevel.Task:
        """The pool took this request off its queue to hand it a slot: the task to wake."""
        self.granted = True
        return self._forget_queue()

    def unpark(self) -> trio.lowlevel.Task:
        """Leave the queue without a slot (cancelled, or the deadline passed): the task."""
        assert self._queue is not None
        self._queue.remove(self)
        return self._forget_queue()

    def _forget_queue(self) -> trio.lowlevel.Task:
        task, self._task, self._queue = self._task, None, None
        assert task is not None
        return task

    def check(self) -> None:
        """Raise :class:`DeadlinePassed` if the deadline passed (call before each wait)."""
        if self.expired or self._now() >= self.at:
            self.expired = True
            raise DeadlinePassed

    def _expire(self) -> None:
        self.expired = True
        stream = self.stream
        if stream is not None:
            self.aborted = True
            stream.abort()
        elif self._queue is not None:
            trio.lowlevel.reschedule(self.unpark())  # not granted: it raises


class DeadlineKeeper:
    """The deadlines of one pool's requests in flight, in one trio run.

    Requests with the same timeout end their deadlines in the order they began them, so
    each timeout's deadlines form a queue; the keeper sleeps until the soonest head.
    Ended deadlines leave the queues when the keeper next wakes (only a float and an
    int each, which the garbage collector does not track).
    """

    def __init__(self, now: Callable[[], float] = trio.current_time) -> None:
        # The run's clock: ``trio.current_time()`` itself, read without its two wrappers
        # (the pool passes ``current_clock().current_time``, fixed for a run).
        self._now = now
        self._live: dict[int, Deadline] = {}
        self._queues: dict[float, deque[tuple[float, int]]] = {}
        self._keys = itertools.count()
        self._running = False
        self._sleep: trio.CancelScope | None = None
        self._wake_at = math.inf

    @property
    def in_flight(self) -> int:
        """Deadlines begun and not ended (for tests)."""
        return len(self._live)

    def begin(self, timeout: float) -> Deadline:
        """Start a deadline ``timeout`` seconds from now; :meth:`end` it when done."""
        key = next(self._keys)
        deadline = Deadline(self._now() + timeout, key, self._now)
        self._live[key] = deadline
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
            if self._sleep is not None and deadline.at < self._wake_at:
                self._sleep.cancel()  # a new, shorter timeout: sleep less
        queue.append((deadline.at, key))
        if not self._running:
            self._running = True
            trio.lowlevel.spawn_system_task(self._keep)
        return deadline

    def end(self, deadline: Deadline) -> None:
        """The request ended (answered or failed): its deadline no longer applies."""
        self._live.pop(deadline.key, None)
        deadline.stream = None

    async def _keep(self) -> None:
        try:
            while True:
                soonest = self._expire_due(self._now())
                if soonest == math.inf:
                    return
                self._wake_at = soonest
                with trio.CancelScope() as self._sleep:
                    await trio.sleep_until(soonest)
                self._sleep = None
        finally:
            self._running = False
            self._sleep = None
            self._wake_at = math.inf

    def _expire_due(self, now: float) -> float:
        """Expire what is due, drop what ended; the soonest deadline left (or ``inf``)."""
        live = self._live
        soonest = math.inf
        for timeout in list(self._queues):
            queue = self._queues[timeout]
            while queue and (queue[0][1] not in live or queue[0][0] <= now):
                _at, key = queue.popleft()
                deadline = live.pop(key, None)
                if deadline is not None:
                    deadline._expire()
            if queue:
                soonest = min(soonest, queue[0][0])
            else:
                del self._queues[timeout]
        return soonest
