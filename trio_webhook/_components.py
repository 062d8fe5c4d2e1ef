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
``application_owned=True``.

How the checks, the planner, the encoder and the shedder read a tree of these is in
:mod:`trio_webhook._component_tree`, so they agree.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final, TypeAlias, TypeVar

import attrs

from trio_webhook._validators import (
    as_tuple,
    opt_snowflake,
    v_opt_bool,
    v_opt_color,
    v_opt_int,
    v_opt_snowflake,
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
    "SelectKind",
    "SelectOption",
    "Separator",
    "SeparatorSpacing",
    "StringSelect",
    "TextDisplay",
    "Thumbnail",
    "UnfurledMedia",
]

_E = TypeVar("_E", bound=enum.IntEnum)
_Validator: TypeAlias = Callable[[object, "attrs.Attribute[Any]", object], None]


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


class SelectKind(enum.IntEnum):
    """The auto-populated select menus, by component type (OpenAPI MessageComponentTypes)."""

    USER = 5
    ROLE = 6
    MENTIONABLE = 7
    CHANNEL = 8


def _to_enum(kind: type[_E]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool | kind):
            try:
                return kind(value)
            except ValueError:
                return value  # the validator names the field and the choices
        return value

    return convert


def _to_style(value: Any) -> Any:
    return _to_enum(ButtonStyle)(value)


def _to_spacing(value: Any) -> Any:
    return _to_enum(SeparatorSpacing)(value)


def _to_kind(value: Any) -> Any:
    return _to_enum(SelectKind)(value)


def _v_enum(kind: type[enum.IntEnum], *, optional: bool = False) -> _Validator:
    choices = ", ".join(f"{m.name} ({m.value})" for m in kind)

    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if (value is None and optional) or isinstance(value, kind):
            return
        where = f"{type(inst).__name__}.{attr.name}"
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(f"{where} must be one of {choices}, got {value}")
        raise TypeError(f"{where} must be a {kind.__name__}, got {type(value).__name__}")

    return validate


def _v_one_of(kinds: tuple[type, ...], expected: str) -> _Validator:
    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kinds):
            raise TypeError(
                f"{type(inst).__name__}.{attr.name} must be {expected}, got {type(value).__name__}"
            )

    return validate


def _tuple(values: Iterable[Any]) -> tuple[Any, ...]:
    return as_tuple(values)


def _media(value: Any) -> Any:
    # A bare URL is the usual way to give media: Thumbnail("attachment://a.png").
    return UnfurledMedia(value) if isinstance(value, str) else value


@attrs.frozen
class Emoji:
    """An emoji on a button, select option or poll answer: unicode ``name`` or custom ``id``.

    Example:
        ``Emoji("🚀")``, ``Emoji(name="party_parrot", id=123456789012345678)``
    """

    name: str | None = attrs.field(default=None, validator=v_opt_str)
    id: str | None = attrs.field(default=None, converter=opt_snowflake, validator=v_opt_snowflake)
    animated: bool | None = attrs.field(default=None, validator=v_opt_bool)

    def __attrs_post_init__(self) -> None:
        if self.name is None and self.id is None:
            raise ValueError("Emoji: give name= (a unicode emoji) or id= (a custom emoji)")


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
        validator=_v_enum(ButtonStyle),
    )
    emoji: Emoji | None = attrs.field(
        default=None,
        kw_only=True,
        validator=attrs.validators.optional(_v_one_of((Emoji,), "Emoji or None")),
    )
    disabled: bool | None = attrs.field(default=None, kw_only=True, validator=v_opt_bool)

    @property
    def interactive(self) -> bool:
        """Whether clicking it sends an interaction (every style but ``LINK``)."""
        return self.style is not ButtonStyle.LINK


@attrs.frozen
class SelectOption:
    """One choice of a :class:`StringSelect`."""

    label: str = attrs.field(validator=v_str)
    value: str = attrs.field(validator=v_str)
    description: str | None = attrs.field(default=None, validator=v_opt_str)
    emoji: Emoji | None = attrs.field(
        default=None, validator=attrs.validators.optional(_v_one_of((Emoji,), "Emoji or None"))
    )
    default: bool | None = attrs.field(default=None, validator=v_opt_bool)


@attrs.frozen
class StringSelect:
    """A select menu of fixed options (interactive: needs an application-owned webhook)."""

    TYPE: ClassVar[int] = 3
    custom_id: str = attrs.field(validator=v_str)
    options: tuple[SelectOption, ...] = attrs.field(
        converter=_tuple, validator=v_tuple_of(SelectOption, "SelectOption")
    )
    placeholder: str | None = attrs.field(default=None, validator=v_opt_str)
    min_values: int | None = attrs.field(default=None, validator=v_opt_int)
    max_values: int | None = attrs.field(default=None, validator=v_opt_int)
    disabled: bool | None = attrs.field(default=None, validator=v_opt_bool)


@attrs.frozen
class EntitySelect:
    """A select menu Discord fills with users, roles, both, or channels (interactive)."""

    kind: SelectKind = attrs.field(converter=_to_kind, validator=_v_enum(SelectKind))
    custom_id: str = attrs.field(validator=v_str)
    placeholder: str | None = attrs.field(default=None, validator=v_opt_str)
    min_values: int | None = attrs.field(default=None, validator=v_opt_int)
    max_values: int | None = attrs.field(default=None, validator=v_opt_int)
    disabled: bool | None = attrs.field(default=None, validator=v_opt_bool)


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
        converter=_tuple,
        validator=v_tuple_of(_ROW_ITEMS, "Button or a select menu"),
    )


@attrs.frozen
class TextDisplay:
    """Markdown text, like ``content`` but placed among the components (V2)."""

    TYPE: ClassVar[int] = 10
    content: str = attrs.field(validator=v_str)


_V_MEDIA: Final = _v_one_of((UnfurledMedia,), "UnfurledMedia or a URL (str)")


@attrs.frozen
class Thumbnail:
    """A small image beside a :class:`Section`'s text (V2)."""

    TYPE: ClassVar[int] = 11
    media: UnfurledMedia = attrs.field(converter=_media, validator=_V_MEDIA)
    description: str | None = attrs.field(default=None, validator=v_opt_str)
    spoiler: bool | None = attrs.field(default=None, validator=v_opt_bool)


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
        converter=_tuple, validator=v_tuple_of(MediaGalleryItem, "MediaGalleryItem")
    )


@attrs.frozen
class FileComponent:
    """An uploaded file shown in place (V2); ``file`` must be ``attachment://name``."""

    TYPE: ClassVar[int] = 13
    file: UnfurledMedia = attrs.field(converter=_media, validator=_V_MEDIA)
    spoiler: bool | None = attrs.field(default=None, validator=v_opt_bool)


@attrs.frozen
class Separator:
    """Vertical space between components, with or without a line (V2)."""

    TYPE: ClassVar[int] = 14
    divider: bool | None = attrs.field(default=None, validator=v_opt_bool)
    spacing: SeparatorSpacing | None = attrs.field(
        default=None,
        converter=_to_spacing,
        validator=_v_enum(SeparatorSpacing, optional=True),
    )


@attrs.frozen
class Section:
    """One to three text displays with an accessory beside them: a thumbnail or a button (V2)."""

    TYPE: ClassVar[int] = 9
    components: tuple[TextDisplay, ...] = attrs.field(
        converter=_tuple, validator=v_tuple_of(TextDisplay, "TextDisplay")
    )
    accessory: Thumbnail | Button = attrs.field(
        validator=_v_one_of((Thumbnail, Button), "Thumbnail or Button")
    )


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
        converter=_tuple,
        validator=v_tuple_of(
            _CONTAINER_ITEMS,
            "ActionRow, TextDisplay, Section, MediaGallery, Separator or FileComponent",
        ),
    )
    accent_color: int | None = attrs.field(default=None, validator=v_opt_color)
    spoiler: bool | None = attrs.field(default=None, validator=v_opt_bool)


Component: TypeAlias = ContainerItem | Container
"""A top-level component of a message."""
COMPONENT_TYPES: Final = (*_CONTAINER_ITEMS, Container)
TYPED: Final = frozenset({*COMPONENT_TYPES, Button, StringSelect, Thumbnail})
"""The classes whose JSON carries a ``type`` number (their ``TYPE``)."""
ROW_ITEMS: Final = _ROW_ITEMS
COMPONENT_NAMES: Final = (
    "ActionRow, Container, FileComponent, MediaGallery, Section, Separator or TextDisplay"
)
