"""What an attachment request may change on a stored file, and what a webhook's may.

Discord's rules, written for the fake: an edit's ``attachments`` array lists the files
after the edit in order (kept ones by id, with a new ``description``, ``title`` or
``is_spoiler``; new ones by their ``files[n]`` part); the spoiler state is the
``IS_SPOILER`` attachment flag (or the legacy ``SPOILER_`` name prefix). A webhook's
new name and avatar (image data) are checked as Discord checks them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from trio_webhook.testing._fake._http import ErrorTree, Upload
from trio_webhook.testing._fake._validation import FILE_FIELD

__all__ = ["image_data", "kept_attachments", "set_metadata", "webhook_changes"]

_IS_SPOILER: Final = 1 << 3  # the attachment flag
_MAX_WEBHOOK_NAME: Final = 80
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


def webhook_changes(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields *Modify Webhook with Token* changes: ``name``, ``avatar`` (its hash).

    Raises:
        Rejected: 400, code 50035, for a bad name or image data, as Discord answers.
    """
    tree = ErrorTree()
    changes: dict[str, Any] = {}
    if "name" in payload:
        name = payload["name"]
        if not isinstance(name, str) or not 1 <= len(name) <= _MAX_WEBHOOK_NAME:
            tree.add(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
        elif any(word in name.lower() for word in ("discord", "clyde")):
            tree.add(("name",), "WEBHOOK_INVALID_NAME", "Invalid webhook name.")
        else:
            changes["name"] = name
    if "avatar" in payload:
        avatar = payload["avatar"]
        image = None if avatar is None else image_data(avatar)
        if avatar is not None and image is None:
            tree.add(("avatar",), "IMAGE_INVALID", "Invalid image data")
        changes["avatar"] = None if image is None else hashlib.md5(image).hexdigest()
    tree.raise_if_any()
    return changes
