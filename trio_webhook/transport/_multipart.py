"""Discord's multipart body, encoded by hand: a ``payload_json`` part and ``files[n]``.

The same bytes httpx's encoder writes (HTML5 form encoding of names and filenames, CRLF
line ends, a random 32-hex-digit boundary), so both transports put one body on the wire
and neither needs the other's library. The file data are the caller's ``bytes`` objects,
yielded as they are: nothing is copied.
"""

from __future__ import annotations

import os
import re
from typing import Final

from trio_webhook.transport._values import HTTPRequest

__all__ = ["multipart_body"]

# HTML5's form encoding of a parameter value, as browsers (and httpx) write it: a quote
# and control characters percent-encoded, a backslash doubled. ESC (0x1b) is left alone.
_REPLACEMENTS: Final = {'"': "%22", "\\": "\\\\"} | {
    chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B
}
_SPECIAL: Final = re.compile("|".join(re.escape(c) for c in _REPLACEMENTS))


def _param(name: str, value: str) -> bytes:
    escaped = _SPECIAL.sub(lambda m: _REPLACEMENTS[m[0]], value)
    return f'{name}="{escaped}"'.encode()


def multipart_body(request: HTTPRequest, boundary: bytes | None = None) -> tuple[str, list[bytes]]:
    """``request``'s multipart body: the ``Content-Type`` and the body as chunks.

    Args:
        request: A request with ``payload_json`` and/or ``files``.
        boundary: The boundary (random when ``None``; fixed only in tests).

    Returns:
        ``multipart/form-data; boundary=...`` and the chunks, the file data among them
        uncopied.
    """
    boundary = boundary if boundary is not None else os.urandom(16).hex().encode("ascii")
    delimiter = b"--%s\r\n" % boundary
    chunks: list[bytes] = []
    if request.payload_json is not None:
        chunks += [
            delimiter,
            b'Content-Disposition: form-data; name="payload_json"\r\n'
            b"Content-Type: application/json\r\n\r\n",
            request.payload_json,
            b"\r\n",
        ]
    for part in request.files:
        head = b"Content-Disposition: form-data; %s; %s\r\nContent-Type: %s\r\n\r\n" % (
            _param("name", part.field),
            _param("filename", part.filename),
            part.content_type.encode(),
        )
        chunks += [delimiter, head, part.data, b"\r\n"]
    chunks.append(b"--%s--\r\n" % boundary)
    return f"multipart/form-data; boundary={boundary.decode('ascii')}", chunks
