"""The lean HTTP/1.1 codec against h11, the oracle: the same answers, the same refusals.

Hypothesis writes responses (Content-Length, chunked with extensions and trailers, read
to the close, 1xx first, ``Connection: close``, HTTP/1.0, odd casing and whitespace,
folded lines, bare LF line ends) and feeds the same bytes, in the same pieces, to
``_codec.ResponseParser`` and to ``h11.Connection``. Both must give the same status,
reason, version, headers (as h11 normalises them, and as the transport joins them), body
and keep-alive decision, or both refuse. Mutated responses (a byte replaced, dropped or
added) check that what h11 refuses, we refuse, and the reverse.

One difference is on purpose (``_codec``'s docstring): an answer with both
``Content-Length`` and ``Transfer-Encoding`` is read as h11 reads it, but its connection
is not reused. And our header-line count is bounded (h11 has no bound).
"""

from __future__ import annotations

import itertools
from typing import Any, Final

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webhook.transport._codec import (
    END_OF_MESSAGE,
    MAX_HEAD_BYTES,
    MAX_HEADERS,
    NEED_DATA,
    ClosedEarly,
    ProtocolError,
    ResponseHead,
    ResponseParser,
)
from trio_webhook.transport._fields import join_headers
from trio_webhook.transport._wire import H11Wire, LeanWire, RequestWriter

# What a run gave: ("answer", status, reason, version, headers, body, keep_alive, the
# headers as the transport joins them),
# ("refused",) or ("incomplete",): the bytes ended without an answer or an error.
Outcome = tuple[Any, ...]


def answer(head: ResponseHead, body: bytes, reusable: bool) -> Outcome:
    """The lean codec's reading of a whole answer, as ``Outcome`` holds it."""
    return (
        "answer",
        head.status,
        head.reason,
        head.http_version,
        head.headers,
        body,
        reusable,
        dict(head.fields),
    )


def lean(pieces: list[bytes], eof: bool) -> Outcome:
    parser = ResponseParser()
    head: ResponseHead | None = None
    body = b""
    try:
        for piece in [*pieces, b""] if eof else pieces:
            parser.feed(piece)
            while (event := parser.next_event()) is not NEED_DATA:
                if event is END_OF_MESSAGE:
                    assert head is not None
                    return answer(head, body, parser.reusable)
                if isinstance(event, bytes):
                    body += event
                else:
                    assert isinstance(event, ResponseHead)
                    head = event
    except ProtocolError:
        return ("refused",)
    return ("incomplete",)


def lean_read(pieces: list[bytes], eof: bool) -> Outcome:
    """The transport's way: one ``read`` a piece, the answer taken whole at the end."""
    parser = ResponseParser()
    try:
        for piece in [*pieces, b""] if eof else pieces:
            parser.feed(piece)
            if parser.read():
                head = parser.head
                assert head is not None
                body = b"".join(parser.body)
                assert parser.body_size == len(body)
                return answer(head, body, parser.reusable)
    except ProtocolError:
        return ("refused",)
    return ("incomplete",)


def oracle(pieces: list[bytes], eof: bool) -> Outcome:
    """h11's reading, as the transport used it, with its keep-alive decision."""
    http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
    request_headers = [("host", "x"), ("content-length", "0")]
    http.send(h11.Request(method="POST", target="/", headers=request_headers))
    http.send(h11.EndOfMessage())
    head: h11.Response | None = None
    body = b""
    closed = False
    try:
        for piece in [*pieces, b""] if eof else pieces:
            closed = not piece
            http.receive_data(piece)
            while (event := http.next_event()) is not h11.NEED_DATA:
                if type(event) is h11.EndOfMessage:
                    assert head is not None
                    reusable = (
                        http.their_state is h11.DONE and not closed and not http.trailing_data[0]
                    )
                    headers = list(head.headers)
                    names = {name for name, _ in headers}
                    if {b"content-length", b"transfer-encoding"} <= names:
                        reusable = False  # our one stricter rule
                    return (
                        "answer",
                        head.status_code,
                        head.reason,
                        head.http_version,
                        headers,
                        body,
                        reusable,
                        dict(join_headers(headers)),
                    )
                if type(event) is h11.Data:
                    body += event.data
                elif type(event) is h11.Response:
                    head = event
                elif type(event) is h11.ConnectionClosed:
                    return ("refused",)
    except h11.RemoteProtocolError:
        return ("refused",)
    return ("incomplete",)


# --- writing responses ------------------------------------------------------------------------

NAMES: Final = [
    "Content-Type",
    "Date",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
    "Retry-After",
    "Set-Cookie",
    "Via",
    "Server",
    "CF-Ray",
    "Vary",
]
VALUE_CHARS: Final = st.sampled_from(
    [
        *"abcXYZ019-_.;=/\"',()[]{}~!#$%&*+^`|<>?@\\",
        " ",
        "\t",
        "\x01",
        "\x1f",
        "\x7f",
        "\x80",
        "\xe9",
        "\xff",
    ]
)
OWS: Final = st.sampled_from(["", " ", "  ", "\t", " \t "])


def recase(name: str, flips: list[bool]) -> str:
    return "".join(
        c.swapcase() if f else c for c, f in zip(name, [*flips, *[False] * len(name)], strict=False)
    )


@st.composite
def header_lines(draw: st.DrawFn, eol: bytes) -> list[bytes]:
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        name = recase(draw(st.sampled_from(NAMES)), draw(st.lists(st.booleans(), max_size=20)))
        value = draw(st.text(VALUE_CHARS, max_size=20)).strip(" \t")
        line = f"{name}:{draw(OWS)}{value}{draw(OWS)}".encode("latin-1")
        if value and draw(st.integers(0, 9)) == 0:
            # An obsolete folded line: the value goes on after a newline and whitespace.
            line += eol + draw(st.sampled_from([b" ", b"\t", b"  "])) + b"more"
        lines.append(line)
    return lines


def chunked(body: bytes, cuts: list[int], ext: str, upper: bool) -> bytes:
    out = b""
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    for start, end in itertools.pairwise(points):
        if start == end:
            continue
        size = f"{end - start:x}"
        out += (size.upper() if upper else size).encode() + ext.encode() + b"\r\n"
        out += body[start:end] + b"\r\n"
    return out + b"0" + ext.encode() + b"\r\n"


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, bool]:
    """Response bytes, and whether the connection closes after them."""
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    out = b""
    for _ in range(draw(st.integers(0, 2))):
        status = draw(st.sampled_from([100, 102, 103]))
        out += b"HTTP/1.1 %d Info" % status + eol
        out += b"".join(line + eol for line in draw(header_lines(eol))) + eol
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    status = draw(st.sampled_from([200, 200, 204, 304, 400, 404, 429, 500, 502, 299, 599]))
    reason = draw(st.sampled_from([b" OK", b" ", b"", b" Too Many\tRequests", b" \xe9t\xe9"]))
    lines = draw(header_lines(eol))
    connection = draw(
        st.sampled_from([None, "close", "Close", "keep-alive", "keep-alive, close", "upgrade"])
    )
    if connection is not None:
        lines.insert(draw(st.integers(0, len(lines))), f"Connection: {connection}".encode())
    body = draw(st.binary(max_size=200))
    framing = draw(st.sampled_from(["length", "length", "chunked", "close"]))
    wire_body = body
    if framing == "length":
        name = recase("content-length", draw(st.lists(st.booleans(), max_size=14)))
        size = len(body)
        value = draw(st.sampled_from([f"{size}", f"{size}, {size}", f"0{size}", f"{size} ,{size}"]))
        lines.append(f"{name}:{draw(OWS)}{value}".encode())
        if draw(st.integers(0, 4)) == 0:
            # An equal repeat (the same digits), kept once.
            lines.append(f"Content-Length: {value.split(',')[0].strip()}".encode())
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: " + draw(st.sampled_from([b"chunked", b"Chunked"])))
        ext = draw(st.sampled_from(["", ";a=b", ';name="v"', ";x", " ", "\t ", ";x \t"]))
        cuts = draw(st.lists(st.integers(0, 400), max_size=5))
        trailer = b"".join(line + b"\r\n" for line in draw(header_lines(b"\r\n")))
        wire_body = chunked(body, cuts, ext, draw(st.booleans())) + trailer + b"\r\n"
    head = b"HTTP/" + version + b" %d" % status + reason + eol
    out += head + b"".join(line + eol for line in lines) + eol + wire_body
    return out, framing == "close" or draw(st.booleans())


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)] or [b""]


def agree(pieces: list[bytes], eof: bool) -> Outcome:
    ours, theirs = lean(pieces, eof), oracle(pieces, eof)
    assert ours == theirs, (pieces, eof)
    assert lean_read(pieces, eof) == theirs, (pieces, eof)
    return ours


# --- agreement --------------------------------------------------------------------------------


@given(responses(), st.lists(st.integers(0, 2000), max_size=8))
def test_agrees_with_h11_on_responses_fed_in_random_pieces(
    response: tuple[bytes, bool], cuts: list[int]
) -> None:
    data, eof = response
    outcome = agree(split(data, cuts), eof)
    assert outcome[0] == "answer"


@settings(max_examples=25)
@given(responses())
def test_agrees_with_h11_split_at_every_byte_boundary(response: tuple[bytes, bool]) -> None:
    data, eof = response
    for index in range(len(data) + 1):
        agree([data[:index], data[index:]], eof)
    agree([data[i : i + 1] for i in range(len(data))], eof)


MUTATIONS: Final = [
    *(b"\x00", b"\x01", b"\x0b", b"\r", b"\n", b" ", b"\t", b":", b";", b"x", b"0", b"F"),
    *(b"\x7f", b"\xff"),
]


@given(
    responses(),
    st.lists(
        st.tuples(
            st.sampled_from(["replace", "drop", "insert"]),
            st.integers(0, 2000),
            st.sampled_from(MUTATIONS),
        ),
        min_size=1,
        max_size=3,
    ),
    st.lists(st.integers(0, 2000), max_size=4),
)
def test_agrees_with_h11_on_mutated_responses(
    response: tuple[bytes, bool], mutations: list[tuple[str, int, bytes]], cuts: list[int]
) -> None:
    data, eof = response
    for kind, where, byte in mutations:
        at = where % (len(data) + 1)
        if kind == "replace" and at < len(data):
            data = data[:at] + byte + data[at + 1 :]
        elif kind == "drop":
            data = data[:at] + data[at + 1 :]
        else:
            data = data[:at] + byte + data[at:]
    agree(split(data, cuts), eof)


# --- what must be refused ---------------------------------------------------------------------

OK_HEAD: Final = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"HTTP/1.1 2000 OK\r\n\r\n", id="four-digit status"),
        pytest.param(b"HTTP/11 200 OK\r\n\r\n", id="bad version"),
        pytest.param(b"HTTP/1.1  200 OK\r\n\r\n", id="two spaces"),
        pytest.param(b"HTTP/1.1 099 Odd\r\n\r\n", id="status below 100"),
        pytest.param(b"HTTP/1.1 101 Switching\r\n\r\n", id="unasked upgrade"),
        pytest.param(b"HTTP/1.1 200 O\x00K\r\n\r\n", id="NUL in reason"),
        pytest.param(b"\r\nHTTP/1.1 200 OK\r\n\r\n", id="blank line first"),
        pytest.param(b" HTTP/1.1 200 OK\r\n", id="space first, incomplete"),
        pytest.param(OK_HEAD + b"Content-Length: abc\r\n\r\n", id="Content-Length not a number"),
        pytest.param(OK_HEAD + b"Content-Length: -1\r\n\r\n", id="negative Content-Length"),
        pytest.param(OK_HEAD + b"Content-Length: 1, 2\r\n\r\nab", id="Content-Length list"),
        pytest.param(
            OK_HEAD + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", id="two lengths"
        ),
        pytest.param(OK_HEAD + b"Content-Length: " + b"1" * 21 + b"\r\n\r\n", id="21 digits"),
        pytest.param(OK_HEAD + b"Transfer-Encoding: gzip\r\n\r\n", id="gzip"),
        pytest.param(
            OK_HEAD + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            id="two transfer-encodings",
        ),
        pytest.param(
            OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", id="chunk size"
        ),
        pytest.param(
            OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n", id="chunk end"
        ),
        pytest.param(
            OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"1" * 21 + b"\r\n", id="size long"
        ),
        pytest.param(
            OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", id="trailer"
        ),
        pytest.param(OK_HEAD + b"No-Colon\r\n\r\n", id="header without colon"),
        pytest.param(OK_HEAD + b": no name\r\n\r\n", id="header without name"),
        pytest.param(OK_HEAD + b"X: a\r\n\rY: b\r\n\r\n", id="CR at line start"),
        pytest.param(OK_HEAD + b"Name : v\r\n\r\n", id="space before colon"),
        pytest.param(OK_HEAD + b"X: a\x00b\r\n\r\n", id="NUL in value"),
        pytest.param(OK_HEAD + b"X: a\rb\r\n\r\n", id="CR in value"),
        pytest.param(OK_HEAD + b"X: a\x0bb\r\n\r\n", id="VT in value"),
        pytest.param(OK_HEAD + b" folded: first\r\n\r\n", id="fold at start"),
        pytest.param(OK_HEAD + b"Content-Length: 5\r\n\r\nabc", id="body cut by close"),
        pytest.param(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nab", id="chunk cut"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: y", id="head cut by close"),
        pytest.param(b"", id="closed without an answer"),
    ],
)
def test_malformed_answers_are_refused_as_h11_refuses_them(data: bytes) -> None:
    assert agree([data], eof=True) == ("refused",)
    agree([data], eof=False)  # refused at once, or both still waiting for more


def test_a_close_before_the_answer_is_a_closed_early_error() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    assert isinstance(parser.next_event(), ResponseHead)
    assert parser.next_event() == b"ab"
    parser.feed(b"")
    with pytest.raises(ClosedEarly):
        parser.next_event()


@pytest.mark.parametrize("piece_size", [1, 100, 1024])
def test_an_endless_head_is_refused_past_16_kib_as_h11_does(piece_size: int) -> None:
    data = OK_HEAD + b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"v" * 40) for i in range(400))
    pieces = split(data, list(range(0, len(data), piece_size)))
    assert agree(pieces, eof=False) == ("refused",)


def test_a_head_under_16_kib_is_read() -> None:
    data = OK_HEAD + b"X-Big: " + b"v" * (MAX_HEAD_BYTES - 100) + b"\r\nContent-Length: 0\r\n\r\n"
    assert agree(split(data, list(range(0, len(data), 1000))), eof=False)[0] == "answer"


def test_more_header_lines_than_the_bound_are_refused() -> None:
    # Stricter than h11, which counts none: the bytes bound alone lets ~1,500 through.
    lines = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    parser = ResponseParser()
    parser.feed(OK_HEAD + lines + b"Content-Length: 0\r\n\r\n")
    with pytest.raises(ProtocolError, match=f"at most {MAX_HEADERS}"):
        parser.next_event()
    parser = ResponseParser()
    parser.feed(OK_HEAD + lines[: lines.index(b"X-100")] + b"\r\n")
    assert isinstance(parser.next_event(), ResponseHead)


def test_both_length_and_chunked_read_as_chunked_but_the_connection_is_not_reused() -> None:
    data = OK_HEAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    outcome = agree([data], eof=False)
    assert outcome[5] == b"abc"
    assert outcome[6] is False
    assert oracle([data], eof=False)[6] is False  # (the oracle's rule says so too)


@pytest.mark.parametrize(
    ("head", "reusable"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", True),
        (b"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 204 OK\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", False),
    ],
)
def test_the_keep_alive_decision(head: bytes, reusable: bool) -> None:
    outcome = agree([head], eof=False)
    assert outcome[6] is reusable


def test_an_answer_without_a_length_is_read_to_the_close() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    assert agree([data], eof=False) == ("incomplete",)
    assert agree([data], eof=True)[5:7] == (b"all of it", False)


def test_the_parser_reads_the_next_answer_after_reset() -> None:
    parser = ResponseParser()
    for text in (b"one", b"second"):
        parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
        assert isinstance(parser.next_event(), ResponseHead)
        assert parser.next_event() == text
        assert parser.next_event() is END_OF_MESSAGE
        assert parser.reusable
        parser.reset()


# --- writing requests -------------------------------------------------------------------------

FIXED: Final = [(b"host", b"discord.com"), (b"user-agent", b"DiscordBot (x, 1)")]
QUERIES: Final = st.lists(
    st.tuples(st.sampled_from(["wait", "thread_id", "with_components"]), st.text(max_size=8)),
    max_size=3,
).map(tuple)


@given(
    st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
    st.text("abc/0123456789-_%", max_size=30),
    QUERIES,
    st.sampled_from([None, b"application/json", b"multipart/form-data; boundary=xyz"]),
    st.lists(st.binary(max_size=20), max_size=3),
)
def test_the_request_bytes_are_h11s(
    method: str,
    path: str,
    query: tuple[tuple[str, str], ...],
    content_type: bytes | None,
    body: list[bytes],
) -> None:
    writer = RequestWriter("/api/v10", FIXED)
    path = "/webhooks/" + path
    ours = LeanWire(writer).request(method, path, query, content_type, body)
    twice = LeanWire(writer).request(method, path, query, content_type, body)  # cached
    theirs = H11Wire(writer).request(method, path, query, content_type, body)
    assert b"".join(ours) == b"".join(twice) == b"".join(theirs)


def test_the_writer_refuses_a_target_http_forbids_without_showing_it() -> None:
    writer = RequestWriter("/api/v10", FIXED)
    with pytest.raises(ValueError, match="forbids") as info:
        writer.head("POST", "/webhooks/1/sec ret", (), None, 0)
    assert "sec ret" not in str(info.value)
    with pytest.raises(ValueError, match="token"):
        writer.head("PO ST", "/webhooks/1/x", (), None, 0)


def test_the_prefix_cache_is_bounded() -> None:
    writer = RequestWriter("/api/v10", FIXED, max_cached=4)
    for i in range(10):
        writer.head("POST", f"/webhooks/{i}/t", (), None, 0)
    assert len(writer._cache) <= 4
