"""Header lines as h11 reads them (grammar, folded lines, framing rules) and the head.

Split from ``_codec`` (the parser's states). Every function takes lines or bytes and
returns values or raises :class:`ProtocolError`; nothing here keeps state.
"""

from __future__ import annotations

import re
from typing import Final

from trio_webhook.transport._values import LowerCaseHeaders

__all__ = [
    "ClosedEarly",
    "ProtocolError",
    "ResponseHead",
    "check_lines",
    "fast_fields",
    "join_headers",
    "normalise",
    "name_values",
    "split_lines",
]


class ProtocolError(Exception):
    """The server broke HTTP/1.1 (h11's ``RemoteProtocolError``): close the connection."""


class ClosedEarly(ProtocolError):
    """The server closed the connection before the answer was complete."""


class ResponseHead:
    """The final answer's status line and headers, normalised as h11 normalises them.

    Attributes:
        status: The status code.
        reason: The reason phrase (may be empty).
        http_version: ``b"1.1"`` or ``b"1.0"``.
        fields: The headers as the transport hands them on: a lower-case name to its
            text value, repeats joined with ``", "`` (:func:`join_headers`).
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


# The grammar of RFC 9110/9112, as h11 spells it (h11/_abnf.py), so both accept the same.
_TOKEN: Final = rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
_FIELD_CONTENT: Final = rb"[^\x00\s]+(?:[ \t]+[^\x00\s]+)*"
_HEADER_LINE: Final = _TOKEN + rb":[ \t]*(?:" + _FIELD_CONTENT + rb")?[ \t]*"
_HEADER_LINE_RE: Final = re.compile(_HEADER_LINE)
# The bytes header lines may hold ([^\x00\s], space, tab and LF), and a name's.
_LINES_BYTES: Final = bytes(sorted(set(range(1, 256)) - set(b"\r\x0b\x0c")))
_TOKEN_BYTES: Final = b"-!#$%&'*+.^_`|~0123456789" + bytes(range(65, 91)) + bytes(range(97, 123))
_DIGITS_RE: Final = re.compile(rb"[0-9]{1,20}")


def split_lines(block: bytes) -> list[bytes]:
    """Lines of a head that ends in a blank line, without their line ends."""
    lines = block.split(b"\n")
    del lines[-2:]  # the blank line, and the empty piece after its newline
    return [line[:-1] if line[-1:] == b"\r" else line for line in lines]


def unfold(lines: list[bytes]) -> list[bytes]:
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


def check_lines(lines: list[bytes]) -> list[bytes]:
    """Unfold and check each line as ``name: value`` (h11's ``_decode_header_lines``)."""
    if any(line[:1] in (b" ", b"\t") for line in lines):
        lines = unfold(lines)
    for line in lines:
        if _HEADER_LINE_RE.fullmatch(line) is None:
            raise ProtocolError("illegal header line")
    return lines


def name_values(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Checked lines as (lower-case name, value stripped of spaces and tabs)."""
    pairs = []
    for line in lines:
        name, _, value = line.partition(b":")
        pairs.append((name.lower(), value.strip(b" \t")))
    return pairs


def fast_fields(region: bytes, max_headers: int) -> LowerCaseHeaders | None:
    """The header lines in ``region`` as one text value a name, or ``None`` for a closer look.

    The answer's headers as :func:`join_headers` of the checked, normalised lines would give
    them, for the lines nearly every answer has, with C-speed bytes and text methods in
    place of a regex a line and of the pairs in between (issue 16, W3). ``None`` (the slow,
    line-by-line way decides, and raises) when: a byte a value may not hold (NUL, VT, FF,
    a CR not before LF); a name that is not a non-empty token followed by a colon (a
    folded line's name starts with whitespace); a name twice (repeats are joined there);
    more than ``max_headers`` lines; a ``Content-Length`` that is not one number; a
    ``Transfer-Encoding`` that is not exactly ``chunked``.
    """
    text = region.replace(b"\r\n", b"\n") if b"\r" in region else region
    if text.translate(None, _LINES_BYTES):  # what is left: NUL, CR, VT or FF
        return None
    lines = text.decode("latin-1").split("\n")
    lines.pop()  # after the last newline
    if len(lines) > max_headers:
        return None
    fields = LowerCaseHeaders()
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        fields[name.lower()] = value.strip(" \t")
    if (
        len(fields) != len(lines)
        or "" in fields
        # Lower-casing keeps a name a token, or not one (it maps A-Z only, in latin-1 too).
        or "".join(fields).encode("latin-1").translate(None, _TOKEN_BYTES)
    ):
        return None
    length = fields.get("content-length")
    if length is not None and not (length.isascii() and length.isdigit() and len(length) <= 20):
        return None
    encoding = fields.get("transfer-encoding")
    if encoding is not None and encoding != "chunked":
        return None
    return fields


def normalise(pairs: list[tuple[bytes, bytes]], max_headers: int) -> list[tuple[bytes, bytes]]:
    """Apply h11's rules for the framing headers to checked (name, value) pairs.

    Raises:
        ProtocolError: A ``Content-Length`` is not one number, a ``Transfer-Encoding``
            is not one ``chunked``, or there are more than ``max_headers`` lines.
    """
    if len(pairs) > max_headers:
        raise ProtocolError(f"the answer has {len(pairs)} header lines; at most {max_headers}")
    names = [name for name, _ in pairs]
    length_lines = names.count(b"content-length")
    encoding_lines = names.count(b"transfer-encoding")
    if not length_lines and not encoding_lines:
        return pairs
    if (
        encoding_lines == 1
        and not length_lines
        and pairs[names.index(b"transfer-encoding")][1] == b"chunked"
    ):
        return pairs  # nearly every chunked answer: nothing to check further or change
    headers: list[tuple[bytes, bytes]] = []
    content_length: bytes | None = None
    chunked = False
    for name, value in pairs:
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


def join_headers(headers: list[tuple[bytes, bytes]]) -> LowerCaseHeaders:
    """Header pairs as one text value a name; repeats joined with ``", "`` (RFC 9110).

    The names are lower-case already (both codecs lower them), so the answer built from
    this mapping does not lower them again.
    """
    if not headers:
        return LowerCaseHeaders()
    # The names and values hold no NUL (the grammar forbids it): joined, decoded and split
    # again, in C, rather than decoded one by one.
    names = b"\0".join([name for name, _ in headers]).decode("latin-1").split("\0")
    values = b"\0".join([value for _, value in headers]).decode("latin-1").split("\0")
    joined = LowerCaseHeaders(zip(names, values, strict=True))
    if len(joined) == len(headers):
        return joined
    joined = LowerCaseHeaders()
    for name, value in headers:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        joined[key] = f"{joined[key]}, {text}" if key in joined else text
    return joined
