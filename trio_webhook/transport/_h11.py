"""A lean :class:`~trio_webhook.transport.Transport`: HTTP/1.1 over trio sockets and TLS.

httpx's ``AsyncClient`` costs about three times aiohttp's CPU per request (request and
header objects, cookies, httpcore's per-operation cancel scopes and separate writes for
head and body). This transport speaks HTTP/1.1 directly over ``trio.open_tcp_stream``
and ``trio.SSLStream``, keeps a few connections alive, and enforces the same rules as
:class:`~trio_webhook.transport.HttpxTransport`. The name says HTTP/1.1: its codec is
this package's own (``_codec``, the default: about a tenth of h11's CPU a cycle) or,
with ``codec="h11"``, h11; both sit behind one seam (``_wire.Wire``) and fail the same
way, so the choice changes nothing but the CPU.

- TLS verification is always on (the caller's ``ssl_context``, or
  :func:`~trio_webhook.transport.default_ssl_context`); plain ``http`` only to a
  loopback host.
- Redirects are never followed: a 3xx comes back as an answer like any other.
- Response bodies are read up to a bound (1 MiB by default), ``Accept-Encoding:
  identity``, Discord's ``User-Agent``.
- A connect timeout, and a deadline on the whole request.
- Every failure becomes a :class:`~trio_webhook.TransportError` with the kinds
  HttpxTransport uses; ``ambiguous`` is ``True`` only once the whole request was sent.
- It logs nothing, and no exception text holds the request path (which holds the token).

One difference from the httpx transport: proxies from the environment (``HTTPS_PROXY``,
``ALL_PROXY``), which httpx follows, are not used: connections always go straight to the
host (``default_transport`` picks httpx when one is set).

Multipart bodies come from ``_multipart.multipart_body``, as the httpx
transport's do, so both put the same bytes on the wire; this one imports nothing of httpx.

Connections come from a ``_pool.ConnectionPool``. Reuse: an idle connection found
readable (the server closed it, or talked unasked) is dropped; only one idle for
``_pool.POLL_AFTER_IDLE`` s or more is polled. A reused connection that breaks under the
write, or ends before the first byte of its answer (the keep-alive race: the server
closed it as the request went out; one that acted on a request answers it), is replaced
by a fresh one once. Any other close after the whole request was written is an
ambiguous ``protocol`` error, never retried here: the caller's retry policy decides.
"""

from __future__ import annotations

import functools
import ssl
from typing import Final, NamedTuple
from urllib.parse import urlsplit

import trio

from trio_webhook._errors import TransportError
from trio_webhook._url import _is_loopback, redact
from trio_webhook.transport._base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_USER_AGENT,
    check_timeouts,
    too_large_error,
)
from trio_webhook.transport._codec import ClosedEarly, ProtocolError
from trio_webhook.transport._deadlines import Deadline, DeadlinePassed, deadline_error
from trio_webhook.transport._multipart import multipart_body
from trio_webhook.transport._pool import (
    DEFAULT_KEEPALIVE_EXPIRY,
    Connection,
    ConnectionPool,
    check_pool_settings,
    describe_break,
    run_pool_var,
    shared_pool,
)
from trio_webhook.transport._tls import default_ssl_context
from trio_webhook.transport._values import HTTPRequest, HTTPResponse
from trio_webhook.transport._wire import Codec, H11Wire, LeanWire, RequestWriter

__all__ = ["H11Transport"]

# Bodies up to this size go out in the same write as the head; larger ones in slices of
# this size, so TLS never holds a whole upload encrypted at once.
_WRITE_CHUNK: Final = 64 * 1024


# A tuple, not an attrs class: one a request, read twice (a frozen attrs class set each
# field through object.__setattr__).
class _RequestParts(NamedTuple):
    """A request as the codec writes it: the request, its content type and body pieces."""

    request: HTTPRequest
    content_type: bytes | None
    body: list[bytes]


class _Broken(Exception):
    """Failed before the server could act: under the write, or stale (internal)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class H11Transport:
    """:class:`~trio_webhook.transport.Transport`: HTTP/1.1 over trio sockets and TLS.

    Args:
        api_base: The API root, as ``https://discord.com/api/v10`` (``http`` only to a
            loopback host).
        connect_timeout: Deadline on connecting (TCP and TLS handshake), in seconds.
        total_timeout: Deadline on the whole request (waiting for a connection, connect,
            send, response, body).
        max_response_bytes: Bodies longer than this raise ``TransportError("too_large")``.
        user_agent: Sent as ``User-Agent``; Discord's edge blocks unusual ones.
        ssl_context: Trust to verify the server with (verification is never off);
            without one, :func:`~trio_webhook.transport.default_ssl_context`: the
            system's store and ``SSL_CERT_FILE``/``SSL_CERT_DIR``, else certifi's bundle.
        max_connections: Requests in flight at once; more wait, up to the deadline
            (then ``pool_timeout``).
        max_keepalive: Idle connections kept for reuse.
        codec: ``"lean"`` (this package's HTTP/1.1 codec, the default) or ``"h11"``.
        keepalive_expiry: Seconds after which an idle connection is closed.
        shared: Use the process-wide pool of this host, trust and codec (made with the
            first sharer's ``max_connections`` and ``max_keepalive``) instead of one of
            its own; what :func:`~trio_webhook.transport.default_transport` gives.

    Raises:
        ValueError: A timeout is not positive, a connection limit is out of range, an
            unknown ``codec``, or ``api_base`` is not an ``https`` URL (or ``http`` to a
            loopback host).

    Resource handling:
        Use ``async with`` or call :meth:`aclose`; connections are kept alive between
        requests (and closed after 15 s idle). A request that is cancelled or fails
        closes its connection. A ``shared`` transport's :meth:`aclose` leaves the shared
        pool open for the others: its connections close when idle too long and when the
        trio run that opened them ends.
    """

    def __init__(
        self,
        api_base: str,
        *,
        connect_timeout: float = 2.0,
        total_timeout: float = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str = DEFAULT_USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 20,
        max_keepalive: int = 10,
        codec: Codec = "lean",
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
        shared: bool = False,
    ) -> None:
        check_timeouts(connect_timeout, total_timeout)
        check_pool_settings(codec, max_connections, max_keepalive, keepalive_expiry)
        parts = urlsplit(api_base)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host:
            raise ValueError("api_base must be an https URL with a host")
        if parts.scheme == "http" and not _is_loopback(host):
            raise ValueError(f"plain http is allowed to a loopback host only, not {host!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("api_base must not carry credentials, a query or a fragment")
        tls = parts.scheme == "https"
        self._writer = RequestWriter(
            parts.path.rstrip("/"),
            [
                (b"host", parts.netloc.encode("ascii")),
                (b"user-agent", user_agent.encode("ascii")),
                (b"accept-encoding", b"identity"),
            ],
        )
        self.codec: Final = codec
        context = None
        if tls:
            context = ssl_context if ssl_context is not None else default_ssl_context()

        def make_pool() -> ConnectionPool:
            return ConnectionPool(
                host,
                parts.port or (443 if tls else 80),
                ssl_context=context,
                max_connections=max_connections,
                max_keepalive=max_keepalive,
                new_wire=functools.partial(LeanWire if codec == "lean" else H11Wire, self._writer),
                keepalive_expiry=keepalive_expiry,
            )

        self.shared: Final = shared
        self._make_pool = make_pool
        self._pool_key = (api_base.rstrip("/"), user_agent, codec, context)
        self._own_pool = None if shared else make_pool()
        self._run_pool = run_pool_var(self._pool_key)
        self._closed = False
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._max_response_bytes = max_response_bytes

    async def __aenter__(self) -> H11Transport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every kept-alive connection; later sends raise ``RuntimeError``.

        A ``shared`` transport is left as it is: other clients may be sending through it.
        """
        if not self.shared:
            self._closed = True
            await self._pool.aclose()

    @property
    def _pool(self) -> ConnectionPool:
        """Its own pool, or the shared one of the trio run it is called in."""
        pool = self._own_pool
        if pool is None:
            pool = self._run_pool.get()
            if pool is None:
                pool = shared_pool(self._pool_key, self._make_pool)
        return pool

    @property
    def connections_opened(self) -> int:
        """Connections its pool opened so far (shared: by every sharer in this run)."""
        return self._pool.opened

    @property
    def idle_connections(self) -> int:
        """Connections its pool keeps open for reuse now."""
        return self._pool.idle

    # -- sending ------------------------------------------------------------------------

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send ``request``; raise :class:`TransportError` when no usable answer comes.

        Raises:
            TransportError: No usable answer (its ``kind`` says why, ``ambiguous``
                whether the server may have acted on the request).
            RuntimeError: The transport was closed.

        Cancellation closes the connection of the request in flight; nothing is retried
        here except a write onto a reused connection that turned out dead.
        """
        if self._closed:
            raise RuntimeError("the transport is closed")
        route = request.route
        body: list[bytes]
        content_type: bytes | None
        if request.is_multipart:
            text, body = multipart_body(request)
            content_type = text.encode("ascii")
        elif request.json is not None:
            body, content_type = [request.json], b"application/json"
        else:
            body, content_type = [], None
        head = _RequestParts(request, content_type, body)
        # The stream checks for cancellation only where it waits: a request cancelled
        # already must not go out (a checkpoint, as every trio I/O call is).
        await trio.lowlevel.checkpoint_if_cancelled()
        pool = self._pool
        # The whole request's deadline, kept by the pool rather than a cancel scope (see
        # _deadlines): its errors, once it passed, are the deadline's.
        deadline = pool.begin(self._total_timeout)
        try:
            return await self._send(pool, head, route, deadline)
        except DeadlinePassed:
            pass
        except TransportError:
            if not deadline.aborted:  # not the keeper's doing: the error stands
                raise
        finally:
            pool.end(deadline)
        raise deadline_error(deadline.phase, self._total_timeout, route)

    async def _send(
        self, pool: ConnectionPool, parts: _RequestParts, route: str, deadline: Deadline
    ) -> HTTPResponse:
        """The request and its answer on a pooled connection, which is kept or closed after.

        A kept-alive connection that turns out dead (before any byte of answer) is tried
        once more on a fresh one. One coroutine for both tries: each frame between the
        reader and the socket's wait is passed through on every read of the answer.
        """
        await pool.acquire_slot(deadline)
        try:
            connection = await pool.take_idle()
            reused = connection is not None
            while True:
                if connection is None:
                    deadline.phase = "connect"
                    connection = await pool.connect(route, self._connect_timeout, deadline)
                keep = False
                try:
                    deadline.phase = "write"
                    deadline.check()
                    deadline.stream = connection.stream
                    await self._write(connection, parts)
                    deadline.phase = "read"
                    response = await self._read(connection, route, stale=reused)
                    keep = pool.keep(connection)
                    return response
                except _Broken as exc:
                    if not reused or deadline.aborted:
                        raise TransportError(
                            "protocol", exc.detail, ambiguous=False, route=route
                        ) from None
                finally:
                    # Past here the request waits on nothing of this connection's: the
                    # keeper must not take a failure's clean-up for a deadline.
                    deadline.stream = None
                    if not keep:
                        await trio.aclose_forcefully(connection.stream)
                connection, reused = None, False
        finally:
            pool.release_slot()

    async def _write(self, connection: Connection, parts: _RequestParts) -> None:
        request = parts.request
        pieces = connection.http.request(
            request.method, request.path, request.query, parts.content_type, parts.body
        )
        stream = connection.stream
        try:
            if sum(map(len, parts.body)) <= _WRITE_CHUNK:
                await stream.send_all(b"".join(pieces))
            else:
                for piece in pieces:
                    view = memoryview(piece)
                    for start in range(0, len(view), _WRITE_CHUNK):
                        await stream.send_all(view[start : start + _WRITE_CHUNK])
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise _Broken(describe_break(exc, "while sending the request")) from None

    async def _read(self, connection: Connection, route: str, *, stale: bool) -> HTTPResponse:
        """The answer; ``stale``: an end before its first byte raises ``_Broken``."""
        http = connection.http
        stream = connection.stream
        limit = self._max_response_bytes
        try:
            # The answer's first bytes: waited for (after a request nothing is there yet).
            data = await stream.receive_some(first=True)
            if stale and not data:
                raise _Broken("the kept-alive connection was closed by the server")
            stale = False
            http.feed(data)
            # Each read parses all the socket gave; the body is bounded as it grows.
            while not http.read():
                if http.body_size > limit:
                    raise too_large_error(http.head.status if http.head else 0, limit, route)
                http.feed(await stream.receive_some())
            if http.body_size > limit:
                raise too_large_error(http.head.status if http.head else 0, limit, route)
        except ClosedEarly:
            raise TransportError(
                "protocol",
                "the server closed the connection before the answer was complete",
                ambiguous=True,
                route=route,
            ) from None
        except ProtocolError as exc:
            raise TransportError(
                "protocol",
                f"the server broke HTTP/1.1 ({redact(str(exc))})",
                ambiguous=True,
                route=route,
            ) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            if stale:  # reset before any byte of the answer: as an end, above
                raise _Broken(describe_break(exc, "before the answer began")) from None
            raise TransportError(
                "protocol",
                describe_break(exc, "before the answer was complete"),
                ambiguous=True,
                route=route,
            ) from None
        head = http.head
        assert head is not None  # an answer is complete only after its head
        return HTTPResponse(status=head.status, headers=head.fields, body=b"".join(http.body))
