"""Request bodies as Discord reads them: JSON, form-urlencoded, or multipart.

A body becomes a payload (the JSON object, or the form's fields) and its uploads (the
parts with a filename: ``files[n]``, or any other name, as Discord takes them). In a
multipart body the ``payload_json`` part, when present, is the payload; other plain
fields are read as a form's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

import attrs

from trio_webhook.relay._answers import Refused, empty_message

__all__ = ["Upload", "read_body"]

_BOOLEAN_FIELDS: Final = frozenset({"tts"})
_INTEGER_FIELDS: Final = frozenset({"flags"})


@attrs.frozen
class Upload:
    """One file part of a multipart body.

    Attributes:
        field: The part's name, as ``files[0]``.
        filename: The filename it was sent with.
        content_type: The part's ``Content-Type``, if it had one.
        data: Its bytes.
    """

    field: str
    filename: str
    content_type: str | None
    data: bytes = attrs.field(repr=False)


def _bad_json() -> Refused:
    return Refused(400, 50109, "The request body contains invalid JSON.")


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise _bad_json() from None


def _form_value(name: str, value: str) -> Any:
    # A form carries text only; Discord reads its booleans and integers from it.
    if name in _BOOLEAN_FIELDS:
        low = value.strip().lower()
        return low in ("true", "1") if low in ("true", "1", "false", "0") else value
    if name in _INTEGER_FIELDS and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _form_payload(fields: list[tuple[str, str]]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for name, value in fields:
        if name == "payload_json":
            loaded = _loads(value.encode())
            if not isinstance(loaded, dict):
                raise _bad_json()
            payload.update(loaded)
        else:
            payload[name] = _form_value(name, value)
    return payload


def read_body(
    headers: Mapping[str, str], body: bytes, max_file_bytes: int
) -> tuple[Any, list[Upload]]:
    """The payload (``None`` for an empty body) and uploads of a request.

    Args:
        headers: The request's headers, names in lower case.
        body: The whole body (already bounded by the app).
        max_file_bytes: Kept in memory up to this size per file part.

    Raises:
        Refused: Discord's answer to a body it cannot read.
    """
    content_type = headers.get("content-type", "")
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return _multipart(content_type, body, max_file_bytes)
    if not body:
        return None, []
    if kind == "application/json":
        return _loads(body), []
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise empty_message() from None
        return _form_payload(parse_qsl(text, keep_blank_values=True)), []
    # Discord treats a body it cannot read as no message at all.
    raise empty_message()


def _multipart(content_type: str, body: bytes, max_file_bytes: int) -> tuple[Any, list[Upload]]:
    # The `relay` extra's python-multipart, imported when a multipart body arrives.
    from python_multipart.multipart import Field, File, FormParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise Refused(400, 50035, "Invalid Form Body", {"_errors": []})
    fields: list[tuple[str, str]] = []
    uploads: list[Upload] = []

    def on_field(field: Field) -> None:
        value = field.value or b""
        name = (field.field_name or b"").decode("utf-8", "replace")
        fields.append((name, value.decode("utf-8", "replace")))

    def on_file(file: File) -> None:
        file.file_object.seek(0)
        uploads.append(
            Upload(
                (file.field_name or b"").decode("utf-8", "replace"),
                (file.file_name or b"").decode("utf-8", "replace"),
                file.content_type,
                file.file_object.read(),
            )
        )

    config = {"MAX_MEMORY_FILE_SIZE": max_file_bytes + 1, "MAX_BODY_SIZE": len(body) + 1}
    try:
        parser = FormParser(
            "multipart/form-data", on_field, on_file, boundary=boundary, config=config
        )
        parser.write(body)
        parser.finalize()
    except Exception:
        raise Refused(400, 50035, "Invalid Form Body", {"_errors": []}) from None
    return (_form_payload(fields) if fields else None), uploads
