"""The codec seam: what the HTTP/1.1 transport asks of a codec for one connection.

:class:`Wire` is that seam: write a request's bytes, take the answer's bytes, give
events back, say whether the connection may carry another request. Two codecs fit:
:class:`LeanWire` (``_codec``'s parser and :class:`RequestWriter`'s cached heads; the
default) and :class:`H11Wire` (h11; the fallback, ``H11Transport(codec="h11")``). Both
raise ``_codec.ProtocolError`` for a server that broke HTTP/1.1, so the transport maps
one error type, the same way for either (see ``_codec`` for why the lean one is the
default). Everything here is sans-IO: no sockets, no trio.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Literal, Protocol, cast
from urllib.parse import urlencode

import h11

from trio_webhook.transport._codec import (
    END_OF_MESSAGE,
    MAX_HEAD_BYTES,
    NEED_DATA,
    ClosedEarly,
    Event,
    ProtocolError,
    ResponseHead,
    ResponseParser,
)
from trio_webhook.transport._fields import join_headers

__all__ = ["Codec", "H11Wire", "LeanWire", "RequestWriter", "Wire", "content_length"]

Codec = Literal["lean", "h11"]
"""Which HTTP/1.1 codec a transport uses: ``lean`` (the default) or ``h11``."""

Query = tuple[tuple[str, str], ...]

_METHOD_RE: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_TARGET_RE: Final = re.compile(rb"[\x21-\x7e]+")
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


def content_length(method: str, body: Sequence[bytes]) -> int | None:
    """The ``Content-Length`` to send: with a body, or for a method that carries one."""
    if body or method in _BODY_METHODS:
        return sum(map(len, body))
    return None


class RequestWriter:
    """Writes request heads, keeping the prefix for each method, path and query.

    The prefix (request line and the fixed headers) is what h11 would write; only the
    ``content-type`` and ``content-length`` lines change between two requests to the
    same webhook. The cache is bounded: past ``max_cached`` prefixes it starts again.
    It holds request paths, with their tokens, in memory only: never shown.

    Args:
        path_prefix: The API root's path (``/api/v10``), prepended to each request path.
        headers: The fixed headers (lower-case name, value), written first, in order.
        max_cached: The most prefixes kept.
    """

    def __init__(
        self, path_prefix: str, headers: Sequence[tuple[bytes, bytes]], *, max_cached: int = 1024
    ) -> None:
        self.headers: Final = list(headers)
        self._path_prefix = path_prefix
        self._fixed = b"".join(b"%s: %s\r\n" % pair for pair in headers)
        self._max_cached = max_cached
        self._cache: dict[tuple[str, str, Query], bytes] = {}

    def target(self, path: str, query: Query) -> str:
        """The request target: the API root's path, ``path`` and the encoded query."""
        target = self._path_prefix + path
        return target + "?" + urlencode(query) if query else target

    def head(
        self,
        method: str,
        path: str,
        query: Query,
        content_type: bytes | None,
        length: int | None,
    ) -> bytes:
        """The request's head, ending with the blank line.

        Raises:
            ValueError: The method or target holds a character HTTP forbids there (the
                target itself is not shown: it holds the token).
        """
        key = (method, path, query)
        prefix = self._cache.get(key)
        if prefix is None:
            prefix = self._prefix(method, self.target(path, query))
            if len(self._cache) >= self._max_cached:
                self._cache.clear()
            self._cache[key] = prefix
        tail = b"\r\n" if length is None else b"content-length: %d\r\n\r\n" % length
        if content_type is not None:
            return b"%scontent-type: %s\r\n%s" % (prefix, content_type, tail)
        return prefix + tail

    def _prefix(self, method: str, target: str) -> bytes:
        method_bytes = method.encode("ascii", "replace")
        target_bytes = target.encode("ascii", "replace")
        if _METHOD_RE.fullmatch(method_bytes) is None:
            raise ValueError(f"method {method!r} is not an HTTP token")
        if _TARGET_RE.fullmatch(target_bytes) is None:
            raise ValueError("the request target holds a character HTTP forbids (or none)")
        return b"%s %s HTTP/1.1\r\n%s" % (method_bytes, target_bytes, self._fixed)


class Wire(Protocol):
    """One connection's HTTP/1.1 state, as the transport drives it."""

    def request(
        self, method: str, path: str, query: Query, content_type: bytes | None, body: list[bytes]
    ) -> list[bytes]:
        """The bytes to write for a request: its head, then ``body``'s pieces unchanged."""
        ...

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection; ``b""`` when the server closed it."""
        ...

    def next_event(self) -> Event:
        """A :class:`ResponseHead`, body bytes, ``NEED_DATA`` or ``END_OF_MESSAGE``.

        Raises:
            ProtocolError: The server broke HTTP/1.1 or closed early: close the connection.
        """
        ...

    def read(self) -> bool:
        """Read what was fed; whether the answer is complete.

        The final answer's :class:`ResponseHead` is in ``head`` once read, and the body's
        pieces so far in ``body`` (``body_size`` bytes).

        Raises:
            ProtocolError: As :meth:`next_event`.
        """
        ...

    @property
    def head(self) -> ResponseHead | None:
        """The final answer's head, once :meth:`read` has read it."""
        ...

    @property
    def body(self) -> list[bytes]:
        """The body's pieces :meth:`read` has read so far."""
        ...

    @property
    def body_size(self) -> int:
        """The length of :attr:`body`."""
        ...

    def next_cycle(self) -> bool:
        """After the answer: whether the connection may carry another request (made ready)."""
        ...


class LeanWire:
    """:class:`Wire` on this package's codec: cached request heads, a hand-written parser."""

    def __init__(self, writer: RequestWriter) -> None:
        self._writer = writer
        self._parser = ResponseParser()
        self.feed = self._parser.feed
        self.next_event = self._parser.next_event
        self.read = self._parser.read

    @property
    def head(self) -> ResponseHead | None:
        """See :meth:`Wire.head`."""
        return self._parser.head

    @property
    def body(self) -> list[bytes]:
        """See :meth:`Wire.body`."""
        return self._parser.body

    @property
    def body_size(self) -> int:
        """See :meth:`Wire.body_size`."""
        return self._parser.body_size

    def request(
        self, method: str, path: str, query: Query, content_type: bytes | None, body: list[bytes]
    ) -> list[bytes]:
        """See :meth:`Wire.request`."""
        head = self._writer.head(method, path, query, content_type, content_length(method, body))
        return [head, *body]

    def next_cycle(self) -> bool:
        """See :meth:`Wire.next_cycle`."""
        if not self._parser.reusable:
            return False
        self._parser.reset()
        return True


class H11Wire:
    """:class:`Wire` on h11: its events mapped onto the lean codec's, its errors too."""

    def __init__(self, writer: RequestWriter) -> None:
        self._writer = writer
        self._http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.head: ResponseHead | None = None
        self.body: list[bytes] = []
        self.body_size = 0

    def request(
        self, method: str, path: str, query: Query, content_type: bytes | None, body: list[bytes]
    ) -> list[bytes]:
        """See :meth:`Wire.request`; h11 checks the framing."""
        headers = list(self._writer.headers)
        if content_type is not None:
            headers.append((b"content-type", content_type))
        length = content_length(method, body)
        if length is not None:
            headers.append((b"content-length", b"%d" % length))
        target = self._writer.target(path, query)
        http = self._http
        # The Data pieces are our own bytes objects, passed through without a copy.
        pieces = (
            http.send_with_data_passthrough(
                h11.Request(method=method, target=target, headers=headers)
            )
            or []
        )
        for chunk in body:
            pieces += http.send_with_data_passthrough(h11.Data(data=chunk)) or []
        pieces += http.send_with_data_passthrough(h11.EndOfMessage()) or []
        return pieces

    def feed(self, data: bytes) -> None:
        """See :meth:`Wire.feed`."""
        self._http.receive_data(data)

    def next_event(self) -> Event:
        """See :meth:`Wire.next_event`."""
        http = self._http
        try:
            while True:
                event = http.next_event()
                kind = type(event)
                if event is h11.NEED_DATA:
                    return NEED_DATA
                if kind is h11.Data:
                    return bytes(event.data)  # type: ignore[union-attr]
                if kind is h11.Response:
                    pairs = list(event.headers)  # type: ignore[union-attr]
                    return ResponseHead(
                        event.status_code,  # type: ignore[union-attr]
                        event.reason,  # type: ignore[union-attr]
                        event.http_version,  # type: ignore[union-attr]
                        join_headers(pairs),
                        pairs,
                    )
                if kind is h11.EndOfMessage:
                    return END_OF_MESSAGE
                if kind is h11.ConnectionClosed:
                    raise ClosedEarly("the server closed the connection without an answer")
                # InformationalResponse (1xx): skipped; the final answer follows.
        except h11.RemoteProtocolError as exc:
            raise ProtocolError(str(exc)) from None

    def read(self) -> bool:
        """See :meth:`Wire.read`: :meth:`next_event` until it wants more or the answer ends."""
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return False
            if event is END_OF_MESSAGE:
                return True
            if type(event) is bytes:
                self.body.append(event)
                self.body_size += len(event)
            else:
                self.head = cast(ResponseHead, event)

    def next_cycle(self) -> bool:
        """See :meth:`Wire.next_cycle`."""
        http = self._http
        if http.our_state is h11.DONE and http.their_state is h11.DONE:
            http.start_next_cycle()
            self.head, self.body, self.body_size = None, [], 0
            return True
        return False
