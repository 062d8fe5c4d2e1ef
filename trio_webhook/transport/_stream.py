"""One connection's bytes: a socket we own, with TLS on memory BIOs when asked.

Why not ``trio.SocketStream`` and ``trio.SSLStream``: a connection here carries one
exchange at a time (the pool hands it to one request), so their conflict detectors, the
four locks of ``SSLStream`` and a checkpoint after every successful ``send`` and ``recv``
buy nothing, and cost about a dozen task switches a request (issue 16, W3). This stream
does the same syscalls with trio's I/O waits only where the kernel says "not yet":

- :meth:`Stream.send_all` sends at once and waits for writability only when the socket's
  buffer is full;
- :meth:`Stream.receive_some` with ``first`` (the first read after a request) waits for
  readability before the ``recv`` (the answer cannot be there yet; trying would fail with
  ``EAGAIN``); so does a read after one that emptied the socket (it got fewer bytes than
  it asked for: the rest of the answer comes in a later segment); others try first;
- TLS is an ``ssl.SSLObject`` over two ``ssl.MemoryBIO``, as ``SSLStream`` does, with
  its ``https_compatible=True`` rules: no ``close_notify`` sent, and a peer's EOF without
  one read as an EOF (the HTTP framing says whether the answer was complete).

Failures are trio's: ``trio.BrokenResourceError`` raised from the ``OSError`` or
``ssl.SSLError``, so the transport maps both streams' errors one way. The caller makes a
request a checkpoint (``trio.lowlevel.checkpoint_if_cancelled`` before writing; the read's
wait parks).
"""

from __future__ import annotations

import select
import socket
import ssl
from typing import Final, Protocol

import trio

__all__ = ["Stream", "TLSStream", "open_stream"]

RECEIVE_SIZE: Final = 64 * 1024


class _TLSCalls(Protocol):
    """What the stream calls of a TLS object: ``ssl.SSLObject``'s, or its C object's."""

    def do_handshake(self) -> None: ...
    def read(self, len: int = ..., /) -> bytes: ...
    def write(self, data: bytes | memoryview, /) -> int: ...
    def pending(self) -> int: ...


class Stream(trio.abc.AsyncResource):
    """A connected TCP socket, owned by one exchange at a time (plain bytes)."""

    __slots__ = ("_drained", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._drained = False

    def forget(self) -> None:
        """Close the socket of a finished trio run (no task of this run waits on it)."""
        self._sock.close()

    def is_readable(self) -> bool:
        """Whether a read would not block (on an idle connection: the server closed it)."""
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        return bool(poller.poll(0))

    async def send_all(self, data: bytes | memoryview) -> None:
        """Send every byte of ``data``; raises ``trio.BrokenResourceError``."""
        await self._send_raw(data)

    async def _send_raw(self, data: bytes | memoryview) -> None:
        sock = self._sock
        view = memoryview(data)
        try:
            while view:
                try:
                    sent = sock.send(view)
                except BlockingIOError:
                    sent = 0
                if sent:
                    view = view[sent:]
                else:
                    # Waited for outside the except block, which would keep the exception
                    # and its traceback alive for as long as the wait.
                    await trio.lowlevel.wait_writable(sock)
        except OSError as exc:
            raise trio.BrokenResourceError("the connection broke") from exc

    async def receive_some(self, *, first: bool = False) -> bytes:
        """Some bytes of the answer, ``b""`` at the end of the stream."""
        return await self._receive_raw(first=first)

    async def _receive_raw(self, *, first: bool) -> bytes:
        sock = self._sock
        try:
            if first or self._drained:
                await trio.lowlevel.wait_readable(sock)
            while True:
                try:
                    data = sock.recv(RECEIVE_SIZE)
                except BlockingIOError:
                    pass
                else:
                    # A read shorter than asked for emptied the socket: the next bytes
                    # come in a later segment, so the next read waits first instead of
                    # failing with EAGAIN (two of a W3 answer's three reads did).
                    self._drained = len(data) < RECEIVE_SIZE
                    return data
                # Outside the except block: see _send_raw.
                await trio.lowlevel.wait_readable(sock)
        except OSError as exc:
            raise trio.BrokenResourceError("the connection broke") from exc

    def abort(self) -> None:
        """Close the socket now, from any task: one waiting on it wakes with an error."""
        if self._sock.fileno() != -1:
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()

    async def aclose(self) -> None:
        """Close the socket at once (any task waiting on it is woken with an error)."""
        self.abort()
        await trio.lowlevel.checkpoint()


class TLSStream(Stream):
    """TLS over a :class:`Stream`'s socket, on memory BIOs (see the module docstring)."""

    __slots__ = ("_incoming", "_outgoing", "_owner", "_tls")

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: str) -> None:
        super().__init__(sock)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        wrapped = context.wrap_bio(
            self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname
        )
        # ssl.SSLObject's read, write and pending are Python methods that only call its
        # C object's (``_sslobj``, the same calls, errors and results): taken directly, a
        # W3 answer passes five fewer Python frames. An ssl module without it keeps the
        # public object, whose methods are the same names. The public object is kept:
        # the C object refers to its owner only weakly (for ssl's callbacks).
        self._owner = wrapped
        self._tls: _TLSCalls = getattr(wrapped, "_sslobj", None) or wrapped

    async def handshake(self) -> None:
        """The TLS handshake; raises ``trio.BrokenResourceError`` from the ``SSLError``."""
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                raise trio.BrokenResourceError("TLS handshake failed") from exc
            await self._flush()
            self._feed(await self._receive_raw(first=True))
        await self._flush()

    async def _flush(self) -> None:
        if self._outgoing.pending:
            await self._send_raw(self._outgoing.read())

    def _feed(self, data: bytes) -> None:
        # Not a coroutine around _receive_raw: every frame between the reader and the
        # wait is passed through twice on each of an answer's reads.
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    async def send_all(self, data: bytes | memoryview) -> None:
        """Encrypt and send ``data``; raises ``trio.BrokenResourceError``."""
        try:
            self._tls.write(data)
        except ssl.SSLError as exc:
            # A renegotiation asked mid-request (TLS 1.2 only): nothing was sent yet.
            raise trio.BrokenResourceError("TLS write failed") from exc
        await self._flush()

    async def receive_some(self, *, first: bool = False) -> bytes:
        """Some decrypted bytes of the answer, ``b""`` at the end (with or without close_notify)."""
        tls = self._tls
        incoming = self._incoming
        if not incoming.pending and not tls.pending():
            # Nothing to decrypt: read the socket first rather than raise SSLWantReadError
            # (an exception costs more than the check).
            self._feed(await self._receive_raw(first=first))
        while True:
            try:
                data = tls.read(RECEIVE_SIZE)
            except ssl.SSLWantReadError:
                data = None
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                return b""  # https_compatible: the HTTP framing tells truncation apart
            except ssl.SSLError as exc:
                raise trio.BrokenResourceError("TLS read failed") from exc
            if data is None:
                # Waited for outside the except block (see Stream._send_raw).
                await self._flush()  # a post-handshake message may want an answer
                self._feed(await self._receive_raw(first=False))
                continue
            if self._outgoing.pending:
                await self._flush()
            return data


async def open_stream(host: str, port: int, ssl_context: ssl.SSLContext | None) -> Stream:
    """A connected stream to ``host``, its TLS handshake (if any) not done yet.

    Connects with ``trio.open_tcp_stream`` (its address lookup, happy eyeballs and socket
    options such as ``TCP_NODELAY``), then takes its socket over. Raises ``OSError`` as
    ``open_tcp_stream`` does.
    """
    tcp = await trio.open_tcp_stream(host, port)
    sock = socket.socket(fileno=tcp.socket.detach())
    sock.setblocking(False)
    if ssl_context is None:
        return Stream(sock)
    return TLSStream(sock, ssl_context, host)
