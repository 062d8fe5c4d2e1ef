"""A lean HTTP/1.1 client codec, sans-IO: bytes in, events out, as h11 is.

Why it is the default: one request/response cycle through h11 costs about 150 µs of CPU
(its event objects, header validation per line, state machine on every event); this
codec writes the same request bytes and reads the same answers for about a tenth of
that (``benchmarks/bench_codec.py``). h11 stays behind the same seam
(``H11Transport(codec="h11")``, ``_wire.H11Wire``) as a fallback and as the test oracle:
``tests/test_codec.py`` feeds both the same responses, in random pieces, and requires
the same status, headers, body and keep-alive decision, and the same refusals.

What it reads, as h11 reads it: the status line (HTTP/x.y, three digits, an optional
reason), header lines (CRLF or a bare LF; obsolete folded lines joined with a
space; names lower-cased, values stripped of spaces and tabs; a repeated equal
``Content-Length`` kept once), 1xx answers skipped (101 refused: we never ask for an
upgrade), bodies framed by ``Content-Length``, by ``Transfer-Encoding: chunked`` (chunk
extensions ignored, trailers checked and dropped) or, without either, by the close of
the connection; 204 and 304 have no body. A connection is reused only if the answer was
HTTP/1.1 or later, said no ``Connection: close``, had a length, and nothing followed it.

Where it is stricter than h11, on purpose: an answer with both ``Content-Length`` and
``Transfer-Encoding`` is read as chunked (as h11 and RFC 9112 section 6.3 say) but its
connection is never reused (RFC 9112: "ought to be handled as an error"; a retry after a
refused 2xx could post twice, so we read it and drop the connection); unread bytes after
an answer drop the connection; at most :data:`MAX_HEADERS` header lines an answer.

Bounds: a head (status line and headers) still incomplete past ``max_head_bytes``
(16 KiB, h11's default ``max_incomplete_event_size``) is refused, as h11 refuses it.
"""

from __future__ import annotations

import re
from typing import Final

from trio_webhook.transport._fields import (
    ClosedEarly,
    ProtocolError,
    check_lines,
    fast_fields,
    join_headers,
    name_values,
    normalise,
    split_lines,
)
from trio_webhook.transport._values import LowerCaseHeaders

__all__ = [
    "ClosedEarly",
    "END_OF_MESSAGE",
    "MAX_HEADERS",
    "MAX_HEAD_BYTES",
    "NEED_DATA",
    "Event",
    "ProtocolError",
    "ResponseHead",
    "ResponseParser",
]

MAX_HEAD_BYTES: Final = 16 * 1024
"""The largest incomplete head buffered (h11's default ``max_incomplete_event_size``)."""
MAX_HEADERS: Final = 100
"""The most header lines an answer may carry (as ``http.client``)."""


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
"""Returned by :meth:`ResponseParser.next_event` until more bytes (or the EOF) come."""
END_OF_MESSAGE: Final = _Sentinel("END_OF_MESSAGE")
"""Returned once the final answer's body is complete."""


class ResponseHead:
    """The final answer's status line and headers, normalised as h11 normalises them.

    Attributes:
        status: The status code.
        reason: The reason phrase (may be empty).
        http_version: ``b"1.1"`` or ``b"1.0"``.
        fields: The headers as the transport hands them on: a lower-case name to its
            text value, repeats joined with ``", "`` (:func:`~._fields.join_headers`).
        headers: The header lines as h11 gives them, (lower-case name, value) pairs in
            order; made from ``fields`` when first read, unless the parser had them.
    """

    __slots__ = ("_pairs", "fields", "http_version", "reason", "status")

    def __init__(
        self,
        status: int,
        reason: bytes,
        http_version: bytes,
        fields: LowerCaseHeaders,
        pairs: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.http_version = http_version
        self.fields = fields
        self._pairs = pairs

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """See the class docstring (``fields`` holds no repeat where this is made)."""
        if self._pairs is None:
            self._pairs = [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in self.fields.items()
            ]
        return self._pairs

    def __repr__(self) -> str:
        return f"ResponseHead(status={self.status}, headers={len(self.fields)})"


Event = ResponseHead | bytes | _Sentinel

_STATUS_LINE_RE: Final = re.compile(
    rb"HTTP/(?P<version>[0-9]\.[0-9]) (?P<status>[0-9]{3})(?: (?P<reason>[^\x00\n\r\f\v]*))?"
)
_CHUNK_HEADER_RE: Final = re.compile(rb"(?P<size>[0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*\r\n")
_BLANK_LINE_RE: Final = re.compile(rb"\n\r?\n")

# Framing of the body being read.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_EOF, _DONE = range(8)


class ResponseParser:
    """Reads one answer (after any 1xx) from the bytes of one connection.

    Feed it what the socket gives (:meth:`feed`; ``b""`` is the end of the stream) and
    call :meth:`next_event` until it returns :data:`END_OF_MESSAGE`: a
    :class:`ResponseHead`, then body pieces (``bytes``), with :data:`NEED_DATA` whenever
    it wants more. Call :meth:`reset` to read the next answer on the same connection.

    Raises:
        ProtocolError: From :meth:`next_event`: the server broke HTTP/1.1, or closed the
            connection before the answer was complete. The connection is of no further
            use; close it.
    """

    def __init__(
        self, *, max_head_bytes: int = MAX_HEAD_BYTES, max_headers: int = MAX_HEADERS
    ) -> None:
        self._max_head_bytes = max_head_bytes
        self._max_headers = max_headers
        self._buffer = bytearray()
        self._eof = False
        self.reset()

    def reset(self) -> None:
        """Start reading the next answer (bytes already buffered are kept)."""
        self._state = _HEAD
        self._search_from = 0
        self._remaining = 0
        self._reusable = False

    @property
    def reusable(self) -> bool:
        """Whether the answer is complete and the connection may carry another request."""
        return self._state == _DONE and self._reusable and not self._buffer and not self._eof

    def feed(self, data: bytes) -> None:
        """Add bytes read from the connection; ``b""`` means the server closed it."""
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event:
        """The next event, or :data:`NEED_DATA` (see the class docstring)."""
        event = self._step()
        if event is NEED_DATA:
            if len(self._buffer) > self._max_head_bytes:
                raise ProtocolError(f"the answer's head passed {self._max_head_bytes} bytes")
            if self._eof:
                raise ClosedEarly("the server closed the connection before the answer ended")
        return event

    def _step(self) -> Event:
        state = self._state
        buffer = self._buffer
        if state == _LENGTH:
            if not buffer:
                return NEED_DATA
            return self._take(self._remaining)
        if state == _HEAD:
            head = self._read_head()
            while head is not None and head.status < 200:
                head = self._read_head()  # 1xx: skipped, the final answer follows
            return NEED_DATA if head is None else head
        if state == _UNTIL_EOF:
            if buffer:
                return self._take(len(buffer))
            if self._eof:
                self._state = _DONE
                return END_OF_MESSAGE
            return NEED_DATA
        if state == _DONE:
            return END_OF_MESSAGE
        return self._step_chunked()

    def _take(self, count: int) -> bytes:
        """Up to ``count`` body bytes; ends the message when a Content-Length is met."""
        buffer = self._buffer
        data = bytes(buffer[:count]) if count < len(buffer) else bytes(buffer)
        del buffer[: len(data)]
        if self._state == _LENGTH:
            self._remaining -= len(data)
            if self._remaining == 0:
                self._state = _DONE
        elif self._state == _CHUNK_DATA:
            self._remaining -= len(data)
            if self._remaining == 0:
                self._state, self._remaining = _CHUNK_END, 2
        return data

    def _read_head(self) -> ResponseHead | None:
        """The next head (1xx or final) if complete; sets the body's framing for a final."""
        buffer = self._buffer
        if buffer[:1] == b"\n" or buffer[:2] == b"\r\n":
            raise ProtocolError("no status line received")
        match = _BLANK_LINE_RE.search(buffer, self._search_from)
        if match is None:
            if buffer and buffer[0] < 0x21:
                raise ProtocolError("illegal status line")
            self._search_from = max(0, len(buffer) - 2)
            return None
        end = match.end()
        block = bytes(buffer[:end])
        del buffer[:end]
        self._search_from = 0
        first = block.index(b"\n")
        status_line = block[: first - 1] if block[first - 1 : first] == b"\r" else block[:first]
        status_match = _STATUS_LINE_RE.fullmatch(status_line)
        if status_match is None:
            raise ProtocolError("illegal status line")
        version, status_text, reason = status_match.groups()
        status = int(status_text)
        if status < 100 or status == 101:
            raise ProtocolError(f"unexpected status {status}")
        # The header lines, each with its newline (the blank line's match starts with the
        # last one's): the fast path, or line by line where it declines.
        fields = fast_fields(block[first + 1 : match.start() + 1], self._max_headers)
        pairs = None
        if fields is None:
            pairs = normalise(name_values(check_lines(split_lines(block)[1:])), self._max_headers)
            fields = join_headers(pairs)
        if status >= 200:
            self._frame(status, version, fields)
        return ResponseHead(status, reason or b"", version, fields, pairs)

    def _frame(self, status: int, version: bytes, fields: LowerCaseHeaders) -> None:
        connection = fields.get("connection")
        self._reusable = version >= b"1.1" and (
            connection is None
            or "close" not in [item.strip(" \t") for item in connection.lower().split(",")]
        )
        length = fields.get("content-length")
        if status in (204, 304):
            self._state = _DONE
        elif "transfer-encoding" in fields:
            self._state, self._remaining = _CHUNK_SIZE, 0
            if length is not None:
                self._reusable = False  # both framings: read as chunked, never reuse
        elif length is not None:
            self._remaining = int(length)
            self._state = _LENGTH if self._remaining else _DONE
        else:
            self._state, self._reusable = _UNTIL_EOF, False

    def _step_chunked(self) -> Event:
        buffer = self._buffer
        while True:
            state = self._state
            if state == _CHUNK_DATA:
                return self._take(self._remaining) if buffer else NEED_DATA
            if state == _CHUNK_END:
                # The CRLF after a chunk's data, possibly split across reads.
                piece = bytes(buffer[: self._remaining])
                if not piece:
                    return NEED_DATA
                if piece != b"\r\n"[2 - self._remaining :][: len(piece)]:
                    raise ProtocolError("malformed chunk footer")
                del buffer[: len(piece)]
                self._remaining -= len(piece)
                if self._remaining:
                    return NEED_DATA
                self._state = _CHUNK_SIZE
            elif state == _CHUNK_SIZE:
                index = buffer.find(b"\r\n")
                if index < 0:
                    return NEED_DATA
                match = _CHUNK_HEADER_RE.fullmatch(buffer, 0, index + 2)
                if match is None:
                    raise ProtocolError("illegal chunk header")
                size = int(match["size"], 16)
                del buffer[: index + 2]
                self._state, self._remaining = (_CHUNK_DATA, size) if size else (_TRAILER, 0)
            else:
                return self._read_trailer()

    def _read_trailer(self) -> Event:
        buffer = self._buffer
        if buffer[:1] == b"\n":
            del buffer[:1]
        elif buffer[:2] == b"\r\n":
            del buffer[:2]
        else:
            match = _BLANK_LINE_RE.search(buffer)
            if match is None:
                return NEED_DATA
            block = bytes(buffer[: match.end()])
            del buffer[: match.end()]
            normalise(name_values(check_lines(split_lines(block))), self._max_headers)  # dropped
        self._state = _DONE
        return END_OF_MESSAGE
