"""An embed and its parts (attrs, frozen); :mod:`trio_webhook._models` exports them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from trio_webhook._validators import (
    as_tuple,
    checked,
    v_opt_bool,
    v_opt_color,
    v_opt_datetime,
    v_opt_str,
    v_optional,
    v_str,
    v_tuple_of,
    validate_fields,
)

__all__ = ["Embed", "EmbedAuthor", "EmbedField", "EmbedFooter", "EmbedMedia"]


@attrs.frozen
class EmbedField:
    """One name/value field of an embed.

    Example:
        ``EmbedField("status", "passed", inline=True)``
    """

    name: str = attrs.field(validator=v_str)
    value: str = attrs.field(validator=v_str)
    inline: bool | None = attrs.field(default=None, validator=v_opt_bool)


@attrs.frozen
class EmbedFooter:
    """An embed's footer: text and an optional icon (``attachment://name`` works)."""

    text: str = attrs.field(validator=v_str)
    icon_url: str | None = attrs.field(default=None, validator=v_opt_str)


@attrs.frozen
class EmbedAuthor:
    """An embed's author line: a name, an optional link and an optional icon."""

    name: str = attrs.field(validator=v_str)
    url: str | None = attrs.field(default=None, validator=v_opt_str)
    icon_url: str | None = attrs.field(default=None, validator=v_opt_str)


@attrs.frozen
class EmbedMedia:
    """An embed's image or thumbnail: ``https://...`` or ``attachment://filename``."""

    url: str = attrs.field(validator=v_str)


def _embed_fields(fields: Iterable[EmbedField]) -> tuple[EmbedField, ...]:
    return as_tuple(fields)


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

    title: str | None = attrs.field(default=None, metadata=checked(v_opt_str))
    description: str | None = attrs.field(default=None, metadata=checked(v_opt_str))
    url: str | None = attrs.field(default=None, metadata=checked(v_opt_str))
    timestamp: datetime | None = attrs.field(default=None, metadata=checked(v_opt_datetime))
    color: int | None = attrs.field(default=None, metadata=checked(v_opt_color))
    footer: EmbedFooter | None = attrs.field(
        default=None, metadata=checked(v_optional(EmbedFooter))
    )
    image: EmbedMedia | None = attrs.field(default=None, metadata=checked(v_optional(EmbedMedia)))
    thumbnail: EmbedMedia | None = attrs.field(
        default=None, metadata=checked(v_optional(EmbedMedia))
    )
    author: EmbedAuthor | None = attrs.field(
        default=None, metadata=checked(v_optional(EmbedAuthor))
    )
    fields: tuple[EmbedField, ...] = attrs.field(
        default=(), converter=_embed_fields, metadata=checked(v_tuple_of(EmbedField, "EmbedField"))
    )

    def __attrs_post_init__(self) -> None:
        # The commonest embed (text, a link) in one test; any other shape runs each
        # field's validator (see checked), which raises as attrs' own would.
        if not (
            (self.title is None or type(self.title) is str)
            and (self.description is None or type(self.description) is str)
            and (self.url is None or type(self.url) is str)
            and self.timestamp is None
            and self.color is None
            and self.footer is None
            and self.image is None
            and self.thumbnail is None
            and self.author is None
            and type(self.fields) is tuple
            and not self.fields
        ):
            validate_fields(self)

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
