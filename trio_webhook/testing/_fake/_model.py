"""The Discord the fake keeps: channels and their threads, webhooks, messages and files.

It knows Discord's rules about where a message may go (threads, forum posts) and what a
stored message looks like; it checks nothing about the payload (that is ``_validation``)
and counts nothing against a limit (that is ``_ratelimits``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import mimetypes
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from trio_webhook.testing._fake._attachments import (
    kept_attachments,
    set_metadata,
    webhook_changes,
)
from trio_webhook.testing._fake._components import (
    IS_COMPONENTS_V2,
    stored_components,
    stored_poll,
)
from trio_webhook.testing._fake._http import EMPTY_MESSAGE, Rejected, Upload, error
from trio_webhook.testing._fake._validation import (
    FILE_FIELD,
    MAX_FILES,
    AttachmentMeta,
    too_many_files,
)

__all__ = ["FakeWebhook", "Model", "StoredMessage", "webhook_object"]

# Discord's epoch for snowflakes.
_DISCORD_EPOCH_MS: Final = 1_420_070_400_000

_BOTH_THREAD_ID_AND_NAME: Final = (
    "Webhooks posted to forum channels cannot have both a thread_name and thread_id"
)
_FORUM_NEEDS_THREAD: Final = (
    "Webhooks posted to forum channels must have a thread_name or thread_id"
)
_THREADS_IN_FORUMS_ONLY: Final = "Webhooks can only create threads in forum channels"


@attrs.frozen
class FakeWebhook:
    """A webhook that exists in the fake.

    Attributes:
        id: The webhook's snowflake id.
        token: Its token (a password: hidden from ``repr``).
        channel_id: The channel it posts to.
        name: Its default name (the message author's name unless ``username`` is given).
        url: ``{base_url}/api/webhooks/{id}/{token}``, as Discord shows webhook URLs.
        guild_id: The guild of its channel.
        application_id: The application that owns it, or ``None`` (a webhook made in a
            channel's settings): only an owned one may send interactive components.
        avatar: Its default avatar's hash (of the image last set), ``None`` without one.
    """

    id: str
    token: str = attrs.field(repr=False)
    channel_id: str
    name: str
    url: str = attrs.field(repr=False)
    guild_id: str
    application_id: str | None = None
    avatar: str | None = None

    @property
    def application_owned(self) -> bool:
        """Whether an application owns the webhook."""
        return self.application_id is not None


@attrs.define
class _Channel:
    id: str
    guild_id: str
    forum: bool = False
    parent_id: str | None = None
    name: str = "general"


@attrs.define
class StoredMessage:
    """A message as stored: who sent it, where it is, and its JSON as Discord returns it."""

    webhook_id: str
    channel_id: str
    data: dict[str, Any]


class Model:
    """Channels, threads, webhooks and messages, with ids from a fixed origin.

    Args:
        rng: The fake's seeded rng (webhook tokens draw from it).
        base_url: The origin of webhook URLs.
        epoch_offset: Added to trio's clock to give message timestamps.
    """

    def __init__(self, rng: random.Random, base_url: str, epoch_offset: float) -> None:
        self.rng = rng
        self.base_url = base_url
        self.epoch_offset = epoch_offset
        self.stored = 0
        """Messages stored so far (deletions do not lower it)."""
        self._ids = itertools.count(1)
        self._webhooks: dict[str, FakeWebhook] = {}
        self._deleted: set[str] = set()
        self._channels: dict[str, _Channel] = {}
        self._history: dict[str, list[str]] = {}
        self._messages: dict[str, StoredMessage] = {}
        self._files: dict[str, bytes] = {}

    # --- Setting up and inspecting -------------------------------------------------------------

    def create_channel(self, *, forum: bool, name: str) -> str:
        """Create a text (or forum) channel in a new guild; return its id."""
        channel_id = self._snowflake()
        self._add_channel(_Channel(channel_id, self._snowflake(), forum, None, name))
        return channel_id

    def create_thread(self, channel_id: str, name: str) -> str:
        """Create a thread in a channel; return its id."""
        parent = self._channels[channel_id]
        thread_id = self._snowflake()
        self._add_channel(_Channel(thread_id, parent.guild_id, False, channel_id, name))
        return thread_id

    def create_webhook(
        self, channel_id: str, name: str, *, application_owned: bool = False
    ) -> FakeWebhook:
        """Create a webhook in a channel, with a token drawn from the rng."""
        channel = self._channels[channel_id]
        webhook_id = self._snowflake()
        token = hashlib.sha256(f"{webhook_id}:{self.rng.random()}".encode()).hexdigest()
        hook = FakeWebhook(
            id=webhook_id,
            token=token,
            channel_id=channel_id,
            name=name,
            url=f"{self.base_url}/api/webhooks/{webhook_id}/{token}",
            guild_id=channel.guild_id,
            application_id=self._snowflake() if application_owned else None,
        )
        self._webhooks[webhook_id] = hook
        return hook

    def modify_webhook(self, hook: FakeWebhook, payload: Mapping[str, Any]) -> FakeWebhook:
        """Apply *Modify Webhook with Token*: a new name, avatar (image data) or none.

        Raises:
            Rejected: 400, code 50035, for a bad name or image data, as Discord answers.
        """
        changes = webhook_changes(payload)
        updated = attrs.evolve(hook, **changes)
        self._webhooks[hook.id] = updated
        return updated

    def delete_webhook(self, hook: FakeWebhook) -> None:
        """Delete a webhook: :meth:`webhook` no longer finds it."""
        self._deleted.add(hook.id)

    def webhook(self, webhook_id: str) -> FakeWebhook | None:
        """The webhook with this id, ``None`` if there is none or it was deleted."""
        if webhook_id in self._deleted:
            return None
        return self._webhooks.get(webhook_id)

    def history(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages of a channel or thread, oldest first (deep copies)."""
        return [json.loads(json.dumps(self._messages[m].data)) for m in self._history[channel_id]]

    def threads(self, channel_id: str) -> list[str]:
        """The ids of the threads (and forum posts) of a channel, oldest first."""
        return [c.id for c in self._channels.values() if c.parent_id == channel_id]

    def attachment_data(self, attachment_id: str) -> bytes:
        """The bytes uploaded for an attachment."""
        return self._files[attachment_id]

    # --- Messages ------------------------------------------------------------------------------

    def target(self, hook: FakeWebhook, thread_id: str | None, thread_name: Any) -> str:
        """Where a message executed through ``hook`` goes: its channel or a thread of it.

        A forum post goes to the forum here; :meth:`post` makes its thread.

        Raises:
            Rejected: Discord's answer to a thread rule broken (220001-220003, 10003).
        """
        channel = self._channels[hook.channel_id]
        if thread_id is not None and thread_name is not None:
            raise Rejected(error(400, 220002, _BOTH_THREAD_ID_AND_NAME))
        if thread_id is not None:
            thread = self._channels.get(thread_id)
            if thread is None or thread.parent_id != channel.id:
                raise Rejected(error(404, 10003, "Unknown Channel"))
            return thread.id
        if channel.forum and thread_name is None:
            raise Rejected(error(400, 220001, _FORUM_NEEDS_THREAD))
        if not channel.forum and thread_name is not None:
            raise Rejected(error(400, 220003, _THREADS_IN_FORUMS_ONLY))
        return channel.id

    def post(
        self,
        hook: FakeWebhook,
        target: str,
        payload: Mapping[str, Any],
        uploads: list[Upload],
        meta: AttachmentMeta,
        now: float,
    ) -> dict[str, Any]:
        """Store a checked message in ``target`` (see :meth:`target`); return its JSON."""
        message_id = self._snowflake()
        channel = self._channels[hook.channel_id]
        thread_name = payload.get("thread_name")
        if channel.forum and thread_name is not None:
            # A forum post's thread has the id of its starter message, as on Discord.
            self._add_channel(
                _Channel(message_id, channel.guild_id, False, channel.id, str(thread_name))
            )
            target = message_id
        attachments = self._store_uploads(uploads, meta, target)
        data: dict[str, Any] = {
            "id": message_id,
            "type": 0,
            "content": payload.get("content") or "",
            "channel_id": target,
            "author": _author(hook, payload),
            "attachments": attachments,
            "embeds": [_normalise_embed(e) for e in payload.get("embeds") or []],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": bool(payload.get("tts", False)),
            "timestamp": self._timestamp(now),
            "edited_timestamp": None,
            "flags": int(payload.get("flags") or 0),
            "components": stored_components(payload.get("components"), attachments),
            "webhook_id": hook.id,
        }
        if payload.get("poll") is not None:
            data["poll"] = stored_poll(payload["poll"], self._time(now))
        self._messages[message_id] = StoredMessage(hook.id, target, data)
        self._history[target].append(message_id)
        self.stored += 1
        return data

    def find(self, hook: FakeWebhook, message_id: str, thread_id: str | None) -> StoredMessage:
        """A message of ``hook`` in its channel, or in the thread ``thread_id``.

        Raises:
            Rejected: 404, code 10008, when there is no such message there.
        """
        channel_id = thread_id or hook.channel_id
        stored = self._messages.get(message_id)
        if stored is None or stored.webhook_id != hook.id or stored.channel_id != channel_id:
            raise Rejected(error(404, 10008, "Unknown Message"))
        return stored

    def edit(
        self,
        stored: StoredMessage,
        payload: Mapping[str, Any],
        uploads: list[Upload],
        meta: AttachmentMeta,
        now: float,
    ) -> dict[str, Any]:
        """Apply a checked edit: the fields given, the attachments kept, and new files.

        Raises:
            Rejected: More than ten attachments in all, or an edit that leaves it empty.
        """
        data = stored.data
        updated = dict(data)
        if "content" in payload:
            updated["content"] = payload["content"] or ""
        # null and [] both remove them all; a key left out leaves them.
        if "embeds" in payload:
            updated["embeds"] = [_normalise_embed(e) for e in payload["embeds"] or []]
        if "flags" in payload:
            updated["flags"] = int(payload["flags"] or 0) | (data["flags"] & IS_COMPONENTS_V2)
        listed = payload.get("attachments")
        if isinstance(listed, list):
            final = kept_attachments(data["attachments"], listed, uploads)
        else:
            final = list(data["attachments"]) + [None] * len(uploads)
        if len(final) > MAX_FILES:
            raise too_many_files()
        new = iter(self._store_uploads(uploads, meta, stored.channel_id))
        # Discord keeps the order of the attachments array: kept and new files as listed.
        updated["attachments"] = [a if a is not None else next(new) for a in final]
        if "components" in payload:
            # Resolved against the files after the edit: a new upload can be shown.
            updated["components"] = stored_components(payload["components"], updated["attachments"])
        if not any(updated[k] for k in ("content", "embeds", "attachments", "components")):
            raise Rejected(EMPTY_MESSAGE)
        updated["edited_timestamp"] = self._timestamp(now)
        stored.data = updated
        return updated

    def delete(self, message_id: str) -> None:
        """Delete a stored message."""
        stored = self._messages.pop(message_id)
        self._history[stored.channel_id].remove(message_id)

    # --- Helpers -------------------------------------------------------------------------------

    def _snowflake(self) -> str:
        # A fixed origin rather than the wall clock keeps ids identical between runs.
        return str(((1_700_000_000_000 - _DISCORD_EPOCH_MS) << 22) + next(self._ids))

    def _add_channel(self, channel: _Channel) -> None:
        self._channels[channel.id] = channel
        self._history[channel.id] = []

    def _store_uploads(
        self, uploads: list[Upload], meta: AttachmentMeta, channel_id: str
    ) -> list[dict[str, Any]]:
        attachments = []
        for upload in uploads:
            index = FILE_FIELD.match(upload.field)
            info = meta.get(index[1], {}) if index else {}
            filename = str(info.get("filename") or upload.filename)
            attachment_id = self._snowflake()
            content_type = upload.content_type or mimetypes.guess_type(filename)[0]
            attachment: dict[str, Any] = {
                "id": attachment_id,
                "filename": filename,
                "size": len(upload.data),
                "url": f"https://cdn.discord.test/attachments/{channel_id}/{attachment_id}/{filename}",
                "proxy_url": f"https://media.discord.test/attachments/{channel_id}/{attachment_id}/{filename}",
            }  # fmt: skip
            if content_type:
                attachment["content_type"] = content_type
            set_metadata(attachment, info, spoiler=filename.startswith("SPOILER_"))
            self._files[attachment_id] = upload.data
            attachments.append(attachment)
        return attachments

    def _time(self, now: float) -> datetime:
        return datetime.fromtimestamp(self.epoch_offset + now, UTC)

    def _timestamp(self, now: float) -> str:
        return self._time(now).isoformat(timespec="microseconds")


def webhook_object(hook: FakeWebhook) -> dict[str, Any]:
    """The webhook's JSON, as ``GET /webhooks/{id}/{token}`` returns it."""
    return {
        "application_id": hook.application_id,
        "avatar": hook.avatar,
        "channel_id": hook.channel_id,
        "guild_id": hook.guild_id,
        "id": hook.id,
        "name": hook.name,
        "type": 1,
        "token": hook.token,
        "url": hook.url,
    }


def _author(hook: FakeWebhook, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": hook.id,
        "username": payload.get("username") or hook.name,
        "avatar": hook.avatar,
        "discriminator": "0000",
        "public_flags": 0,
        "flags": 0,
        "bot": True,
        "global_name": None,
        "primary_guild": None,
    }


def _normalise_embed(embed: Any) -> Any:
    if isinstance(embed, dict):
        return {"type": "rich", **embed}
    return embed
