"""httpx under trio: the transport used behind a proxy and for in-process ASGI apps.

Everything above the seam speaks :class:`~trio_webhook.transport.HTTPRequest` and
:class:`~trio_webhook.transport.HTTPResponse`; this module turns them into httpx calls and
maps every httpx failure onto :class:`~trio_webhook.TransportError` with a ``kind``
and whether the request may have been acted on (``ambiguous``). It is the only module
that imports httpx.

Rules enforced here: TLS verification always on, redirects never followed, response bodies
read up to a bound, a deadline on the whole request, Discord's User-Agent, and no webhook
token in any log line httpx or httpcore would write.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any, Final

import httpx
import trio

from trio_webhook._errors import TransportError, TransportErrorKind
from trio_webhook._url import redact
from trio_webhook.transport._base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_USER_AGENT,
    check_timeouts,
    find_ssl_error,
    install_log_redaction,
    tls_error,
    too_large_error,
)
from trio_webhook.transport._multipart import multipart_body
from trio_webhook.transport._tls import default_ssl_context
from trio_webhook.transport._values import HTTPRequest, HTTPResponse

__all__ = ["HttpxTransport"]

_DRAIN_FACTOR: Final = 8


def _map_httpx_error(exc: httpx.RequestError, route: str) -> TransportError:
    """Translate an httpx failure, most specific class first (httpx's own pattern)."""
    kind: TransportErrorKind
    ambiguous = False
    if isinstance(exc, httpx.ConnectTimeout):
        kind = "connect_timeout"
    elif isinstance(exc, httpx.PoolTimeout):
        kind = "pool_timeout"
    elif isinstance(exc, httpx.WriteTimeout):
        # The body was not fully sent, so Discord cannot have acted on it.
        kind = "write_timeout"
    elif isinstance(exc, httpx.ReadTimeout):
        kind, ambiguous = "read_timeout", True
    elif isinstance(exc, httpx.ConnectError):
        ssl_error = find_ssl_error(exc)
        if ssl_error is not None:
            return tls_error(ssl_error, route)
        kind = "connect"
    elif isinstance(exc, httpx.WriteError):
        kind = "protocol"
    else:
        # ReadError, RemoteProtocolError, a body that cannot be decoded (DecodingError),
        # ...: the request may have been read in full and acted on.
        kind, ambiguous = "protocol", True
    detail = redact(str(exc)) or type(exc).__name__
    return TransportError(kind, detail, ambiguous=ambiguous, route=route)


async def _stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class HttpxTransport:
    """:class:`Transport` over one reused ``httpx.AsyncClient``.

    Args:
        api_base: The API root, as ``https://discord.com/api/v10``.
        connect_timeout: Deadline on connecting, in seconds.
        total_timeout: Deadline on the whole request (connect, send, response, body).
        max_response_bytes: Bodies longer than this raise ``TransportError("too_large")``.
        user_agent: Sent as ``User-Agent``; Discord's edge blocks unusual ones.
        ssl_context: Trust to verify the server with (verification is never off);
            without one, :func:`~trio_webhook.transport.default_ssl_context` (the system's
            store and ``SSL_CERT_FILE``/``SSL_CERT_DIR``, else certifi's bundle).
        httpx_transport: An httpx transport to use instead of the network, such as
            ``FakeDiscord.httpx_transport()``.

    Resource handling:
        Use ``async with`` or call :meth:`aclose`; connections are kept alive between
        requests.
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
        httpx_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        check_timeouts(connect_timeout, total_timeout)
        install_log_redaction()
        self._api_base = api_base.rstrip("/")
        self._total_timeout = total_timeout
        self._max_response_bytes = max_response_bytes
        timeout = httpx.Timeout(
            connect=connect_timeout, read=total_timeout, write=total_timeout, pool=total_timeout
        )
        kwargs: dict[str, Any] = {
            "timeout": timeout,
            "follow_redirects": False,
            # identity: bodies are read raw, so the bound counts bytes on the wire, no
            # decompression bomb is possible, and a corrupt compressed body cannot break
            # httpx's decoder mid-stream.
            "headers": {"User-Agent": user_agent, "Accept-Encoding": "identity"},
            "limits": httpx.Limits(max_connections=20, max_keepalive_connections=10),
        }
        if httpx_transport is not None:
            kwargs["transport"] = httpx_transport
        else:
            kwargs["verify"] = ssl_context if ssl_context is not None else default_ssl_context()
        self._client = httpx.AsyncClient(**kwargs)

    async def __aenter__(self) -> HttpxTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every kept-alive connection."""
        await self._client.aclose()

    def build_request(self, request: HTTPRequest) -> httpx.Request:
        """The httpx request for ``request``."""
        url = self._api_base + request.path
        kwargs: dict[str, Any] = {"params": list(request.query)}
        if request.is_multipart:
            # Our encoder, not httpx's, so both transports send the same bytes; streamed
            # with its length, so the file data are neither copied nor sent chunked.
            content_type, chunks = multipart_body(request)
            kwargs["content"] = _stream(chunks)
            kwargs["headers"] = {
                "Content-Type": content_type,
                "Content-Length": str(sum(map(len, chunks))),
            }
        elif request.json is not None:
            kwargs["content"] = request.json
            kwargs["headers"] = {"Content-Type": "application/json"}
        return self._client.build_request(request.method, url, **kwargs)

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send ``request``; raise :class:`TransportError` when no usable answer comes.

        Cancellation closes the connection of the request in flight; nothing is retried
        here (retrying is the caller's decision).
        """
        httpx_request = self.build_request(request)
        route = request.route
        with trio.move_on_after(self._total_timeout) as deadline:
            try:
                response = await self._client.send(httpx_request, stream=True)
                try:
                    body = await self._read_bounded(response, route)
                finally:
                    await response.aclose()
            except httpx.RequestError as exc:
                # RequestError, not TransportError: DecodingError (a corrupt gzip body)
                # must not escape as an httpx exception holding the request's URL.
                raise _map_httpx_error(exc, route) from None
            return HTTPResponse(status=response.status_code, headers=response.headers, body=body)
        assert deadline.cancelled_caught
        raise TransportError(
            "read_timeout",
            f"no complete answer within {self._total_timeout:g} s",
            ambiguous=True,
            route=route,
        )

    async def _read_bounded(self, response: httpx.Response, route: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        limit = self._max_response_bytes
        # Past the bound the rest is read and dropped (memory stays bounded) so that httpx's
        # nested async generators finish: abandoning them mid-body leaves them to the
        # garbage collector, which trio reports as a ResourceWarning per generator. A body
        # still going after _DRAIN_FACTOR times the bound is abandoned anyway; the total
        # timeout bounds the time spent either way.
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif size > limit * _DRAIN_FACTOR:
                break
        if size > limit:
            raise too_large_error(response.status_code, limit, route)
        return b"".join(chunks)
