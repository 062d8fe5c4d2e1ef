"""The dead-letter record and its codec: pure (no trio, no file I/O).

A :class:`DeadLetter` carries the whole :class:`~trio_webhook.Message` (file bytes
included, base64 in JSON, so a replay is lossless) or, when a sink is told
``include_attachments=False``, the files' metadata only. One record encodes to one JSON
object on one line (:func:`encode_record`, :func:`decode_record`); the sinks and the file
reader live in :mod:`trio_webhook._sinks`.

Nothing in a record holds a webhook token: ``webhook_id`` is the id alone, and ``error``
and ``body`` are scrubbed of anything shaped like ``/webhooks/<id>/<token>``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from trio_webhook._component_tree import register_record_unions
from trio_webhook._errors import DeadLetterFormatError, DiscordHTTPError
from trio_webhook._models import FilePart, Message
from trio_webhook._outcome import parse_discord_error
from trio_webhook._url import redact

__all__ = [
    "FORMAT_VERSION",
    "MAX_BODY_BYTES",
    "MAX_ERROR_CHARS",
    "REASONS",
    "AttachmentInfo",
    "DeadLetter",
    "DeadLetterFormatError",
    "Reason",
    "decode_message",
    "decode_record",
    "discord_error_in",
    "discord_error_of",
    "encode_message",
    "encode_record",
]

Reason = Literal[
    "permanent",
    "exhausted",
    "dead_webhook",
    "ambiguous",
    "shutdown",
    "invalid",
    "internal",
    "invalid_budget",
]
REASONS: Final[tuple[Reason, ...]] = (
    "permanent",
    "exhausted",
    "dead_webhook",
    "ambiguous",
    "shutdown",
    "invalid",
    "internal",
    "invalid_budget",
)
MAX_BODY_BYTES: Final = 2048
MAX_ERROR_CHARS: Final = 1000
FORMAT_VERSION: Final = 1


def _utf8_prefix(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    # Cut on a character boundary: a half character would not decode.
    return raw[:limit].decode("utf-8", errors="ignore") + "…"


def _clean_error(value: str) -> str:
    text = redact(str(value))
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "…"


def _clean_body(value: str | bytes) -> str:
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    # Redact before cutting, so a token split by the cut cannot survive in pieces.
    return _utf8_prefix(redact(text), MAX_BODY_BYTES)


def discord_error_of(error: DiscordHTTPError) -> Mapping[str, Any]:
    """Discord's JSON error as Discord sent it (``code``, ``message``, ``errors``), redacted.

    ``errors`` is there only for an Invalid Form Body, as in Discord's own answers.
    """
    return _discord_error(error.code, error.text, error.errors)


def discord_error_in(body: str) -> Mapping[str, Any] | None:
    """Discord's JSON error from a record's ``body``, as :func:`discord_error_of` gives it.

    For the receipt of a message another process dead-lettered: its record's ``body`` (or
    an :class:`~trio_webhook.outbox.Outcome`'s) is all that crossed over. ``None`` when
    the body holds no Discord error: none was answered, or the body was cut at
    :data:`MAX_BODY_BYTES` (an ``errors`` tree that large).
    """
    code, text, errors = parse_discord_error(body.encode())
    if (code, text, errors) == (0, "", None):
        return None
    return _discord_error(code, text, errors)


def _discord_error(code: int, text: str, errors: Mapping[str, Any] | None) -> Mapping[str, Any]:
    body: dict[str, Any] = {"code": code, "message": text}
    if errors is not None:
        body["errors"] = errors
    # Through JSON and back: every string of the tree is redacted, and the copy shares
    # nothing with the answer it came from.
    clean: dict[str, Any] = json.loads(redact(json.dumps(body)))
    return MappingProxyType(clean)


def _infos(values: Iterable[AttachmentInfo]) -> tuple[AttachmentInfo, ...]:
    return tuple(values)


def _now() -> datetime:
    return datetime.now(UTC)


def _check_reason(_inst: object, _attr: object, value: str) -> None:
    if value not in REASONS:
        raise ValueError(f"dead-letter reason {value!r} is not one of {', '.join(REASONS)}")


@attrs.frozen
class AttachmentInfo:
    """What is kept of a file when a record leaves its bytes out.

    Attributes:
        filename: The file's name.
        size: Its size in bytes, or ``None`` when it could not be read.
        content_type: Its media type.
        description: Its alt text, if any.
        spoiler: Whether it was uploaded as a spoiler.
    """

    filename: str
    size: int | None
    content_type: str
    description: str | None = None
    spoiler: bool = False

    @classmethod
    def of(cls, part: FilePart) -> AttachmentInfo:
        """The metadata of ``part`` (a ``stat`` for a path; nothing is read)."""
        try:
            size: int | None = part.size()
        except OSError:
            size = None
        return cls(part.filename, size, part.content_type, part.description, part.spoiler)


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A message that was not delivered, and why.

    Attributes:
        reason: ``permanent`` (a 4xx Discord will always refuse), ``exhausted`` (retries
            used up), ``dead_webhook`` (401/404: the webhook is gone), ``ambiguous`` (a
            fault after which the message may have posted, with ``retry_ambiguous=False``),
            ``shutdown`` (still queued when the drain deadline passed) or ``invalid`` (it
            breaks Discord's limits).
        message: The whole message. In a record written with ``include_attachments=False``
            its ``attachments`` are empty and ``omitted_attachments`` describes them.
        status: The last HTTP status, or ``None`` when no answer came.
        attempts: Requests made for the failing part of the message.
        error: A short text of the last error; scrubbed of webhook tokens.
        body: Discord's last response body, scrubbed and cut to about 2 KiB.
        webhook_id: The webhook's id (never its token), or ``None``.
        time: When the message was dead-lettered (wall clock, UTC).
        delivered_requests: How many of the message's planned requests (in plan order)
            were delivered before it failed: a replay should skip that many, or Discord
            shows those parts twice. ``0`` when nothing was delivered.
        omitted_attachments: Metadata of files whose bytes the record leaves out.
        thread_id: The forum thread the message's first request created (a message with
            ``thread_name`` sent as several requests), where a replay sends the rest;
            ``None`` otherwise.
    """

    reason: Reason = attrs.field(validator=_check_reason)
    message: Message
    status: int | None = None
    attempts: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    error: str = attrs.field(default="", converter=_clean_error)
    body: str = attrs.field(default="", converter=_clean_body)
    webhook_id: str | None = None
    time: datetime = attrs.field(factory=_now)
    delivered_requests: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    omitted_attachments: tuple[AttachmentInfo, ...] = attrs.field(default=(), converter=_infos)
    thread_id: str | None = None

    def without_attachments(self) -> DeadLetter:
        """This record with file bytes replaced by their metadata (for a smaller record)."""
        if not self.message.attachments:
            return self
        infos = tuple(AttachmentInfo.of(part) for part in self.message.attachments)
        return attrs.evolve(
            self,
            message=attrs.evolve(self.message, attachments=()),
            omitted_attachments=self.omitted_attachments + infos,
        )

    def materialized(self) -> DeadLetter:
        """This record with every path-backed file read into bytes, so it stands alone.

        A file that cannot be read any more is moved to ``omitted_attachments`` (with
        ``size=None``) rather than failing the record: a dead letter must always be written.
        """
        if all(part.data is not None for part in self.message.attachments):
            return self
        kept: list[FilePart] = []
        lost: list[AttachmentInfo] = []
        for part in self.message.attachments:
            if part.data is not None:
                kept.append(part)
                continue
            try:
                kept.append(attrs.evolve(part, data=part.read(), path=None))
            except OSError:
                lost.append(AttachmentInfo.of(part))
        return attrs.evolve(
            self,
            message=attrs.evolve(self.message, attachments=kept),
            omitted_attachments=self.omitted_attachments + tuple(lost),
        )


def _make_converter() -> cattrs.Converter:
    # A converter for this record format only; Discord's wire JSON is _converter.to_json_dict.
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, lambda dt: dt.isoformat())
    conv.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))

    def unstructure_file(part: FilePart) -> dict[str, Any]:
        out: dict[str, Any] = {
            "filename": part.filename,
            "data": base64.b64encode(part.read()).decode("ascii"),
            "content_type": part.content_type,
        }
        if part.description is not None:
            out["description"] = part.description
        if part.spoiler:
            out["spoiler"] = True
        return out

    def structure_file(raw: Any, _: Any) -> FilePart:
        return FilePart(
            raw["filename"],
            data=base64.b64decode(raw["data"], validate=True),
            description=raw.get("description"),
            spoiler=bool(raw.get("spoiler", False)),
            content_type=raw["content_type"],
        )

    conv.register_unstructure_hook(FilePart, unstructure_file)
    conv.register_structure_hook(FilePart, structure_file)

    def omit_none(cls: type) -> Any:
        # Leaving out None keeps records short and loses nothing: each such field
        # defaults to None, so structuring restores it.
        overrides: dict[str, Any] = {
            a.name: override(omit_if_default=True) for a in attrs.fields(cls) if a.default is None
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)

    conv.register_unstructure_hook_factory(attrs.has, omit_none)
    conv.register_structure_hook_factory(
        attrs.has, lambda cls: make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True)
    )
    register_record_unions(conv)
    return conv


_converter: Final = _make_converter()


def encode_record(record: DeadLetter) -> str:
    """One JSON line (without its newline) for ``record``; path-backed files are read."""
    raw = _converter.unstructure(record.materialized())
    # ASCII-only: a lone surrogate in user text must not make a record unwritable.
    return json.dumps({"v": FORMAT_VERSION, **raw}, ensure_ascii=True, separators=(",", ":"))


def decode_record(line: str | bytes) -> DeadLetter:
    """The record on one JSON line.

    Raises:
        DeadLetterFormatError: The line is not JSON, or not a record of a known version.
    """
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise DeadLetterFormatError(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DeadLetterFormatError("not a JSON object")
    version = raw.pop("v", None)
    if version != FORMAT_VERSION:
        raise DeadLetterFormatError(f"unknown record version {version!r}")
    try:
        return _converter.structure(raw, DeadLetter)
    except Exception as exc:  # cattrs raises groups of whatever failed inside
        detail = "; ".join(cattrs.transform_error(exc))
        raise DeadLetterFormatError(f"not a dead-letter record: {detail}") from None


def encode_message(message: Message) -> str:
    """One JSON text for ``message`` in the record codec (file bytes base64; paths are read).

    This is how an outbox stores an accepted message: the same converter as a dead-letter
    record, so a stored message and a record's ``message`` decode the same way.

    Raises:
        OSError: A path-backed file cannot be read.
    """
    raw = _converter.unstructure(message, Message)
    return json.dumps({"v": FORMAT_VERSION, **raw}, ensure_ascii=True, separators=(",", ":"))


def decode_message(text: str | bytes) -> Message:
    """The message stored by :func:`encode_message`.

    Raises:
        DeadLetterFormatError: The text is not JSON, or not a message of a known version.
    """
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise DeadLetterFormatError(f"stored message is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DeadLetterFormatError("stored message is not a JSON object")
    version = raw.pop("v", None)
    if version != FORMAT_VERSION:
        raise DeadLetterFormatError(f"stored message has unknown version {version!r}")
    try:
        return _converter.structure(raw, Message)
    except Exception as exc:  # cattrs raises groups of whatever failed inside
        detail = "; ".join(cattrs.transform_error(exc))
        raise DeadLetterFormatError(f"not a stored message: {detail}") from None
