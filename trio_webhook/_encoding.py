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
from trio_webhook._converter import converter as _converter
from trio_webhook._converter import to_json_dict as _to_json_dict
from trio_webhook._edits import UNSET, KeepAttachment, MessageEdit
from trio_webhook._models import (
    AllowedMentions,
    Embed,
    EmbedAuthor,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
    PlannedRequest,
    request_fields,
)
from trio_webhook.transport._values import MultipartFile

__all__ = ["EncodedBody", "dumps", "encode_edit", "encode_execute", "plain_payload"]


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
# json's C encoder, built once: JSONEncoder.encode builds a new one (and a float
# formatter) on every call, which cost 40 % of encoding a small message. No circular
# check: a body is built from frozen models, which cannot hold themselves.
_C_ENCODER: Final[Any] = getattr(json.encoder, "c_make_encoder", None)
_ENCODE_CHUNKS: Final[Any] = (
    None
    if _C_ENCODER is None
    else _C_ENCODER(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as every body and ``payload_json`` is sent."""
    if _ENCODE_CHUNKS is None:  # an interpreter without json's C speedups
        return _ENCODER.encode(obj).encode()
    return "".join(_ENCODE_CHUNKS(obj, 0)).encode()


# No slots: one a request, read once (see PlannedRequest).
@attrs.frozen(slots=False)
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
    if not (planned.files or planned.components or planned.poll):
        return EncodedBody(json=dumps(plain_payload(planned)))
    payload = _message_payload(planned, _renames(planned.files))
    if not planned.files:
        return EncodedBody(json=dumps(payload))
    meta, parts = _attachments(planned.files)
    payload["attachments"] = meta
    return EncodedBody(payload_json=dumps(payload), files=parts)


def _message_payload(planned: PlannedRequest, renames: Mapping[str, str]) -> dict[str, Any]:
    """The JSON of any request, through a ``Message`` and the converter."""
    embeds = [_rewrite_embed(e, renames) for e in planned.embeds]
    fields = request_fields(planned)
    fields["components"] = _rewrite_components(planned.components, renames)
    # thread_id is a query parameter: the converter leaves it out of the body.
    return _to_json_dict(Message(embeds=embeds, **fields))


_unstructure: Final = _converter.unstructure
_embed_json: Final = _converter.get_unstructure_hook(Embed)
# The fields before the embeds, sent as they are (in the Message field order).
_PLAIN_LEAD: Final = ("content", "username", "avatar_url", "tts")


def plain_payload(planned: PlannedRequest) -> dict[str, Any]:
    """The JSON of a request without files, components or poll, built field by field.

    Most messages are content and embeds only: for them, building a ``Message`` (every
    converter and validator again) to unstructure it and sort its keys cost about two
    thirds of encoding. This writes the same keys in the same order (the ``Message``
    field order, ``None`` left out, no ``thread_id``), each embed and the allowed
    mentions still through the converter; a test holds it equal to the general path.
    """
    payload: dict[str, Any] = {}
    for key in _PLAIN_LEAD:
        value = getattr(planned, key)
        if value is not None:
            payload[key] = value
    if planned.embeds:
        payload["embeds"] = [_embed_json(e) for e in planned.embeds]
    if planned.allowed_mentions is not None:
        payload["allowed_mentions"] = _unstructure(planned.allowed_mentions, AllowedMentions)
    if planned.flags is not None:
        payload["flags"] = int(planned.flags)
    if planned.thread_name is not None:
        payload["thread_name"] = planned.thread_name
    if planned.applied_tags is not None:
        payload["applied_tags"] = list(planned.applied_tags)
    return payload


_EDIT_KEYS: Final = ("content", "embeds", "allowed_mentions", "components", "flags")


def _edit_fields(edit: MessageEdit, renames: Mapping[str, str]) -> dict[str, Any]:
    """The JSON of the fields an edit sets, in the order Discord documents them."""
    components = () if edit.components is UNSET else edit.components
    flags = effective_flags(edit.flags if isinstance(edit.flags, int) else None, components)
    # Through a Message, so that a field reads as it does in an execute body.
    message = Message(
        content=edit.content if isinstance(edit.content, str) else None,
        embeds=[] if edit.embeds is UNSET else [_rewrite_embed(e, renames) for e in edit.embeds],
        allowed_mentions=edit.allowed_mentions
        if isinstance(edit.allowed_mentions, AllowedMentions)
        else None,
        components=_rewrite_components(components, renames),
        flags=flags,
    )
    full = _to_json_dict(message)
    # V2 components need their flag even when the edit leaves the other flags as they are.
    sets_flags = edit.flags is not UNSET or flags is not None
    payload: dict[str, Any] = {}
    for key in _EDIT_KEYS:
        if getattr(edit, key) is UNSET and not (key == "flags" and sets_flags):
            continue
        # None (and embeds=[] or components=[]) is sent: it is how an edit removes a field.
        payload[key] = full.get(key, [] if key in ("embeds", "components") else None)
    return payload


def encode_edit(
    edit: MessageEdit | Message, *, keep_attachment_ids: Sequence[str] | None = None
) -> EncodedBody:
    """Encode *Edit Webhook Message* (``PATCH``): only the fields the edit sets.

    A :class:`~trio_webhook.messages.MessageEdit` field left ``UNSET`` is not sent and
    stays as it is on Discord; ``None`` is sent as ``null`` and ``embeds=[]`` or
    ``components=[]`` as ``[]``, which remove them. A :class:`~trio_webhook.Message` is
    read by :meth:`MessageEdit.from_message` (with ``keep_attachment_ids``): what it leaves
    empty is left as it is. V2 components add ``IS_COMPONENTS_V2`` to the flags, and the
    ``attachment://`` names in embeds and components become the names Discord stores.

    With ``attachments`` set, the ``attachments`` array lists the files after the edit
    in order: a kept one as ``{"id": <snowflake>, "description"?, "is_spoiler"?,
    "title"?}`` (the others are removed), a new one as ``{"id": "n", "filename",
    "description"}`` with its part ``files[n]``. Left unset, there is no ``attachments``
    key: Discord keeps the existing files and appends ``add_files``.

    Args:
        edit: The changes.
        keep_attachment_ids: With a ``Message`` only: ids of existing attachments to keep
            (the others are removed), or ``None`` to leave them all.

    Returns:
        A JSON body, or a multipart body when there are new files.

    Raises:
        OSError: A path-backed file could not be read.
        TypeError: ``keep_attachment_ids`` given with a ``MessageEdit``.
    """
    if isinstance(edit, Message):
        edit = MessageEdit.from_message(edit, keep_attachments=keep_attachment_ids)
    elif keep_attachment_ids is not None:
        raise TypeError(
            "keep_attachment_ids goes with a Message; list KeepAttachment in "
            "MessageEdit.attachments instead"
        )
    files = edit.new_files
    payload = _edit_fields(edit, _renames(files))
    meta, parts = _attachments(files)
    if edit.attachments is not UNSET:
        new = iter(meta)
        listed = [
            a.to_json() if isinstance(a, KeepAttachment) else next(new) for a in edit.attachments
        ]
        # add_files come after the listed files: appended, as their name says.
        payload["attachments"] = listed + list(new)
    if not parts:
        return EncodedBody(json=dumps(payload))
    return EncodedBody(payload_json=dumps(payload), files=parts)
