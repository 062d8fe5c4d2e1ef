"""Request bodies for Discord's webhook endpoints (pure: no I/O but reading file parts).

A planned request becomes either a JSON body or the parts of a multipart body: a
``payload_json`` part and one ``files[n]`` part per upload, with the payload's
``attachments`` array naming each part by its ``n``. The transport turns an
:class:`EncodedBody` into real HTTP; nothing here imports httpx.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from trio_webhook._attachments import ATTACHMENT_SCHEME, file_names, sanitize_filename
from trio_webhook._component_tree import effective_flags, map_media
from trio_webhook._components import Component
from trio_webhook._models import (
    Embed,
    EmbedAuthor,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
    PlannedRequest,
    request_fields,
)
from trio_webhook._models import to_json_dict as _to_json_dict
from trio_webhook.transport._values import MultipartFile

__all__ = ["EncodedBody", "dumps", "encode_edit", "encode_execute"]


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as every body and ``payload_json`` is sent."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@attrs.frozen
class EncodedBody:
    """The body of one request, ready for the transport.

    Exactly one of ``json`` (a JSON body) and ``payload_json`` (the JSON part of a
    multipart body, with ``files``) is set.

    Attributes:
        json: The encoded JSON body, or ``None`` for a multipart body.
        payload_json: The ``payload_json`` part of a multipart body, or ``None``.
        files: The ``files[n]`` parts, in the order of the ``attachments`` array.
    """

    json: bytes | None = attrs.field(default=None, repr=False)
    payload_json: bytes | None = attrs.field(default=None, repr=False)
    files: tuple[MultipartFile, ...] = ()

    @property
    def is_multipart(self) -> bool:
        """Whether the body is sent as ``multipart/form-data``."""
        return self.payload_json is not None


def _rewrite_url(url: str | None, renames: Mapping[str, str]) -> str | None:
    if url is None or not url.startswith(ATTACHMENT_SCHEME):
        return url
    name = url[len(ATTACHMENT_SCHEME) :]
    return ATTACHMENT_SCHEME + renames[name] if name in renames else url


def _rewrite_embed(embed: Embed, renames: Mapping[str, str]) -> Embed:
    # Discord resolves attachment:// against the name it stores, which is the
    # sanitised upload name; the user may have written the name as given.
    if not renames or not any(u.startswith(ATTACHMENT_SCHEME) for u in embed.media_urls()):
        return embed
    changes: dict[str, Any] = {}
    for attr in ("image", "thumbnail"):
        media: EmbedMedia | None = getattr(embed, attr)
        if media is not None:
            changes[attr] = EmbedMedia(_rewrite_url(media.url, renames) or media.url)
    if embed.author is not None:
        author: EmbedAuthor = embed.author
        changes["author"] = attrs.evolve(author, icon_url=_rewrite_url(author.icon_url, renames))
    if embed.footer is not None:
        footer: EmbedFooter = embed.footer
        changes["footer"] = attrs.evolve(footer, icon_url=_rewrite_url(footer.icon_url, renames))
    return attrs.evolve(embed, **changes)


def _rewrite_components(
    components: tuple[Component, ...], renames: Mapping[str, str]
) -> tuple[Component, ...]:
    # As for embeds: a component shows the upload by the name Discord stores.
    if not renames or not components:
        return components
    return map_media(components, lambda url: _rewrite_url(url, renames) or url)


def _renames(files: Sequence[FilePart]) -> dict[str, str]:
    renames: dict[str, str] = {}
    # Later files never override an earlier one's name: the first match wins, as in
    # the planner.
    for part in reversed(files):
        uploaded = sanitize_filename(part.upload_name)
        for name in file_names(part):
            renames[name] = uploaded
    return renames


def _attachments(
    files: Sequence[FilePart],
) -> tuple[list[dict[str, str]], tuple[MultipartFile, ...]]:
    meta: list[dict[str, str]] = []
    parts: list[MultipartFile] = []
    for n, part in enumerate(files):
        uploaded = sanitize_filename(part.upload_name)
        entry = {"id": str(n), "filename": uploaded}
        if part.description is not None:
            entry["description"] = part.description
        meta.append(entry)
        parts.append(MultipartFile(f"files[{n}]", uploaded, part.read(), part.content_type))
    return meta, tuple(parts)


def encode_execute(planned: PlannedRequest) -> EncodedBody:
    """Encode one planned request of *Execute Webhook*.

    Without files the body is JSON. With files it is multipart: ``payload_json``
    carries the JSON with an ``attachments`` array ``{"id": "n", "filename",
    "description"}``, and each file is the part ``files[n]`` with its sanitised upload
    name (``SPOILER_`` prefix included) and content type. ``attachment://`` references
    in the embeds are rewritten to the sanitised names. ``thread_id`` is a query
    parameter and is not part of the body.

    Args:
        planned: A request from :func:`~trio_webhook._planning.plan_requests`.

    Returns:
        The body; file parts hold the files' bytes (a path-backed file is read here).

    Raises:
        OSError: A path-backed file could not be read.
    """
    renames = _renames(planned.files)
    embeds = [_rewrite_embed(e, renames) for e in planned.embeds]
    fields = request_fields(planned)
    fields["components"] = _rewrite_components(planned.components, renames)
    # thread_id is a query parameter: the converter leaves it out of the body.
    message = Message(embeds=embeds, **fields)
    payload = _to_json_dict(message)
    if not planned.files:
        return EncodedBody(json=dumps(payload))
    meta, parts = _attachments(planned.files)
    payload["attachments"] = meta
    return EncodedBody(payload_json=dumps(payload), files=parts)


_EDIT_KEYS: Final = ("content", "embeds", "allowed_mentions", "components", "flags")


def encode_edit(message: Message, *, keep_attachment_ids: Sequence[str] | None) -> EncodedBody:
    """Encode *Edit Webhook Message* (``PATCH``) from the fields of ``message`` it may change.

    Only ``content``, ``embeds``, ``allowed_mentions``, ``components`` and ``flags``
    are sent (``IS_COMPONENTS_V2`` added for V2 components), and only when set (an
    unset field is left as it is on Discord: a message without embeds does not clear
    them). ``message.attachments`` are new files to add.

    With ``keep_attachment_ids`` a list, the ``attachments`` array names every existing
    attachment to keep (``{"id": <snowflake>}``; the others are removed) followed by
    the new files (``{"id": "n", "filename", "description"}``). With it ``None`` there
    is no ``attachments`` key at all: Discord keeps the existing attachments and
    appends the new files, but cannot be given their descriptions then.

    Args:
        message: The new content; username, thread and forum fields are ignored.
        keep_attachment_ids: Ids of existing attachments to keep, or ``None`` to leave
            them all untouched.

    Returns:
        A JSON body, or a multipart body when there are new files.

    Raises:
        OSError: A path-backed file could not be read.
    """
    renames = _renames(message.attachments)
    edited = attrs.evolve(
        message,
        embeds=[_rewrite_embed(e, renames) for e in message.embeds],
        components=_rewrite_components(message.components, renames),
        flags=effective_flags(message.flags, message.components),
    )
    full = _to_json_dict(edited)
    payload: dict[str, Any] = {k: full[k] for k in _EDIT_KEYS if k in full}
    meta, parts = _attachments(message.attachments)
    if keep_attachment_ids is not None:
        kept: list[dict[str, str]] = [{"id": str(i)} for i in keep_attachment_ids]
        payload["attachments"] = kept + meta
    if not parts:
        return EncodedBody(json=dumps(payload))
    return EncodedBody(payload_json=dumps(payload), files=parts)
