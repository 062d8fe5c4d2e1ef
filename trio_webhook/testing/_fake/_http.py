"""The values the fake's parts hand each other: an upload, an answer, and a refusal.

Every part answers with a :class:`Response`; code deep in a check raises
:class:`Rejected` to carry its ready answer out to the route that returns it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

import attrs

__all__ = [
    "EMPTY_MESSAGE",
    "TOO_LARGE",
    "Answer",
    "Dropped",
    "Rejected",
    "Response",
    "Upload",
    "error",
    "json_response",
]


@attrs.frozen
class Upload:
    """A file part of a multipart body, as received."""

    field: str
    filename: str
    content_type: str | None
    data: bytes = attrs.field(repr=False)


@attrs.frozen
class Response:
    """A complete answer."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@attrs.frozen
class Dropped:
    """No answer: a response is started and the connection dropped (the ``DROP`` fault)."""


Answer = Response | Dropped
"""What the app sends back for a request."""


class Rejected(Exception):
    """Carries a ready error answer (a 4xx, or a 429) out of deep code to its route."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """An answer with a compact JSON body, as Discord writes it."""
    return Response(
        status,
        (("content-type", "application/json"), *headers),
        json.dumps(body, separators=(",", ":")).encode(),
    )


def error(status: int, code: int, message: str, errors: Any = None) -> Response:
    """Discord's error answer: ``{"message", "code"}`` and the ``errors`` tree if any."""
    body: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return json_response(status, body)


EMPTY_MESSAGE: Final = error(400, 50006, "Cannot send an empty message")
TOO_LARGE: Final = error(413, 40005, "Request entity too large")
