"""What Discord stored and answers with: a message, its attachments, the webhook itself.

And a :class:`Delivery`, the messages one execute returned, read from the answers when
asked for.

Reading is lenient, as Discord adds fields without notice: every key this module does
not know stays in ``raw``, a missing optional key reads as ``None``, and a value of the
wrong type reads as missing rather than failing the call whose answer it is (the
message was delivered; a surprise in the answer must not turn that into an error).
``from_json`` reads through this module's own converter, which only reads (the models'
converter in :mod:`trio_webhook._models`, which imports this module, writes JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs
import cattrs

from trio_webhook._embeds import Embed
from trio_webhook._limit_values import ATTACHMENT_IS_SPOILER
from trio_webhook.transport._values import parse_json, top_level_fields

__all__ = [
    "MESSAGE_IDS",
    "Delivery",
    "ReceivedAttachment",
    "ReceivedMessage",
    "WebhookInfo",
    "answer_ids",
]

_T = TypeVar("_T")
# Both hold the webhook's secret; a caller that needs them already has the URL.
_SECRET_KEYS: Final = frozenset({"token", "url"})


@attrs.frozen
class ReceivedAttachment:
    """A file as Discord stored it (Discord's attachment object).

    Attributes:
        id: The attachment's snowflake: give it to
            :class:`~trio_webhook.messages.KeepAttachment` to keep it on an edit.
        filename: The name Discord stored (sanitised, ``SPOILER_`` prefix included).
        size: Its size in bytes.
        url: Where to download it (a signed CDN URL that expires).
        proxy_url: The media proxy's URL.
        content_type: Its media type, if Discord knows it.
        description: Its alt text.
        title: Its title.
        width: Its width in pixels (images and videos).
        height: Its height in pixels (images and videos).
        flags: Discord's attachment flags (``IS_SPOILER`` is ``1 << 3``).
        raw: Discord's whole JSON object.
    """

    id: str
    filename: str
    size: int
    url: str
    proxy_url: str
    content_type: str | None = None
    description: str | None = None
    title: str | None = None
    width: int | None = None
    height: int | None = None
    flags: int = 0
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def spoiler(self) -> bool:
        """Whether it is blurred: the ``IS_SPOILER`` flag, or the legacy name prefix."""
        return bool(self.flags & ATTACHMENT_IS_SPOILER) or self.filename.startswith("SPOILER_")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReceivedAttachment:
        """Read Discord's attachment object (unknown keys stay in ``raw``)."""
        return _structure(data, cls)


@attrs.frozen
class ReceivedMessage:
    """A message as Discord returned it (``wait=true``, get and edit).

    ``components`` and ``poll`` are Discord's JSON as is: the models of
    :mod:`trio_webhook.components` and :mod:`trio_webhook.polls` are request shapes,
    read strictly, and an answer adds what they refuse (components' ``id``, resolved
    media, a poll's ``expiry`` and ``results``, component types newer than the models).

    Attributes:
        id: The message's snowflake.
        channel_id: The channel (or thread) it is in.
        content: Its text (``""`` when it has none).
        embeds: Its embeds, read into :class:`~trio_webhook.Embed` (an embed the model
            cannot hold, such as a link preview's video, is only in ``raw``).
        attachments: Its files.
        components: Its components, as Discord's JSON objects.
        poll: Its poll, as Discord's JSON object, or ``None``.
        flags: Its message flags.
        timestamp: When it was posted.
        edited_timestamp: When it was last edited, ``None`` if never.
        webhook_id: The webhook that posted it.
        author_name: The name it was posted under (the webhook's, or ``username``).
        author_avatar: The author's avatar hash, if any.
        raw: Discord's whole JSON object, for fields newer than this model.
    """

    id: str
    channel_id: str
    content: str = ""
    embeds: tuple[Embed, ...] = ()
    attachments: tuple[ReceivedAttachment, ...] = ()
    components: tuple[Mapping[str, Any], ...] = ()
    poll: Mapping[str, Any] | None = None
    flags: int = 0
    timestamp: datetime | None = None
    edited_timestamp: datetime | None = None
    webhook_id: str | None = None
    author_name: str | None = None
    author_avatar: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReceivedMessage:
        """Read Discord's message object (unknown keys stay in ``raw``)."""
        return _structure(data, cls)


@attrs.frozen
class WebhookInfo:
    """The webhook itself, as Discord returns it; never its token or URL.

    Attributes:
        id: The webhook's snowflake.
        name: Its default name.
        avatar: Its default avatar's hash, ``None`` without one.
        channel_id: The channel it posts to.
        guild_id: The guild of that channel.
        application_id: The application that created it, if any.
        type: 1 (incoming), 2 (channel follower) or 3 (application).
        raw: Discord's JSON object without ``token`` and ``url``.
    """

    id: str
    name: str | None = None
    avatar: str | None = None
    channel_id: str | None = None
    guild_id: str | None = None
    application_id: str | None = None
    type: int = 1
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebhookInfo:
        """Read Discord's webhook object; ``token`` and ``url`` are dropped."""
        return _structure(data, cls)


Answer = bytes | Mapping[str, Any]
"""Discord's answer to one request: its JSON text, or that text parsed (a message object)."""


class Delivery:
    """The outcome of delivering one :class:`~trio_webhook.Message`: Discord's ``messages``."""

    __slots__ = ("_answers", "_messages")

    def __init__(self, messages: Iterable[ReceivedMessage] = ()) -> None:
        self._messages: tuple[ReceivedMessage, ...] | None = tuple(messages)
        self._answers: tuple[Answer, ...] = ()

    @classmethod
    def from_answers(cls, answers: Iterable[Answer]) -> Delivery:
        """The delivery of Discord's answers, read into messages when asked.

        Each answer is a message object: as the JSON text Discord sent (the sender keeps
        the body, already read once for its ids: bytes are one object the garbage
        collector never visits, where the parsed object is a dozen it would walk for as
        long as the receipt is held), or parsed.
        """
        delivery = cls()
        delivery._answers = tuple(answers)
        delivery._messages = None
        return delivery

    @property
    def messages(self) -> tuple[ReceivedMessage, ...]:
        """What Discord returned for each request of the message, in order.

        Empty when sent with ``wait=False``. Read from Discord's answers the first time
        it is asked for: a producer that never looks pays nothing for it.
        """
        if self._messages is None:
            self._messages = tuple(
                [ReceivedMessage.from_json(answer_object(a)) for a in self._answers]
            )
            self._answers = ()
        return self._messages

    @property
    def id(self) -> str | None:
        """The first message's id, or ``None`` when the message was not waited for."""
        if self._messages is None:
            if not self._answers:
                return None
            first = self._answers[0]
            if isinstance(first, bytes):
                return answer_ids(top_level_fields(first, _ID) or {})[0]
            return answer_ids(first)[0]
        return self._messages[0].id if self._messages else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Delivery):
            return NotImplemented
        return self.messages == other.messages

    def __hash__(self) -> int:
        return hash(self.messages)

    def __repr__(self) -> str:
        return f"Delivery(messages={self.messages!r})"


def _structure(data: Mapping[str, Any], cls: type[_T]) -> _T:
    return _READER.structure(data, cls)


def answer_object(answer: Answer) -> Mapping[str, Any]:
    """The message object of an answer.

    An answer's text was read only as far as its ids (``top_level_fields``): should the
    rest not be JSON, the message is what was read, its ids.
    """
    if isinstance(answer, bytes):
        data = parse_json(answer)
        return data if isinstance(data, dict) else top_level_fields(answer, MESSAGE_IDS) or {}
    return answer


_ID: Final = frozenset({"id"})
MESSAGE_IDS: Final = frozenset({"id", "channel_id"})
"""The members of a message answer the sender reads at once, when it needs them."""


def answer_ids(data: Mapping[str, Any]) -> tuple[str, str]:
    """The ``id`` and ``channel_id`` of a message answer, read as ``ReceivedMessage`` reads them."""
    return _str(data, "id") or "", _str(data, "channel_id") or ""


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if isinstance(value, str):
        return value
    # Snowflakes arrive as strings; a number is read as one, anything else as missing.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _objects(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _attachment(data: Mapping[str, Any]) -> ReceivedAttachment:
    return ReceivedAttachment(
        id=_str(data, "id") or "",
        filename=_str(data, "filename") or "",
        size=_int(data, "size") or 0,
        url=_str(data, "url") or "",
        proxy_url=_str(data, "proxy_url") or "",
        content_type=_str(data, "content_type"),
        description=_str(data, "description"),
        title=_str(data, "title"),
        width=_int(data, "width"),
        height=_int(data, "height"),
        flags=_int(data, "flags") or 0,
        raw=data,
    )


def _embeds(conv: cattrs.Converter, data: Mapping[str, Any]) -> tuple[Embed, ...]:
    embeds = []
    for item in _objects(data, "embeds"):
        try:
            embeds.append(conv.structure(item, Embed))
        except (cattrs.BaseValidationError, ValueError, TypeError):
            # A link preview or a newer embed kind the model cannot hold: it is in raw.
            continue
    return tuple(embeds)


def _message(conv: cattrs.Converter, data: Mapping[str, Any]) -> ReceivedMessage:
    author = data.get("author")
    author = author if isinstance(author, Mapping) else {}
    poll = data.get("poll")
    return ReceivedMessage(
        id=_str(data, "id") or "",
        channel_id=_str(data, "channel_id") or "",
        content=_str(data, "content") or "",
        embeds=_embeds(conv, data),
        attachments=tuple(_attachment(a) for a in _objects(data, "attachments")),
        components=tuple(_objects(data, "components")),
        poll=poll if isinstance(poll, Mapping) else None,
        flags=_int(data, "flags") or 0,
        timestamp=_time(data, "timestamp"),
        edited_timestamp=_time(data, "edited_timestamp"),
        webhook_id=_str(data, "webhook_id"),
        author_name=_str(author, "username"),
        author_avatar=_str(author, "avatar"),
        raw=data,
    )


def _webhook(data: Mapping[str, Any]) -> WebhookInfo:
    return WebhookInfo(
        id=_str(data, "id") or "",
        name=_str(data, "name"),
        avatar=_str(data, "avatar"),
        channel_id=_str(data, "channel_id"),
        guild_id=_str(data, "guild_id"),
        application_id=_str(data, "application_id"),
        type=_int(data, "type") or 1,
        raw={k: v for k, v in data.items() if k not in _SECRET_KEYS},
    )


def _timestamp(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _make_reader() -> cattrs.Converter:
    conv = cattrs.Converter()
    hooks: dict[type, Callable[[Any, type], Any]] = {
        ReceivedMessage: lambda data, _: _message(conv, _mapping(data)),
        ReceivedAttachment: lambda data, _: _attachment(_mapping(data)),
        WebhookInfo: lambda data, _: _webhook(_mapping(data)),
        datetime: _timestamp,
    }
    for cls, hook in hooks.items():
        conv.register_structure_hook(cls, hook)
    return conv


def _mapping(data: Any) -> Mapping[str, Any]:
    return data if isinstance(data, Mapping) else {}


_READER: Final = _make_reader()
"""Reads Discord's answers (messages, attachments, the webhook) into this module's models."""
