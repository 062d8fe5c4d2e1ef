"""The one cattrs converter between our models and Discord's JSON.

The converter is the only JSON boundary: it omits fields whose value is ``None`` (never
``False``, ``0`` or an empty list, which mean something to Discord), renders colours as
integers, timestamps as ISO 8601 and snowflakes as strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from trio_webhook._component_tree import unstructure_hook
from trio_webhook._embeds import Embed, EmbedAuthor, EmbedField, EmbedFooter, EmbedMedia
from trio_webhook._models import Message
from trio_webhook._polls import Poll, poll_json

__all__ = ["converter", "to_json_dict"]


_SKIP: Final = frozenset({"attachments", "thread_id", "application_owned"})


def _embed_json_by(conv: cattrs.Converter) -> Any:
    """Embed's JSON, as the generated hook writes it, without its call for each str field.

    Nearly every message carries an embed, most of them text only: the generated hook
    calls an identity function for each string and compares each field to its default,
    which made it cost nearly three times this (a test holds the two equal, key order
    included).
    """
    footer = conv.get_unstructure_hook(EmbedFooter)
    media = conv.get_unstructure_hook(EmbedMedia)
    author = conv.get_unstructure_hook(EmbedAuthor)
    field = conv.get_unstructure_hook(EmbedField)

    def embed_json(embed: Embed) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if embed.title is not None:
            out["title"] = embed.title
        if embed.description is not None:
            out["description"] = embed.description
        if embed.url is not None:
            out["url"] = embed.url
        if embed.timestamp is not None:
            out["timestamp"] = embed.timestamp.isoformat()
        if embed.color is not None:
            out["color"] = embed.color
        if embed.footer is not None:
            out["footer"] = footer(embed.footer)
        if embed.image is not None:
            out["image"] = media(embed.image)
        if embed.thumbnail is not None:
            out["thumbnail"] = media(embed.thumbnail)
        if embed.author is not None:
            out["author"] = author(embed.author)
        if embed.fields:
            out["fields"] = [field(f) for f in embed.fields]
        return out

    return embed_json


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
            overrides["components"] = override(omit_if_default=True)
        return unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, **overrides))

    conv.register_unstructure_hook_factory(attrs.has, omit_none_factory)
    conv.register_unstructure_hook(Embed, _embed_json_by(conv))
    conv.register_unstructure_hook(Poll, lambda poll: poll_json(poll, conv.unstructure))
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
