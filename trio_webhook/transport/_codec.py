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
    ResponseHead,
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


Event = ResponseHead | bytes | _Sentinel

_STATUS_LINE_RE: Final = re.compile(
    rb"HTTP/(?P<version>[0-9]\.[0-9]) (?P<status>[0-9]{3})(?: (?P<reason>[^\x00\n\r\f\v]*))?"
)
_CHUNK_HEADER_RE: Final = re.compile(rb"(?P<size>[0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*\r\n")
# A size line with no extension and no spaces, as most servers write it (a subset of the
# above, read the same): when its data and CRLF are all there, one step takes them.
_PLAIN_CHUNK_RE: Final = re.compile(rb"([0-9A-Fa-f]{1,20})\r\n")
_BLANK_LINE_RE: Final = re.compile(rb"\n\r?\n")

# Framing of the body being read.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_EOF, _DONE = range(8)


class ResponseParser:
    """Reads one answer (after any 1xx) from the bytes of one connection.

    Feed it what the socket gives (:meth:`feed`; ``b""`` is the end of the stream) and
    call :meth:`read` until it returns ``True``: the answer is then complete, its final
    head in :attr:`head` and its body in :attr:`body`. Each call reads everything fed so
    far, in one pass (the transport's way: one call a read from the socket). Or, as h11
    does it, call :meth:`next_event` until it returns :data:`END_OF_MESSAGE`: a
    :class:`ResponseHead`, then body pieces (``bytes``), with :data:`NEED_DATA` whenever
    it wants more; the events are :meth:`read`'s results one at a time. Call
    :meth:`reset` to read the next answer on the same connection.

    Attributes:
        head: The final answer's head once read, else ``None``.
        body: The body's pieces read so far, in order.
        body_size: Their total length (a caller bounds the body by it as it grows).

    Raises:
        ProtocolError: From :meth:`read` and :meth:`next_event`: the server broke
            HTTP/1.1, or closed the connection before the answer was complete. The
            connection is of no further use; close it.
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
        self.head: ResponseHead | None = None
        self.body: list[bytes] = []
        self.body_size = 0
        # What next_event has handed out of the above.
        self._head_given = False
        self._pieces_given = 0

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

    def read(self) -> bool:
        """Read everything fed so far; whether the answer is complete (see the class)."""
        if self._state == _HEAD:
            head = self._read_head()
            while head is not None and head.status < 200:
                head = self._read_head()  # 1xx: skipped, the final answer follows
            if head is None:
                self._check_wanting()
                return False
            self.head = head
        state = self._state
        if state == _DONE:
            return True
        buffer = self._buffer
        if state == _LENGTH:
            if buffer:
                self._append(self._remaining)
                self._remaining -= len(self.body[-1])
                if not self._remaining:
                    self._state = _DONE
                    return True
        elif state == _UNTIL_EOF:
            if buffer:
                self._append(len(buffer))
            if self._eof:
                self._state = _DONE
                return True
        elif self._read_chunked():
            return True
        self._check_wanting()
        return False

    def next_event(self) -> Event:
        """The next event, or :data:`NEED_DATA` (see the class docstring)."""
        while True:
            if not self._head_given and self.head is not None:
                self._head_given = True
                return self.head
            if self._pieces_given < len(self.body):
                self._pieces_given += 1
                return self.body[self._pieces_given - 1]
            if self._state == _DONE and self.head is not None:
                return END_OF_MESSAGE
            known = (self.head, len(self.body))
            complete = self.read()
            if not complete and known == (self.head, len(self.body)):
                return NEED_DATA

    def _check_wanting(self) -> None:
        """The answer wants more bytes: refuse a head past its bound, or a closed stream."""
        if len(self._buffer) > self._max_head_bytes:
            raise ProtocolError(f"the answer's head passed {self._max_head_bytes} bytes")
        if self._eof:
            raise ClosedEarly("the server closed the connection before the answer ended")

    def _append(self, count: int) -> None:
        """Move up to ``count`` buffered bytes to the body."""
        buffer = self._buffer
        data = bytes(buffer[:count]) if count < len(buffer) else bytes(buffer)
        del buffer[: len(data)]
        self.body.append(data)
        self.body_size += len(data)

    def _read_head(self) -> ResponseHead | None:
        """The next head (1xx or final) if complete; sets the body's framing for a final."""
        buffer = self._buffer
        if buffer[:1] == b"\n" or buffer[:2] == b"\r\n":
            raise ProtocolError("no status line received")
        # The blank line: the first LF followed by CRLF or LF (two finds in C cost a
        # tenth of the regex \n\r?\n they stand for).
        start = self._search_from
        crlf, lf = buffer.find(b"\n\r\n", start), buffer.find(b"\n\n", start)
        if crlf < 0 and lf < 0:
            if buffer and buffer[0] < 0x21:
                raise ProtocolError("illegal status line")
            self._search_from = max(0, len(buffer) - 2)
            return None
        blank, end = (lf, lf + 2) if crlf < 0 or 0 <= lf < crlf else (crlf, crlf + 3)
        block = bytes(buffer[:end])
        del buffer[:end]
        self._search_from = 0
        first = block.index(b"\n")
        line_end = first - 1 if block[first - 1 : first] == b"\r" else first
        status_match = _STATUS_LINE_RE.fullmatch(block, 0, line_end)
        if status_match is None:
            raise ProtocolError("illegal status line")
        version, status_text, reason = status_match.groups()
        status = int(status_text)
        if status < 100 or status == 101:
            raise ProtocolError(f"unexpected status {status}")
        # The header lines, each with its newline (the blank line's match starts with the
        # last one's): the fast path, or line by line where it declines.
        fields = fast_fields(block[first + 1 : blank + 1], self._max_headers)
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

    def _read_chunked(self) -> bool:
        """Read the buffered chunks; whether the body (and its trailer) ended.

        One pass over the buffer by offset, cut once at the end: a chunk's size line, its
        data and its CRLF, as often as they are there.
        """
        buffer = self._buffer
        end = len(buffer)
        state, remaining = self._state, self._remaining
        pos = 0
        complete = False
        try:
            while True:
                if state == _CHUNK_DATA:
                    if pos == end:
                        break
                    stop = min(end, pos + remaining)
                    data = bytes(buffer[pos:stop])
                    self.body.append(data)
                    self.body_size += len(data)
                    remaining -= stop - pos
                    pos = stop
                    if remaining:
                        break
                    state, remaining = _CHUNK_END, 2
                elif state == _CHUNK_END:
                    # The CRLF after a chunk's data, possibly split across reads.
                    piece = bytes(buffer[pos : pos + remaining])
                    if not piece:
                        break
                    if piece != b"\r\n"[2 - remaining :][: len(piece)]:
                        raise ProtocolError("malformed chunk footer")
                    pos += len(piece)
                    remaining -= len(piece)
                    if remaining:
                        break
                    state = _CHUNK_SIZE
                elif state == _CHUNK_SIZE:
                    step = self._size_line(pos)
                    if step is None:
                        break
                    pos, state, remaining = step
                else:
                    del buffer[:pos]
                    pos = 0
                    complete = self._read_trailer()
                    if complete:
                        state = _DONE
                    break
        finally:
            if pos:
                del buffer[:pos]
            self._state, self._remaining = state, remaining
        return complete

    def _size_line(self, pos: int) -> tuple[int, int, int] | None:
        """The size line at ``pos``: (next pos, state, remaining), or None until it is all in.

        A plain line whose chunk and CRLF are all buffered is taken with them, in one step.
        """
        buffer = self._buffer
        plain = _PLAIN_CHUNK_RE.match(buffer, pos)
        if plain is not None:
            start = plain.end()
            stop = start + int(plain[1], 16)
            if stop > start and buffer[stop : stop + 2] == b"\r\n":
                data = bytes(buffer[start:stop])
                self.body.append(data)
                self.body_size += len(data)
                return stop + 2, _CHUNK_SIZE, 0
        index = buffer.find(b"\r\n", pos)
        if index < 0:
            return None
        match = _CHUNK_HEADER_RE.fullmatch(buffer, pos, index + 2)
        if match is None:
            raise ProtocolError("illegal chunk header")
        size = int(match["size"], 16)
        return (index + 2, _CHUNK_DATA, size) if size else (index + 2, _TRAILER, 0)

    def _read_trailer(self) -> bool:
        """The trailer (checked and dropped) at the buffer's start; whether it is all there."""
        buffer = self._buffer
        if buffer[:1] == b"\n":
            del buffer[:1]
        elif buffer[:2] == b"\r\n":
            del buffer[:2]
        else:
            match = _BLANK_LINE_RE.search(buffer)
            if match is None:
                return False
            block = bytes(buffer[: match.end()])
            del buffer[: match.end()]
            normalise(name_values(check_lines(split_lines(block))), self._max_headers)  # dropped
        return True
