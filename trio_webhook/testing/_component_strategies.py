"""Hypothesis strategies for components (V1 rows, Components V2), polls and flags.

Re-exported by :mod:`trio_webhook.testing.strategies`; every value drawn passes
:func:`trio_webhook._limits.validate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from trio_webhook._component_checks import component_count, text_length
from trio_webhook._component_tree import MessageFlags
from trio_webhook._components import (
    ActionRow,
    Button,
    ButtonStyle,
    Component,
    Container,
    Emoji,
    EntitySelect,
    FileComponent,
    MediaGallery,
    MediaGalleryItem,
    Section,
    SelectDefaultValue,
    SelectKind,
    SelectOption,
    Separator,
    SeparatorSpacing,
    StringSelect,
    TextDisplay,
    Thumbnail,
)
from trio_webhook._limit_values import CHANNEL_TYPES, COMPONENT_ID_MAX
from trio_webhook._polls import Poll, PollAnswer
from trio_webhook.testing._texts import draw_text

__all__ = ["action_rows", "components_v2", "message_flags", "polls", "with_component_ids"]

_WEB = st.sampled_from(["https://example.com/a.png", "https://cdn.example.org/x/y.gif"])
_EMOJI = st.none() | st.sampled_from([Emoji("🚀"), Emoji(name="parrot", id=123456789012345678)])
_BOOL = st.none() | st.booleans()


def _text(draw: st.DrawFn, max_size: int) -> str:
    return draw_text(draw, max_size, True)


@st.composite
def _buttons(draw: st.DrawFn, *, interactive: bool) -> Button:
    label = draw(st.none() | st.just(_text(draw, 80)))
    emoji = draw(_EMOJI) if label is not None else Emoji("✅")
    if interactive and draw(st.booleans()):
        style = draw(st.sampled_from([s for s in ButtonStyle if s is not ButtonStyle.LINK]))
        custom_id = _text(draw, 100)
        return Button(label, custom_id=custom_id, style=style, emoji=emoji, disabled=draw(_BOOL))
    return Button(label, url=draw(_WEB), emoji=emoji, disabled=draw(_BOOL))


@st.composite
def _selects(draw: st.DrawFn) -> StringSelect | EntitySelect:
    custom_id = _text(draw, 100)
    low = draw(st.none() | st.integers(0, 2))
    # max_values defaults to 1, so a min_values over 1 needs a max_values of its own.
    least = max(1, low or 0)
    high = draw(st.integers(least, 25)) if least > 1 else draw(st.none() | st.integers(1, 25))
    if draw(st.booleans()):
        # CHANNEL twice: it alone takes channel_types.
        kind = draw(st.sampled_from([*SelectKind, SelectKind.CHANNEL]))
        types = st.sampled_from(sorted(CHANNEL_TYPES))
        channels = st.lists(types, min_size=1, max_size=4, unique=True)
        # Each part more often present than not: entity selects are a rare draw already.
        defaults = draw(_default_values(kind, low, high)) if draw(st.integers(0, 2)) else None
        kinds = draw(channels) if kind is SelectKind.CHANNEL and draw(st.integers(0, 2)) else None
        return EntitySelect(
            kind,
            custom_id,
            min_values=low,
            max_values=high,
            default_values=defaults,
            channel_types=kinds,
        )
    n = draw(st.integers(1, 4))
    options = [SelectOption(_text(draw, 100), f"v{i}", emoji=draw(_EMOJI)) for i in range(n)]
    return StringSelect(custom_id, options, placeholder=draw(st.none() | st.just("pick")))


_DEFAULT_TYPES: dict[SelectKind, list[str]] = {
    SelectKind.USER: ["user"],
    SelectKind.ROLE: ["role"],
    SelectKind.MENTIONABLE: ["user", "role"],
    SelectKind.CHANNEL: ["channel"],
}


@st.composite
def _default_values(
    draw: st.DrawFn, kind: SelectKind, low: int | None, high: int | None
) -> list[SelectDefaultValue]:
    # As many as min_values..max_values allow (both default to 1).
    n = draw(st.integers(1 if low is None else low, 1 if high is None else high))
    ids = draw(st.lists(st.integers(10**16, 10**19), min_size=n, max_size=n, unique=True))
    types = _DEFAULT_TYPES[kind]
    return [SelectDefaultValue(i, draw(st.sampled_from(types))) for i in ids]


def _with_ids(draw: st.DrawFn, component: Any, used: set[int]) -> Any:
    """``component`` with ids on some of its tree, unique in ``used`` (the message's)."""
    changes: dict[str, Any] = {}
    if isinstance(component, ActionRow | Container | Section):
        changes["components"] = [_with_ids(draw, c, used) for c in component.components]
    if isinstance(component, Section):
        changes["accessory"] = _with_ids(draw, component.accessory, used)
    if draw(st.booleans()):
        # Small ids too, so that FakeDiscord's numbering must step around them.
        fresh = (st.integers(1, 50) | st.integers(1, COMPONENT_ID_MAX)).filter(
            lambda n: n not in used
        )
        changes["id"] = draw(fresh)
        used.add(changes["id"])
    return attrs.evolve(component, **changes)


def with_component_ids(draw: st.DrawFn, components: Sequence[Component]) -> tuple[Component, ...]:
    """A message's components with ids drawn on some of them, unique in the message."""
    used: set[int] = set()
    return tuple(_with_ids(draw, c, used) for c in components)


@st.composite
def action_rows(draw: st.DrawFn, *, interactive: bool = False) -> ActionRow:
    """Valid action rows: 1 to 5 buttons, or one select menu when ``interactive``.

    Args:
        draw: Supplied by hypothesis.
        interactive: Whether buttons with a ``custom_id`` and selects may be drawn (an
            application-owned webhook's).
    """
    if interactive and draw(st.integers(0, 2)) == 0:
        return ActionRow([draw(_selects())])
    n = draw(st.integers(1, 5))
    return ActionRow([draw(_buttons(interactive=interactive)) for _ in range(n)])


def _media(draw: st.DrawFn, names: Sequence[str]) -> str:
    if len(names) > 0 and draw(st.booleans()):
        return f"attachment://{draw(st.sampled_from(list(names)))}"
    return draw(_WEB)


@st.composite
def _leaves(draw: st.DrawFn, names: Sequence[str], text_left: int) -> Component:
    kinds = ["separator", "gallery"] + (["file"] if names else [])
    if text_left >= 1:
        kinds += ["text", "text", "section"]
    kind = draw(st.sampled_from(kinds))
    if kind == "separator":
        return Separator(draw(_BOOL), draw(st.none() | st.sampled_from(SeparatorSpacing)))
    if kind == "gallery":
        n = draw(st.integers(1, 10) | st.just(1))
        items = [MediaGalleryItem(_media(draw, names), spoiler=draw(_BOOL)) for _ in range(n)]
        return MediaGallery(items)
    if kind == "file":
        return FileComponent(f"attachment://{draw(st.sampled_from(list(names)))}", draw(_BOOL))
    text = TextDisplay(_text(draw, min(text_left, 4000)))
    if kind == "text":
        return text
    if draw(st.booleans()):
        accessory: Thumbnail | Button = Thumbnail(
            _media(draw, names), description=draw(st.none() | st.just("alt")), spoiler=draw(_BOOL)
        )
    else:
        accessory = draw(_buttons(interactive=False))
    return Section([text], accessory)


@st.composite
def components_v2(
    draw: st.DrawFn, attachment_names: Sequence[str] = (), *, interactive: bool = False
) -> tuple[Component, ...]:
    """Valid Components V2 layouts: within 40 components and 4000 characters of text.

    Args:
        draw: Supplied by hypothesis.
        attachment_names: Filenames that media may show as ``attachment://name``.
        interactive: Whether the action rows may hold interactive components.
    """
    out: list[Component] = []
    for _ in range(draw(st.integers(1, 6))):
        left = 4000 - text_length(out)
        if draw(st.integers(0, 3)) == 0:
            children: list[Any] = [
                draw(_leaves(attachment_names, left)) for _ in range(draw(st.integers(1, 4)))
            ]
            if draw(st.booleans()):
                children.append(draw(action_rows(interactive=interactive)))
            candidate: Component = Container(
                children,
                accent_color=draw(st.none() | st.integers(0, 0xFFFFFF)),
                spoiler=draw(_BOOL),
            )
        elif draw(st.integers(0, 4)) == 0:
            candidate = draw(action_rows(interactive=interactive))
        else:
            candidate = draw(_leaves(attachment_names, left))
        if component_count([*out, candidate]) <= 40 and text_length([*out, candidate]) <= 4000:
            out.append(candidate)
    if not out:
        out.append(TextDisplay("x"))
    return tuple(out)


@st.composite
def polls(draw: st.DrawFn) -> Poll:
    """Valid polls: 1 to 10 answers (some with emoji), optional duration and layout."""
    answers = [
        PollAnswer(
            _text(draw, 55), emoji=draw(st.none() | st.sampled_from([Emoji("🍕"), Emoji(id=42)]))
        )
        for _ in range(draw(st.integers(1, 10)))
    ]
    return Poll(
        _text(draw, 300),
        answers,
        duration=draw(st.none() | st.integers(1, 768)),
        allow_multiselect=draw(_BOOL),
        layout_type=draw(st.none() | st.just(1)),
    )


def message_flags() -> st.SearchStrategy[int | None]:
    """Flags a webhook message may carry, as ints and :class:`MessageFlags`."""
    flags = MessageFlags
    return st.sampled_from(
        [
            None,
            0,
            4,
            4096,
            4100,
            flags.SUPPRESS_NOTIFICATIONS,
            flags.SUPPRESS_EMBEDS | flags.SUPPRESS_NOTIFICATIONS,
        ]
    )
