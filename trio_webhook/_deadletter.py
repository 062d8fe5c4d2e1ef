"""Dead letters: the record of a message that was not delivered, its JSONL codec, and sinks.

A :class:`DeadLetter` carries the whole :class:`~trio_webhook.Message` (file bytes
included, base64 in JSON, so a replay is lossless) or, when a sink is told
``include_attachments=False``, the files' metadata only. One record is one JSON object on
one line; :func:`read` reads a file back.

Nothing in a record holds a webhook token: ``webhook_id`` is the id alone, and ``error``
and ``body`` are scrubbed of anything shaped like ``/webhooks/<id>/<token>``.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TypeAlias, runtime_checkable

import attrs
import cattrs
import trio
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from trio_webhook._errors import DeadLetterFormatError
from trio_webhook._models import FilePart, Message
from trio_webhook._url import redact

__all__ = [
    "REASONS",
    "AttachmentInfo",
    "CallbackSink",
    "ChannelSink",
    "DeadLetter",
    "DeadLetterFormatError",
    "DeadLetterSink",
    "DeadLetterTarget",
    "JsonlSink",
    "MemorySink",
    "Reason",
    "decode_record",
    "encode_record",
    "make_sink",
    "read",
]

logger = logging.getLogger("trio_webhook.deadletter")

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
    # A converter for this record format only; Discord's wire JSON is _models.to_json_dict.
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


def read(path: str | os.PathLike[str], *, strict: bool = True) -> Iterator[DeadLetter]:
    """The records of a JSONL dead-letter file, in the order they were written.

    A last line that is not valid JSON is taken for a write cut short (a crash while
    appending) and skipped with a warning.

    Args:
        path: The file.
        strict: When ``True`` (the default) a bad line anywhere else raises; when
            ``False`` it is skipped with a logged warning naming it.

    Yields:
        Each record.

    Raises:
        DeadLetterFormatError: A line before the last is not a record (the message
            names the file and line number).
        OSError: The file cannot be read.
    """
    p = Path(path)
    with p.open("rb") as f:
        lines = enumerate(f, start=1)
        pending = next(lines, None)
        while pending is not None:
            lineno, line = pending
            pending = next(lines, None)
            if not line.strip():
                continue
            try:
                yield decode_record(line)
            except DeadLetterFormatError as exc:
                is_last = pending is None
                if is_last and not _is_json(line):
                    logger.warning(
                        "skipping a truncated last dead-letter record at %s:%d", p, lineno
                    )
                    return
                if strict:
                    raise DeadLetterFormatError(
                        f"{p}:{lineno}: {exc} (pass strict=False to skip bad lines)"
                    ) from None
                logger.warning("skipping a bad dead-letter line at %s:%d: %s", p, lineno, exc)


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


@runtime_checkable
class DeadLetterSink(Protocol):
    """Where dead letters go: anything with ``async put(record)``.

    ``put`` should be quick; the sender awaits it before it moves on.
    """

    async def put(self, record: DeadLetter) -> None:
        """Store ``record``."""


DeadLetterTarget: TypeAlias = (
    "str | os.PathLike[str] | DeadLetterSink | Callable[[DeadLetter], Any] | None"
)
"""What ``SenderConfig(dead_letter=...)`` takes: a JSONL path, a sink, a callable, or None."""


def _prepare(record: DeadLetter, include_attachments: bool) -> DeadLetter:
    return record if include_attachments else record.without_attachments()


@attrs.define
class JsonlSink:
    """Appends each record as one JSON line to a file, flushed per record.

    The file is opened in append mode for each record, so it may be rotated or read by
    another process at any time. If the file ends in a partial line (a crash while
    appending), that line is ended first so the new record stays readable.

    Writes are synchronous: a record is one small ``write`` to the page cache (a few
    KiB, more only with large files), far cheaper than a thread hop. A thread
    (``trio.to_thread``) would also let the autojump ``MockClock`` skip virtual time
    while the write runs, so drain deadlines in tests would fire early. There is no
    ``fsync``: a record survives the process crashing, not the machine.

    Args:
        path: The JSONL file (created if missing).
        include_attachments: Keep file bytes (base64); ``False`` keeps metadata only.
    """

    path: Path = attrs.field(converter=Path)
    include_attachments: bool = attrs.field(default=True, kw_only=True)

    async def put(self, record: DeadLetter) -> None:
        """Append ``record`` to the file and flush it."""
        await trio.lowlevel.checkpoint()
        data = (encode_record(_prepare(record, self.include_attachments)) + "\n").encode()
        with self.path.open("a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    logger.warning("ending a partial last line in %s before appending", self.path)
                    data = b"\n" + data
            f.write(data)
            f.flush()


@attrs.define
class MemorySink:
    """Keeps records in a list (for tests).

    Attributes:
        records: Every record put, in order.
    """

    include_attachments: bool = attrs.field(default=True, kw_only=True)
    records: list[DeadLetter] = attrs.field(factory=list, kw_only=True)

    async def put(self, record: DeadLetter) -> None:
        """Append ``record`` to :attr:`records`."""
        await trio.lowlevel.checkpoint()
        self.records.append(_prepare(record, self.include_attachments))


@attrs.define
class ChannelSink:
    """Sends each record into a trio memory channel.

    ``put`` waits while the channel is full, which holds up the sender: give the channel
    a buffer, or keep a task reading it.
    """

    send_channel: trio.MemorySendChannel[DeadLetter]
    include_attachments: bool = attrs.field(default=True, kw_only=True)

    async def put(self, record: DeadLetter) -> None:
        """Send ``record`` into the channel."""
        await self.send_channel.send(_prepare(record, self.include_attachments))


@attrs.define
class CallbackSink:
    """Calls a function with each record; the function may be sync or async."""

    fn: Callable[[DeadLetter], Awaitable[object] | object]
    include_attachments: bool = attrs.field(default=True, kw_only=True)

    async def put(self, record: DeadLetter) -> None:
        """Call the function with ``record`` (awaiting it if it returns an awaitable)."""
        result = self.fn(_prepare(record, self.include_attachments))
        if inspect.isawaitable(result):
            await result
        else:
            await trio.lowlevel.checkpoint()


@attrs.define
class _MetadataOnly:
    inner: DeadLetterSink

    async def put(self, record: DeadLetter) -> None:
        await self.inner.put(record.without_attachments())


def make_sink(
    target: str | os.PathLike[str] | DeadLetterSink | Callable[[DeadLetter], Any] | None,
    *,
    include_attachments: bool = True,
) -> DeadLetterSink | None:
    """The sink for a ``SenderConfig.dead_letter`` target.

    Args:
        target: A path (a :class:`JsonlSink`), an object with ``async put`` (used as
            is), a callable (a :class:`CallbackSink`), or ``None`` (no sink).
        include_attachments: ``False`` keeps only file metadata in every record.

    Returns:
        The sink, or ``None`` for ``None``.

    Raises:
        TypeError: ``target`` is none of these.
        ValueError: ``target`` is an empty path.
    """
    if target is None:
        return None
    if isinstance(target, str | os.PathLike):
        if not os.fspath(target).strip():
            raise ValueError("dead_letter path is empty")
        return JsonlSink(target, include_attachments=include_attachments)
    if isinstance(target, DeadLetterSink):
        return target if include_attachments else _MetadataOnly(target)
    if callable(target):
        return CallbackSink(target, include_attachments=include_attachments)
    raise TypeError(
        f"dead_letter must be a path, an object with async put(record), a callable or None; "
        f"got {type(target).__name__}"
    )
