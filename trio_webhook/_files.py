"""A file to upload with a message (attrs, frozen); :mod:`trio_webhook._models` exports it."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from trio_webhook._validators import (
    guess_content_type,
    opt_bytes,
    opt_path,
    v_bool,
    v_filename,
    v_opt_bytes,
    v_opt_path,
    v_opt_str,
    v_str,
)

__all__ = ["FilePart"]


@attrs.frozen
class FilePart:
    """A file to upload with a message.

    Give the bytes (``data``) or a path read lazily when the request is encoded
    (``FilePart.from_path``). ``content_type`` is guessed from the filename when not given.
    ``spoiler=True`` uploads it as ``SPOILER_<filename>``, which Discord blurs.

    Example::

        FilePart("report.csv", data=b"a,b", description="nightly report")
        FilePart.from_path("build.log")
    """

    filename: str = attrs.field(validator=v_filename)
    data: bytes | None = attrs.field(
        default=None, repr=False, converter=opt_bytes, validator=v_opt_bytes
    )
    path: Path | None = attrs.field(default=None, converter=opt_path, validator=v_opt_path)
    description: str | None = attrs.field(default=None, validator=v_opt_str)
    spoiler: bool = attrs.field(default=False, validator=v_bool)
    content_type: str = attrs.field(validator=v_str)

    @content_type.default
    def _content_type_default(self) -> str:
        return guess_content_type(self.filename)

    def __attrs_post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError(f"FilePart {self.filename!r}: give exactly one of data= or path=")

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        filename: str | None = None,
        description: str | None = None,
        spoiler: bool = False,
        content_type: str | None = None,
    ) -> FilePart:
        """A file read from ``path`` when it is sent; ``filename`` defaults to its name."""
        p = Path(path)
        name = filename if filename is not None else p.name
        if content_type is None:
            return cls(name, path=p, description=description, spoiler=spoiler)
        return cls(
            name, path=p, description=description, spoiler=spoiler, content_type=content_type
        )

    @property
    def upload_name(self) -> str:
        """The filename as uploaded: with the ``SPOILER_`` prefix when a spoiler."""
        if self.spoiler and not self.filename.startswith("SPOILER_"):
            return "SPOILER_" + self.filename
        return self.filename

    def size(self) -> int:
        """The size in bytes (a ``stat`` for a path; nothing is read)."""
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size

    def read(self) -> bytes:
        """The file's bytes (read from disk for a path)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()
