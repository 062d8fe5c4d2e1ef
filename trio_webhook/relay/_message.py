"""A request's payload and uploads read into the library's :class:`Message`, or refused.

How lenient: Discord ignores keys it does not know, and knows some that the library
does not carry (``sticker_ids``, say; ``components`` and ``poll`` are read into the
models and forwarded). The relay reads the payload with ``Message.from_json``
(strict), then drops every key the library does not model and reads it again: such
keys are not refused, they are named in a warning and counted
(``trio_webhook_relay_ignored_keys_total``). A message left empty by that is refused
as Discord refuses an empty one (50006). Every other problem (a wrong type, a value a
model refuses, a broken limit) is answered with Discord's 400 and the ``errors`` tree.

``attachments`` in the payload is Discord's: ``{"id", "filename", "description"}``
entries naming the ``files[id]`` parts of the body. It is never read as local paths
(which ``Message.from_json`` would do), or a poster could make the relay upload its
own files.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from trio_webhook._errors import JSONMessageError, JSONProblem
from trio_webhook._limits import validate
from trio_webhook._models import FilePart, Message
from trio_webhook.relay._answers import empty_message, invalid_form_body, split_path, too_large
from trio_webhook.relay._body import Upload

__all__ = ["read_message"]

_FILE_FIELD: Final = re.compile(r"^files\[(\d+)\]$")


def _drop(data: Any, path: str) -> None:
    """Remove the key at ``path`` (``embeds[0].foo``) from ``data``, in place."""
    parts = split_path(path)
    node = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if parts and isinstance(node, dict):
        node.pop(parts[-1], None)


def _lenient(payload: Mapping[str, Any]) -> tuple[Message, list[str]]:
    """``Message.from_json`` with the keys the library does not model dropped."""
    try:
        return Message.from_json(payload), []
    except JSONMessageError as exc:
        unknown = [p.path for p in exc.problems if p.detail.startswith("unknown key")]
        if not unknown:
            raise
    trimmed = copy.deepcopy(dict(payload))
    for path in unknown:
        _drop(trimmed, path)
    return Message.from_json(trimmed), unknown


def _entry_problems(
    entries: object, uploads: Sequence[Upload]
) -> tuple[dict[str, Mapping[str, Any]], list[JSONProblem]]:
    """Discord's ``attachments`` entries by id, and what is wrong with them."""
    if entries is None:
        return {}, []
    if not isinstance(entries, list):
        return {}, [JSONProblem("attachments", "expected an array", "an array", None)]
    fields = {u.field for u in uploads}
    by_id: dict[str, Mapping[str, Any]] = {}
    problems: list[JSONProblem] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            problems.append(
                JSONProblem(f"attachments[{i}]", "expected an object with an id", "an object", None)
            )
            continue
        key = str(entry["id"])
        if f"files[{key}]" not in fields:
            problems.append(
                JSONProblem(f"attachments[{i}].id", f"no files[{key}] part in the body")
            )
        by_id[key] = entry
    return by_id, problems


def _files(entries: object, uploads: Sequence[Upload]) -> list[FilePart]:
    by_id, problems = _entry_problems(entries, uploads)
    parts: list[FilePart] = []
    for i, upload in enumerate(uploads):
        match = _FILE_FIELD.match(upload.field)
        entry = by_id.get(match[1], {}) if match else {}
        filename = entry.get("filename") or upload.filename
        description = entry.get("description")
        try:
            kwargs: dict[str, Any] = {"data": upload.data}
            if isinstance(description, str):
                kwargs["description"] = description
            if upload.content_type:
                kwargs["content_type"] = upload.content_type
            parts.append(FilePart(str(filename), **kwargs))
        except (TypeError, ValueError) as exc:
            problems.append(JSONProblem(f"attachments[{i}].filename", str(exc)))
    if problems:
        raise invalid_form_body(problems)
    return parts


def read_message(
    payload: object,
    uploads: Sequence[Upload],
    *,
    thread_id: str | None,
    max_upload_bytes: int,
    max_request_bytes: int | None = None,
    split_content: bool = True,
) -> tuple[Message, list[str]]:
    """The message a request asks to post, and the keys ignored in its payload.

    Args:
        payload: The parsed payload (``None`` when the body had none).
        uploads: The file parts.
        thread_id: The ``thread_id`` query parameter (it overrides the payload's).
        max_upload_bytes: The largest file accepted.
        max_request_bytes: The most bytes one request may upload (the senders' own
            setting; ``None``: ``max_upload_bytes``): a file must fit in it, and so must
            the files of a Components V2 message, which go in one request.
        split_content: Whether content over 2000 characters is split (the senders' own
            setting) rather than refused.

    Raises:
        Refused: Discord's 400 (50035 with the errors tree, or 50006) or 413.
    """
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise invalid_form_body([JSONProblem("", "expected an object", "an object", None)])
    fields = dict(payload)
    files = _files(fields.pop("attachments", None), uploads)
    if thread_id is not None:
        fields["thread_id"] = thread_id
    try:
        message, ignored = _lenient(fields)
    except JSONMessageError as exc:
        raise invalid_form_body(exc.problems) from None
    if files:
        message = attrs.evolve(message, attachments=tuple(files))
    violations = validate(
        message,
        max_upload_bytes=max_upload_bytes,
        max_request_bytes=max_request_bytes,
        split_content=split_content,
    )
    if any(v.path == "message" for v in violations):
        raise empty_message()
    # A byte budget broken is Discord's 413, whichever of the two it is.
    budgets = {max_upload_bytes, max_request_bytes or max_upload_bytes}
    budgets.add(min(budgets))
    if any(v.path.startswith("attachments") and v.limit in budgets for v in violations):
        raise too_large()
    if violations:
        raise invalid_form_body(violations=violations)
    return message, ignored
