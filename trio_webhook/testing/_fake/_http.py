"""The values the fake's parts hand each other: an upload, an answer, and a refusal.

Every part answers with a :class:`Response`; code deep in a check raises
:class:`Rejected` to carry its ready answer out to the route that returns it. The checks
collect their field errors in an :class:`ErrorTree`, which becomes Discord's 400 answer.
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
    "ErrorTree",
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


class ErrorTree:
    """Collects field errors in Discord's ``errors`` shape (``{"a": {"0": {"_errors": []}}}``)."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Iterable[str | int], code: str, message: str) -> None:
        """Record one error at ``path`` (keys and list indexes)."""
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: Iterable[str | int], limit: int) -> None:
        """Record that the value at ``path`` is longer than ``limit``."""
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        """Raise the 400 "Invalid Form Body" answer if any error was recorded.

        Raises:
            Rejected: With code 50035 and the tree.
        """
        if self.tree:
            raise Rejected(error(400, 50035, "Invalid Form Body", self.tree))
