"""What an attachment request may change on a stored file, and the image data of avatars.

Discord's rules, written for the fake: an edit's ``attachments`` array lists the files
after the edit in order (kept ones by id, with a new ``description``, ``title`` or
``is_spoiler``; new ones by their ``files[n]`` part); the spoiler state is the
``IS_SPOILER`` attachment flag (or the legacy ``SPOILER_`` name prefix).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Final

from trio_webhook.testing._fake._http import Upload
from trio_webhook.testing._fake._validation import FILE_FIELD

__all__ = ["image_data", "kept_attachments", "set_metadata"]

_IS_SPOILER: Final = 1 << 3  # the attachment flag
_IMAGE_DATA: Final = re.compile(r"data:image/(?:png|jpeg|gif);base64,(?P<data>[A-Za-z0-9+/=]*)")


def image_data(value: Any) -> bytes | None:
    """The image of a data URI Discord accepts (JPEG, PNG or GIF), else ``None``."""
    match = _IMAGE_DATA.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return base64.b64decode(match["data"], validate=True)
    except ValueError:
        return None


def kept_attachments(
    existing: list[dict[str, Any]], listed: list[Any], uploads: list[Upload]
) -> list[dict[str, Any] | None]:
    """The attachments after an edit, in listed order: kept ones updated, ``None`` for new.

    Files the list does not name are appended, as Discord appends them.
    """
    by_id = {a["id"]: a for a in existing}
    parts = [m[1] for u in uploads if (m := FILE_FIELD.match(u.field))]
    final: list[dict[str, Any] | None] = []
    named: set[str] = set()
    for item in listed:
        if not isinstance(item, dict):
            continue
        attachment_id = str(item.get("id"))
        if attachment_id in by_id:
            kept = dict(by_id[attachment_id])
            set_metadata(kept, item, spoiler=bool(kept.get("flags", 0) & _IS_SPOILER))
            final.append(kept)
        elif attachment_id in parts:
            named.add(attachment_id)
            final.append(None)
    final.extend(None for n in parts if n not in named)
    return final


def set_metadata(attachment: dict[str, Any], info: Mapping[str, Any], *, spoiler: bool) -> None:
    """Set what an attachment request may say: description, title and the spoiler flag."""
    for key in ("description", "title"):
        if info.get(key) is not None:
            attachment[key] = info[key]
    is_spoiler = info.get("is_spoiler")
    flags = int(attachment.get("flags", 0))
    if is_spoiler is True or (is_spoiler is None and spoiler):
        flags |= _IS_SPOILER
    elif is_spoiler is False:
        flags &= ~_IS_SPOILER
    if flags:
        attachment["flags"] = flags
    else:
        attachment.pop("flags", None)
