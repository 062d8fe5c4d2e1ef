"""The HTTP/1.1 transport's connections to one host: slots, kept-alive idle ones, connecting.

The pool decides nothing about requests: it hands out a slot and a connection (idle or
new) and takes the connection back when the exchange left it reusable. Connecting maps
every failure onto a :class:`~trio_webhook.TransportError` that is never
ambiguous: nothing was sent yet.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import attrs
import trio

from trio_webhook._errors import TransportError
from trio_webhook._url import redact
from trio_webhook.transport._base import find_ssl_error, tls_error
from trio_webhook.transport._wire import Wire

__all__ = ["Connection", "ConnectionPool", "describe_break"]


@attrs.define(eq=False)
class Connection:
    """One HTTP/1.1 connection: the stream, its socket, and its codec's state."""

    stream: trio.abc.Stream
    socket: trio.socket.SocketType
    http: Wire


class ConnectionPool:
    """At most ``max_connections`` connections in use, ``max_keepalive`` kept idle.

    Args:
        host: The server's host name (also the TLS server name).
        port: The server's port.
        ssl_context: Trust for TLS, or ``None`` for plain TCP (loopback only; the
            transport checks).
        connect_timeout: Deadline on connecting (TCP and TLS handshake), in seconds.
        max_connections: Connections in use at once; more callers wait for a slot.
        max_keepalive: Idle connections kept for reuse.
        new_wire: Makes the codec state of each new connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        connect_timeout: float,
        max_connections: int,
        max_keepalive: int,
        new_wire: Callable[[], Wire],
    ) -> None:
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._connect_timeout = connect_timeout
        self._max_keepalive = max_keepalive
        self._new_wire = new_wire
        self._slots = trio.Semaphore(max_connections)
        self._idle: list[Connection] = []
        self.closed = False

    async def acquire_slot(self) -> None:
        """Wait for a free slot (without a checkpoint when one is free at once)."""
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            await self._slots.acquire()

    def release_slot(self) -> None:
        """Give back the slot taken by :meth:`acquire_slot`."""
        self._slots.release()

    async def take_idle(self) -> Connection | None:
        """A kept-alive connection still fit for use, or ``None``."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.socket.is_readable():
                return connection
            # Readable while idle: the server closed it (EOF, close_notify) or broke
            # protocol by talking unasked. Either way it is of no use.
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
            self._idle.append(connection)
        return keep

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their exchange ends."""
        self.closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await trio.aclose_forcefully(connection.stream)

    async def connect(self, route: str) -> Connection:
        """A new connection, TLS handshake done, within the connect timeout.

        Raises:
            TransportError: ``connect``, ``connect_timeout`` or ``tls``; never ambiguous.
        """
        where = f"{self._host}:{self._port}"
        with trio.move_on_after(self._connect_timeout):
            try:
                tcp = await trio.open_tcp_stream(self._host, self._port)
            except OSError as exc:
                detail = redact(exc.strerror or str(exc)) or type(exc).__name__
                raise TransportError(
                    "connect",
                    f"could not connect to {where} ({detail})",
                    ambiguous=False,
                    route=route,
                ) from None
            if self._ssl_context is None:
                return Connection(tcp, tcp.socket, self._new_wire())
            stream = trio.SSLStream(
                tcp, self._ssl_context, server_hostname=self._host, https_compatible=True
            )
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as exc:
                await trio.aclose_forcefully(tcp)
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
                await trio.aclose_forcefully(tcp)
                raise
            return Connection(stream, tcp.socket, self._new_wire())
        raise TransportError(
            "connect_timeout",
            f"could not connect to {where} within {self._connect_timeout:g} s",
            ambiguous=False,
            route=route,
        )


def describe_break(exc: BaseException, when: str) -> str:
    """A token-free sentence for a stream that broke ``when`` (with the OS's reason)."""
    cause = exc.__cause__ or exc.__context__
    reason = ""
    if isinstance(cause, OSError):
        reason = cause.strerror or type(cause).__name__
    elif cause is not None:
        reason = type(cause).__name__
    return f"the connection broke {when}" + (f" ({redact(reason)})" if reason else "")
