"""Discord's message JSON read into the package's models, strictly.

Messages are read by the package's own cattrs converter (``trio_webhook._models``),
made strict: cattrs alone would turn 5 into "5" and iterate a string as a list, where a
user wants to hear that the field has the wrong type. The hooks below raise two errors
without a path; cattrs notes which attribute or index each came from, and
:func:`_explain` turns that into the path, as ``embeds[0].fields[2].name``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final, NewType, TypeVar, cast, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn, override

from trio_webhook._models import (
    AllowedMentions,
    Embed,
    EmbedAuthor,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
    converter,
)

__all__ = ["InputError", "embed_from_json", "message_from_json", "parse_snowflake"]

T = TypeVar("T")


class InputError(ValueError):
    """Input the command line cannot use: the message names the file and field at fault."""


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


class _Mismatch(TypeError):
    """A JSON value of the wrong type."""

    def __init__(self, expected: str, value: object) -> None:
        super().__init__(f"expected {expected}, got {_type_name(value)}")


class _Invalid(ValueError):
    """A JSON value of the right type that cannot be used; ``key`` names it below the path."""

    def __init__(self, text: str, key: str | None = None) -> None:
        super().__init__(text)
        self.key = key


_Snowflake = NewType("_Snowflake", str)
"""A Discord id: digits in a string, or a non-negative number."""


@attrs.frozen
class _Attachment:
    """An entry of ``attachments``: a local file to upload."""

    path: str
    filename: str | None = None
    description: str | None = None
    spoiler: bool | None = None
    content_type: str | None = None


# Keys that Discord echoes back on received embeds: read-only, so accepted and dropped.
_READ_ONLY: Final[Mapping[type, frozenset[str]]] = {
    EmbedMedia: frozenset({"proxy_url", "height", "width"}),
    EmbedFooter: frozenset({"proxy_icon_url"}),
    EmbedAuthor: frozenset({"proxy_icon_url"}),
    Embed: frozenset({"type"}),
}


def _rich_only(data: Mapping[str, Any]) -> None:
    kind = data.get("type")
    if kind is not None and kind != "rich":
        raise _Invalid(f"webhooks send only 'rich' embeds, not {kind!r}", key="type")


def _needs_path(data: Mapping[str, Any]) -> None:
    if "path" not in data:
        raise _Invalid(
            "an attachment needs a 'path' to a local file "
            "(Discord's attachment ids are not accepted here)"
        )


_CHECKS: Final[Mapping[type, Callable[[Mapping[str, Any]], None]]] = {
    Embed: _rich_only,
    _Attachment: _needs_path,
}


def _strict(kind: type, expected: str) -> Callable[[object, type], Any]:
    def hook(value: object, _: type) -> Any:
        # bool is an int in Python, never in JSON.
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            return value
        raise _Mismatch(expected, value)

    return hook


def _snowflake(value: object, _: object = None) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isdigit():
        return value
    raise _Mismatch("a snowflake id (digits)", value)


def _timestamp(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        raise _Mismatch("a string", value)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(
            f"{value!r} is not an ISO 8601 time (as 2024-05-01T12:00:00+00:00)"
        ) from None


def _is_tuple(t: Any) -> bool:
    return get_origin(t) is tuple and get_args(t)[1:] == (Ellipsis,)


def _tuple_hook(t: Any, conv: cattrs.Converter) -> Callable[[object, type], tuple[Any, ...]]:
    items = homogenous_tuple_structure_factory(t, conv)

    def hook(value: object, _: type) -> tuple[Any, ...]:
        if value is None:  # Discord reads a null list as an empty one
            return ()
        if not isinstance(value, list):
            raise _Mismatch("a list", value)
        return cast(tuple[Any, ...], items(value, t))

    return hook


def _snowflakes(value: object, _: type) -> tuple[str, ...] | None:
    return None if value is None else _converter.structure(value, tuple[_Snowflake, ...])


def _attachments(value: object, _: type) -> tuple[FilePart, ...]:
    # Relative paths stay relative here; message_from_json resolves them.
    return tuple(
        FilePart.from_path(
            Path(a.path).expanduser(),
            filename=a.filename,
            description=a.description,
            spoiler=bool(a.spoiler),
            content_type=a.content_type,
        )
        for a in _converter.structure(value, tuple[_Attachment, ...])
    )


_FIELD_HOOKS: Final[Mapping[type, Mapping[str, Callable[[Any, Any], Any]]]] = {
    Message: {
        "thread_id": lambda v, _: None if v is None else _snowflake(v),
        "applied_tags": _snowflakes,
        "attachments": _attachments,
    },
    AllowedMentions: {"users": _snowflakes, "roles": _snowflakes},
}


def _class_hook(cls: type, conv: cattrs.Converter) -> Callable[[object, type], Any]:
    overrides: dict[str, Any] = {
        name: override(struct_hook=h) for name, h in _FIELD_HOOKS.get(cls, {}).items()
    }
    build: Callable[[Mapping[str, Any], Any], Any] = make_dict_structure_fn(
        cls, conv, _cattrs_forbid_extra_keys=True, **overrides
    )
    read_only = _READ_ONLY.get(cls, frozenset())
    check = _CHECKS.get(cls)

    def hook(value: object, _: type) -> Any:
        if not isinstance(value, dict):
            raise _Mismatch("an object", value)
        if check is not None:
            check(value)
        if read_only & value.keys():
            value = {k: v for k, v in value.items() if k not in read_only}
        return build(value, cls)

    return hook


def _make_converter() -> cattrs.Converter:
    conv = converter.copy(forbid_extra_keys=True)
    conv.register_structure_hook(str, _strict(str, "a string"))
    conv.register_structure_hook(bool, _strict(bool, "true or false"))
    conv.register_structure_hook(int, _strict(int, "an integer"))
    conv.register_structure_hook(datetime, _timestamp)
    conv.register_structure_hook(_Snowflake, _snowflake)
    conv.register_structure_hook_factory(_is_tuple, _tuple_hook)
    conv.register_structure_hook_factory(attrs.has, _class_hook)
    return conv


_converter: Final = _make_converter()
"""The models' converter, strict about types and unknown keys, for reading input."""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _unknown(exc: ForbiddenExtraKeysError, path: str) -> str:
    key = sorted(exc.extra_fields)[0]
    close = difflib.get_close_matches(key, [a.name for a in attrs.fields(exc.cl)], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    where = f"{path}: " if path else ""
    return f"{where}unknown field {key!r}{hint}"


def _explain(exc: BaseException, path: str) -> str:
    """The first problem in a cattrs error tree, as ``path: what is wrong``."""
    while isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        if without:  # unknown keys, which a reader checks before the values
            exc = without[0]
            break
        exc, note = with_notes[0]
        if isinstance(note, AttributeValidationNote):
            if isinstance(exc, KeyError):
                return f"{path or 'message'}: missing required field {note.name!r}"
            path = _join(path, note.name)
        else:
            path = f"{path}[{note.index}]"
    if isinstance(exc, ForbiddenExtraKeysError):
        return _unknown(exc, path)
    if isinstance(exc, _Invalid) and exc.key is not None:
        path = _join(path, exc.key)
    return f"{path or 'message'}: {exc}"


def _structure(data: object, cls: type[T], root: str) -> T:
    try:
        return _converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, _Mismatch, _Invalid) as exc:
        raise InputError(_explain(exc, root)) from None


def _files_from(message: Message, base_dir: Path) -> Message:
    parts = []
    for i, part in enumerate(message.attachments):
        assert part.path is not None
        path = part.path if part.path.is_absolute() else base_dir / part.path
        if not path.is_file():
            raise InputError(f"attachments[{i}].path: no readable file at {path}")
        parts.append(attrs.evolve(part, path=path))
    return attrs.evolve(message, attachments=parts)


def message_from_json(data: object, *, base_dir: str | os.PathLike[str] = ".") -> Message:
    """Build a :class:`Message` from Discord's execute-webhook JSON.

    Accepts the body Discord documents (``content``, ``username``, ``avatar_url``,
    ``tts``, ``embeds``, ``allowed_mentions``, ``flags``, ``thread_name``,
    ``applied_tags``), plus ``thread_id`` (a query parameter on the wire) and
    ``attachments`` as a list of ``{"path": ..., "filename"?, "description"?,
    "spoiler"?, "content_type"?}`` naming local files. Unknown fields are errors, with a
    suggestion when one is close (``colour`` → ``color``).

    Args:
        data: The parsed JSON value.
        base_dir: Relative attachment paths are taken from here.

    Returns:
        The message (not yet checked against Discord's limits: see ``validate``).

    Raises:
        InputError: A field has the wrong type or name; the message gives its path, as
            ``embeds[0].fields[2].name``.
    """
    message = _structure(data, Message, "")
    return _files_from(message, Path(base_dir)) if message.attachments else message


def embed_from_json(data: object) -> Embed:
    """Build an :class:`Embed` from Discord's embed JSON (``send --embed``).

    Raises:
        InputError: A field has the wrong type or name; the message gives its path, as
            ``embed.fields[0].name``.
    """
    return _structure(data, Embed, "embed")


def parse_snowflake(value: str, option: str) -> str:
    """A snowflake id given on the command line (``--thread-id``).

    Raises:
        InputError: ``value`` is not digits.
    """
    try:
        return _snowflake(value)
    except _Mismatch as exc:
        raise InputError(f"{option}: {exc}") from None
