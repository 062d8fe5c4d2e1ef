"""The checks of the files a message or request uploads (pure; a size is a ``stat``)."""

from __future__ import annotations

from collections.abc import Sequence

from trio_webhook._attachments import sanitize_filename
from trio_webhook._checks import Collector
from trio_webhook._limit_values import ATTACHMENT_DESCRIPTION_MAX, ATTACHMENT_FILENAME_MAX
from trio_webhook._models import FilePart

__all__ = ["check_files"]


def _file_size(c: Collector, path: str, part: FilePart, max_upload_bytes: int) -> int:
    try:
        size = part.size()
    except OSError as exc:
        c.add(
            path,
            max_upload_bytes,
            -1,
            f"file {part.filename!r} cannot be read ({exc.strerror or exc}); "
            "check the path (actual -1: size unknown)",
        )
        return 0
    if size > max_upload_bytes:
        c.add(
            path,
            max_upload_bytes,
            size,
            f"file {part.filename!r} has {size} bytes, the upload limit is "
            f"{max_upload_bytes}; compress or split it, or raise max_upload_bytes if the "
            "server is boosted",
        )
    return size


def check_files(c: Collector, label: str, files: Sequence[FilePart], max_upload_bytes: int) -> int:
    """Check each file of ``files`` (paths ``label[i]``) alone.

    Returns:
        The bytes they upload in all (unreadable files count 0), for the request totals.
    """
    total = 0
    for i, part in enumerate(files):
        path = f"{label}[{i}]"
        total += _file_size(c, path, part, max_upload_bytes)
        if not part.filename.isascii():
            c.encodable(f"{path}.filename", "filename", part.filename)
        uploaded = sanitize_filename(part.upload_name)
        if len(uploaded) > ATTACHMENT_FILENAME_MAX:
            c.add(
                f"{path}.filename",
                ATTACHMENT_FILENAME_MAX,
                len(uploaded),
                f"filename has {len(uploaded)} characters, Discord allows "
                f"{ATTACHMENT_FILENAME_MAX}; shorten it",
            )
        c.max_len(
            f"{path}.description", "description", part.description, ATTACHMENT_DESCRIPTION_MAX
        )
        _check_content_type(c, f"{path}.content_type", part.content_type)
    return total


def _check_content_type(c: Collector, path: str, content_type: str) -> None:
    # It is written into the part's header as is: CR or LF would inject a header, and
    # a character outside ASCII makes the transport's encoding fail.
    if content_type and content_type.isascii() and content_type.isprintable():
        return
    c.add(
        path,
        0,
        0,
        f"content_type {content_type!r} is not a media type of printable ASCII (as "
        "'image/png'); correct it or leave it out to have it guessed",
    )
