"""The models' field validators and converters: plain functions, cheap when a value is right.

Validators and converters run on every construction and every ``attrs.evolve``
(send_nowait's path builds several models a message): they are plain module-level
functions, and the checks that pass are a type test or two. A wrong value is passed
through by the converters so that the validators, which run in field order, report
it the same way as any other field.

Errors name the model, the field, what was expected and what was given, as
``Embed.title must be str or None, got int``.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import attrs

__all__ = [
    "CHECK",
    "V_SNOWFLAKES",
    "as_tuple",
    "checked",
    "guess_content_type",
    "opt_bytes",
    "opt_path",
    "opt_snowflake",
    "snowflakes",
    "strs",
    "v_bool",
    "v_filename",
    "v_opt_bool",
    "v_opt_bytes",
    "v_opt_color",
    "v_opt_datetime",
    "v_opt_int",
    "v_opt_path",
    "v_opt_snowflake",
    "v_opt_str",
    "v_optional",
    "v_str",
    "v_tuple_of",
    "validate_fields",
]

_T = TypeVar("_T")


CHECK: Final = "trio_webhook.check"
"""The metadata key of a field's validator where the class runs them itself (below)."""


def checked(
    validator: Callable[[Any, attrs.Attribute[Any], Any], None], **metadata: object
) -> dict[str, object]:
    """Field metadata holding ``validator``, for a class that runs :func:`validate_fields`.

    The two models built for every message (``Message``, ``Embed``) check their
    commonest shape in one expression in ``__attrs_post_init__``, and run the field
    validators only when it does not hold: attrs calling a validator a field cost a
    third of building them.
    """
    return {CHECK: validator, **metadata}


def validate_fields(inst: attrs.AttrsInstance) -> None:
    """Run each field's :func:`checked` validator in field order, as attrs would.

    The first wrong field raises, with the same error as a field validator. Nothing runs
    while ``attrs.validators.set_disabled(True)`` is in force, as with attrs' own.
    """
    if attrs.validators.get_disabled():
        return
    for attribute in attrs.fields(type(inst)):
        validator = attribute.metadata.get(CHECK)
        if validator is not None:
            validator(inst, attribute, getattr(inst, attribute.name))


def _type_error(
    inst: object, attr: attrs.Attribute[Any], expected: str, value: object
) -> TypeError:
    return TypeError(
        f"{type(inst).__name__}.{attr.name} must be {expected}, got {type(value).__name__}"
    )


def _is_int(value: object) -> bool:
    # bool is an int to Python, not to Discord's JSON (True would be sent as true).
    return isinstance(value, int) and not isinstance(value, bool)


def v_optional(
    kind: type, expected: str | None = None
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """A validator of ``kind`` or ``None``; ``expected`` words the type for the error."""
    whole = expected or f"{kind.__name__} or None"

    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, kind):
            raise _type_error(inst, attr, whole, value)

    return validate


v_opt_str: Final = v_optional(str)
v_opt_datetime: Final = v_optional(datetime)
# The converters made these types of what the user may give; the errors name that.
v_opt_snowflake: Final = v_optional(str, "a snowflake (int or str) or None")
v_opt_bytes: Final = v_optional(bytes, "bytes, bytearray, memoryview or None")
v_opt_path: Final = v_optional(Path, "str, os.PathLike or None")


def v_str(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise _type_error(inst, attr, "str", value)


def v_bool(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    # An int is not a bool: Discord answers 400 to "tts": 0.
    if value is not True and value is not False:
        raise _type_error(inst, attr, "bool", value)


def v_opt_bool(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value is not True and value is not False:
        raise _type_error(inst, attr, "bool or None", value)


def v_opt_int(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not _is_int(value):
        raise _type_error(inst, attr, "int or None", value)


def v_opt_color(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error(inst, attr, "int or None", value)
    if not 0 <= value <= 0xFFFFFF:
        raise ValueError(
            f"{type(inst).__name__}.{attr.name} must be in 0..0xFFFFFF (a 24-bit RGB "
            f"value), got {value:#x}"
        )


def v_tuple_of(
    kind: type | tuple[type, ...], expected: str, *, optional: bool = False
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    whole = f"an iterable of {expected}" + (" or None" if optional else "")

    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if type(value) is not tuple:  # the converter made a tuple of any iterable
            raise _type_error(inst, attr, whole, value)
        for i, item in enumerate(value):
            if not isinstance(item, kind):
                raise TypeError(
                    f"{type(inst).__name__}.{attr.name}[{i}] must be {expected}, "
                    f"got {type(item).__name__}"
                )

    return validate


def as_tuple(values: Iterable[_T]) -> tuple[_T, ...]:
    if type(values) is tuple:
        return values
    if type(values) is list:
        return tuple(values)
    # A str is iterable, but Message(applied_tags="123") meaning ("1", "2", "3") is
    # always a mistake; such values and non-iterables are left for the validator.
    v: object = values
    if isinstance(v, str | bytes | bytearray | memoryview | Mapping) or not isinstance(v, Iterable):
        return cast("tuple[_T, ...]", v)
    return tuple(values)


def _snowflake(value: object) -> object:
    if isinstance(value, str):
        return value
    if _is_int(value):
        return str(int(cast(int, value)))  # int(): an IntEnum's str() is its name
    return value  # the validator names the field and the type


def opt_snowflake(value: int | str | None) -> str | None:
    if value is None or type(value) is str:
        return value
    return cast("str | None", _snowflake(value))


def snowflakes(values: Iterable[int | str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    items = as_tuple(values)
    if type(items) is not tuple:
        return cast("tuple[str, ...]", items)
    return tuple(cast(str, _snowflake(v)) for v in items)


def strs(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else as_tuple(values)


V_SNOWFLAKES: Final = v_tuple_of(str, "a snowflake (int or str)", optional=True)


def guess_content_type(filename: str) -> str:
    name: object = filename
    if not isinstance(name, str):
        # The default runs before the validators: leave the wrong type to them.
        return "application/octet-stream"
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def opt_path(value: str | os.PathLike[str] | None) -> Path | None:
    if value is None:
        return None
    v: object = value
    if not isinstance(v, str | os.PathLike):
        return cast(Path, v)  # the validator names the field and the type
    try:
        return Path(value)
    except TypeError:
        # A PathLike whose __fspath__ gives bytes (or something else).
        raise TypeError(
            f"FilePart.path must be str or os.PathLike[str] or None, got "
            f"{type(value).__name__} whose __fspath__ does not give a str"
        ) from None


def opt_bytes(value: bytes | bytearray | memoryview | None) -> bytes | None:
    if value is None or type(value) is bytes:
        return value
    v: object = value
    if isinstance(v, bytearray | memoryview):
        # Copied: a frozen part must not change under the sender when the caller reuses
        # its buffer.
        return bytes(v)
    return cast(bytes, v)  # the validator names the field and the type


def v_filename(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, str):
        return
    error = _type_error(inst, attr, "str", value)
    if isinstance(value, bytes | bytearray | memoryview):
        # FilePart(b"...", "name.txt"): the arguments were swapped.
        error.args = (f"{error}; the filename comes first: FilePart(filename, data=...)",)
    raise error
