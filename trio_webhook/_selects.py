"""Select menus (attrs, frozen): a string select of fixed options, and the entity selects.

Every select is interactive: the checks refuse it unless the message says
``application_owned=True``. An entity select (users, roles, both, or channels) may start
with ``default_values`` chosen, and a channel select may list the ``channel_types`` it
offers; the limits are checked in :mod:`trio_webhook._component_checks`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from trio_webhook._component_fields import Emoji, to_enum, tuple_of, v_enum, v_one_of
from trio_webhook._validators import (
    as_tuple,
    opt_snowflake,
    v_opt_bool,
    v_opt_int,
    v_opt_str,
    v_str,
    v_tuple_of,
)

__all__ = ["EntitySelect", "SelectDefaultValue", "SelectKind", "SelectOption", "StringSelect"]


class SelectKind(enum.IntEnum):
    """The auto-populated select menus, by component type (OpenAPI MessageComponentTypes)."""

    USER = 5
    ROLE = 6
    MENTIONABLE = 7
    CHANNEL = 8


def _to_kind(value: Any) -> Any:
    return to_enum(SelectKind)(value)


def _v_snowflake(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(
            f"{type(inst).__name__}.{attr.name} must be a snowflake (int or str), "
            f"got {type(value).__name__}"
        )


def _opt_tuple(values: Iterable[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else as_tuple(values)


@attrs.frozen
class SelectOption:
    """One choice of a :class:`StringSelect`."""

    label: str = attrs.field(validator=v_str)
    value: str = attrs.field(validator=v_str)
    description: str | None = attrs.field(default=None, validator=v_opt_str)
    emoji: Emoji | None = attrs.field(
        default=None, validator=attrs.validators.optional(v_one_of((Emoji,), "Emoji or None"))
    )
    default: bool | None = attrs.field(default=None, validator=v_opt_bool)


@attrs.frozen
class StringSelect:
    """A select menu of fixed options (interactive: needs an application-owned webhook)."""

    TYPE: ClassVar[int] = 3
    custom_id: str = attrs.field(validator=v_str)
    options: tuple[SelectOption, ...] = attrs.field(
        converter=tuple_of, validator=v_tuple_of(SelectOption, "SelectOption")
    )
    placeholder: str | None = attrs.field(default=None, validator=v_opt_str)
    min_values: int | None = attrs.field(default=None, validator=v_opt_int)
    max_values: int | None = attrs.field(default=None, validator=v_opt_int)
    disabled: bool | None = attrs.field(default=None, validator=v_opt_bool)
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


@attrs.frozen
class SelectDefaultValue:
    """A user, role or channel an :class:`EntitySelect` shows chosen at first.

    ``type`` is ``"user"``, ``"role"`` or ``"channel"``, and must suit the select: a
    mentionable select takes users and roles, the others their own kind.

    Example:
        ``SelectDefaultValue(123456789012345678, "role")``
    """

    id: str = attrs.field(converter=opt_snowflake, validator=_v_snowflake)
    type: str = attrs.field(validator=v_str)


@attrs.frozen
class EntitySelect:
    """A select menu Discord fills with users, roles, both, or channels (interactive).

    Example::

        EntitySelect(SelectKind.CHANNEL, "where", channel_types=[0, 5],
                     default_values=[SelectDefaultValue(123456789012345678, "channel")])
    """

    kind: SelectKind = attrs.field(converter=_to_kind, validator=v_enum(SelectKind))
    custom_id: str = attrs.field(validator=v_str)
    placeholder: str | None = attrs.field(default=None, validator=v_opt_str)
    min_values: int | None = attrs.field(default=None, validator=v_opt_int)
    max_values: int | None = attrs.field(default=None, validator=v_opt_int)
    disabled: bool | None = attrs.field(default=None, validator=v_opt_bool)
    default_values: tuple[SelectDefaultValue, ...] | None = attrs.field(
        default=None,
        kw_only=True,
        converter=_opt_tuple,
        validator=v_tuple_of(SelectDefaultValue, "SelectDefaultValue", optional=True),
    )
    channel_types: tuple[int, ...] | None = attrs.field(
        default=None,
        kw_only=True,
        converter=_opt_tuple,
        validator=v_tuple_of(int, "int (a channel type)", optional=True),
    )
    id: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)
