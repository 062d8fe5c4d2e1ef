"""The checks of an edit's attachment list: what is kept, and how many files remain."""

from __future__ import annotations

from trio_webhook._checks import SNOWFLAKE, Collector
from trio_webhook._edits import UNSET, KeepAttachment, MessageEdit
from trio_webhook._file_checks import check_files
from trio_webhook._limit_values import (
    ATTACHMENT_DESCRIPTION_MAX,
    ATTACHMENT_TITLE_MAX,
    FILES_PER_REQUEST,
)

__all__ = ["check_edit_files"]


def check_edit_files(c: Collector, edit: MessageEdit, max_upload_bytes: int) -> int:
    """Check the files of ``edit``: each new one, and what only an edit has.

    That is the ids of the kept attachments, their new metadata (paths
    ``attachments[i]``), and the count after the edit (Discord refuses more than 10
    files on a message, code 30015).

    Returns:
        The bytes the new files upload in all, for the request's totals.
    """
    upload = check_files(c, "attachments", edit.new_files, max_upload_bytes)
    if edit.attachments is UNSET:
        return upload
    kept = [(i, a) for i, a in enumerate(edit.attachments) if isinstance(a, KeepAttachment)]
    for i, keep in kept:
        path = f"attachments[{i}]"
        if not SNOWFLAKE.fullmatch(keep.id):
            c.add(
                f"{path}.id",
                0,
                0,
                f"{keep.id!r} is not a snowflake; give the id of an attachment of the message "
                "(ReceivedAttachment.id)",
            )
        c.max_len(
            f"{path}.description", "description", keep.description, ATTACHMENT_DESCRIPTION_MAX
        )
        c.max_len(f"{path}.title", "title", keep.title, ATTACHMENT_TITLE_MAX)
    c.unique("attachments", [keep.id for _, keep in kept])
    total = len(edit.attachments) + len(edit.add_files)
    # Too many new files alone is the request's violation, already listed.
    if total > FILES_PER_REQUEST and len(edit.new_files) <= FILES_PER_REQUEST:
        c.add(
            "attachments",
            FILES_PER_REQUEST,
            total,
            f"the edit leaves {total} files on the message, Discord allows "
            f"{FILES_PER_REQUEST} (30015); keep or add fewer",
        )
    return upload
