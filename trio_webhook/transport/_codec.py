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

import attrs

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


class ProtocolError(Exception):
    """The server broke HTTP/1.1 (h11's ``RemoteProtocolError``): close the connection."""


class ClosedEarly(ProtocolError):
    """The server closed the connection before the answer was complete."""


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


@attrs.frozen
class ResponseHead:
    """The final answer's status line and headers, normalised as h11 normalises them."""

    status: int
    reason: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]


Event = ResponseHead | bytes | _Sentinel

# The grammar of RFC 9110/9112, as h11 spells it (h11/_abnf.py), so both accept the same.
_TOKEN: Final = rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
_FIELD_CONTENT: Final = rb"[^\x00\s]+(?:[ \t]+[^\x00\s]+)*"
_HEADER_LINE: Final = _TOKEN + rb":[ \t]*(?:" + _FIELD_CONTENT + rb")?[ \t]*"
_HEADER_LINE_RE: Final = re.compile(_HEADER_LINE)
# A whole block of unfolded header lines checked by one match (most answers).
_HEADER_BLOCK_RE: Final = re.compile(rb"(?:" + _HEADER_LINE + rb"\r?\n)*")
_STATUS_LINE_RE: Final = re.compile(
    rb"HTTP/(?P<version>[0-9]\.[0-9]) (?P<status>[0-9]{3})(?: (?P<reason>[^\x00\n\r\f\v]*))?"
)
_CHUNK_HEADER_RE: Final = re.compile(rb"(?P<size>[0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*\r\n")
_BLANK_LINE_RE: Final = re.compile(rb"\n\r?\n")
_DIGITS_RE: Final = re.compile(rb"[0-9]{1,20}")

# Framing of the body being read.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_EOF, _DONE = range(8)


def _split_lines(block: bytes) -> list[bytes]:
    """Lines of a head that ends in a blank line, without their line ends."""
    lines = block.split(b"\n")
    del lines[-2:]  # the blank line, and the empty piece after its newline
    return [line[:-1] if line[-1:] == b"\r" else line for line in lines]


def _unfold(lines: list[bytes]) -> list[bytes]:
    """Join obsolete continuation lines (starting with a space or tab) to the line before."""
    out: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not out:
                raise ProtocolError("continuation line at start of headers")
            out[-1] += b" " + line.lstrip(b" \t")
        else:
            out.append(line)
    return out


def _check_lines(lines: list[bytes]) -> list[bytes]:
    """Unfold and check each line as ``name: value`` (h11's ``_decode_header_lines``)."""
    if any(line[:1] in (b" ", b"\t") for line in lines):
        lines = _unfold(lines)
    for line in lines:
        if _HEADER_LINE_RE.fullmatch(line) is None:
            raise ProtocolError("illegal header line")
    return lines


def _normalise(lines: list[bytes], max_headers: int) -> list[tuple[bytes, bytes]]:
    """Checked lines as (lower-case name, stripped value), with h11's framing rules.

    Raises:
        ProtocolError: A ``Content-Length`` is not one number, a ``Transfer-Encoding``
            is not one ``chunked``, or there are more than ``max_headers`` lines.
    """
    if len(lines) > max_headers:
        raise ProtocolError(f"the answer has {len(lines)} header lines; at most {max_headers}")
    headers: list[tuple[bytes, bytes]] = []
    content_length: bytes | None = None
    chunked = False
    for line in lines:
        raw_name, _, raw_value = line.partition(b":")
        name = raw_name.lower()
        value = raw_value.strip(b" \t")
        if name == b"content-length":
            lengths = {length.strip() for length in value.split(b",")}
            value = lengths.pop()
            if lengths or _DIGITS_RE.fullmatch(value) is None:
                raise ProtocolError("bad Content-Length")
            if content_length is not None:
                if value != content_length:
                    raise ProtocolError("conflicting Content-Length headers")
                continue  # h11 keeps one of equal repeats
            content_length = value
        elif name == b"transfer-encoding":
            value = value.lower()
            if chunked or value != b"chunked":
                raise ProtocolError("only one Transfer-Encoding: chunked is supported")
            chunked = True
        headers.append((name, value))
    return headers


def _comma_values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [
        item.strip()
        for found, value in headers
        if found == name
        for item in value.lower().split(b",")
        if item.strip()
    ]


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
        lines = _split_lines(block)
        status_match = _STATUS_LINE_RE.fullmatch(lines[0])
        if status_match is None:
            raise ProtocolError("illegal status line")
        status = int(status_match["status"])
        if status < 100 or status == 101:
            raise ProtocolError(f"unexpected status {status}")
        # The header lines' bytes, each with its newline: one regex checks them all
        # unless a line is folded (rare), when each is checked alone.
        region = block[block.index(b"\n") + 1 : match.start() + 1]
        if b"\n " in block or b"\n\t" in block or _HEADER_BLOCK_RE.fullmatch(region) is None:
            header_lines = _check_lines(lines[1:])
        else:
            header_lines = lines[1:]
        headers = _normalise(header_lines, self._max_headers)
        head = ResponseHead(status, status_match["reason"] or b"", status_match["version"], headers)
        if status >= 200:
            self._frame(head)
        return head

    def _frame(self, head: ResponseHead) -> None:
        headers = head.headers
        self._reusable = head.http_version >= b"1.1" and b"close" not in _comma_values(
            headers, b"connection"
        )
        names = [name for name, _ in headers]
        length = next((v for n, v in headers if n == b"content-length"), None)
        if head.status in (204, 304):
            self._state = _DONE
        elif b"transfer-encoding" in names:
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
            _normalise(_check_lines(_split_lines(block)), self._max_headers)  # then dropped
        self._state = _DONE
        return END_OF_MESSAGE
