"""What the fake checks in a payload, and Discord's 400 answer with its ``errors`` tree.

The limits are the fake's own table, written from Discord's documentation and observed
behaviour; the fake is the project's oracle, so it never imports the library's limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from trio_webhook.testing._fake._components import (
    IS_COMPONENTS_V2,
    validate_components,
    validate_poll,
)
from trio_webhook.testing._fake._http import (
    EMPTY_MESSAGE,
    TOO_LARGE,
    ErrorTree,
    Rejected,
    Upload,
    error,
)

__all__ = [
    "FILE_FIELD",
    "MAX_FILES",
    "AttachmentMeta",
    "check_webhook_id",
    "too_many_files",
    "validate_edit",
    "validate_execute",
]

_MAX_CONTENT: Final = 2000
_MAX_EMBEDS: Final = 10
_MAX_EMBED_TOTAL: Final = 6000
_MAX_TITLE: Final = 256
_MAX_DESCRIPTION: Final = 4096
_MAX_FIELDS: Final = 25
_MAX_FIELD_NAME: Final = 256
_MAX_FIELD_VALUE: Final = 1024
_MAX_FOOTER: Final = 2048
_MAX_AUTHOR: Final = 256
MAX_FILES: Final = 10
_MAX_USERNAME: Final = 80
_MAX_THREAD_NAME: Final = 100
_MAX_APPLIED_TAGS: Final = 5
_MAX_MENTION_IDS: Final = 100
_ALLOWED_FLAGS: Final = 4 | 4096 | IS_COMPONENTS_V2  # SUPPRESS_EMBEDS, _NOTIFICATIONS
_FORBIDDEN_NAME_PARTS: Final = ("discord", "clyde")

FILE_FIELD: Final = re.compile(r"^files\[(\d+)\]$")
_BAD_FLAGS: Final = (
    "Only SUPPRESS_EMBEDS (4), SUPPRESS_NOTIFICATIONS (4096) and IS_COMPONENTS_V2 (32768) "
    "may be set."
)

AttachmentMeta = dict[str, Mapping[str, Any]]
"""The ``attachments`` metadata of a payload, by attachment id."""


def validate_execute(
    payload: Mapping[str, Any],
    uploads: list[Upload],
    max_upload_bytes: int,
    *,
    application_owned: bool = False,
) -> AttachmentMeta:
    """Check an execute payload and its files; return its attachments metadata by id.

    ``payload`` is as Discord reads it (see ``accepted_components``); interactive
    components pass only on a webhook an application owns.

    Raises:
        Rejected: With the first answer Discord gives (the ``errors`` tree, then files).
    """
    tree = ErrorTree()
    _validate_content_and_embeds(payload, tree)
    _validate_execute_only(payload, tree)
    _validate_components_and_poll(payload, uploads, tree, application_owned=application_owned)
    meta = _check_attachments(payload, uploads, set(), tree)
    tree.raise_if_any()
    _check_files(uploads, max_upload_bytes)
    if not _has_body(payload, uploads):
        raise Rejected(EMPTY_MESSAGE)
    return meta


def validate_edit(
    payload: Mapping[str, Any],
    uploads: list[Upload],
    existing: set[str],
    max_upload_bytes: int,
    *,
    application_owned: bool = False,
) -> AttachmentMeta:
    """Check an edit payload against the message's ``existing`` attachment ids.

    Returns:
        The payload's attachments metadata by id.

    Raises:
        Rejected: With the first answer Discord gives (the ``errors`` tree, then files).
    """
    tree = ErrorTree()
    _validate_content_and_embeds(payload, tree)
    _validate_components_and_poll(payload, uploads, tree, application_owned=application_owned)
    meta = _check_attachments(payload, uploads, existing, tree)
    tree.raise_if_any()
    _check_files(uploads, max_upload_bytes)
    return meta


def _validate_components_and_poll(
    payload: Mapping[str, Any], uploads: list[Upload], tree: ErrorTree, *, application_owned: bool
) -> None:
    meta = payload.get("attachments")
    names = {u.filename for u in uploads}
    if isinstance(meta, list):
        names |= {str(m["filename"]) for m in meta if isinstance(m, dict) and "filename" in m}
    validate_components(payload, tree, names, application_owned=application_owned)
    flags = payload.get("flags")
    v2 = isinstance(flags, int) and flags & IS_COMPONENTS_V2
    if payload.get("poll") is not None and not v2:
        validate_poll(payload["poll"], tree)


def check_webhook_id(webhook_id: str) -> None:
    """Reject a webhook id in the path that is not a snowflake, as Discord does."""
    if not webhook_id.isdigit():
        tree = ErrorTree()
        tree.add(("webhook_id",), "NUMBER_TYPE_COERCE", f'Value "{webhook_id}" is not snowflake.')
        tree.raise_if_any()


def too_many_files() -> Rejected:
    """The refusal of a message with more than ten attachments."""
    message = f"Maximum number of attachments in a message reached ({MAX_FILES})"
    return Rejected(error(400, 30015, message))


def _check_files(uploads: list[Upload], max_upload_bytes: int) -> None:
    if len(uploads) > MAX_FILES:
        raise too_many_files()
    for upload in uploads:
        if len(upload.data) > max_upload_bytes:
            raise Rejected(TOO_LARGE)


def _is_snowflake(value: object) -> bool:
    return isinstance(value, str | int) and str(value).isdigit()


def _bad_length(limit: int) -> str:
    return f"Must be between 1 and {limit} in length."


def _stripped_len(value: Any) -> int:
    return len(value.strip()) if isinstance(value, str) else 0


def _check_str(tree: ErrorTree, path: tuple[str | int, ...], value: Any, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        tree.add(path, "BASE_TYPE_STRING", "Must be a string.")
    elif len(value) > limit:
        tree.max_length(path, limit)


def _validate_content_and_embeds(payload: Mapping[str, Any], tree: ErrorTree) -> None:
    _check_str(tree, ("content",), payload.get("content"), _MAX_CONTENT)
    embeds = payload.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            tree.add(("embeds",), "BASE_TYPE_ARRAY", "Must be an array.")
        elif len(embeds) > _MAX_EMBEDS:
            tree.max_length(("embeds",), _MAX_EMBEDS)
        else:
            total = 0
            for i, embed in enumerate(embeds):
                if not isinstance(embed, dict):
                    tree.add(("embeds", i), "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
                    continue
                total += _validate_embed(embed, ("embeds", i), tree)
            if total > _MAX_EMBED_TOTAL:
                tree.add(
                    ("embeds",),
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {_MAX_EMBED_TOTAL}",
                )
    flags = payload.get("flags")
    if flags is not None and (not isinstance(flags, int) or flags & ~_ALLOWED_FLAGS):
        tree.add(("flags",), "MESSAGE_FLAGS_INVALID", _BAD_FLAGS)
    mentions = payload.get("allowed_mentions")
    if isinstance(mentions, dict):
        parse = mentions.get("parse") or []
        for kind in ("users", "roles"):
            ids = mentions.get(kind)
            if ids is None:
                continue
            if not isinstance(ids, list) or len(ids) > _MAX_MENTION_IDS:
                tree.max_length(("allowed_mentions", kind), _MAX_MENTION_IDS)
            elif kind in parse:
                tree.add(
                    ("allowed_mentions",),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )


def _validate_embed(embed: Mapping[str, Any], path: tuple[str | int, ...], tree: ErrorTree) -> int:
    """Check one embed's parts and return its characters counted toward the 6000 total."""
    _check_str(tree, (*path, "title"), embed.get("title"), _MAX_TITLE)
    _check_str(tree, (*path, "description"), embed.get("description"), _MAX_DESCRIPTION)
    total = _stripped_len(embed.get("title")) + _stripped_len(embed.get("description"))
    fields = embed.get("fields") or []
    if not isinstance(fields, list):
        tree.add((*path, "fields"), "BASE_TYPE_ARRAY", "Must be an array.")
        fields = []
    elif len(fields) > _MAX_FIELDS:
        tree.max_length((*path, "fields"), _MAX_FIELDS)
    for j, item in enumerate(fields):
        if not isinstance(item, dict):
            tree.add((*path, "fields", j), "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
            continue
        for key, limit in (("name", _MAX_FIELD_NAME), ("value", _MAX_FIELD_VALUE)):
            if item.get(key) is None:
                tree.add((*path, "fields", j, key), "BASE_TYPE_REQUIRED", "This field is required")
            _check_str(tree, (*path, "fields", j, key), item.get(key), limit)
            total += _stripped_len(item.get(key))
    for part, key, limit in (("footer", "text", _MAX_FOOTER), ("author", "name", _MAX_AUTHOR)):
        value = embed.get(part)
        if isinstance(value, dict):
            _check_str(tree, (*path, part, key), value.get(key), limit)
            total += _stripped_len(value.get(key))
    return total


def _validate_execute_only(payload: Mapping[str, Any], tree: ErrorTree) -> None:
    username = payload.get("username")
    if username is not None:
        if not isinstance(username, str) or not 1 <= len(username) <= _MAX_USERNAME:
            tree.add(("username",), "BASE_TYPE_BAD_LENGTH", _bad_length(_MAX_USERNAME))
        else:
            for word in _FORBIDDEN_NAME_PARTS:
                if word in username.lower():
                    message = f'Username cannot contain "{word}"'
                    tree.add(("username",), "USERNAME_INVALID_CONTAINS", message)
    thread_name = payload.get("thread_name")
    if thread_name is not None and (
        not isinstance(thread_name, str) or not 1 <= len(thread_name) <= _MAX_THREAD_NAME
    ):
        tree.add(("thread_name",), "BASE_TYPE_BAD_LENGTH", _bad_length(_MAX_THREAD_NAME))
    tags = payload.get("applied_tags")
    if tags is not None and (not isinstance(tags, list) or len(tags) > _MAX_APPLIED_TAGS):
        tree.max_length(("applied_tags",), _MAX_APPLIED_TAGS)


def _check_attachments(
    payload: Mapping[str, Any], uploads: list[Upload], existing: set[str], tree: ErrorTree
) -> AttachmentMeta:
    """Match ``attachments`` metadata to file parts (or kept attachments); return it by id."""
    meta = payload.get("attachments")
    if meta is None:
        return {}
    if not isinstance(meta, list):
        tree.add(("attachments",), "BASE_TYPE_ARRAY", "Must be an array.")
        return {}
    parts = {m[1] for u in uploads if (m := FILE_FIELD.match(u.field))}
    by_id: AttachmentMeta = {}
    for i, item in enumerate(meta):
        if not isinstance(item, dict) or not _is_snowflake(item.get("id")):
            tree.add(("attachments", i, "id"), "BASE_TYPE_REQUIRED", "This field is required")
            continue
        attachment_id = str(item["id"])
        if attachment_id not in parts and attachment_id not in existing:
            tree.add(
                ("attachments", i, "id"),
                "ATTACHMENT_NOT_FOUND",
                f"Attachment {attachment_id} has no files[{attachment_id}] part.",
            )
        by_id[attachment_id] = item
    return by_id


def _has_body(payload: Mapping[str, Any], uploads: list[Upload]) -> bool:
    return bool(
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("poll")
        or uploads
    )
