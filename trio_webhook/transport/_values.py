"""Plain HTTP values that cross the seam between the sans-IO core and the transport.

The core builds an :class:`HTTPRequest` and reads an :class:`HTTPResponse`; it never sees
httpx types. Only a transport turns these into real HTTP. This module imports nothing
but attrs and the standard library, so the pure core may import it.
"""

from __future__ import annotations

import json
import json.decoder
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

import attrs

__all__ = ["HTTPRequest", "HTTPResponse", "MultipartFile", "parse_json", "top_level_fields"]


@attrs.frozen
class MultipartFile:
    """One file part of a multipart body: ``files[n]`` with its filename and type."""

    field: str
    filename: str
    data: bytes = attrs.field(repr=False)
    content_type: str


# The deepest JSON we parse from an answer. Discord's deepest message (Components V2: a
# container holding a section whose accessory is a button, inside a message object) nests
# about ten levels; 64 leaves room and keeps far below Python's recursion limit, where a
# hostile or broken answer nesting 5,000 levels would raise RecursionError.
MAX_JSON_DEPTH: Final = 64
_BOM: Final = b"\xef\xbb\xbf"
_JSON_TOKENS: Final = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` (JSON text) nests arrays and objects deeper than ``limit``.

    Costs two ``bytes.count`` calls for any body with at most ``limit`` brackets (almost
    every answer); only a body with more is scanned, skipping brackets inside strings.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = False
    for match in _JSON_TOKENS.finditer(body):
        token = match[0]
        if token == b'"':
            in_string = not in_string
        elif in_string or len(token) == 2:
            continue  # a bracket inside a string, or an escape
        elif token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


# json's own C scanner and string reader: a value, or a key, at a position.
_DECODER: Final[Any] = json.JSONDecoder()  # typeshed does not name its scanner
_scan_value: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once
_scan_string: Final[Callable[[str, int], tuple[str, int]]] = json.decoder.scanstring  # type: ignore[attr-defined]
_SPACE: Final = re.compile(r"[ \t\n\r]*")
_SPACE_CHARS: Final = " \t\n\r"


def top_level_fields(body: bytes, keys: Collection[str]) -> dict[str, Any] | None:
    """The members named ``keys`` of the JSON object ``body``, read no further than they are.

    A ``wait=true`` answer is Discord's whole message, but the sender needs one or two of
    its members (``channel_id`` for the rate limiter; ``id`` for an outbox): parsing the
    rest cost more than anything else the library does with an answer. This walks the
    top-level members in order with json's C scanner and stops once every key was met;
    the rest is parsed when someone asks for the message.

    Returns:
        The members found (a key absent from the object is absent here), or ``None`` when
        ``body`` does not open and close a JSON object (``{...}``) or what was read of it
        is not JSON. A key the object repeats is read at its first place (``json.loads``
        keeps the last; Discord repeats none). Bounded as :attr:`HTTPResponse.parsed` is:
        a body nested deeper than :data:`MAX_JSON_DEPTH` is not walked (only members
        that come before anything nests, and are no array or object, are read from it:
        they cannot recurse).
    """
    if body.startswith(_BOM):
        body = body[3:]
    try:
        text = body.decode()
        pos = _SPACE.match(text).end()  # type: ignore[union-attr]
        # An object, closed: what is not read is taken on trust, but an answer cut short
        # (the commonest broken body) or one that is no object is refused at once.
        if text[pos] != "{" or not text.rstrip(_SPACE_CHARS).endswith("}"):
            return None
        if not keys:
            return {}
        found = _ahead_of_nesting(text, pos + 1, keys)
        if found is not None:
            return found
        return None if json_too_deep(body) else _members(text, pos + 1, keys)
    except (IndexError, StopIteration, ValueError, RecursionError):
        # Past the end, no value where one must be, a bad string or number; decoding.
        return None


# A bracket or brace: a nested value, or the object's end (or one inside a string).
_BRACKETS: Final = re.compile(r"[\[\]{}]")


def _ahead_of_nesting(text: str, pos: int, keys: Collection[str]) -> dict[str, Any] | None:
    """Each key's member found by its ``"key":``, before anything nests; else ``None``.

    A match is the key itself when no bracket or brace comes between the object's ``{``
    and it (so nothing nested has opened: the match is a top-level member) and no
    backslash before it (its quote is no string's escaped quote). Inside a string a
    quote is escaped, and after a string that is a value comes a comma or the object's
    end, never a colon. Discord's answers name their ids and channel before the first
    nested member; ``None`` (a key not met so, met late, or holding an array or object)
    leaves the walk to decide.
    """
    found: dict[str, Any] = {}
    for key in keys:
        at = text.find(f'"{key}":', pos)
        if at < 0 or text[at - 1] == "\\" or _BRACKETS.search(text, pos, at) is not None:
            return None
        at += len(key) + 3
        if text[at] in _SPACE_CHARS:
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
        if text[at] in "[{":
            return None  # a nested value: the walk reads it, after the depth check
        found[key] = _scan_value(text, at)[0]
    return found


def _members(text: str, pos: int, keys: Collection[str]) -> dict[str, Any] | None:
    """The object's members from ``pos`` (after its ``{``) until every key was met."""
    found: dict[str, Any] = {}
    if text[pos] in _SPACE_CHARS:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
    if text[pos] == "}":
        return found
    while True:
        if text[pos] != '"':
            return None
        key, pos = _scan_string(text, pos + 1)
        if text[pos] in _SPACE_CHARS:
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos] != ":":
            return None
        pos += 1
        if text[pos] in _SPACE_CHARS:
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        value, pos = _scan_value(text, pos)
        if key in keys and key not in found:
            found[key] = value
            if len(found) == len(keys):
                return found
        if text[pos] in _SPACE_CHARS:
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos] == "}":
            return found
        if text[pos] != ",":
            return None
        pos += 1
        if text[pos] in _SPACE_CHARS:
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]


class LowerCaseHeaders(dict[str, str]):
    """Header names already lower-case (as the HTTP/1.1 codec gives them): kept as they are."""

    __slots__ = ()


def _lower_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    if type(headers) is LowerCaseHeaders:
        return headers
    return {k.lower(): v for k, v in headers.items()}


# No slots: one for every request, and a frozen slotted class sets each field through
# object.__setattr__ (see PlannedRequest).
@attrs.frozen(slots=False)
class HTTPRequest:
    """A request to Discord's API, relative to ``/api/v10``.

    Attributes:
        method: ``GET``, ``POST``, ``PATCH`` or ``DELETE``.
        path: The path below ``/api/v10`` (``/webhooks/{id}/{token}...``); holds the token,
            so it is never logged or shown (``route`` is the redacted form).
        route: The rate-limit route key, redacted: ``POST /webhooks/{id}/***``.
        query: Query parameters, in order.
        json: A JSON body (already encoded), or ``None``.
        payload_json: With ``files``, the ``payload_json`` part (encoded JSON).
        files: The file parts of a multipart body (empty for a JSON body).
    """

    method: str
    path: str = attrs.field(repr=False)
    route: str
    query: tuple[tuple[str, str], ...] = ()
    json: bytes | None = attrs.field(default=None, repr=False)
    payload_json: bytes | None = attrs.field(default=None, repr=False)
    files: tuple[MultipartFile, ...] = ()

    @property
    def is_multipart(self) -> bool:
        """Whether the body is multipart (files, or a ``payload_json`` part)."""
        return bool(self.files) or self.payload_json is not None


# No slots: ``parsed`` caches in the instance dict (the rate limiter reads a message's
# channel and the client reads the whole message: one JSON parse serves both).
@attrs.frozen(slots=False)
class HTTPResponse:
    """Discord's answer: status, headers with lower-case names, and a bounded body."""

    status: int
    headers: Mapping[str, str] = attrs.field(converter=_lower_headers)
    body: bytes = attrs.field(default=b"", repr=False)

    @property
    def parsed(self) -> Any:
        """The body parsed as JSON (once), or ``None`` when it is not readable JSON.

        Bounded: the transport caps the body's size (``max_response_bytes``), and a body
        nested deeper than :data:`MAX_JSON_DEPTH` is not parsed at all (``None``), so no
        answer can raise ``RecursionError`` here or in whatever walks the result later.
        """
        # Cached by hand: Python 3.11's cached_property takes a lock on every first read.
        cache = self.__dict__
        if "_parsed" in cache:
            return cache["_parsed"]
        data = cache["_parsed"] = parse_json(self.body)
        return data


def parse_json(body: bytes) -> Any:
    """``body`` parsed as JSON, or ``None`` when it is not readable JSON (see ``parsed``)."""
    if json_too_deep(body):
        return None
    if body.startswith(_BOM):
        body = body[3:]  # as "utf-8-sig" would, whose decoder is Python, ten times "utf-8"'s
    try:
        # Decoded first: JSON on the wire is UTF-8 (RFC 8259), and the text path skips
        # json's guess at the encoding (about a tenth of the parse).
        return json.loads(body.decode())
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
