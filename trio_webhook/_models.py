"""Message models (attrs, frozen) and the one cattrs converter that turns them into JSON.

Every model is imported from here: the message and its files, what Discord answers
(:class:`SentMessage`, :class:`Delivery`; the read models are in
:mod:`trio_webhook._received`), one planned request (:class:`PlannedRequest`)
and the embed parts (written in :mod:`trio_webhook._embeds`). The field validators and
converters are in :mod:`trio_webhook._validators`.

The converter is the only JSON boundary: it omits fields whose value is ``None`` (never
``False``, ``0`` or an empty list, which mean something to Discord), renders colours as
integers, timestamps as ISO 8601 and snowflakes as strings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypedDict

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from trio_webhook._embeds import Embed, EmbedAuthor, EmbedField, EmbedFooter, EmbedMedia
from trio_webhook._received import (
    ReceivedAttachment,
    ReceivedMessage,
    WebhookInfo,
    register_structure_hooks,
)
from trio_webhook._validators import (
    V_SNOWFLAKES,
    as_tuple,
    guess_content_type,
    opt_bytes,
    opt_path,
    opt_snowflake,
    snowflakes,
    strs,
    v_bool,
    v_filename,
    v_opt_bool,
    v_opt_bytes,
    v_opt_int,
    v_opt_path,
    v_opt_snowflake,
    v_opt_str,
    v_optional,
    v_str,
    v_tuple_of,
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
    "converter",
    "request_fields",
    "to_json_dict",
]


@attrs.frozen
class FilePart:
    """A file to upload with a message.

    Give the bytes (``data``) or a path read lazily when the request is encoded
    (``FilePart.from_path``). ``content_type`` is guessed from the filename when not given.
    ``spoiler=True`` uploads it as ``SPOILER_<filename>``, which Discord blurs.

    Example::

        FilePart("report.csv", data=b"a,b", description="nightly report")
        FilePart.from_path("build.log")
    """

    filename: str = attrs.field(validator=v_filename)
    data: bytes | None = attrs.field(
        default=None, repr=False, converter=opt_bytes, validator=v_opt_bytes
    )
    path: Path | None = attrs.field(default=None, converter=opt_path, validator=v_opt_path)
    description: str | None = attrs.field(default=None, validator=v_opt_str)
    spoiler: bool = attrs.field(default=False, validator=v_bool)
    content_type: str = attrs.field(validator=v_str)

    @content_type.default
    def _content_type_default(self) -> str:
        return guess_content_type(self.filename)

    def __attrs_post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError(f"FilePart {self.filename!r}: give exactly one of data= or path=")

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        filename: str | None = None,
        description: str | None = None,
        spoiler: bool = False,
        content_type: str | None = None,
    ) -> FilePart:
        """A file read from ``path`` when it is sent; ``filename`` defaults to its name."""
        p = Path(path)
        name = filename if filename is not None else p.name
        if content_type is None:
            return cls(name, path=p, description=description, spoiler=spoiler)
        return cls(
            name, path=p, description=description, spoiler=spoiler, content_type=content_type
        )

    @property
    def upload_name(self) -> str:
        """The filename as uploaded: with the ``SPOILER_`` prefix when a spoiler."""
        if self.spoiler and not self.filename.startswith("SPOILER_"):
            return "SPOILER_" + self.filename
        return self.filename

    def size(self) -> int:
        """The size in bytes (a ``stat`` for a path; nothing is read)."""
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size

    def read(self) -> bytes:
        """The file's bytes (read from disk for a path)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


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


def _embeds(embeds: Iterable[Embed]) -> tuple[Embed, ...]:
    return as_tuple(embeds)


def _files(files: Iterable[FilePart]) -> tuple[FilePart, ...]:
    return as_tuple(files)


@attrs.frozen
class Message:
    """A message to execute a webhook with.

    A message may be larger than one Discord request allows (more than 10 embeds, more
    than 6000 embed characters, more than 10 files, content over 2000 characters): the
    planner splits it into several requests, in order. A single part that breaks a limit
    on its own (a 5000-character description) is a :class:`ValidationError`.

    ``thread_id`` posts into a thread (a query parameter, not part of the JSON body);
    ``thread_name`` and ``applied_tags`` create a forum post.

    Example::

        Message(content="deployed", embeds=[Embed(title="v1.2.3")],
                attachments=[FilePart.from_path("CHANGELOG.md")])
    """

    content: str | None = attrs.field(default=None, validator=v_opt_str)
    username: str | None = attrs.field(default=None, validator=v_opt_str)
    avatar_url: str | None = attrs.field(default=None, validator=v_opt_str)
    tts: bool | None = attrs.field(default=None, validator=v_opt_bool)
    embeds: tuple[Embed, ...] = attrs.field(
        default=(), converter=_embeds, validator=v_tuple_of(Embed, "Embed")
    )
    attachments: tuple[FilePart, ...] = attrs.field(
        default=(), converter=_files, validator=v_tuple_of(FilePart, "FilePart")
    )
    allowed_mentions: AllowedMentions | None = attrs.field(
        default=None, validator=v_optional(AllowedMentions)
    )
    flags: int | None = attrs.field(default=None, validator=v_opt_int)
    thread_id: str | None = attrs.field(
        default=None, converter=opt_snowflake, validator=v_opt_snowflake
    )
    thread_name: str | None = attrs.field(default=None, validator=v_opt_str)
    applied_tags: tuple[str, ...] | None = attrs.field(
        default=None, converter=snowflakes, validator=V_SNOWFLAKES
    )

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> Message:
        """A message from Discord's execute-webhook JSON (parsed, or its text), read strictly.

        Raises:
            JSONMessageError: Every problem, each with its JSON path (a ``ValidationError``).
        """
        from trio_webhook._from_json import message_from_json  # which imports this module

        return message_from_json(data)


SentMessage = ReceivedMessage
"""The name :class:`~trio_webhook._received.ReceivedMessage` had first (the same class)."""


@attrs.frozen
class Delivery:
    """The outcome of delivering one :class:`Message`.

    Attributes:
        messages: What Discord returned for each request of the message, in order
            (empty when sent with ``wait=False``).
    """

    messages: tuple[SentMessage, ...] = ()

    @property
    def id(self) -> str | None:
        """The first message's id, or ``None`` when the message was not waited for."""
        return self.messages[0].id if self.messages else None


@attrs.frozen
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
    """

    index: int
    content: str | None = None
    embeds: tuple[Embed, ...] = attrs.field(default=(), converter=_embeds)
    files: tuple[FilePart, ...] = attrs.field(default=(), converter=_files)
    username: str | None = None
    avatar_url: str | None = None
    tts: bool | None = None
    allowed_mentions: AllowedMentions | None = None
    flags: int | None = None
    thread_id: str | None = None
    thread_name: str | None = None
    applied_tags: tuple[str, ...] | None = None


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


def request_fields(source: Message | PlannedRequest, *, first: bool = True) -> RequestFields:
    """The fields a request takes from its message, or a message body from its request.

    The one place that knows which fields every request of a plan repeats (so the
    posts look alike and land together: ``username``, ``avatar_url``,
    ``allowed_mentions``, ``flags``, ``thread_id``) and which only the first carries
    (``content``, ``tts``, and ``thread_name`` and ``applied_tags``, which create a
    forum post once).

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
        "flags": source.flags,
        "thread_id": source.thread_id,
        "thread_name": source.thread_name if first else None,
        "applied_tags": source.applied_tags if first else None,
    }


_SKIP: Final = frozenset({"attachments", "thread_id"})


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, lambda dt: dt.isoformat())

    def omit_none_factory(cls: type) -> Any:
        overrides: dict[str, Any] = {}
        for a in attrs.fields(cls):
            if a.default is None or (cls is Embed and a.name == "fields"):
                overrides[a.name] = override(omit_if_default=True)
        if cls is Message:
            for name in _SKIP:
                overrides[name] = override(omit=True)
            overrides["embeds"] = override(omit_if_default=True)
        return make_dict_unstructure_fn(cls, conv, **overrides)

    conv.register_unstructure_hook_factory(attrs.has, omit_none_factory)
    register_structure_hooks(conv)
    return conv


converter: Final = _make_converter()
"""The one converter between our models and Discord's JSON."""


def to_json_dict(obj: Any) -> dict[str, Any]:
    """Unstructure a model into Discord's JSON, in declaration order.

    ``None`` fields are left out; an embed without fields has no ``fields`` key and a
    message without embeds no ``embeds`` key. ``Message.attachments`` and
    ``Message.thread_id`` are not part of the body (the encoder writes the
    ``attachments`` metadata; ``thread_id`` is a query parameter).
    """
    raw = converter.unstructure(obj)
    if attrs.has(type(obj)):
        # cattrs emits never-omitted fields first; pin declaration order so that
        # golden files compare byte for byte.
        order = {a.name: i for i, a in enumerate(attrs.fields(type(obj)))}
        raw = dict(sorted(raw.items(), key=lambda kv: order.get(kv[0], len(order))))
    assert isinstance(raw, dict)
    return raw
