"""Message models (attrs, frozen) and the one cattrs converter that turns them into JSON.

The converter is the only JSON boundary: it omits fields whose value is ``None`` (never
``False``, ``0`` or an empty list, which mean something to Discord), renders colours as
integers, timestamps as ISO 8601 and snowflakes as strings.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

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
    "SentMessage",
    "converter",
    "to_json_dict",
]


def _opt_snowflake(value: int | str | None) -> str | None:
    return None if value is None else str(value)


def _snowflakes(values: Iterable[int | str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(str(v) for v in values)


def _strs(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


@attrs.frozen
class EmbedField:
    """One name/value field of an embed.

    Example:
        ``EmbedField("status", "passed", inline=True)``
    """

    name: str
    value: str
    inline: bool | None = None


@attrs.frozen
class EmbedFooter:
    """An embed's footer: text and an optional icon (``attachment://name`` works)."""

    text: str
    icon_url: str | None = None


@attrs.frozen
class EmbedAuthor:
    """An embed's author line: a name, an optional link and an optional icon."""

    name: str
    url: str | None = None
    icon_url: str | None = None


@attrs.frozen
class EmbedMedia:
    """An embed's image or thumbnail: ``https://...`` or ``attachment://filename``."""

    url: str


def _embed_fields(fields: Iterable[EmbedField]) -> tuple[EmbedField, ...]:
    return tuple(fields)


@attrs.frozen
class Embed:
    """A rich embed.

    Example::

        Embed(
            title="build 42 passed",
            color=0x2ECC71,
            fields=[EmbedField("duration", "3m12s", inline=True)],
            thumbnail=EmbedMedia("attachment://badge.png"),
        )
    """

    title: str | None = None
    description: str | None = None
    url: str | None = None
    timestamp: datetime | None = None
    color: int | None = None
    footer: EmbedFooter | None = None
    image: EmbedMedia | None = None
    thumbnail: EmbedMedia | None = None
    author: EmbedAuthor | None = None
    fields: tuple[EmbedField, ...] = attrs.field(default=(), converter=_embed_fields)

    def media_urls(self) -> tuple[str, ...]:
        """Every URL of this embed that Discord may resolve to an upload (``attachment://``)."""
        urls = []
        for media in (self.image, self.thumbnail):
            if media is not None:
                urls.append(media.url)
        if self.author is not None and self.author.icon_url is not None:
            urls.append(self.author.icon_url)
        if self.footer is not None and self.footer.icon_url is not None:
            urls.append(self.footer.icon_url)
        return tuple(urls)


def _guess_content_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def _opt_path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


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

    filename: str
    data: bytes | None = attrs.field(default=None, repr=False)
    path: Path | None = attrs.field(default=None, converter=_opt_path)
    description: str | None = None
    spoiler: bool = False
    content_type: str = attrs.field()

    @content_type.default
    def _content_type_default(self) -> str:
        return _guess_content_type(self.filename)

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

    parse: tuple[str, ...] | None = attrs.field(default=None, converter=_strs)
    users: tuple[str, ...] | None = attrs.field(default=None, converter=_snowflakes)
    roles: tuple[str, ...] | None = attrs.field(default=None, converter=_snowflakes)
    replied_user: bool | None = None

    @classmethod
    def none(cls) -> AllowedMentions:
        """Mentions that ping nobody (``{"parse": []}``)."""
        return cls(parse=())


def _embeds(embeds: Iterable[Embed]) -> tuple[Embed, ...]:
    return tuple(embeds)


def _files(files: Iterable[FilePart]) -> tuple[FilePart, ...]:
    return tuple(files)


@attrs.frozen
class Message:
    """A message to execute a webhook with.

    A message may be larger than one Discord request allows (more than 10 embeds, more
    than 6000 embed characters, more than 10 files): the planner splits it into several
    requests, in order. A single part that breaks a limit on its own (a 5000-character
    description, 2001 characters of content) is a :class:`ValidationError`.

    ``thread_id`` posts into a thread (a query parameter, not part of the JSON body);
    ``thread_name`` and ``applied_tags`` create a forum post.

    Example::

        Message(content="deployed", embeds=[Embed(title="v1.2.3")],
                attachments=[FilePart.from_path("CHANGELOG.md")])
    """

    content: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    tts: bool | None = None
    embeds: tuple[Embed, ...] = attrs.field(default=(), converter=_embeds)
    attachments: tuple[FilePart, ...] = attrs.field(default=(), converter=_files)
    allowed_mentions: AllowedMentions | None = None
    flags: int | None = None
    thread_id: str | None = attrs.field(default=None, converter=_opt_snowflake)
    thread_name: str | None = None
    applied_tags: tuple[str, ...] | None = attrs.field(default=None, converter=_snowflakes)


@attrs.frozen
class SentMessage:
    """A message as Discord returned it (``wait=true``).

    Attributes:
        id: The message's snowflake.
        channel_id: The channel (or thread) it landed in.
        raw: Discord's whole JSON object.
    """

    id: str
    channel_id: str
    raw: Mapping[str, Any] = attrs.field(repr=False, eq=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SentMessage:
        """Read Discord's message object."""
        return cls(id=str(data.get("id", "")), channel_id=str(data.get("channel_id", "")), raw=data)


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
