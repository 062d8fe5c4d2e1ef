"""Request bodies: JSON or ``multipart/form-data``, read into a payload and its uploads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from trio_webhook.testing._fake._http import EMPTY_MESSAGE, TOO_LARGE, Rejected, Upload, error

__all__ = ["MAX_REQUEST_BYTES", "parse_body"]

MAX_REQUEST_BYTES: Final = 25 * 1024 * 1024
"""The largest body Discord reads by default (observed: 26,214,400 bytes; 413 above it)."""

_Part = tuple[dict[str, str], bytearray]


def parse_body(
    headers: Mapping[str, str], body: bytes, max_request_bytes: int = MAX_REQUEST_BYTES
) -> tuple[Any, list[Upload]]:
    """Read a body as Discord does: the JSON payload (or ``None``) and the file parts.

    Raises:
        Rejected: With the answer Discord gives a body it cannot read (413, code 40005,
            for one over ``max_request_bytes``).
    """
    if len(body) > max_request_bytes:
        raise Rejected(TOO_LARGE)
    content_type = headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return _parse_multipart(content_type, body)
    if not body:
        return None, []
    if content_type.startswith("application/json"):
        return _parse_json(body), []
    # Discord treats a body it cannot read as no message at all.
    raise Rejected(EMPTY_MESSAGE)


def _parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise Rejected(error(400, 50109, "The request body contains invalid JSON.")) from None


def _invalid_form_body() -> Rejected:
    return Rejected(error(400, 50035, "Invalid Form Body", {"_errors": []}))


def _parse_multipart(content_type: str, body: bytes) -> tuple[Any, list[Upload]]:
    # Imported here: python-multipart belongs to the `testing` extra, and importing the
    # package (through the pytest plugin) must not require it.
    from python_multipart.multipart import parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise _invalid_form_body()
    payload: Any = None
    uploads: list[Upload] = []
    for part_headers, data in _read_parts(boundary, body):
        _, disposition = parse_options_header(part_headers.get("content-disposition", ""))
        try:
            name = disposition.get(b"name", b"").decode()
            raw_filename = disposition.get(b"filename")
            filename = None if raw_filename is None else raw_filename.decode()
        except UnicodeDecodeError:
            raise _invalid_form_body() from None
        if name == "payload_json" and filename is None:
            payload = _parse_json(bytes(data))
        elif filename is not None:
            uploads.append(Upload(name, filename, part_headers.get("content-type"), bytes(data)))
    return payload, uploads


def _read_parts(boundary: bytes, body: bytes) -> list[_Part]:
    """Split a multipart body into its parts: lower-cased headers and the data."""
    from python_multipart.multipart import MultipartParser

    parts: list[_Part] = []
    field: list[bytes] = []
    value: list[bytes] = []

    def on_part_begin() -> None:
        parts.append(({}, bytearray()))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].extend(data[start:end])

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.append(data[start:end])

    def on_header_end() -> None:
        # Header bytes as latin-1, one char a byte (HTTP's rule): parse_options_header
        # re-encodes them so, and the filename's UTF-8 is decoded once, below.
        parts[-1][0][b"".join(field).decode("latin-1").lower()] = b"".join(value).decode("latin-1")
        field.clear()
        value.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception:
        raise _invalid_form_body() from None
    return parts
