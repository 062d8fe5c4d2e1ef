"""The HTTP/1.1 transport's connections to one host: slots, kept-alive idle ones, connecting.

The pool decides nothing about requests: it hands out a slot and a connection (idle or
new) and takes the connection back when the exchange left it reusable. Connecting maps
every failure onto a :class:`~trio_webhook.TransportError` that is never
ambiguous: nothing was sent yet.

A pool may outlive a trio run (the process-wide pools of :func:`shared_pool` do): its
connections belong to the run that opened them. A system task of that run closes idle
connections once ``keepalive_expiry`` passes, and all of them when the run ends; a pool
used from a new run starts afresh, never touching a finished run's sockets. Another
keeps the deadlines of the requests in flight (``_deadlines``), the ones waiting for a
slot included.
"""

from __future__ import annotations

import ssl
import weakref
from collections import deque
from collections.abc import Callable, Hashable
from typing import Final

import attrs
import trio

from trio_webhook._errors import TransportError
from trio_webhook._url import redact
from trio_webhook.transport._base import find_ssl_error, tls_error
from trio_webhook.transport._deadlines import Deadline, DeadlineKeeper, DeadlinePassed
from trio_webhook.transport._stream import Stream, TLSStream, open_stream
from trio_webhook.transport._wire import Wire

__all__ = [
    "DEFAULT_KEEPALIVE_EXPIRY",
    "DEFAULT_MAX_CONNECTIONS",
    "POLL_AFTER_IDLE",
    "Connection",
    "ConnectionPool",
    "check_pool_settings",
    "describe_break",
    "run_pool_var",
    "shared_pool",
]

DEFAULT_MAX_CONNECTIONS: Final = 100
"""Connections at once to one host from the process-wide pool.

Discord is one host and allows a process (an IP) about 50 webhook requests a second; at
a few hundred milliseconds an answer that takes some 15-25 connections, so 100 (as
aiohttp's connector, under discord.py) leaves room for slow uploads while a thousand
senders queue for a connection instead of opening a thousand TLS connections at once
(which Discord's edge and the local network answer with connect timeouts)."""
DEFAULT_KEEPALIVE_EXPIRY: Final = 15.0
"""Seconds an idle connection is kept for reuse (aiohttp's default keep-alive, too)."""
POLL_AFTER_IDLE: Final = 1.0
"""Seconds idle after which a connection is polled for readability before reuse.

A server closes an idle connection after its keep-alive timeout (seconds to minutes), so
one idle for less is reused without the extra ``poll()`` syscall; the rare one closed
anyway fails before any byte of answer, and the transport sends again on a fresh one."""


@attrs.define(eq=False)
class Connection:
    """One HTTP/1.1 connection: the stream (TLS or plain) and its codec's state."""

    stream: Stream
    http: Wire


class ConnectionPool:
    """At most ``max_connections`` connections in use, ``max_keepalive`` kept idle.

    Args:
        host: The server's host name (also the TLS server name).
        port: The server's port.
        ssl_context: Trust for TLS, or ``None`` for plain TCP (loopback only; the
            transport checks).
        max_connections: Connections in use at once; more callers wait for a slot (in
            order of arrival).
        max_keepalive: Idle connections kept for reuse.
        new_wire: Makes the codec state of each new connection.
        keepalive_expiry: Seconds after which an idle connection is closed.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        max_connections: int,
        max_keepalive: int,
        new_wire: Callable[[], Wire],
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
    ) -> None:
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._max_keepalive = max_keepalive
        self._new_wire = new_wire
        self._expiry = keepalive_expiry
        # Slots: a count and the requests waiting for one, in order of arrival (by hand,
        # not a trio.Semaphore, whose waiters park inside an ``except WouldBlock``: the
        # exception, its traceback and frame stay alive as long as each waits).
        self._free = max_connections
        self._waiting: deque[Deadline] = deque()
        self._deadlines = DeadlineKeeper()
        # (idle since, connection), oldest first: reuse takes the newest, expiry the oldest.
        self._idle: list[tuple[float, Connection]] = []
        # The run the connections belong to, weakly: a transport's own pool may outlive
        # its run, and must not keep the finished run's token alive.
        self._run: weakref.ref[trio.lowlevel.TrioToken] | None = None
        # A shared pool is made in its run and kept in that run's RunVar (shared_pool):
        # it never sees another, so begin need not ask which run it is in.
        self._pinned = False
        # The run's clock, read directly (trio.current_time() goes through two more
        # calls to the same method); set with the run.
        self._now: Callable[[], float] = trio.current_time
        self._generation = 0
        self._reaping = False
        self.closed = False
        self.opened = 0
        """Connections opened so far (for tests and benchmarks)."""

    def begin(self, timeout: float) -> Deadline:
        """A request's deadline, ``timeout`` seconds from now; :meth:`end` it when done.

        Its own slot wait and connect honour it; the waits on the connection are aborted
        by the pool's keeper when it passes (see ``_deadlines``).
        """
        if not self._pinned:
            run = trio.lowlevel.current_trio_token()
            if self._run is None or self._run() is not run:
                self._adopt(run)
        return self._deadlines.begin(timeout)

    def pin(self, run: trio.lowlevel.TrioToken) -> None:
        """Belong to ``run`` for good (a shared pool, kept in that run's ``RunVar``)."""
        self._adopt(run)
        self._pinned = True

    def end(self, deadline: Deadline) -> None:
        """The request of ``deadline`` ended."""
        self._deadlines.end(deadline)

    @property
    def deadlines_in_flight(self) -> int:
        """Requests whose deadline is running (for tests)."""
        return self._deadlines.in_flight

    async def acquire_slot(self, deadline: Deadline) -> None:
        """Wait for a free slot (without a checkpoint when one is free at once).

        Raises:
            DeadlinePassed: None came free before the deadline (the keeper wakes the
                request with it).
        """
        if self._free and not self._waiting:
            self._free -= 1
            return
        deadline.park(trio.lowlevel.current_task(), self._waiting)

        def abort(_: object) -> trio.lowlevel.Abort:
            deadline.unpark()
            return trio.lowlevel.Abort.SUCCEEDED

        # Woken by release_slot, which hands its slot over, or by the deadline's keeper.
        await trio.lowlevel.wait_task_rescheduled(abort)
        if not deadline.granted:
            raise DeadlinePassed

    def _adopt(self, run: trio.lowlevel.TrioToken) -> None:
        """Start afresh in a new trio run: the old run's sockets and waiters are gone."""
        for _since, connection in self._idle:
            # Not awaited: the stream belongs to a finished run; its socket is just an fd.
            connection.stream.forget()
        self._idle = []
        self._free = self._max_connections
        self._waiting = deque()
        self._now = trio.lowlevel.current_clock().current_time
        self._deadlines = DeadlineKeeper(self._now)
        self._reaping = False
        self._generation += 1
        self._run = weakref.ref(run)

    @property
    def idle(self) -> int:
        """Connections kept for reuse now."""
        return len(self._idle)

    def release_slot(self) -> None:
        """Give back the slot taken by :meth:`acquire_slot`: to the first request waiting."""
        if self._waiting:
            trio.lowlevel.reschedule(self._waiting.popleft().grant())
        else:
            self._free += 1

    async def take_idle(self) -> Connection | None:
        """A kept-alive connection still fit for use, or ``None``.

        One idle for :data:`POLL_AFTER_IDLE` seconds or longer is polled first (a
        readable idle connection was closed by the server); a younger one is handed out
        unpolled, and may turn out closed when its answer is read.
        """
        idle = self._idle
        while idle:
            since, connection = idle.pop()
            idle_for = self._now() - since
            if idle_for < self._expiry and (
                idle_for < POLL_AFTER_IDLE or not connection.stream.is_readable()
            ):
                return connection
            # Expired, or readable while idle: the server closed it (EOF, close_notify)
            # or broke protocol by talking unasked. Either way it is of no use.
            await trio.aclose_forcefully(connection.stream)
        return None

    def keep(self, connection: Connection) -> bool:
        """Keep ``connection`` for reuse if its exchange finished cleanly and there is room.

        Returns:
            Whether it was kept; if not, the caller closes it.
        """
        keep = (
            not self.closed
            and len(self._idle) < self._max_keepalive
            and connection.http.next_cycle()
        )
        if keep:
            self._idle.append((self._now(), connection))
            if not self._reaping:
                self._reaping = True
                trio.lowlevel.spawn_system_task(self._reap, self._generation)
        return keep

    async def _reap(self, generation: int) -> None:
        """Close idle connections as they expire, and every one when the run ends.

        A system task: it lives in the run whose connections it watches, whichever task
        kept the first one, and trio cancels it when the run's main task returns. It
        ends early once the pool is quiet (nothing idle, nothing in use), and the next
        :meth:`keep` starts another.
        """
        try:
            while self._generation == generation and not self.closed:
                if self._idle:
                    wake_at = self._idle[0][0] + self._expiry
                elif self._free < self._max_connections:
                    # Every connection is in use: none can expire before it is kept
                    # again, a full expiry from now at the soonest. Sleeping through
                    # that, rather than ending here to be started again by the next
                    # keep, spares a busy pool a task's start and end per request.
                    wake_at = trio.current_time() + self._expiry
                else:
                    break
                await trio.sleep_until(wake_at)
                now = trio.current_time()
                while self._idle and now - self._idle[0][0] >= self._expiry:
                    _since, connection = self._idle.pop(0)
                    await trio.aclose_forcefully(connection.stream)
        finally:
            # The loop ends with the pool quiet or closed, or by the cancellation of the
            # run's end: then whatever is still idle is closed with the run.
            if self._generation == generation:
                self._reaping = False
                await _close_all(self._idle)
                self._idle = []

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their exchange ends."""
        self.closed = True
        idle, self._idle = self._idle, []
        await _close_all(idle)

    async def connect(self, route: str, connect_timeout: float, deadline: Deadline) -> Connection:
        """A new connection, TLS handshake done, within ``connect_timeout`` seconds.

        The connect timeout starts here, once a slot is held: waiting for a free
        connection is never mistaken for a host that does not answer. The request's
        ``deadline`` bounds it too.

        Raises:
            TransportError: ``connect``, ``connect_timeout`` or ``tls``; never ambiguous.
            DeadlinePassed: The request's deadline came first.
        """
        where = f"{self._host}:{self._port}"
        self.opened += 1
        deadline.check()
        with trio.move_on_at(min(trio.current_time() + connect_timeout, deadline.at)):
            try:
                stream = await open_stream(self._host, self._port, self._ssl_context)
            except OSError as exc:
                detail = redact(exc.strerror or str(exc)) or type(exc).__name__
                raise TransportError(
                    "connect",
                    f"could not connect to {where} ({detail})",
                    ambiguous=False,
                    route=route,
                ) from None
            if isinstance(stream, TLSStream):
                try:
                    await stream.handshake()
                except trio.BrokenResourceError as exc:
                    await trio.aclose_forcefully(stream)
                    ssl_error = find_ssl_error(exc)
                    if ssl_error is not None:
                        raise tls_error(ssl_error, route) from None
                    raise TransportError(
                        "connect",
                        f"{where} closed the connection during the TLS handshake",
                        ambiguous=False,
                        route=route,
                    ) from None
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
            return Connection(stream, self._new_wire())
        deadline.check()
        raise TransportError(
            "connect_timeout",
            f"could not connect to {where} within {connect_timeout:g} s",
            ambiguous=False,
            route=route,
        )


def check_pool_settings(
    codec: str, max_connections: int, max_keepalive: int, keepalive_expiry: float
) -> None:
    """Refuse an unknown codec or a pool limit out of range, naming the values."""
    if codec not in ("lean", "h11"):
        raise ValueError(f"codec must be 'lean' or 'h11', not {codec!r}")
    if max_connections < 1 or max_keepalive < 0:
        raise ValueError(
            f"max_connections must be at least 1 and max_keepalive at least 0 "
            f"(got {max_connections} and {max_keepalive})"
        )
    if not keepalive_expiry > 0:
        raise ValueError(f"keepalive_expiry must be positive (got {keepalive_expiry})")


def describe_break(exc: BaseException, when: str) -> str:
    """A token-free sentence for a stream that broke ``when`` (with the OS's reason)."""
    cause = exc.__cause__ or exc.__context__
    reason = ""
    if isinstance(cause, OSError):
        reason = cause.strerror or type(cause).__name__
    elif cause is not None:
        reason = type(cause).__name__
    return f"the connection broke {when}" + (f" ({redact(reason)})" if reason else "")


async def _close_all(idle: list[tuple[float, Connection]]) -> None:
    """Close every connection of ``idle``, even under cancellation.

    Shielded: a cancelled checkpoint inside the first close would otherwise leave the
    rest open (and warned about when collected).
    """
    with trio.CancelScope(shield=True):
        for _since, connection in idle:
            await trio.aclose_forcefully(connection.stream)


# A pool a key a run: trio keeps a RunVar's values in the run, so a run's pools go with it.
_SHARED: Final[dict[Hashable, trio.lowlevel.RunVar[ConnectionPool | None]]] = {}


def run_pool_var(key: Hashable) -> trio.lowlevel.RunVar[ConnectionPool | None]:
    """Where each trio run keeps its shared pool for ``key`` (see :func:`shared_pool`).

    A transport keeps it, to find its run's pool with one lookup (``get()``) and call
    :func:`shared_pool` only when there is none yet.
    """
    var = _SHARED.get(key)
    if var is None:
        var = _SHARED[key] = trio.lowlevel.RunVar("trio_webhook.shared_pool", default=None)
    return var


def shared_pool(key: Hashable, make: Callable[[], ConnectionPool]) -> ConnectionPool:
    """The process-wide pool for ``key`` (a host, its trust and its codec) in this trio run.

    One pool a run: two runs at once (a facade's background loop beside the program's
    own ``trio.run``) never share a socket or a semaphore, and a run's pool goes with
    the run. It is never closed: its connections close on keep-alive expiry and when
    the run ends.
    """
    var = run_pool_var(key)
    pool = var.get()
    if pool is None:
        pool = make()
        pool.pin(trio.lowlevel.current_trio_token())
        var.set(pool)
    return pool
