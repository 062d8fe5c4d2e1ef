"""A wrong type is refused when a model is built, naming the class, the field and the types.

Before these checks a wrong type got through and failed later, far from its cause:
``Embed(title=3)`` as an ``AttributeError`` inside the checks, a float colour as a
format error, ``tts=0`` as Discord's 400, and swapped ``FilePart`` arguments inside
the sender's nursery.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook import (
    AllowedMentions,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
)
from trio_webhook._validators import CHECK

# The smallest valid arguments of each model; every field is then set to a wrong type.
BASE: dict[type, dict[str, Any]] = {
    EmbedField: {"name": "n", "value": "v"},
    EmbedFooter: {"text": "t"},
    EmbedAuthor: {"name": "a"},
    EmbedMedia: {"url": "https://example.com/a.png"},
    Embed: {},
    FilePart: {"filename": "a.txt", "data": b"a"},
    AllowedMentions: {},
    Message: {"content": "x"},
}

EVERY_FIELD = [(cls, a.name) for cls in BASE for a in attrs.fields(cls)]


class Opaque:
    """A type no field accepts."""


def wrong(value: object) -> Any:
    """``value``, hidden from the type checker (these tests pass wrong types on purpose)."""
    return value


@pytest.mark.parametrize(
    ("cls", "name"), EVERY_FIELD, ids=[f"{c.__name__}.{n}" for c, n in EVERY_FIELD]
)
def test_every_field_refuses_a_wrong_type_naming_class_field_and_type(cls: type, name: str) -> None:
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.{name} must be .*, got Opaque"):
        cls(**{**BASE[cls], name: Opaque()})


@pytest.mark.parametrize(
    ("cls", "name"), EVERY_FIELD, ids=[f"{c.__name__}.{n}" for c, n in EVERY_FIELD]
)
def test_evolve_checks_types_too(cls: type, name: str) -> None:
    valid = cls(**BASE[cls])
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.{name} must be"):
        attrs.evolve(valid, **{name: Opaque()})


def test_embed_title_int_is_a_type_error() -> None:
    # Was AttributeError: 'int' object has no attribute 'strip', from the checks.
    with pytest.raises(TypeError, match=r"^Embed\.title must be str or None, got int$"):
        Embed(title=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("color", [1.5, float(0x2ECC71), True, "0x2ECC71"])
def test_color_must_be_an_int_not_a_float_or_bool(color: object) -> None:
    # A float was ValueError: Unknown format code 'x'; True was sent as true.
    with pytest.raises(TypeError, match=r"^Embed\.color must be int or None, got "):
        Embed(color=color)  # type: ignore[arg-type]


@pytest.mark.parametrize("color", [-1, 0x1000000, 2**64])
def test_color_outside_24_bits_is_a_value_error_naming_the_range(color: int) -> None:
    with pytest.raises(ValueError, match=r"^Embed\.color must be in 0\.\.0xFFFFFF .*got "):
        Embed(color=color)


def test_color_range_ends_are_accepted() -> None:
    assert Embed(color=0).color == 0
    assert Embed(color=0xFFFFFF).color == 0xFFFFFF


@pytest.mark.parametrize(
    ("build", "where"),
    [
        (lambda v: Message(content="x", tts=v), "Message.tts"),
        (lambda v: EmbedField("n", "v", inline=v), "EmbedField.inline"),
        (lambda v: FilePart("a.txt", data=b"", spoiler=v), "FilePart.spoiler"),
        (lambda v: AllowedMentions(replied_user=v), "AllowedMentions.replied_user"),
    ],
)
@pytest.mark.parametrize("value", [0, 1])
def test_an_int_is_not_a_bool(build: Any, where: str, value: int) -> None:
    # tts=0 used to be sent, and Discord answered 400.
    with pytest.raises(TypeError, match=rf"^{where} must be bool.*, got int$"):
        build(value)


@pytest.mark.parametrize("flags", [True, 4.0, "4"])
def test_flags_must_be_an_int(flags: object) -> None:
    with pytest.raises(TypeError, match=r"^Message\.flags must be int or None, got "):
        Message(content="x", flags=flags)  # type: ignore[arg-type]


def test_swapped_filepart_arguments_are_refused_at_construction() -> None:
    # Was accepted, and failed later inside the sender's nursery.
    with pytest.raises(
        TypeError, match=r"^FilePart\.filename must be str, got bytes; the filename"
    ):
        FilePart(b"abc", "a.txt")  # type: ignore[arg-type]


def test_bytes_in_a_text_field_are_refused_at_construction() -> None:
    # Was accepted by send_nowait; json.dumps then failed inside the delivery task.
    with pytest.raises(TypeError, match=r"^Message\.content must be str or None, got bytes$"):
        Message(content=b"hello")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^EmbedField\.value must be str, got bytes$"):
        EmbedField("n", b"v")  # type: ignore[arg-type]


def test_timestamp_is_a_datetime_only() -> None:
    for value in ("2026-01-02T03:04:05+00:00", 1767322800, date(2026, 1, 2)):
        with pytest.raises(TypeError, match=r"^Embed\.timestamp must be datetime or None"):
            Embed(timestamp=value)  # type: ignore[arg-type]
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    assert Embed(timestamp=moment).timestamp == moment


@pytest.mark.parametrize(
    ("build", "where"),
    [
        (
            lambda: Message(embeds=[Embed(), wrong("e")]),
            r"Message\.embeds\[1\] must be Embed, got str",
        ),
        (lambda: Message(attachments=[wrong(b"x")]), r"Message\.attachments\[0\] must be FilePart"),
        (
            lambda: Embed(fields=[wrong(("n", "v"))]),
            r"Embed\.fields\[0\] must be EmbedField, got tuple",
        ),
        (
            lambda: Message(applied_tags=[1, wrong(2.5)]),
            r"Message\.applied_tags\[1\] must be a snowflake",
        ),
        (
            lambda: AllowedMentions(users=[wrong(None)]),
            r"AllowedMentions\.users\[0\] must be a snowflake",
        ),
        (lambda: AllowedMentions(roles=[True]), r"AllowedMentions\.roles\[0\] must be a snowflake"),
        (
            lambda: AllowedMentions(parse=["users", wrong(1)]),
            r"AllowedMentions\.parse\[1\] must be str",
        ),
    ],
)
def test_elements_of_iterables_are_checked_with_their_index(build: Any, where: str) -> None:
    with pytest.raises(TypeError, match=rf"^{where}"):
        build()


@pytest.mark.parametrize(
    ("build", "where"),
    [
        (
            lambda: Message(embeds=wrong(Embed())),
            r"Message\.embeds must be an iterable of Embed, got Embed",
        ),
        (lambda: Message(applied_tags="123"), r"Message\.applied_tags must be an iterable"),
        (lambda: AllowedMentions(parse="users"), r"AllowedMentions\.parse must be an iterable"),
        (lambda: AllowedMentions(users=wrong(1234)), r"AllowedMentions\.users must be an iterable"),
        (
            lambda: Embed(fields=wrong(None)),
            r"Embed\.fields must be an iterable of EmbedField, got None",
        ),
    ],
)
def test_a_single_value_or_a_string_is_not_taken_for_an_iterable(build: Any, where: str) -> None:
    # Message(applied_tags="123") would otherwise mean the tags "1", "2" and "3".
    with pytest.raises(TypeError, match=rf"^{where}"):
        build()


def test_iterables_of_any_kind_become_tuples() -> None:
    embeds = [Embed(title="a"), Embed(title="b")]
    assert Message(embeds=iter(embeds)).embeds == tuple(embeds)
    assert Message(applied_tags=range(1, 3)).applied_tags == ("1", "2")
    assert AllowedMentions(parse={"users"}).parse == ("users",)


def test_snowflakes_may_be_int_or_str_but_not_bool_or_float() -> None:
    assert Message(thread_id=123).thread_id == "123"
    assert Message(thread_id="123").thread_id == "123"
    assert AllowedMentions(users=[1, "2"]).users == ("1", "2")
    for value in (True, 1.0, b"1"):
        with pytest.raises(TypeError, match=r"^Message\.thread_id must be a snowflake"):
            Message(thread_id=value)  # type: ignore[arg-type]


def test_filepart_data_accepts_buffers_and_copies_them() -> None:
    buffer = bytearray(b"abc")
    part = FilePart("a.bin", data=buffer)
    buffer[0] = ord("z")
    assert part.data == b"abc"
    assert type(part.data) is bytes
    assert FilePart("a.bin", data=memoryview(b"xyz")[1:]).data == b"yz"


def test_filepart_path_accepts_str_and_pathlike(tmp_path: Path) -> None:
    assert FilePart("a", path=str(tmp_path)).path == tmp_path
    assert FilePart("a", path=tmp_path).path == tmp_path
    with pytest.raises(TypeError, match=r"^FilePart\.path must be str, os\.PathLike or None"):
        FilePart("a", path=b"/tmp/a")  # type: ignore[arg-type]


def test_filepart_content_type_must_be_a_str() -> None:
    with pytest.raises(TypeError, match=r"^FilePart\.content_type must be str, got NoneType$"):
        FilePart("a.txt", data=b"", content_type=None)  # type: ignore[arg-type]


# Values of every kind a caller might pass, right and wrong, for the checks below.
class _Text(str):
    pass


_ODD: list[Any] = [None, "", "x", _Text("x"), b"x", 0, 1, True, False, 1.5, (), [], ["x"], {}]
_ODD += [object(), Embed(title="t"), [Embed()], [Embed(), Embed()], 0x1000000]


def _by_the_field_validators(cls: type, fields: dict[str, Any]) -> str:
    # What attrs' own per-field validators would say, in field order: the reference.
    with attrs.validators.disabled():
        made = cls(**fields)
    for attribute in attrs.fields(cls):
        try:
            attribute.metadata[CHECK](made, attribute, getattr(made, attribute.name))
        except (TypeError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
    return "ok"


def _built(cls: type, fields: dict[str, Any]) -> str:
    try:
        cls(**fields)
    except (TypeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


@pytest.mark.parametrize(
    ("cls", "name"), [(c, a.name) for c in (Message, Embed) for a in attrs.fields(c)]
)
@pytest.mark.parametrize("value", _ODD, ids=lambda v: type(v).__name__)
def test_the_one_test_of_the_common_shape_accepts_only_what_the_validators_accept(
    cls: type, name: str, value: object
) -> None:
    # Message and Embed check their commonest shape in one expression and run the field
    # validators otherwise: the outcome must be the validators', error text included.
    assert _built(cls, {name: value}) == _by_the_field_validators(cls, {name: value})


@pytest.mark.parametrize("cls", [Message, Embed])
@given(data=st.data())
def test_two_fields_off_the_common_shape_are_judged_as_the_validators_judge(
    cls: type, data: st.DataObject
) -> None:
    names = [a.name for a in attrs.fields(cls)]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, min_size=2, max_size=2))
    fields = {name: data.draw(st.sampled_from(_ODD), label=name) for name in chosen}
    assert _built(cls, fields) == _by_the_field_validators(cls, fields)
