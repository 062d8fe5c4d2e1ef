"""Message components (attrs, frozen): action rows of buttons and selects, and Components V2.

Discord's component reference (``docs/components/reference``) names two systems:

* **V1** ("legacy"): up to five :class:`ActionRow` s under the content and embeds, each
  holding up to five :class:`Button` s or one select menu.
* **V2** (the ``IS_COMPONENTS_V2`` flag): the components *are* the message, laid out in
  order: :class:`TextDisplay`, :class:`Section`, :class:`Container`,
  :class:`MediaGallery`, :class:`FileComponent`, :class:`Separator` and action rows. Such
  a message has no content, embeds or poll; the planner sets the flag for the user.

A webhook no application owns may send only what needs no interaction: link buttons,
layout and display components. Buttons with a ``custom_id`` and select menus are
*interactive*; the checks refuse them unless the message says
``application_owned=True``. The select menus are in :mod:`trio_webhook._selects`.

Every component takes an optional ``id`` (keyword only): 1 to 2**31 - 1, unique within
the message; Discord numbers the components given none, skipping the ids given.

How the checks, the planner, the encoder and the shedder read a tree of these is in
:mod:`trio_webhook._component_tree`, so they agree.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, Final, TypeAlias

import attrs

from trio_webhook._component_fields import Emoji, to_enum, tuple_of, v_enum, v_one_of
from trio_webhook._selects import (
    EntitySelect,
    SelectDefaultValue,
    SelectKind,
    SelectOption,
    StringSelect,
)
from trio_webhook._validators import (
    v_opt_bool,
    v_opt_color,
    v_opt_int,
    v_opt_str,
    v_str,
    v_tuple_of,
)

__all__ = [
    "COMPONENT_NAMES",
    "COMPONENT_TYPES",
    "ActionRow",
    "Button",
    "ButtonStyle",
    "Component",
    "Container",
    "Emoji",
    "EntitySelect",
    "FileComponent",
    "MediaGallery",
    "MediaGalleryItem",
    "Section",
    "SelectDefaultValue",
    "SelectKind",
    "SelectOption",
    "Separator",
    "SeparatorSpacing",
    "StringSelect",
    "TextDisplay",
    "Thumbnail",
    "UnfurledMedia",
]


class ButtonStyle(enum.IntEnum):
    """A button's style (OpenAPI ButtonStyleTypes).

    ``LINK`` opens ``url``; the others need a ``custom_id`` (interactive). Premium
    buttons (6) sell an SKU, which a webhook cannot.
    """

    PRIMARY = 1
    SECONDARY = 2
    SUCCESS = 3
    DANGER = 4
    LINK = 5


class SeparatorSpacing(enum.IntEnum):
    """A separator's padding (OpenAPI MessageComponentSeparatorSpacingSize)."""

    SMALL = 1
    LARGE = 2


def _to_style(value: Any) -> Any:
    return to_enum(ButtonStyle)(value)


def _to_spacing(value: Any) -> Any:
    return to_enum(SeparatorSpacing)(value)


def _media(value: Any) -> Any:
    # A bare URL is the usual way to give media: Thumbnail("attachment://a.png").
    return UnfurledMedia(value) if isinstance(value, str) else value


@attrs.frozen
class UnfurledMedia:
    """Media shown by a component: ``https://...`` or ``attachment://filename``."""

    url: str = attrs.field(validator=v_str)


def _default_style(self: Button) -> ButtonStyle:
    return ButtonStyle.LINK if self.url is not None else ButtonStyle.PRIMARY


@attrs.frozen
class Button:
    """A button in an :class:`ActionRow` or a :class:`Section`'s accessory.

    With ``url`` it is a link button (any webhook may send it); with ``custom_id`` and a
    non-link style it is interactive and needs ``Message(application_owned=True)``.

    Example:
        ``Button("Open the run", url="https://ci.example.com/42")``
    """

    TYPE: ClassVar[int] = 2
    label: str | None = attrs.field(default=None, validator=v_opt_str)
    url: str | None = attrs.field(default=None, kw_only=True, validator=v_opt_str)
    custom_id: str | None = attrs.field(default=None, kw_only=True, validator=v_opt_str)
    style: ButtonStyle = attrs.field(
        default=attrs.Factory(_default_style, takes_self=True),
        kw_only=True,
        converter=_to_style,
        validator=v_enum(ButtonStyle),
    )
    emoji: Emoji | None = attrs.field(
        default=None,
        kw_only=True,
        validator=attrs.validators.optional(v_one_of((Emoji,), "Emoji or None")),
    )
    disabled: bool | None = attrs.field(default=None, kw_only=True, validator=v_opt_bool)
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)

    @property
    def interactive(self) -> bool:
        """Whether clicking it sends an interaction (every style but ``LINK``)."""
        return self.style is not ButtonStyle.LINK


RowItem: TypeAlias = Button | StringSelect | EntitySelect
_ROW_ITEMS: Final = (Button, StringSelect, EntitySelect)


@attrs.frozen
class ActionRow:
    """A row of up to five buttons, or one select menu.

    Example:
        ``ActionRow([Button("Docs", url="https://example.com/docs")])``
    """

    TYPE: ClassVar[int] = 1
    components: tuple[RowItem, ...] = attrs.field(
        converter=tuple_of,
        validator=v_tuple_of(_ROW_ITEMS, "Button or a select menu"),
    )
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


@attrs.frozen
class TextDisplay:
    """Markdown text, like ``content`` but placed among the components (V2)."""

    TYPE: ClassVar[int] = 10
    content: str = attrs.field(validator=v_str)
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


_V_MEDIA: Final = v_one_of((UnfurledMedia,), "UnfurledMedia or a URL (str)")


@attrs.frozen
class Thumbnail:
    """A small image beside a :class:`Section`'s text (V2)."""

    TYPE: ClassVar[int] = 11
    media: UnfurledMedia = attrs.field(converter=_media, validator=_V_MEDIA)
    description: str | None = attrs.field(default=None, validator=v_opt_str)
    spoiler: bool | None = attrs.field(default=None, validator=v_opt_bool)
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


@attrs.frozen
class MediaGalleryItem:
    """One image or video of a :class:`MediaGallery`."""

    media: UnfurledMedia = attrs.field(converter=_media, validator=_V_MEDIA)
    description: str | None = attrs.field(default=None, validator=v_opt_str)
    spoiler: bool | None = attrs.field(default=None, validator=v_opt_bool)


@attrs.frozen
class MediaGallery:
    """A grid of 1 to 10 images or videos (V2)."""

    TYPE: ClassVar[int] = 12
    items: tuple[MediaGalleryItem, ...] = attrs.field(
        converter=tuple_of, validator=v_tuple_of(MediaGalleryItem, "MediaGalleryItem")
    )
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


@attrs.frozen
class FileComponent:
    """An uploaded file shown in place (V2); ``file`` must be ``attachment://name``."""

    TYPE: ClassVar[int] = 13
    file: UnfurledMedia = attrs.field(converter=_media, validator=_V_MEDIA)
    spoiler: bool | None = attrs.field(default=None, validator=v_opt_bool)
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


@attrs.frozen
class Separator:
    """Vertical space between components, with or without a line (V2)."""

    TYPE: ClassVar[int] = 14
    divider: bool | None = attrs.field(default=None, validator=v_opt_bool)
    spacing: SeparatorSpacing | None = attrs.field(
        default=None,
        converter=_to_spacing,
        validator=v_enum(SeparatorSpacing, optional=True),
    )
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


@attrs.frozen
class Section:
    """One to three text displays with an accessory beside them: a thumbnail or a button (V2)."""

    TYPE: ClassVar[int] = 9
    components: tuple[TextDisplay, ...] = attrs.field(
        converter=tuple_of, validator=v_tuple_of(TextDisplay, "TextDisplay")
    )
    accessory: Thumbnail | Button = attrs.field(
        validator=v_one_of((Thumbnail, Button), "Thumbnail or Button")
    )
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


ContainerItem: TypeAlias = (
    ActionRow | TextDisplay | Section | MediaGallery | Separator | FileComponent
)
_CONTAINER_ITEMS: Final = (ActionRow, TextDisplay, Section, MediaGallery, Separator, FileComponent)


@attrs.frozen
class Container:
    """A box around components with an optional accent colour bar (V2).

    Example::

        Container([TextDisplay("## build 42 passed")], accent_color=0x2ECC71)
    """

    TYPE: ClassVar[int] = 17
    components: tuple[ContainerItem, ...] = attrs.field(
        converter=tuple_of,
        validator=v_tuple_of(
            _CONTAINER_ITEMS,
            "ActionRow, TextDisplay, Section, MediaGallery, Separator or FileComponent",
        ),
    )
    accent_color: int | None = attrs.field(default=None, validator=v_opt_color)
    spoiler: bool | None = attrs.field(default=None, validator=v_opt_bool)
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


Component: TypeAlias = ContainerItem | Container
"""A top-level component of a message."""
COMPONENT_TYPES: Final = (*_CONTAINER_ITEMS, Container)
TYPED: Final = frozenset({*COMPONENT_TYPES, Button, StringSelect, Thumbnail})
"""The classes whose JSON carries a ``type`` number (their ``TYPE``)."""
ROW_ITEMS: Final = _ROW_ITEMS
COMPONENT_NAMES: Final = (
    "ActionRow, Container, FileComponent, MediaGallery, Section, Separator or TextDisplay"
)
