"""The body of *Modify Webhook with Token*: a new name and avatar (pure but for reading a path).

Discord takes the avatar as image data, a data URI (``data:image/png;base64,...``)
whose media type must match the bytes; the type is sniffed from the bytes here, never
guessed from a file name. ``avatar=None`` removes the avatar (JSON ``null``); leaving it
:data:`~trio_webhook._edits.UNSET` leaves it as it is.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Final

from trio_webhook._checks import Collector
from trio_webhook._edits import UNSET, Unset
from trio_webhook._encoding import EncodedBody, dumps
from trio_webhook._errors import ValidationError
from trio_webhook._limit_values import (
    AVATAR_MAX_BYTES,
    WEBHOOK_NAME_MAX,
    WEBHOOK_NAME_MIN,
)
from trio_webhook._name_checks import check_name

__all__ = ["AvatarSource", "avatar_data_uri", "encode_webhook_update", "sniff_image_type"]

AvatarSource = bytes | str | os.PathLike[str]
"""An avatar: its bytes, or the path of an image file."""

# The magic numbers of the three formats "Image Data" allows.
_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image_type(data: bytes) -> str | None:
    """The media type of a PNG, JPEG or GIF image from its first bytes, else ``None``."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    return None


def avatar_data_uri(data: bytes) -> str:
    """Discord's image data for ``data``: ``data:<type>;base64,<data>``.

    Raises:
        ValidationError: The bytes are not a PNG, JPEG or GIF image.
    """
    content_type = sniff_image_type(data)
    if content_type is None:
        c = Collector()
        _not_an_image(c, data)
        raise ValidationError(c.violations)
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def _not_an_image(c: Collector, data: bytes) -> None:
    c.add(
        "avatar",
        0,
        len(data),
        f"avatar starts with {data[:8]!r}, which is not a PNG, JPEG or GIF image (the "
        "formats Discord takes as image data); convert it",
    )


def _read_avatar(avatar: AvatarSource) -> bytes:
    if isinstance(avatar, bytes):
        return avatar
    return Path(avatar).read_bytes()


def encode_webhook_update(
    *,
    name: str | Unset = UNSET,
    avatar: AvatarSource | Unset | None = UNSET,
    max_avatar_bytes: int = AVATAR_MAX_BYTES,
) -> EncodedBody:
    """The JSON body of *Modify Webhook with Token* (``{"name"?, "avatar"?}``).

    Args:
        name: The webhook's new default name (1-80 characters, without "discord" or
            "clyde"); unset leaves it.
        avatar: The new default avatar, as bytes or a path; ``None`` removes it; unset
            leaves it.
        max_avatar_bytes: The most bytes the avatar image may have.

    Returns:
        A JSON body.

    Raises:
        ValidationError: Every violation: the name, the avatar's format or size.
        OSError: The avatar's path could not be read.
    """
    c = Collector()
    payload: dict[str, Any] = {}
    if not isinstance(name, Unset):
        check_name(
            c,
            "name",
            name,
            minimum=WEBHOOK_NAME_MIN,
            maximum=WEBHOOK_NAME_MAX,
            if_empty="give the webhook a name",
        )
        payload["name"] = name
    if avatar is None:
        payload["avatar"] = None
    elif not isinstance(avatar, Unset):
        data = _read_avatar(avatar)
        if len(data) > max_avatar_bytes:
            c.add(
                "avatar",
                max_avatar_bytes,
                len(data),
                f"avatar has {len(data)} bytes, the limit is {max_avatar_bytes}; "
                "use a smaller image",
            )
        if sniff_image_type(data) is None:
            _not_an_image(c, data)
        else:
            payload["avatar"] = avatar_data_uri(data)
    if c.violations:
        raise ValidationError(c.violations)
    return EncodedBody(json=dumps(payload))
