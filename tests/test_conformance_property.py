"""Whatever a user puts in a message, it is refused up front or Discord's schema accepts it.

For arbitrary values of every field (valid ones, wrong types, lone surrogates, huge and
empty strings, nested garbage) one of these holds:

* building the models raises ``TypeError`` or ``ValueError`` naming the model;
* :func:`~trio_webhook._limits.validate` reports a violation (so ``check``, which
  ``send_nowait`` and ``send`` run, raises ``ValidationError`` and nothing is queued);
* every request the planner makes encodes without an exception, as UTF-8 JSON that
  validates against Discord's OpenAPI schema for *Execute Webhook*.

The planner may still refuse a message that passed ``check`` (embeds sharing a file
that cannot fit one request); the sender dead-letters that one as ``invalid``, so it is
allowed here too, and counted.

CI (``HYPOTHESIS_PROFILE=ci``) runs 3,000 examples, ``thorough`` 20,000, a developer
run 300. Validates against the pruned copy, or the full description that
``DISCORD_OPENAPI`` names, like the other conformance tests.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from discord_schema import validator
from hypothesis import event, given, settings
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
    ValidationError,
)
from trio_webhook._encoding import encode_execute
from trio_webhook._limits import check, validate
from trio_webhook._planning import plan_requests
from trio_webhook.testing.strategies import rich_messages

pytestmark = pytest.mark.conformance

EXAMPLES = {"ci": 3_000, "thorough": 20_000}.get(os.environ.get("HYPOTHESIS_PROFILE", ""), 300)
RICH_EXAMPLES = {"ci": 1_000, "thorough": 5_000}.get(os.environ.get("HYPOTHESIS_PROFILE", ""), 200)
EXECUTE = "IncomingWebhookRequestPartial"
MODELS = (
    "Message",
    "Embed",
    "EmbedField",
    "EmbedFooter",
    "EmbedAuthor",
    "EmbedMedia",
    "FilePart",
    "AllowedMentions",
)
OUR_ERROR = re.compile(rf"^({'|'.join(MODELS)})[. ]")


# --- values ---------------------------------------------------------------------------

_SURROGATE = st.characters(categories=["Cs"])
_LENGTHS = st.sampled_from(
    # At and over the limits, and far over (a 100,000-character paste).
    [0, 1, 80, 81, 100, 101, 256, 257, 1024, 1025, 2000, 2001, 2048, 2049, 4096, 4097, 100_000]
)
_REPEATED = st.sampled_from(["x", " ", "\u00e9", "\u8a9e", "\U0001f389", "\n", "\t"])
_AWKWARD = st.sampled_from(
    [
        "",
        " ",
        "\u3000",
        "discord",
        "Clyde",
        "attachment://a.png",
        "attachment://",
        "a\r\nX-Injected: 1",
        "nul\x00",
        "\u202eevil",
        "https://example.com/a.png",
        "0",
        "-1",
        "12345678901234567890",
        "users",
    ]
)
_SHORT = st.text(max_size=24)
_HOSTILE = st.one_of(
    _AWKWARD,
    st.builds(lambda a, s, b: a + s + b, _SHORT, _SURROGATE, _SHORT),
    st.builds(lambda c, n: c * n, _REPEATED, _LENGTHS),
    st.text(st.characters(), max_size=8),  # any code point, surrogates included
)


def rarely(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> Any:
    """``rare`` about one time in ten (``one_of`` would give each half)."""
    return st.sampled_from([False] * 9 + [True]).flatmap(lambda r: rare if r else common)


# Each example draws its texts from one of these: most examples have ordinary text, so
# that many messages pass the checks and their bodies meet the schema.
_CLEAN = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Zs"]), min_size=1, max_size=12
)
TEXTS = (
    _CLEAN,
    _CLEAN,
    st.one_of(_CLEAN, _SHORT),
    rarely(_CLEAN, st.one_of(_SHORT, _HOSTILE)),
    st.one_of(_SHORT, _HOSTILE),
)
_WEB = st.sampled_from(["https://example.com/a.png", "https://cdn.example.org/x.gif"])
_REF = st.builds(lambda n: f"attachment://{n}", st.sampled_from(["a.png", "b.txt", "c d.gif"]))
_ID = st.integers(1, 2**63 - 1)
FLAGS = rarely(st.sampled_from([0, 4, 4096, 4100]), st.sampled_from([1, 32768]) | st.integers())
COLORS = rarely(st.integers(0, 0xFFFFFF), st.integers())
TIMESTAMPS = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])) | (
    st.datetimes()
)


class Opaque:
    """Something no field accepts."""


def view(data: bytes) -> memoryview:
    return memoryview(data)


# Nested garbage: wrong types of every kind, including other models where they do not go.
_LEAVES = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=8),
    st.builds(bytearray, st.binary(max_size=4)),
    st.binary(max_size=4).map(view),
    st.text(st.characters(), max_size=8),
    st.builds(Opaque),
    st.just(Embed()),
    st.just(EmbedField("n", "v")),
    st.just(FilePart("g.txt", data=b"g")),
    st.just(Path("/nonexistent/garbage")),
    st.datetimes().map(lambda d: d.date()),
    st.none(),
)
# One level of nesting is enough to reach every element check; st.recursive cost more
# generation time than the rest of the test.
GARBAGE: st.SearchStrategy[Any] = st.one_of(
    _LEAVES,
    st.lists(_LEAVES, max_size=3),
    st.tuples(_LEAVES, _LEAVES),
    st.dictionaries(st.text(max_size=3), _LEAVES, max_size=2),
    st.frozensets(st.integers(), max_size=2),
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


SMALL = st.integers(0, 2)
# Sometimes at and over the count limits: 10 embeds or files a request, 25 fields.
SIZES = rarely(SMALL, st.sampled_from([5, 6, 10, 11, 25, 26]))
COUNTS = rarely(SMALL, st.just(11))
PRESENT = st.booleans()
SELDOM = st.sampled_from([True, False, False, False])
# Where garbage goes: nowhere in most examples, in one field, or in many.
MODES = st.sampled_from(["clean"] * 6 + ["one", "one", "many"])
TARGET = st.integers(0, 40)
ONE_IN_FIVE = st.integers(0, 4)


@st.composite
def specs(draw: st.DrawFn) -> tuple[type, dict[str, Any]]:
    """A message as nested ``(model, arguments)``; the test builds it (which may fail)."""
    mode = draw(MODES)
    target = draw(TARGET) if mode == "one" else -1
    seen = 0
    text = draw(st.sampled_from(TEXTS))
    urls = st.one_of(_WEB, _REF, text)
    snowflake = rarely(_ID | _ID.map(str), st.integers(-(2**70), 2**70) | text)

    def f(valid: st.SearchStrategy[Any]) -> Any:
        # Plain draws, no nested composites: generation is most of this test's time.
        nonlocal seen
        seen += 1
        if seen == target or (mode == "many" and draw(ONE_IN_FIVE) == 0):
            return draw(GARBAGE)
        return draw(valid)

    def embed_field() -> tuple[type, dict[str, Any]]:
        return EmbedField, {"name": f(text), "value": f(text), "inline": f(optional(st.booleans()))}

    def embed() -> tuple[type, dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        for name, valid in (
            ("title", text),
            ("description", text),
            ("url", urls),
            ("timestamp", TIMESTAMPS),
            ("color", COLORS),
        ):
            if draw(PRESENT):
                kwargs[name] = f(optional(valid))
        if draw(PRESENT):
            kwargs["footer"] = (EmbedFooter, {"text": f(text), "icon_url": f(optional(urls))})
        if draw(PRESENT):
            kwargs["author"] = (
                EmbedAuthor,
                {"name": f(text), "url": f(optional(urls)), "icon_url": f(optional(urls))},
            )
        for name in ("image", "thumbnail"):
            if draw(PRESENT):
                kwargs[name] = (EmbedMedia, {"url": f(urls)})
        if draw(PRESENT):
            kwargs["fields"] = [embed_field() for _ in range(draw(SIZES))]
        return Embed, kwargs

    def file_part() -> tuple[type, dict[str, Any]]:
        name = draw(st.sampled_from(["a.png", "b.txt", "c d.gif", "SPOILER_e.png"]) | text)
        kwargs: dict[str, Any] = {"filename": f(st.just(name))}
        source = draw(st.sampled_from(["data"] * 37 + ["path", "both", "neither"]))
        if source in ("data", "both"):
            kwargs["data"] = f(
                st.binary(max_size=300)
                | st.builds(bytearray, st.binary(max_size=8))
                | st.binary(max_size=8).map(view)
            )
        if source in ("path", "both"):
            kwargs["path"] = f(st.sampled_from(["/nonexistent/a.png", Path("/nonexistent/b")]))
        for key, valid in (
            ("description", optional(text)),
            ("spoiler", st.booleans()),
            ("content_type", st.sampled_from(["image/png", "text/plain"]) | text),
        ):
            if draw(PRESENT):
                kwargs[key] = f(valid)
        return FilePart, kwargs

    def mentions() -> tuple[type, dict[str, Any]]:
        kinds = rarely(st.sampled_from(["users", "roles", "everyone"]), text)
        return AllowedMentions, {
            "parse": f(optional(st.lists(kinds, max_size=4))),
            "users": f(optional(rarely(st.lists(snowflake, max_size=3), st.just(range(1, 102))))),
            "roles": f(optional(st.lists(snowflake, max_size=3))),
            "replied_user": f(optional(st.booleans())),
        }

    message: dict[str, Any] = {}
    if draw(st.sampled_from([True, True, True, False])):
        message["content"] = f(text)
    for name, valid, present in (
        ("username", text, PRESENT),
        ("avatar_url", urls, PRESENT),
        ("tts", st.booleans(), PRESENT),
        ("flags", FLAGS, PRESENT),
        ("thread_id", snowflake, SELDOM),
        ("thread_name", text, SELDOM),
        ("applied_tags", st.lists(snowflake, max_size=6), SELDOM),
    ):
        if draw(present):
            message[name] = f(optional(valid))
    if draw(PRESENT):
        message["allowed_mentions"] = mentions()
    message["embeds"] = [embed() for _ in range(draw(COUNTS))]
    message["attachments"] = [file_part() for _ in range(draw(COUNTS))]
    if mode == "many":
        for key in ("embeds", "attachments"):
            if draw(ONE_IN_FIVE) == 0:
                message[key] = draw(GARBAGE)
    return Message, message


def build(value: Any) -> Any:
    """Construct the models of a spec, inside out, as a user would."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], type):
        cls, kwargs = value
        return cls(**{k: build(v) for k, v in kwargs.items()})
    if isinstance(value, list):
        return [build(v) for v in value]
    return value


def assert_refused_by_us(exc: Exception) -> None:
    # Our own message, naming the model (and the field), never one from deep inside.
    assert not isinstance(exc, ValidationError), exc
    assert OUR_ERROR.match(str(exc)), f"{type(exc).__name__}: {exc}"


@settings(max_examples=EXAMPLES)
@given(specs(), st.sampled_from([10 * 1024 * 1024, 256]))
def test_anything_is_refused_up_front_or_conforms_to_discords_schema(
    spec: tuple[type, dict[str, Any]], budget: int
) -> None:
    execute = validator(EXECUTE)
    try:
        message = build(spec)
    except (TypeError, ValueError) as exc:
        event("refused at construction")
        assert_refused_by_us(exc)
        return
    if validate(message, max_upload_bytes=budget):
        event("refused by check")
        with pytest.raises(ValidationError):
            check(message, max_upload_bytes=budget)
        return
    check(message, max_upload_bytes=budget)
    try:
        plan = plan_requests(message, max_upload_bytes=budget)
    except ValidationError:
        event("refused by the planner (dead-lettered as invalid)")
        return
    event(f"accepted: {min(len(plan), 3)}{'+' if len(plan) >= 3 else ''} request(s)")
    for request in plan:
        body = encode_execute(request)
        data = body.json if body.json is not None else body.payload_json
        assert data is not None
        instance = json.loads(data.decode("utf-8"))
        if not execute.is_valid(instance):
            errors = sorted(execute.iter_errors(instance), key=lambda e: list(e.absolute_path))
            pytest.fail(
                "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
            )
        for part in body.files:
            # They go into the part's headers.
            part.filename.encode("utf-8")
            assert part.content_type.isascii()
            assert part.content_type.isprintable()


@settings(max_examples=RICH_EXAMPLES)
@given(rich_messages(), st.sampled_from([10 * 1024 * 1024, 256]))
def test_components_polls_and_flags_conform_to_discords_schema(
    message: Message, budget: int
) -> None:
    # Components V2 layouts, V1 rows (interactive ones on an application-owned
    # webhook), polls and flags: each planned body meets the execute schema, and the
    # components and poll ride the first request, which asks for with_components.
    execute = validator(EXECUTE)
    check(message, max_upload_bytes=budget)
    plan = plan_requests(message, max_upload_bytes=budget)
    event(f"{'v2' if plan[0].flags and plan[0].flags & 32768 else 'v1'}: {min(len(plan), 3)}")
    assert plan[0].components == message.components
    assert plan[0].poll == message.poll
    assert plan[0].with_components == bool(message.components)
    assert all(not r.components and r.poll is None for r in plan[1:])
    for request in plan:
        body = encode_execute(request)
        data = body.json if body.json is not None else body.payload_json
        assert data is not None
        instance = json.loads(data.decode("utf-8"))
        errors = sorted(execute.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
        )
