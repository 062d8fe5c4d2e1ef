"""Message models (attrs, frozen); :mod:`trio_webhook._converter` turns them into JSON.

Every model is imported from here: the message and its files, what Discord answers
(:class:`SentMessage`, :class:`Delivery`; the read models are in
:mod:`trio_webhook._received`), one planned request (:class:`PlannedRequest`)
and the embed parts (written in :mod:`trio_webhook._embeds`, the file in
:mod:`trio_webhook._files`, components and polls in :mod:`trio_webhook._components` and
:mod:`trio_webhook._polls`). The field validators and converters are in
:mod:`trio_webhook._validators`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypedDict

import attrs

from trio_webhook._component_tree import effective_flags
from trio_webhook._components import COMPONENT_NAMES, COMPONENT_TYPES, Component
from trio_webhook._embeds import Embed, EmbedAuthor, EmbedField, EmbedFooter, EmbedMedia
from trio_webhook._files import FilePart
from trio_webhook._from_json import NOT_JSON, loads, read_json
from trio_webhook._polls import Poll
from trio_webhook._received import Delivery, ReceivedAttachment, ReceivedMessage, WebhookInfo
from trio_webhook._validators import (
    V_SNOWFLAKES,
    as_tuple,
    checked,
    opt_snowflake,
    snowflakes,
    strs,
    v_bool,
    v_opt_bool,
    v_opt_int,
    v_opt_snowflake,
    v_opt_str,
    v_optional,
    v_tuple_of,
    validate_fields,
)

__all__ = [
    "AllowedMentions",
    "Delivery",
    "Embed",
    "EmbedAuthor",
    "EmbedField",
    "EmbedFooter",
    "EmbedMedia",
    "FilePart",
    "Message",
    "PlannedRequest",
    "ReceivedAttachment",
    "ReceivedMessage",
    "RequestFields",
    "SentMessage",
    "WebhookInfo",
    "message_from_json",
    "request_fields",
    "whole_request",
]


@attrs.frozen
class AllowedMentions:
    """Which mentions in the content may ping.

    ``parse`` lists the types to parse (``"users"``, ``"roles"``, ``"everyone"``); an empty
    ``parse`` pings nobody. ``users`` and ``roles`` list explicit ids (at most 100 each);
    Discord rejects a type both in ``parse`` and listed explicitly.

    Example:
        ``AllowedMentions.none()`` (nobody is pinged), ``AllowedMentions(users=[1234])``
    """

    parse: tuple[str, ...] | None = attrs.field(
        default=None, converter=strs, validator=v_tuple_of(str, "str", optional=True)
    )
    users: tuple[str, ...] | None = attrs.field(
        default=None, converter=snowflakes, validator=V_SNOWFLAKES
    )
    roles: tuple[str, ...] | None = attrs.field(
        default=None, converter=snowflakes, validator=V_SNOWFLAKES
    )
    replied_user: bool | None = attrs.field(default=None, validator=v_opt_bool)

    @classmethod
    def none(cls) -> AllowedMentions:
        """Mentions that ping nobody (``{"parse": []}``)."""
        return cls(parse=())


# A tuple (a default, or a plan's slice) is kept without calling as_tuple.
def _embeds(embeds: Iterable[Embed]) -> tuple[Embed, ...]:
    return embeds if type(embeds) is tuple else as_tuple(embeds)


def _files(files: Iterable[FilePart]) -> tuple[FilePart, ...]:
    return files if type(files) is tuple else as_tuple(files)


def _components(components: Iterable[Component]) -> tuple[Component, ...]:
    return components if type(components) is tuple else as_tuple(components)


@attrs.frozen
class Message:
    """A message to execute a webhook with.

    A message may be larger than one Discord request allows (more than 10 embeds, more
    than 6000 embed characters, more than 10 files, content over 2000 characters): the
    planner splits it into several requests, in order. A single part that breaks a limit
    on its own (a 5000-character description) is a :class:`ValidationError`.

    ``thread_id`` posts into a thread (a query parameter, not part of the JSON body);
    ``thread_name`` and ``applied_tags`` create a forum post.

    ``components`` are action rows (V1, under the content) or Components V2 (then the
    components are the whole message, with no content, embeds or poll, and
    ``IS_COMPONENTS_V2`` is added to ``flags`` for you); they and ``poll`` go with the
    first request of a split message, and a V2 message is never split.
    ``application_owned=True`` says the webhook belongs to an application, which alone
    may send interactive components (buttons with a ``custom_id``, select menus); it is
    not sent to Discord. ``flags`` takes :class:`~trio_webhook.components.MessageFlags`
    or an ``int``.

    Example::

        Message(content="deployed", embeds=[Embed(title="v1.2.3")],
                attachments=[FilePart.from_path("CHANGELOG.md")])
    """

    content: str | None = attrs.field(default=None, metadata=checked(v_opt_str))
    username: str | None = attrs.field(default=None, metadata=checked(v_opt_str))
    avatar_url: str | None = attrs.field(default=None, metadata=checked(v_opt_str))
    tts: bool | None = attrs.field(default=None, metadata=checked(v_opt_bool))
    embeds: tuple[Embed, ...] = attrs.field(
        default=(), converter=_embeds, metadata=checked(v_tuple_of(Embed, "Embed"))
    )
    attachments: tuple[FilePart, ...] = attrs.field(
        default=(), converter=_files, metadata=checked(v_tuple_of(FilePart, "FilePart"))
    )
    allowed_mentions: AllowedMentions | None = attrs.field(
        default=None, metadata=checked(v_optional(AllowedMentions))
    )
    flags: int | None = attrs.field(default=None, metadata=checked(v_opt_int))
    thread_id: str | None = attrs.field(
        default=None, converter=opt_snowflake, metadata=checked(v_opt_snowflake)
    )
    thread_name: str | None = attrs.field(default=None, metadata=checked(v_opt_str))
    applied_tags: tuple[str, ...] | None = attrs.field(
        default=None, converter=snowflakes, metadata=checked(V_SNOWFLAKES)
    )
    components: tuple[Component, ...] = attrs.field(
        default=(),
        converter=_components,
        metadata=checked(v_tuple_of(COMPONENT_TYPES, COMPONENT_NAMES)),
    )
    poll: Poll | None = attrs.field(default=None, metadata=checked(v_optional(Poll)))
    application_owned: bool = attrs.field(
        default=False, metadata=checked(v_bool, **{NOT_JSON: True})
    )

    def __attrs_post_init__(self) -> None:
        # The commonest message (text, embeds, a name and avatar) in one test; any other
        # shape runs each field's validator (see checked), which raises as attrs' would.
        embeds = self.embeds
        if not (
            (self.content is None or type(self.content) is str)
            and (self.username is None or type(self.username) is str)
            and (self.avatar_url is None or type(self.avatar_url) is str)
            and self.tts is None
            and type(embeds) is tuple
            and (not embeds or (len(embeds) == 1 and type(embeds[0]) is Embed))
            and type(self.attachments) is tuple
            and not self.attachments
            and self.allowed_mentions is None
            and self.flags is None
            and self.thread_id is None
            and self.thread_name is None
            and self.applied_tags is None
            and type(self.components) is tuple
            and not self.components
            and self.poll is None
            and self.application_owned is False
        ):
            validate_fields(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> Message:
        """A message from Discord's execute-webhook JSON (parsed, or its text), read strictly.

        Raises:
            JSONMessageError: Every problem, each with its JSON path (a ``ValidationError``).
        """
        return message_from_json(data)


def message_from_json(
    data: Mapping[str, Any] | str | bytes, *, base_dir: str | os.PathLike[str] | None = None
) -> Message:
    """Build a :class:`Message` from Discord's execute-webhook JSON; see ``Message.from_json``.

    Args:
        data: The JSON: parsed (a mapping), or its text.
        base_dir: Relative attachment paths are taken from here (default: left relative,
            so read from the working directory when the message is sent).

    Returns:
        The message, not yet checked against Discord's limits (``limits.validate``).

    Raises:
        JSONMessageError: The text is not JSON, or a key or value cannot be read: every
            problem, each with its path.
    """
    parsed = loads(data) if isinstance(data, str | bytes | bytearray) else data
    message = read_json(parsed, Message)
    if base_dir is None or not message.attachments:
        return message
    base = Path(base_dir)
    parts = [
        p if p.path is None or p.path.is_absolute() else attrs.evolve(p, path=base / p.path)
        for p in message.attachments
    ]
    return attrs.evolve(message, attachments=parts)


SentMessage = ReceivedMessage
"""The name :class:`~trio_webhook._received.ReceivedMessage` had first (the same class)."""


# Without slots: a frozen slotted class sets each field through object.__setattr__, about
# 1 K instructions a field, 16 fields for every message; without slots attrs writes them
# into the instance's __dict__ (18 K instructions a request, against 26 K).
@attrs.frozen(slots=False)
class PlannedRequest:
    """One *Execute Webhook* request of a planned message.

    ``username``, ``avatar_url``, ``allowed_mentions``, ``flags`` and ``thread_id`` are
    repeated on every request so that the posts look alike and land in the same place;
    ``content`` and ``tts`` are only on the first (content too long for one request is
    one piece a request, before the rest).

    Forum posts: ``thread_name`` and ``applied_tags`` are only on the first request,
    which creates the post. The client must send the remaining requests into the
    created thread: set ``thread_id`` (``attrs.evolve``) to the ``channel_id`` of the
    first response, which it therefore executes with ``wait=true``.

    Attributes:
        index: The position of this request in its plan, from 0.
        content: The message content (first request only), or one piece of it.
        embeds: This request's chunk of embeds, in message order.
        files: The files uploaded with this request, in message order.
        username: The webhook's display name for this post.
        avatar_url: The webhook's avatar for this post.
        tts: Text-to-speech (first request only).
        allowed_mentions: Which mentions may ping.
        flags: Message flags (SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS).
        thread_id: The thread to post into (a query parameter, not in the body).
        thread_name: The forum post to create (first request only).
        applied_tags: Tags of the forum post (first request only).
        components: The message's components (first request only).
        poll: The message's poll (first request only).
        application_owned: Whether interactive components are allowed (not sent).
    """

    index: int
    content: str | None = None
    # No converters: a plan is made of a checked message's tuples (the planner's own).
    embeds: tuple[Embed, ...] = ()
    files: tuple[FilePart, ...] = ()
    username: str | None = None
    avatar_url: str | None = None
    tts: bool | None = None
    allowed_mentions: AllowedMentions | None = None
    flags: int | None = None
    thread_id: str | None = None
    thread_name: str | None = None
    applied_tags: tuple[str, ...] | None = None
    components: tuple[Component, ...] = ()
    poll: Poll | None = None
    application_owned: bool = False

    @property
    def with_components(self) -> bool:
        """Whether to execute with ``?with_components=true``.

        Without it a webhook no application owns drops the components.
        """
        return bool(self.components)


class RequestFields(TypedDict):
    """The fields a :class:`Message` and its :class:`PlannedRequest` share, by name."""

    content: str | None
    username: str | None
    avatar_url: str | None
    tts: bool | None
    allowed_mentions: AllowedMentions | None
    flags: int | None
    thread_id: str | None
    thread_name: str | None
    applied_tags: tuple[str, ...] | None
    components: tuple[Component, ...]
    poll: Poll | None
    application_owned: bool


def request_fields(source: Message | PlannedRequest, *, first: bool = True) -> RequestFields:
    """The fields a request takes from its message, or a message body from its request.

    The one place that knows which fields every request of a plan repeats (so the
    posts look alike and land together: ``username``, ``avatar_url``,
    ``allowed_mentions``, ``flags``, ``thread_id``) and which only the first carries
    (``content``, ``tts``, ``components``, ``poll``, and ``thread_name`` and
    ``applied_tags``, which create a forum post once). ``flags`` gets
    ``IS_COMPONENTS_V2`` when the components need it.

    Args:
        source: The message being planned, or a planned request being encoded.
        first: Whether the fields are for the first request (``False`` leaves the
            first-only fields ``None``).

    Returns:
        Keyword arguments for ``PlannedRequest(index=..., **fields)`` or
        ``Message(**fields)``; the embeds and files are the caller's.
    """
    return {
        "content": source.content if first else None,
        "username": source.username,
        "avatar_url": source.avatar_url,
        "tts": source.tts if first else None,
        "allowed_mentions": source.allowed_mentions,
        "flags": effective_flags(source.flags, source.components),
        "thread_id": source.thread_id,
        "thread_name": source.thread_name if first else None,
        "applied_tags": source.applied_tags if first else None,
        "components": source.components if first else (),
        "poll": source.poll if first else None,
        "application_owned": source.application_owned,
    }


def whole_request(message: Message) -> PlannedRequest:
    """The one request of a message that needs one: :func:`request_fields` and every embed.

    The commonest plan, built by position from the message, without the dict of
    :func:`request_fields` and its unpacking into keywords; a test holds it equal to
    ``PlannedRequest(index=0, embeds=message.embeds, **request_fields(message))``.
    """
    return PlannedRequest(
        0,
        message.content,
        message.embeds,
        (),
        message.username,
        message.avatar_url,
        message.tts,
        message.allowed_mentions,
        effective_flags(message.flags, message.components),
        message.thread_id,
        message.thread_name,
        message.applied_tags,
        message.components,
        message.poll,
        message.application_owned,
    )
