"""Shedding, the pure part: what a message looks like once its attachments are shed.

:class:`~trio_webhook._buffer.PressureBuffer` decides when to shed; this module makes the
stripped copy (fast: it runs inside ``send_nowait``) and the :class:`Shed` report.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Final

import attrs

from trio_webhook._attachments import strip_attachment_refs, strip_component_refs
from trio_webhook._models import Embed, Message

__all__ = ["Shed", "merge_shed", "strip_attachments"]


@attrs.frozen
class Shed:
    """Attachments stripped from buffered messages to stay under the high-water mark.

    Attributes:
        messages: How many messages lost their attachments.
        attachments: How many files were dropped.
        filenames: Their names, oldest message first (never their contents).
    """

    messages: int
    attachments: int
    filenames: tuple[str, ...]


def _make_stripper() -> Callable[[Message], Message]:
    """``attrs.evolve(message, attachments=())``, about twice as fast.

    Shedding runs inside ``push_nowait``, whose latency budget is a few microseconds;
    ``evolve`` spends half its time looking fields up by name on every call. This reads
    every field with one ``attrgetter`` and calls the constructor positionally, so the
    constructor's converters and checks still run. Built from ``attrs.fields`` so a new
    field of ``Message`` is picked up; falls back to ``evolve`` if a field cannot be
    passed positionally.
    """
    fields = attrs.fields(Message)
    if not all(a.init and not a.kw_only and a.alias == a.name for a in fields):
        return lambda message: attrs.evolve(
            message,
            attachments=(),
            embeds=_embeds_without_refs(message.embeds),
            components=strip_component_refs(message.components),
        )
    getter = operator.attrgetter(*(a.name for a in fields))
    names = [a.name for a in fields]
    index, embeds_index = names.index("attachments"), names.index("embeds")
    components_index = names.index("components")

    def strip(message: Message) -> Message:
        values = list(getter(message))
        values[index] = ()
        values[embeds_index] = _embeds_without_refs(message.embeds)
        # Likewise a component showing a shed file: the media goes, the text stays.
        values[components_index] = strip_component_refs(message.components)
        return Message(*values)

    return strip


def _embeds_without_refs(embeds: tuple[Embed, ...]) -> tuple[Embed, ...]:
    # With its files shed, an embed still showing one (attachment://name) would make
    # Discord refuse the whole message: the image goes, the embed stays.
    for embed in embeds:
        if strip_attachment_refs(embed) is not embed:
            return tuple([strip_attachment_refs(e) for e in embeds])
    return embeds


strip_attachments: Final = _make_stripper()
"""``message`` without its attachments, nor what its embeds and components show of them."""


def merge_shed(a: Shed | None, b: Shed | None) -> Shed | None:
    """Both sheds as one (``None`` is no shedding)."""
    if a is None:
        return b
    if b is None:
        return a
    return Shed(a.messages + b.messages, a.attachments + b.attachments, a.filenames + b.filenames)
