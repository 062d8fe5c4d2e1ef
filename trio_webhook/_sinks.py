"""Dead-letter sinks and the JSONL file reader: the I/O shell around :mod:`._records`.

One record is one JSON line (:func:`~trio_webhook._records.encode_record`); :func:`read`
reads a file back, :class:`JsonlSink` appends to one, and :func:`make_sink` turns a
``SenderConfig(dead_letter=...)`` target into a sink.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

import attrs
import trio

from trio_webhook._errors import DeadLetterFormatError
from trio_webhook._records import DeadLetter, decode_record, encode_record

__all__ = [
    "CallbackSink",
    "ChannelSink",
    "DeadLetterSink",
    "DeadLetterTarget",
    "JsonlSink",
    "MemorySink",
    "make_sink",
    "read",
]

logger = logging.getLogger("trio_webhook.deadletter")


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
