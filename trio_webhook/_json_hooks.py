"""Strict cattrs structure hooks for JSON: types as JSON has them, problems with paths.

cattrs alone would turn 5 into "5", iterate a string as a list and stop at the first bad
value. These hooks check each value's JSON type and raise :class:`Problems`, whose paths
are relative to the value (``""`` is the value itself); a container prefixes its
children's (``[i]``, ``.key``) and goes on with their siblings, so whoever reads a whole
document hears every problem, each with its whole path. :mod:`trio_webhook._from_json`
puts them on the models' converter and adds the hook for the models themselves.
"""

from __future__ import annotations

import enum
import functools
import json
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, NewType, Union, get_args, get_origin

import attrs
import cattrs

from trio_webhook._errors import JSONProblem

__all__ = [
    "Problems",
    "Snowflake",
    "expected_type",
    "kind_of",
    "mismatch",
    "register_strict_hooks",
    "under",
]

Snowflake = NewType("Snowflake", str)
"""A Discord id in JSON: digits in a string, or a non-negative integer; read as a string."""


class Problems(Exception):
    """What is wrong with one JSON value, with paths relative to it (``""`` is the value)."""

    def __init__(self, problems: Sequence[JSONProblem]) -> None:
        super().__init__(problems)
        self.problems = list(problems)


def kind_of(value: object) -> str:
    """The JSON type of ``value``, as an error names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def mismatch(expected: str, value: object) -> Problems:
    """The problem of ``value`` not being of the JSON type ``expected``."""
    given = kind_of(value)
    return Problems([JSONProblem("", f"expected {expected}, got {given}", expected, given)])


def under(prefix: str, problems: Sequence[JSONProblem]) -> list[JSONProblem]:
    """``problems`` of a child value, their paths put below ``prefix`` (``.key``, ``[i]``)."""
    return [attrs.evolve(p, path=prefix + p.path) for p in problems]


def _strict(kind: type, expected: str) -> Callable[[object, Any], Any]:
    def hook(value: object, t: Any) -> Any:
        if t is not kind and _is_enum(t):
            # cattrs dispatches an IntEnum (or StrEnum) here, to its base type's hook.
            return _enum_hook(t)(value, t)
        # bool is an int to Python, never in JSON; an integer is a fine float.
        if isinstance(value, bool) and kind is not bool:
            raise mismatch(expected, value)
        if isinstance(value, kind):
            return value
        if kind is float and isinstance(value, int):
            return float(value)
        raise mismatch(expected, value)

    return hook


def _snowflake(value: object, _: Any = None) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise mismatch("a snowflake id (digits)", value)


def _timestamp(value: object, _: Any) -> datetime:
    if not isinstance(value, str):
        raise mismatch("an ISO 8601 time", value)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        detail = f"{value!r} is not an ISO 8601 time (as 2024-05-01T12:00:00+00:00)"
        raise Problems([JSONProblem("", detail, "an ISO 8601 time", "a string")]) from None


def _choices(values: Sequence[object]) -> str:
    return "one of " + ", ".join(json.dumps(v) if isinstance(v, str) else str(v) for v in values)


def _literal_hook(t: Any) -> Callable[[object, Any], Any]:
    allowed = get_args(t)
    expected = _choices(allowed)

    def hook(value: object, _: Any) -> Any:
        for choice in allowed:
            if type(value) is type(choice) and value == choice:
                return choice
        raise mismatch(expected, value)

    return hook


@functools.cache  # the strict hooks of int and str ask for it on every enum value
def _enum_hook(t: type[enum.Enum]) -> Callable[[object, Any], Any]:
    kinds = {type(m.value) for m in t}
    expected = _choices([m.value for m in t])

    def hook(value: object, _: Any) -> Any:
        # IntEnum(True) is IntEnum(1) to Python; not to Discord.
        if type(value) in kinds:
            try:
                return t(value)
            except ValueError:
                pass
        raise mismatch(expected, value)

    return hook


def _is_union(t: Any) -> bool:
    return get_origin(t) in (Union, types.UnionType)


def _union_hook(t: Any, conv: cattrs.Converter) -> Callable[[object, Any], Any]:
    members = [m for m in get_args(t) if m is not type(None)]
    nullable = len(members) < len(get_args(t))

    def hook(value: object, _: Any) -> Any:
        if value is None and nullable:
            return None
        best: Problems | None = None
        for member in members:
            try:
                return conv.structure(value, member)
            except Problems as exc:
                # The member the value comes closest to explains it best.
                if best is None or len(exc.problems) < len(best.problems):
                    best = exc
        assert best is not None
        raise best

    return hook


def _is_sequence(t: Any) -> bool:
    origin, args = get_origin(t), get_args(t)
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis
    return origin in (list, Sequence) and len(args) == 1


def _sequence_hook(t: Any, conv: cattrs.Converter) -> Callable[[object, Any], Any]:
    item_type = get_args(t)[0]
    make: Callable[[list[Any]], Any] = list if get_origin(t) is list else tuple

    def hook(value: object, _: Any) -> Any:
        if value is None:  # Discord reads a null list as an empty one
            return make([])
        if not isinstance(value, list | tuple):
            raise mismatch("a list", value)
        items, problems = [], []
        for i, item in enumerate(value):
            try:
                items.append(conv.structure(item, item_type))
            except Problems as exc:
                problems += under(f"[{i}]", exc.problems)
        if problems:
            raise Problems(problems)
        return make(items)

    return hook


def _is_mapping(t: Any) -> bool:
    return get_origin(t) in (dict, Mapping) and get_args(t)[:1] == (str,)


def _mapping_hook(t: Any, conv: cattrs.Converter) -> Callable[[object, Any], Any]:
    value_type = get_args(t)[1]

    def hook(value: object, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise mismatch("an object", value)
        out, problems = {}, []
        for key, item in value.items():
            try:
                out[key] = conv.structure(item, value_type)
            except Problems as exc:
                problems += under(f".{key}", exc.problems)
        if problems:
            raise Problems(problems)
        return out

    return hook


_EXPECTED: Final[Mapping[Any, str]] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    datetime: "an ISO 8601 time",
    Snowflake: "a snowflake id (digits)",
}


def expected_type(t: Any) -> str:
    """What a missing key of type ``t`` should hold, in JSON's words."""
    if _is_union(t):
        return " or ".join(expected_type(m) for m in get_args(t))
    if _is_sequence(t):
        return "a list"
    if t is type(None):
        return "null"
    if _is_literal(t):
        return _choices(get_args(t))
    fallback = "an object" if attrs.has(t) or _is_mapping(t) else getattr(t, "__name__", str(t))
    return _EXPECTED.get(t, fallback)


def _is_literal(t: Any) -> bool:
    origin: object = get_origin(t)
    return origin is Literal


def _is_enum(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, enum.Enum)


def register_strict_hooks(conv: cattrs.Converter) -> None:
    """Make ``conv`` read JSON strictly: scalars, ids, times, literals, enums, containers.

    Models (attrs classes) are left to the caller's own hook factory.
    """
    for kind, expected in _EXPECTED.items():
        if kind not in (datetime, Snowflake):
            conv.register_structure_hook(kind, _strict(kind, expected))
    conv.register_structure_hook(datetime, _timestamp)
    conv.register_structure_hook(Snowflake, _snowflake)
    conv.register_structure_hook_factory(_is_literal, _literal_hook)
    conv.register_structure_hook_factory(_is_enum, _enum_hook)
    conv.register_structure_hook_factory(_is_union, _union_hook)
    conv.register_structure_hook_factory(_is_sequence, _sequence_hook)
    conv.register_structure_hook_factory(_is_mapping, _mapping_hook)
