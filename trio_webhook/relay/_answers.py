"""The relay's answers, shaped as Discord's: ``{"code", "message", "errors"?}``.

A refusal is raised as :class:`Refused` anywhere below the app and turned into the
answer at one place (``_app``). The 400 "Invalid Form Body" (50035) carries Discord's
``errors`` tree, built here from the library's own problems and violations: a path
``embeds[0].fields[1].value`` becomes ``{"embeds": {"0": {"fields": {"1": {"value":
{"_errors": [{"code", "message"}]}}}}}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from trio_webhook._errors import JSONProblem, Violation

__all__ = [
    "Answer",
    "Refused",
    "empty_message",
    "error_tree",
    "invalid_form_body",
    "json_answer",
    "split_path",
    "too_large",
]

_SEGMENT: Final = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@attrs.frozen
class Answer:
    """An HTTP answer: status, headers and body bytes."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()


def json_answer(status: int, data: object, *headers: tuple[bytes, bytes]) -> Answer:
    """An answer with a JSON body."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return Answer(status, body, ((b"content-type", b"application/json"), *headers))


class Refused(Exception):
    """A request the relay answers itself, never forwarding it.

    Attributes:
        answer: What the poster gets.
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: Mapping[str, Any] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        data: dict[str, Any] = {"code": code, "message": message}
        if errors is not None:
            data["errors"] = errors
        headers = () if retry_after is None else ((b"retry-after", str(retry_after).encode()),)
        self.answer = json_answer(status, data, *headers)
        super().__init__(f"{status} {code}: {message}")


def split_path(text: str) -> list[str]:
    """A problem's path as its parts: ``embeds[0].title`` gives ``embeds``, ``0``, ``title``."""
    return [name or index for name, index in _SEGMENT.findall(text)]


def error_tree(entries: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """Discord's ``errors`` tree from ``(path, code, message)`` triples.

    An empty path puts the error at the top (``{"_errors": [...]}``).
    """
    tree: dict[str, Any] = {}
    for path, code, message in entries:
        node = tree
        for part in split_path(path):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return tree


def _problem_code(problem: JSONProblem) -> str:
    if problem.expected is not None and problem.given is None:
        return "BASE_TYPE_REQUIRED"
    return "MODEL_TYPE_CONVERT" if problem.expected is not None else "BASE_TYPE_INVALID"


def _violation_code(violation: Violation) -> str:
    return "BASE_TYPE_MAX_LENGTH" if violation.actual > violation.limit > 0 else "BASE_TYPE_INVALID"


def invalid_form_body(
    problems: Iterable[JSONProblem] = (), violations: Iterable[Violation] = ()
) -> Refused:
    """Discord's 400 Invalid Form Body (50035) for what the library found wrong."""
    entries = [(p.path, _problem_code(p), p.detail) for p in problems]
    entries += [(v.path, _violation_code(v), v.detail) for v in violations]
    return Refused(400, 50035, "Invalid Form Body", error_tree(entries))


def empty_message() -> Refused:
    """Discord's answer to a message with nothing to show."""
    return Refused(400, 50006, "Cannot send an empty message")


def too_large() -> Refused:
    """Discord's answer to a body or file over its limit."""
    return Refused(413, 40005, "Request entity too large")
