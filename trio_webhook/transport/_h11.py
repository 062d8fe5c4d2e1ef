"""A lean :class:`~trio_webhook.transport.Transport`: h11 over trio sockets and TLS.

httpx's ``AsyncClient`` costs about three times aiohttp's CPU per request (request and
header objects, cookies, httpcore's per-operation cancel scopes and separate writes for
head and body). This transport speaks HTTP/1.1 with h11 directly over
``trio.open_tcp_stream`` and ``trio.SSLStream``, keeps a few connections alive, and
enforces the same rules as :class:`~trio_webhook.transport.HttpxTransport`:

- TLS verification is always on (the caller's ``ssl_context``, or
  ``ssl.create_default_context()``); plain ``http`` only to a loopback host.
- Redirects are never followed: a 3xx comes back as an answer like any other.
- Response bodies are read up to a bound (1 MiB by default), ``Accept-Encoding:
  identity``, Discord's ``User-Agent``.
- A connect timeout, and a deadline on the whole request.
- Every failure becomes a :class:`~trio_webhook.TransportError` with the kinds
  HttpxTransport uses; ``ambiguous`` is ``True`` only once the whole request was sent.
- It logs nothing, and no exception text holds the request path (which holds the token).

Two differences from the httpx transport's defaults: without an ``ssl_context`` the trust
is the system store (``ssl.create_default_context()``; OpenSSL honours ``SSL_CERT_FILE``
and ``SSL_CERT_DIR``), where httpx uses certifi's bundle; and proxies from the environment
(``HTTPS_PROXY``, ``ALL_PROXY``), which httpx follows, are not used: connections always go
straight to the host.

Multipart bodies come from ``_multipart.multipart_body``, as the httpx
transport's do, so both put the same bytes on the wire; this one imports nothing of httpx.

Connections come from a ``_pool.ConnectionPool``. Reuse: an idle connection that has
become readable (the server closed it, or sent something unasked) is dropped before use. A
reused connection that breaks while the request is being written is replaced by a fresh
one once (the server cannot have acted on an incomplete request). A connection that
closes after the whole request was written is an ambiguous ``protocol`` error, never
retried here: the caller's retry policy decides.
"""

from __future__ import annotations

import ssl
from typing import Final, Literal, cast
from urllib.parse import urlencode, urlsplit

import attrs
import h11
import trio

from trio_webhook._errors import TransportError
from trio_webhook._url import _is_loopback, redact
from trio_webhook.transport._base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_USER_AGENT,
    check_timeouts,
    too_large_error,
)
from trio_webhook.transport._multipart import multipart_body
from trio_webhook.transport._pool import Connection, ConnectionPool, describe_break
from trio_webhook.transport._values import HTTPRequest, HTTPResponse

__all__ = ["H11Transport"]

_RECEIVE_SIZE: Final = 64 * 1024
# Bodies up to this size go out in the same write as the head; larger ones in slices of
# this size, so TLS never holds a whole upload encrypted at once.
_WRITE_CHUNK: Final = 64 * 1024

_Phase = Literal["pool", "connect", "write", "read"]


@attrs.define
class _Progress:
    """How far one request got: decides the kind of a timeout."""

    phase: _Phase = "pool"


class _Broken(Exception):
    """The connection failed while the request was being written (internal)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class H11Transport:
    """:class:`~trio_webhook.transport.Transport` over h11, trio sockets and TLS.

    Args:
        api_base: The API root, as ``https://discord.com/api/v10`` (``http`` only to a
            loopback host).
        connect_timeout: Deadline on connecting (TCP and TLS handshake), in seconds.
        total_timeout: Deadline on the whole request (waiting for a connection, connect,
            send, response, body).
        max_response_bytes: Bodies longer than this raise ``TransportError("too_large")``.
        user_agent: Sent as ``User-Agent``; Discord's edge blocks unusual ones.
        ssl_context: Trust to verify the server with (verification is never off).
        max_connections: Requests in flight at once; more wait, up to the deadline
            (then ``pool_timeout``).
        max_keepalive: Idle connections kept for reuse.

    Raises:
        ValueError: A timeout is not positive, a connection limit is out of range, or
            ``api_base`` is not an ``https`` URL (or ``http`` to a loopback host).

    Resource handling:
        Use ``async with`` or call :meth:`aclose`; connections are kept alive between
        requests. A request that is cancelled or fails closes its connection.
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
    ) -> None:
        check_timeouts(connect_timeout, total_timeout)
        if max_connections < 1 or max_keepalive < 0:
            raise ValueError(
                f"max_connections must be at least 1 and max_keepalive at least 0 "
                f"(got {max_connections} and {max_keepalive})"
            )
        parts = urlsplit(api_base)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host:
            raise ValueError("api_base must be an https URL with a host")
        if parts.scheme == "http" and not _is_loopback(host):
            raise ValueError(f"plain http is allowed to a loopback host only, not {host!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("api_base must not carry credentials, a query or a fragment")
        tls = parts.scheme == "https"
        self._prefix = parts.path.rstrip("/")
        self._pool = ConnectionPool(
            host,
            parts.port or (443 if tls else 80),
            ssl_context=(
                (ssl_context if ssl_context is not None else ssl.create_default_context())
                if tls
                else None
            ),
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            max_keepalive=max_keepalive,
        )
        self._total_timeout = total_timeout
        self._max_response_bytes = max_response_bytes
        self._headers: Final = [
            (b"host", parts.netloc.encode("ascii")),
            (b"user-agent", user_agent.encode("ascii")),
            (b"accept-encoding", b"identity"),
        ]

    async def __aenter__(self) -> H11Transport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every kept-alive connection; later sends raise ``RuntimeError``."""
        await self._pool.aclose()

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
        if self._pool.closed:
            raise RuntimeError("the transport is closed")
        route = request.route
        target = self._prefix + request.path
        if request.query:
            target += "?" + urlencode(request.query)
        headers = list(self._headers)
        body: list[bytes]
        if request.is_multipart:
            content_type, body = multipart_body(request)
            headers.append((b"content-type", content_type.encode("ascii")))
        elif request.json is not None:
            body = [request.json]
            headers.append((b"content-type", b"application/json"))
        else:
            body = []
        if body or request.method in ("POST", "PUT", "PATCH"):
            headers.append((b"content-length", b"%d" % sum(map(len, body))))
        event = h11.Request(method=request.method, target=target, headers=headers)
        progress = _Progress()
        with trio.move_on_after(self._total_timeout):
            return await self._send(event, body, route, progress)
        raise self._deadline_error(progress.phase, route)

    def _deadline_error(self, phase: _Phase, route: str) -> TransportError:
        within = f"within {self._total_timeout:g} s"
        if phase == "pool":
            return TransportError(
                "pool_timeout", f"no free connection {within}", ambiguous=False, route=route
            )
        if phase == "connect":
            return TransportError(
                "connect_timeout", f"not connected {within}", ambiguous=False, route=route
            )
        if phase == "write":
            # The request was not fully written, so the server cannot have acted on it.
            return TransportError(
                "write_timeout", f"request not sent {within}", ambiguous=False, route=route
            )
        return TransportError(
            "read_timeout", f"no complete answer {within}", ambiguous=True, route=route
        )

    async def _send(
        self, event: h11.Request, body: list[bytes], route: str, progress: _Progress
    ) -> HTTPResponse:
        pool = self._pool
        await pool.acquire_slot()
        try:
            connection = await pool.take_idle()
            reused = connection is not None
            if connection is None:
                progress.phase = "connect"
                connection = await pool.connect(route)
            try:
                return await self._exchange(connection, event, body, route, progress)
            except _Broken as exc:
                if not reused:
                    raise TransportError(
                        "protocol", exc.detail, ambiguous=False, route=route
                    ) from None
            # A kept-alive connection died under the write: once more on a fresh one.
            progress.phase = "connect"
            connection = await pool.connect(route)
            try:
                return await self._exchange(connection, event, body, route, progress)
            except _Broken as exc:
                raise TransportError("protocol", exc.detail, ambiguous=False, route=route) from None
        finally:
            pool.release_slot()

    async def _exchange(
        self,
        connection: Connection,
        event: h11.Request,
        body: list[bytes],
        route: str,
        progress: _Progress,
    ) -> HTTPResponse:
        """One request and its answer on ``connection``, which is pooled or closed after."""
        keep = False
        try:
            progress.phase = "write"
            await self._write(connection, event, body)
            progress.phase = "read"
            response = await self._read(connection, route)
            keep = self._pool.keep(connection)
            return response
        finally:
            if not keep:
                await trio.aclose_forcefully(connection.stream)

    async def _write(self, connection: Connection, event: h11.Request, body: list[bytes]) -> None:
        http = connection.http
        stream = connection.stream
        # h11 checks the framing (Content-Length); its Data pieces are our own bytes
        # objects, passed through without a copy.
        pieces = http.send_with_data_passthrough(event) or []
        for chunk in body:
            pieces += http.send_with_data_passthrough(h11.Data(data=chunk)) or []
        pieces += http.send_with_data_passthrough(h11.EndOfMessage()) or []
        try:
            if sum(map(len, body)) <= _WRITE_CHUNK:
                await stream.send_all(b"".join(pieces))
            else:
                for piece in pieces:
                    view = memoryview(piece)
                    for start in range(0, len(view), _WRITE_CHUNK):
                        await stream.send_all(view[start : start + _WRITE_CHUNK])
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise _Broken(describe_break(exc, "while sending the request")) from None

    async def _read(self, connection: Connection, route: str) -> HTTPResponse:
        http = connection.http
        stream = connection.stream
        limit = self._max_response_bytes
        status = 0
        headers: dict[str, str] = {}
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                event = http.next_event()
                if event is h11.NEED_DATA:
                    http.receive_data(cast(bytes, await stream.receive_some(_RECEIVE_SIZE)))
                elif type(event) is h11.Data:
                    size += len(event.data)
                    if size > limit:
                        raise too_large_error(status, limit, route)
                    chunks.append(event.data)
                elif type(event) is h11.Response:
                    status = event.status_code
                    for name, value in event.headers:
                        key = name.decode("latin-1")
                        text = value.decode("latin-1")
                        headers[key] = f"{headers[key]}, {text}" if key in headers else text
                elif type(event) is h11.EndOfMessage:
                    break
                elif type(event) is h11.ConnectionClosed:
                    raise TransportError(
                        "protocol",
                        "the server closed the connection without an answer",
                        ambiguous=True,
                        route=route,
                    )
                # InformationalResponse (1xx): skipped; the final answer follows.
        except h11.RemoteProtocolError as exc:
            raise TransportError(
                "protocol",
                f"the server broke HTTP/1.1 ({redact(str(exc))})",
                ambiguous=True,
                route=route,
            ) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportError(
                "protocol",
                describe_break(exc, "before the answer was complete"),
                ambiguous=True,
                route=route,
            ) from None
        return HTTPResponse(status=status, headers=headers, body=b"".join(chunks))
