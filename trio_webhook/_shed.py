"""Shedding, the pure part: what a message looks like once its attachments are shed.

:class:`~trio_webhook._buffer.PressureBuffer` decides when to shed; this module makes the
stripped copy (fast: it runs inside ``send_nowait``) and the :class:`Shed` report.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any, Final, cast

import attrs

from trio_webhook._attachments import strip_attachment_refs, strip_component_refs
from trio_webhook._models import Embed, Message

__all__ = ["Shed", "strip_attachments"]


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


# What shedding changes, as expressions of the message ``m`` (every other field is kept).
_STRIPPED: Final = {
    "attachments": "()",
    "embeds": "embeds_without_refs(m.embeds)",
    # Likewise a component showing a shed file: the media goes, the text stays.
    "components": "strip_component_refs(m.components)",
}


def _make_stripper() -> Callable[[Message], Message]:
    """``attrs.evolve(message, attachments=())``, three times as fast, allocating one object.

    Shedding runs inside ``push_nowait``, whose latency budget is a few microseconds;
    ``evolve`` spends half its time looking fields up by name on every call, and the
    constructor re-runs every field's converter and validator (a third of what is left).
    The source message was validated when it was made, and the fields that change are
    only emptied (attachments) or rebuilt through their own validated constructors
    (embeds and components without their ``attachment://`` media), so the copy is
    valid by construction: it is filled slot by slot, as attrs' own ``__init__`` fills
    a frozen class, by a function written out field by field (as attrs writes its
    ``__init__``): no loop, no list of values. Every object allocated counts towards
    the garbage collector's next pass, which then runs inside the push that allocated
    it. Built from ``attrs.fields`` so a new field of ``Message`` is picked up; falls
    back to ``evolve`` if ``Message`` has no plain slots (or a post-init).
    """
    names = [a.name for a in attrs.fields(Message)]
    slots = [Message.__dict__.get(name) for name in names]
    plain = hasattr(Message, "__slots__") and not hasattr(Message, "__attrs_post_init__")
    if not (plain and all(isinstance(s, MemberDescriptorType) for s in slots)):
        return lambda message: attrs.evolve(
            message,
            attachments=(),
            embeds=_embeds_without_refs(message.embeds),
            components=strip_component_refs(message.components),
        )
    scope: dict[str, Any] = {
        "new": object.__new__,
        "Message": Message,
        "embeds_without_refs": _embeds_without_refs,
        "strip_component_refs": strip_component_refs,
    }
    lines = ["def strip(m):", "    s = new(Message)"]
    for i, (name, slot) in enumerate(zip(names, slots, strict=True)):
        scope[f"set_{i}"] = cast(MemberDescriptorType, slot).__set__
        lines.append(f"    set_{i}(s, {_STRIPPED.get(name, 'm.' + name)})")
    lines.append("    return s")
    exec("\n".join(lines), scope)  # our own text, written from attrs.fields above
    strip: Callable[[Message], Message] = scope["strip"]
    return strip


def _embeds_without_refs(embeds: tuple[Embed, ...]) -> tuple[Embed, ...]:
    # With its files shed, an embed still showing one (attachment://name) would make
    # Discord refuse the whole message: the image goes, the embed stays. Indexed, not
    # iterated: a for loop allocates an iterator, and this runs inside push_nowait.
    i, n = 0, len(embeds)
    while i < n:
        if strip_attachment_refs(embeds[i]) is not embeds[i]:
            return tuple([strip_attachment_refs(e) for e in embeds])
        i += 1
    return embeds


strip_attachments: Final = _make_stripper()
"""``message`` without its attachments, nor what its embeds and components show of them."""
