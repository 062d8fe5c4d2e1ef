"""Discord's JSON read into the models: strict, generic over the models, every problem at once.

:func:`read_json` reads any model or type (``Message.from_json`` and
``_models.message_from_json`` read a message through it, with :func:`loads` for its text).
Nothing here knows a model's fields, nor imports ``_models`` (which imports this module):
each attrs class is read from its ``attrs.fields`` and ``typing.get_type_hints``, so a
model added to ``_models`` is read as soon as it has type hints. What cannot be told from
the hints lives in the tables below, one place each: Discord's key where it differs from a
field's name (``_JSON_KEYS``), the JSON type of a field whose converter widens its
annotation (``_BY_CONVERTER``: snowflakes), a JSON shape that stands in for a model
(``_STAND_INS``: files come from paths), and the read-only keys Discord echoes back
(``_READ_ONLY``); a field that is no part of the JSON says so in its metadata
(:data:`NOT_JSON`).

Values are read by a converter of their own (the models' converter only writes) with the
strict hooks of :mod:`trio_webhook._json_hooks`:
every problem is reported, each with its path, as
``embeds[2].fields[0].value: expected a string, got a number``; a value of the right type
then meets the models' validators as the model is built.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar, get_type_hints

import attrs
import cattrs

from trio_webhook._components import TYPED, Emoji, EntitySelect, UnfurledMedia
from trio_webhook._embeds import Embed, EmbedAuthor, EmbedFooter, EmbedMedia
from trio_webhook._errors import JSONMessageError, JSONProblem
from trio_webhook._files import FilePart
from trio_webhook._json_hooks import (
    Problems,
    Snowflake,
    expected_type,
    kind_of,
    mismatch,
    register_strict_hooks,
    under,
)
from trio_webhook._polls import Poll, PollAnswer
from trio_webhook._validators import opt_snowflake, snowflakes

__all__ = ["NOT_JSON", "Snowflake", "loads", "read_json"]

T = TypeVar("T")


@attrs.frozen
class _FileJSON:
    """An entry of ``attachments`` in a message's JSON: a local file to upload."""

    path: str
    filename: str | None = None
    description: str | None = None
    spoiler: bool | None = None
    content_type: str | None = None


def _file_part(entry: _FileJSON) -> FilePart:
    # Relative paths stay relative here; message_from_json resolves them against base_dir.
    return FilePart.from_path(
        Path(entry.path).expanduser(),
        filename=entry.filename,
        description=entry.description,
        spoiler=bool(entry.spoiler),
        content_type=entry.content_type,
    )


@attrs.frozen
class _PollMediaJSON:
    text: str
    emoji: Emoji | None = None


@attrs.frozen
class _PollAnswerJSON:
    poll_media: _PollMediaJSON


@attrs.frozen
class _PollJSON:
    """A poll create request as Discord writes it (question and answers are poll media)."""

    question: _PollMediaJSON
    answers: tuple[_PollAnswerJSON, ...]
    duration: int | None = None
    allow_multiselect: bool | None = None
    layout_type: int | None = None


def _poll(entry: _PollJSON) -> Poll:
    answers = [PollAnswer(a.poll_media.text, emoji=a.poll_media.emoji) for a in entry.answers]
    return Poll(
        entry.question.text,
        answers,
        duration=entry.duration,
        allow_multiselect=entry.allow_multiselect,
        layout_type=entry.layout_type,
    )


_JSON_KEYS: Final[dict[tuple[type, str], str]] = {(EntitySelect, "kind"): "type"}
"""Discord's key for a model's field, where the two differ: ``(model, field name) -> key``.

Every field of today's models is named as Discord names it; a model that names a field
otherwise (``kind`` for Discord's ``type``) adds it here, and nowhere else.
"""

NOT_JSON: Final = "trio_webhook.not_json"
"""The metadata key of a field that is no part of the JSON (``metadata={NOT_JSON: True}``):
``Message.application_owned``, since whether an application owns the webhook is said in
code, by who sends, not by the message."""

_BY_CONVERTER: Final[Mapping[Callable[..., Any], Any]] = {
    opt_snowflake: Snowflake | None,
    snowflakes: tuple[Snowflake, ...] | None,
}
"""The JSON type of a field with one of these converters, in place of its annotation."""

_STAND_INS: Final[Mapping[type, tuple[type, Callable[[Any], Any]]]] = {
    FilePart: (_FileJSON, _file_part),
    Poll: (_PollJSON, _poll),
}
"""Models read from another JSON shape: ``model -> (shape, build the model from it)``."""

_READ_ONLY: Final[Mapping[type, frozenset[str]]] = {
    EmbedMedia: frozenset({"proxy_url", "height", "width"}),
    EmbedFooter: frozenset({"proxy_icon_url"}),
    EmbedAuthor: frozenset({"proxy_icon_url"}),
    Embed: frozenset({"type"}),
    # A component's type names its class (checked below).
    **{cls: frozenset({"type"}) for cls in TYPED},
    UnfurledMedia: frozenset({"proxy_url", "height", "width", "content_type", "attachment_id"}),
}
"""Keys that Discord echoes back on received objects: accepted, and dropped."""


@attrs.frozen
class _Key:
    """How one JSON key of a model is read."""

    arg: str  # the keyword of the model's __init__
    name: str  # the field's name, as the validators' errors give it
    type: Any
    required: bool


def _keys(cls: type) -> dict[str, _Key]:
    hints = get_type_hints(cls)
    keys = {}
    for a in attrs.fields(cls):
        if not a.init or a.metadata.get(NOT_JSON, False):
            continue
        json_type = (
            hints[a.name] if a.converter is None else _BY_CONVERTER.get(a.converter, hints[a.name])
        )
        key = _JSON_KEYS.get((cls, a.name), a.name)
        keys[key] = _Key(a.alias, a.name, json_type, a.default is attrs.NOTHING)
    return keys


def _unknown(key: str, known: Sequence[str]) -> JSONProblem:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return JSONProblem(f".{key}", f"unknown key; {hint}", None, None)


def _rich_only(data: Mapping[str, Any]) -> list[JSONProblem]:
    kind = data.get("type")
    if kind is None or kind == "rich":
        return []
    detail = f"webhooks send only 'rich' embeds, not {kind!r}"
    return [JSONProblem(".type", detail, '"rich"', kind_of(kind))]


def _component_type(cls: type) -> Callable[[Mapping[str, Any]], list[JSONProblem]]:
    number = getattr(cls, "TYPE")  # noqa: B009  # a ClassVar of every class in TYPED

    def check(data: Mapping[str, Any]) -> list[JSONProblem]:
        kind = data.get("type")
        if kind == number:
            return []
        detail = f"a {cls.__name__} has type {number}, not {kind!r}"
        return [JSONProblem(".type", detail, str(number), kind_of(kind))]

    return check


_CHECKS: Final[Mapping[type, Callable[[Mapping[str, Any]], list[JSONProblem]]]] = {
    Embed: _rich_only,
    **{cls: _component_type(cls) for cls in TYPED},
}
"""Rules on a model's JSON beyond its fields' types (here: on read-only keys)."""


def _construct(cls: type, kwargs: dict[str, Any], keys: Mapping[str, _Key]) -> Any:
    """``cls(**kwargs)``: the models' validators run, and their errors get a path."""
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        text = str(exc)
        # The validators word their errors as "Embed.color must be ...".
        for key, spec in sorted(keys.items(), key=lambda kv: -len(kv[1].name)):
            prefix = f"{cls.__name__}.{spec.name} "
            if text.startswith(prefix):
                raise Problems([JSONProblem(f".{key}", text[len(prefix) :], None, None)]) from None
        raise Problems([JSONProblem("", text, None, None)]) from None


def _class_hook(cls: type, conv: cattrs.Converter) -> Callable[[object, Any], Any]:
    stand_in = _STAND_INS.get(cls)
    if stand_in is not None:
        shape, build = stand_in
        # The shape's types are checked, and the model's validators accept them.
        return lambda value, _: build(conv.structure(value, shape))
    keys = _keys(cls)
    known = list(keys)
    read_only = _READ_ONLY.get(cls, frozenset())
    check = _CHECKS.get(cls)

    def hook(value: object, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise mismatch("an object", value)
        problems = check(value) if check is not None else []
        kwargs: dict[str, Any] = {}
        for key, item in value.items():
            spec = keys.get(key)
            if spec is None:
                if key not in read_only:
                    problems.append(_unknown(str(key), known))
                continue
            try:
                kwargs[spec.arg] = conv.structure(item, spec.type)
            except Problems as exc:
                problems += under(f".{key}", exc.problems)
            except Exception as exc:  # a type without a strict hook: cattrs's own error
                detail = f"cannot be read as {expected_type(spec.type)}: {exc}"
                problems.append(JSONProblem(f".{key}", detail, None, kind_of(item)))
        for key, spec in keys.items():
            if spec.required and key not in value:
                expected = expected_type(spec.type)
                detail = f"missing required key; expected {expected}"
                problems.append(JSONProblem(f".{key}", detail, expected, None))
        if problems:
            raise Problems(problems)
        return _construct(cls, kwargs, keys)

    return hook


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    register_strict_hooks(conv)
    conv.register_structure_hook_factory(attrs.has, _class_hook)
    return conv


_converter: Final = _make_converter()
"""The converter that reads JSON into the models, strict about types and unknown keys."""


def read_json(data: object, tp: type[T], *, root: str = "") -> T:
    """Read ``data`` (parsed JSON) as ``tp``: a model, or a type such as :data:`Snowflake`.

    Args:
        data: The parsed JSON value.
        tp: What to read it as.
        root: Put before every path, as ``embed`` gives ``embed.fields[0].name``.

    Raises:
        JSONMessageError: Every problem, each with its path.
    """
    try:
        return _converter.structure(data, tp)
    except Problems as exc:
        problems = under(root, exc.problems)
        raise JSONMessageError(
            [attrs.evolve(p, path=p.path.lstrip(".")) for p in problems]
        ) from None


def loads(text: str | bytes | bytearray) -> Any:
    """Parse JSON text; what is not JSON is a :class:`JSONMessageError` naming where.

    Raises:
        JSONMessageError: The text is not JSON (or not UTF-8).
    """
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        where = (
            f" at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        detail = f"invalid JSON{where}: {reason}"
        raise JSONMessageError([JSONProblem("", detail, "an object", None)]) from None
