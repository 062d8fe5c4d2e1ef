"""What the component models share: their enum converters, validators and :class:`Emoji`.

Split from :mod:`trio_webhook._components` so that the select menus
(:mod:`trio_webhook._selects`) and the layout models read the same helpers without an
import cycle.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, TypeVar

import attrs

from trio_webhook._validators import (
    as_tuple,
    opt_snowflake,
    v_opt_bool,
    v_opt_snowflake,
    v_opt_str,
)

__all__ = ["Emoji", "to_enum", "tuple_of", "v_enum", "v_one_of"]

_E = TypeVar("_E", bound=enum.IntEnum)
_Validator: TypeAlias = Callable[[object, "attrs.Attribute[Any]", object], None]


def to_enum(kind: type[_E]) -> Callable[[Any], Any]:
    """A converter making an int one of ``kind``'s members (a wrong one is left as it is)."""

    def convert(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool | kind):
            try:
                return kind(value)
            except ValueError:
                return value  # the validator names the field and the choices
        return value

    return convert


def v_enum(kind: type[enum.IntEnum], *, optional: bool = False) -> _Validator:
    """A validator of a member of ``kind``, naming the choices when the value is none."""
    choices = ", ".join(f"{m.name} ({m.value})" for m in kind)

    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if (value is None and optional) or isinstance(value, kind):
            return
        where = f"{type(inst).__name__}.{attr.name}"
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(f"{where} must be one of {choices}, got {value}")
        raise TypeError(f"{where} must be a {kind.__name__}, got {type(value).__name__}")

    return validate


def v_one_of(kinds: tuple[type, ...], expected: str) -> _Validator:
    """A validator of an instance of one of ``kinds`` (``expected`` words them)."""

    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kinds):
            raise TypeError(
                f"{type(inst).__name__}.{attr.name} must be {expected}, got {type(value).__name__}"
            )

    return validate


def tuple_of(values: Iterable[Any]) -> tuple[Any, ...]:
    """The converter of a component's children: any iterable as a tuple."""
    return as_tuple(values)


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
