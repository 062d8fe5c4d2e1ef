"""Message models (attrs, frozen) and the one cattrs converter that turns them into JSON.

The converter is the only JSON boundary: it omits fields whose value is ``None`` (never
``False``, ``0`` or an empty list, which mean something to Discord), renders colours as
integers, timestamps as ISO 8601 and snowflakes as strings.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypedDict, TypeVar, cast

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
    "PlannedRequest",
    "RequestFields",
    "SentMessage",
    "converter",
    "request_fields",
    "to_json_dict",
]


_T = TypeVar("_T")

# Validators and converters run on every construction and every ``attrs.evolve``
# (send_nowait's path builds several models a message): they are plain module-level
# functions, and the checks that pass are a type test or two. A wrong value is passed
# through by the converters so that the validators, which run in field order, report
# it the same way as any other field.


def _type_error(
    inst: object, attr: attrs.Attribute[Any], expected: str, value: object
) -> TypeError:
    return TypeError(
        f"{type(inst).__name__}.{attr.name} must be {expected}, got {type(value).__name__}"
    )


def _is_int(value: object) -> bool:
    # bool is an int to Python, not to Discord's JSON (True would be sent as true).
    return isinstance(value, int) and not isinstance(value, bool)


def _v_str(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise _type_error(inst, attr, "str", value)


def _v_opt_str(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise _type_error(inst, attr, "str or None", value)


def _v_bool(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    # An int is not a bool: Discord answers 400 to "tts": 0.
    if value is not True and value is not False:
        raise _type_error(inst, attr, "bool", value)


def _v_opt_bool(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value is not True and value is not False:
        raise _type_error(inst, attr, "bool or None", value)


def _v_opt_int(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not _is_int(value):
        raise _type_error(inst, attr, "int or None", value)


def _v_opt_color(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error(inst, attr, "int or None", value)
    if not 0 <= value <= 0xFFFFFF:
        raise ValueError(
            f"{type(inst).__name__}.{attr.name} must be in 0..0xFFFFFF (a 24-bit RGB "
            f"value), got {value:#x}"
        )


def _v_opt_datetime(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, datetime):
        raise _type_error(inst, attr, "datetime or None", value)


def _v_opt_snowflake(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise _type_error(inst, attr, "a snowflake (int or str) or None", value)


def _v_optional(kind: type) -> Callable[[object, attrs.Attribute[Any], object], None]:
    expected = f"{kind.__name__} or None"

    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, kind):
            raise _type_error(inst, attr, expected, value)

    return validate


def _v_tuple_of(
    kind: type | tuple[type, ...], expected: str, *, optional: bool = False
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    whole = f"an iterable of {expected}" + (" or None" if optional else "")

    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if type(value) is not tuple:  # the converter made a tuple of any iterable
            raise _type_error(inst, attr, whole, value)
        for i, item in enumerate(value):
            if not isinstance(item, kind):
                raise TypeError(
                    f"{type(inst).__name__}.{attr.name}[{i}] must be {expected}, "
                    f"got {type(item).__name__}"
                )

    return validate


def _as_tuple(values: Iterable[_T]) -> tuple[_T, ...]:
    if type(values) is tuple:
        return values
    if type(values) is list:
        return tuple(values)
    # A str is iterable, but Message(applied_tags="123") meaning ("1", "2", "3") is
    # always a mistake; such values and non-iterables are left for the validator.
    v: object = values
    if isinstance(v, str | bytes | bytearray | memoryview | Mapping) or not isinstance(v, Iterable):
        return cast("tuple[_T, ...]", v)
    return tuple(values)


def _snowflake(value: object) -> object:
    if isinstance(value, str):
        return value
    if _is_int(value):
        return str(int(cast(int, value)))  # int(): an IntEnum's str() is its name
    return value  # the validator names the field and the type


def _opt_snowflake(value: int | str | None) -> str | None:
    if value is None or type(value) is str:
        return value
    return cast("str | None", _snowflake(value))


def _snowflakes(values: Iterable[int | str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    items = _as_tuple(values)
    if type(items) is not tuple:
        return cast("tuple[str, ...]", items)
    return tuple(cast(str, _snowflake(v)) for v in items)


def _strs(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else _as_tuple(values)


_V_SNOWFLAKES: Final = _v_tuple_of(str, "a snowflake (int or str)", optional=True)


@attrs.frozen
class EmbedField:
    """One name/value field of an embed.

    Example:
        ``EmbedField("status", "passed", inline=True)``
    """

    name: str = attrs.field(validator=_v_str)
    value: str = attrs.field(validator=_v_str)
    inline: bool | None = attrs.field(default=None, validator=_v_opt_bool)


@attrs.frozen
class EmbedFooter:
    """An embed's footer: text and an optional icon (``attachment://name`` works)."""

    text: str = attrs.field(validator=_v_str)
    icon_url: str | None = attrs.field(default=None, validator=_v_opt_str)


@attrs.frozen
class EmbedAuthor:
    """An embed's author line: a name, an optional link and an optional icon."""

    name: str = attrs.field(validator=_v_str)
    url: str | None = attrs.field(default=None, validator=_v_opt_str)
    icon_url: str | None = attrs.field(default=None, validator=_v_opt_str)


@attrs.frozen
class EmbedMedia:
    """An embed's image or thumbnail: ``https://...`` or ``attachment://filename``."""

    url: str = attrs.field(validator=_v_str)


def _embed_fields(fields: Iterable[EmbedField]) -> tuple[EmbedField, ...]:
    return _as_tuple(fields)


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

    title: str | None = attrs.field(default=None, validator=_v_opt_str)
    description: str | None = attrs.field(default=None, validator=_v_opt_str)
    url: str | None = attrs.field(default=None, validator=_v_opt_str)
    timestamp: datetime | None = attrs.field(default=None, validator=_v_opt_datetime)
    color: int | None = attrs.field(default=None, validator=_v_opt_color)
    footer: EmbedFooter | None = attrs.field(default=None, validator=_v_optional(EmbedFooter))
    image: EmbedMedia | None = attrs.field(default=None, validator=_v_optional(EmbedMedia))
    thumbnail: EmbedMedia | None = attrs.field(default=None, validator=_v_optional(EmbedMedia))
    author: EmbedAuthor | None = attrs.field(default=None, validator=_v_optional(EmbedAuthor))
    fields: tuple[EmbedField, ...] = attrs.field(
        default=(), converter=_embed_fields, validator=_v_tuple_of(EmbedField, "EmbedField")
    )

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
    name: object = filename
    if not isinstance(name, str):
        # The default runs before the validators: leave the wrong type to them.
        return "application/octet-stream"
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def _opt_path(value: str | os.PathLike[str] | None) -> Path | None:
    if value is None:
        return None
    v: object = value
    if not isinstance(v, str | os.PathLike):
        return cast(Path, v)  # the validator names the field and the type
    try:
        return Path(value)
    except TypeError:
        # A PathLike whose __fspath__ gives bytes (or something else).
        raise TypeError(
            f"FilePart.path must be str or os.PathLike[str] or None, got "
            f"{type(value).__name__} whose __fspath__ does not give a str"
        ) from None


def _opt_bytes(value: bytes | bytearray | memoryview | None) -> bytes | None:
    if value is None or type(value) is bytes:
        return value
    v: object = value
    if isinstance(v, bytearray | memoryview):
        # Copied: a frozen part must not change under the sender when the caller reuses
        # its buffer.
        return bytes(v)
    return cast(bytes, v)  # the validator names the field and the type


def _v_opt_bytes(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, bytes):
        raise _type_error(inst, attr, "bytes, bytearray, memoryview or None", value)


def _v_opt_path(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Path):
        raise _type_error(inst, attr, "str, os.PathLike or None", value)


def _v_filename(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, str):
        return
    error = _type_error(inst, attr, "str", value)
    if isinstance(value, bytes | bytearray | memoryview):
        # FilePart(b"...", "name.txt"): the arguments were swapped.
        error.args = (f"{error}; the filename comes first: FilePart(filename, data=...)",)
    raise error


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

    filename: str = attrs.field(validator=_v_filename)
    data: bytes | None = attrs.field(
        default=None, repr=False, converter=_opt_bytes, validator=_v_opt_bytes
    )
    path: Path | None = attrs.field(default=None, converter=_opt_path, validator=_v_opt_path)
    description: str | None = attrs.field(default=None, validator=_v_opt_str)
    spoiler: bool = attrs.field(default=False, validator=_v_bool)
    content_type: str = attrs.field(validator=_v_str)

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

    parse: tuple[str, ...] | None = attrs.field(
        default=None, converter=_strs, validator=_v_tuple_of(str, "str", optional=True)
    )
    users: tuple[str, ...] | None = attrs.field(
        default=None, converter=_snowflakes, validator=_V_SNOWFLAKES
    )
    roles: tuple[str, ...] | None = attrs.field(
        default=None, converter=_snowflakes, validator=_V_SNOWFLAKES
    )
    replied_user: bool | None = attrs.field(default=None, validator=_v_opt_bool)

    @classmethod
    def none(cls) -> AllowedMentions:
        """Mentions that ping nobody (``{"parse": []}``)."""
        return cls(parse=())


def _embeds(embeds: Iterable[Embed]) -> tuple[Embed, ...]:
    return _as_tuple(embeds)


def _files(files: Iterable[FilePart]) -> tuple[FilePart, ...]:
    return _as_tuple(files)


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

    content: str | None = attrs.field(default=None, validator=_v_opt_str)
    username: str | None = attrs.field(default=None, validator=_v_opt_str)
    avatar_url: str | None = attrs.field(default=None, validator=_v_opt_str)
    tts: bool | None = attrs.field(default=None, validator=_v_opt_bool)
    embeds: tuple[Embed, ...] = attrs.field(
        default=(), converter=_embeds, validator=_v_tuple_of(Embed, "Embed")
    )
    attachments: tuple[FilePart, ...] = attrs.field(
        default=(), converter=_files, validator=_v_tuple_of(FilePart, "FilePart")
    )
    allowed_mentions: AllowedMentions | None = attrs.field(
        default=None, validator=_v_optional(AllowedMentions)
    )
    flags: int | None = attrs.field(default=None, validator=_v_opt_int)
    thread_id: str | None = attrs.field(
        default=None, converter=_opt_snowflake, validator=_v_opt_snowflake
    )
    thread_name: str | None = attrs.field(default=None, validator=_v_opt_str)
    applied_tags: tuple[str, ...] | None = attrs.field(
        default=None, converter=_snowflakes, validator=_V_SNOWFLAKES
    )


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


def _tuple_of_embeds(values: Sequence[Embed]) -> tuple[Embed, ...]:
    return tuple(values)


def _tuple_of_files(values: Sequence[FilePart]) -> tuple[FilePart, ...]:
    return tuple(values)


@attrs.frozen
class PlannedRequest:
    """One *Execute Webhook* request of a planned message.

    ``username``, ``avatar_url``, ``allowed_mentions``, ``flags`` and ``thread_id`` are
    repeated on every request so that the posts look alike and land in the same place;
    ``content`` and ``tts`` are only on the first.

    Forum posts: ``thread_name`` and ``applied_tags`` are only on the first request,
    which creates the post. The client must send the remaining requests into the
    created thread: set ``thread_id`` (``attrs.evolve``) to the ``channel_id`` of the
    first response, which it therefore executes with ``wait=true``.

    Attributes:
        index: The position of this request in its plan, from 0.
        content: The message content (first request only).
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
    embeds: tuple[Embed, ...] = attrs.field(default=(), converter=_tuple_of_embeds)
    files: tuple[FilePart, ...] = attrs.field(default=(), converter=_tuple_of_files)
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
