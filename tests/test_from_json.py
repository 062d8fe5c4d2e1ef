"""Message.from_json: Discord's JSON read strictly, every problem with its path."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from trio_webhook import Message, ValidationError, _from_json, _models
from trio_webhook._converter import to_json_dict
from trio_webhook._from_json import read_json
from trio_webhook.errors import JSONMessageError
from trio_webhook.testing.strategies import messages

# --------------------------------------------------------------------------- round trip


@given(messages(max_embeds=12, max_files=3), st.sampled_from(["mapping", "str", "bytes"]))
def test_every_message_survives_a_round_trip(message: Message, form: str) -> None:
    data = to_json_dict(message)
    text = json.dumps(data)
    given_as: Any = {"mapping": data, "str": text, "bytes": text.encode()}[form]
    # The body holds neither the files (uploaded as parts) nor thread_id (a query
    # parameter), so those are what the JSON cannot give back.
    assert Message.from_json(given_as) == attrs.evolve(message, attachments=(), thread_id=None)


# --------------------------------------------------------------------------- every path named

_MODELS = [v for v in vars(_models).values() if isinstance(v, type) and attrs.has(v)]
_KNOWN_KEYS = {a.name for cls in _MODELS for a in attrs.fields(cls)} | {
    key for keys in _from_json._READ_ONLY.values() for key in keys
}


def _sites(value: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every (path, container, key) of the JSON tree below ``value``."""
    found: list[tuple[str, Any, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            found.append((here, value, key))
            found += _sites(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.append((f"{path}[{i}]", value, i))
            found += _sites(item, f"{path}[{i}]")
    return found


def _wrong(value: Any) -> Any:
    """A value of another JSON type than ``value``, which no field of that type accepts."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int):
        return "1"
    if isinstance(value, str):
        return True  # a number could be a snowflake
    if isinstance(value, list):
        return "not a list"
    return [value]


def _overlaps(a: str, b: str) -> bool:
    return a == b or any(a.startswith(b + c) or b.startswith(a + c) for c in ".[")


_TYPO = st.sampled_from(["drop", "double", "swap", "suffix"])


def _typo(key: str, kind: str, where: int) -> str:
    i = where % len(key)
    if kind == "drop" and len(key) > 1:
        return key[:i] + key[i + 1 :]
    if kind == "double":
        return key[:i] + key[i] + key[i:]
    if kind == "swap" and i + 1 < len(key):
        return key[:i] + key[i + 1] + key[i] + key[i + 2 :]
    return key + "s"


@given(messages(max_embeds=4, max_files=0), st.data())
def test_every_problem_names_its_path(message: Message, data: st.DataObject) -> None:
    doc = to_json_dict(message)
    doc = json.loads(json.dumps(doc))  # a tree of plain JSON values, safe to change
    sites = _sites(doc)
    assume(sites)
    chosen: list[tuple[str, Any, Any]] = []
    for _ in range(data.draw(st.integers(1, 4))):
        site = data.draw(st.sampled_from(sites))
        if not any(_overlaps(site[0], c[0]) for c in chosen):
            chosen.append(site)
    wrong_types: set[str] = set()
    renamed: dict[str, str] = {}  # typo's path -> the original key's path
    for path, container, key in chosen:
        if isinstance(key, str) and data.draw(st.booleans()):
            typo = _typo(key, data.draw(_TYPO), data.draw(st.integers(0, 99)))
            if typo in _KNOWN_KEYS or typo in container:
                continue
            container[typo] = container.pop(key)
            renamed[path[: len(path) - len(key)] + typo] = path
        else:
            container[key] = _wrong(container[key])
            wrong_types.add(path)
    assume(wrong_types or renamed)

    with pytest.raises(JSONMessageError) as info:
        Message.from_json(doc)

    problems = {p.path: p for p in info.value.problems}
    assert wrong_types | set(renamed) <= set(problems)
    # Besides them, only a required key left behind by a rename may be missing.
    assert set(problems) - wrong_types - set(renamed) <= set(renamed.values())
    for path in wrong_types:
        assert problems[path].expected is not None
        assert problems[path].given is not None
        assert problems[path].detail.startswith("expected ")
    for path in renamed:
        assert problems[path].detail.startswith("unknown key; did you mean ")
    text = str(info.value)
    for problem in info.value.problems:
        assert str(problem).startswith(f"{problem.path}: ")
        assert str(problem) in text


# --------------------------------------------------------------------------- error texts


def _problems(data: Any) -> list[str]:
    with pytest.raises(JSONMessageError) as info:
        Message.from_json(data)
    return [str(p) for p in info.value.problems]


def test_a_typo_is_named_with_a_suggestion() -> None:
    assert _problems({"embeds": [{"titel": "x"}]}) == [
        "embeds[0].titel: unknown key; did you mean 'title'?"
    ]


def test_application_owned_is_said_in_code_not_read_from_the_json() -> None:
    (problem,) = _problems({"content": "hi", "application_owned": True})
    assert problem.startswith("application_owned: unknown key; known keys: content,")
    assert "application_owned," not in problem


def test_every_problem_is_reported_together() -> None:
    data = {
        "content": 5,
        "embeds": [
            {"title": "ok"},
            {"colour": 1},
            {"fields": [{"name": "a", "value": 3}, {"name": "b"}]},
        ],
        "tts": 0,
        "bogus": 1,
    }
    with pytest.raises(JSONMessageError) as info:
        Message.from_json(data)
    assert [str(p) for p in info.value.problems] == [
        "content: expected a string, got a number",
        "embeds[1].colour: unknown key; did you mean 'color'?",
        "embeds[2].fields[0].value: expected a string, got a number",
        "embeds[2].fields[1].value: missing required key; expected a string",
        "tts: expected true or false, got a number",
        "bogus: unknown key; known keys: content, username, avatar_url, tts, embeds, "
        "attachments, allowed_mentions, flags, thread_id, thread_name, applied_tags, "
        "components, poll",
    ]
    assert str(info.value).startswith("6 problems in the message JSON: content: expected")
    first = info.value.problems[0]
    assert (first.path, first.expected, first.given) == ("content", "a string", "a number")


def test_the_error_is_a_validation_error_with_violations() -> None:
    with pytest.raises(ValidationError) as info:
        Message.from_json({"embeds": [{"footer": {"text": None}}]})
    assert [v.path for v in info.value.violations] == ["embeds[0].footer.text"]
    assert str(info.value) == "embeds[0].footer.text: expected a string, got null"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"thread_id": "abc"}, "thread_id: expected a snowflake id (digits), got a string"),
        ({"thread_id": -1}, "thread_id: expected a snowflake id (digits), got a number"),
        ({"applied_tags": [1, "a"]}, "applied_tags[1]: expected a snowflake id (digits)"),
        ({"allowed_mentions": {"users": ["x"]}}, "allowed_mentions.users[0]: expected a snow"),
        ({"flags": True}, "flags: expected an integer, got a boolean"),
        ({"embeds": "x"}, "embeds: expected a list, got a string"),
        ({"embeds": [[]]}, "embeds[0]: expected an object, got a list"),
        ({"embeds": [{"timestamp": "yesterday"}]}, "embeds[0].timestamp: 'yesterday' is not an"),
        ({"embeds": [{"timestamp": 5}]}, "embeds[0].timestamp: expected an ISO 8601 time, got"),
        ({"embeds": [{"type": "video"}]}, "embeds[0].type: webhooks send only 'rich' embeds"),
        ({"embeds": [{"image": {}}]}, "embeds[0].image.url: missing required key"),
        ({"embeds": [{"author": {"name": 1}}]}, "embeds[0].author.name: expected a string"),
        ({"embeds": [{"color": 0x1000000}]}, "embeds[0].color: must be in 0..0xFFFFFF"),
        ({"attachments": [{"id": "1"}]}, "attachments[0].id: unknown key"),
        ({"attachments": [{"id": "1"}]}, "attachments[0].path: missing required key"),
        ([1, 2], "message: expected an object, got a list"),
        ("{oops", "message: invalid JSON at line 1, column 2"),
        (b"\xff", "message: invalid JSON"),
    ],
)
def test_the_problem_names_the_path(data: Any, needle: str) -> None:
    assert any(needle in p for p in _problems(data)), _problems(data)


# --------------------------------------------------------------------------- what is accepted


def test_discords_shape_is_read(tmp_path: Path) -> None:
    message = Message.from_json(
        {
            "content": "deployed",
            "embeds": [
                {
                    "title": "v1.2.3",
                    "color": 0x57F287,
                    "timestamp": "2024-05-01T12:00:00Z",
                    "fields": [{"name": "branch", "value": "main", "inline": True}],
                    "image": {"url": "attachment://log.txt"},
                }
            ],
            "attachments": [{"path": "log.txt", "description": "the log", "spoiler": True}],
            "allowed_mentions": {"parse": []},
            "thread_id": 123,
        }
    )
    assert message.thread_id == "123"
    assert message.embeds[0].timestamp is not None
    assert message.embeds[0].timestamp.utcoffset() is not None
    part = message.attachments[0]
    assert (part.filename, part.path, part.description, part.spoiler) == (
        "log.txt",
        Path("log.txt"),
        "the log",
        True,
    )
    assert message.allowed_mentions is not None
    assert message.allowed_mentions.parse == ()


def test_what_discord_echoes_back_is_accepted() -> None:
    message = Message.from_json(
        {
            "embeds": [
                {
                    "type": "rich",
                    "image": {"url": "https://x/a.png", "proxy_url": "p", "width": 1, "height": 2},
                    "footer": {"text": "f", "proxy_icon_url": "p"},
                    "fields": None,
                }
            ],
            "attachments": None,
            "applied_tags": [1, "2"],
            "allowed_mentions": {"users": [5], "parse": ["roles"]},
        }
    )
    assert message.embeds[0].image is not None
    assert message.embeds[0].fields == ()
    assert message.attachments == ()
    assert message.applied_tags == ("1", "2")
    assert message.allowed_mentions is not None
    assert message.allowed_mentions.users == ("5",)


# --------------------------------------------------------------------------- any attrs model


class _Style(enum.IntEnum):
    PRIMARY = 1
    LINK = 5


@attrs.frozen
class _Button:
    type: Literal[2]
    style: _Style
    label: str | None = None


@attrs.frozen
class _Text:
    type: Literal[10]
    content: str


@attrs.frozen
class _Row:
    """A model as other modules add them: attrs, type hints, nothing registered."""

    kind: Literal[1]
    components: tuple[_Button | _Text, ...] = ()
    extra: dict[str, int] | None = None


def test_a_new_model_is_read_from_its_type_hints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_from_json._JSON_KEYS, (_Row, "kind"), "type")
    row = read_json(
        {
            "type": 1,
            "components": [{"type": 2, "style": 5}, {"type": 10, "content": "hi"}],
            "extra": {"a": 1},
        },
        _Row,
    )
    assert row == _Row(1, (_Button(2, _Style.LINK), _Text(10, "hi")), {"a": 1})
    with pytest.raises(JSONMessageError) as info:
        read_json(
            {
                "type": 3,
                "components": [{"type": 2, "style": 7}, {"type": 10, "content": 1}],
                "extra": {"a": "1"},
                "kind": 1,
            },
            _Row,
            root="row",
        )
    assert [str(p) for p in info.value.problems] == [
        "row.type: expected one of 1, got a number",
        "row.components[0].style: expected one of 1, 5, got a number",
        "row.components[1].content: expected a string, got a number",
        "row.extra.a: expected an integer, got a string",
        "row.kind: unknown key; known keys: type, components, extra",
    ]


@attrs.frozen
class _Odd:
    when: complex


def test_a_type_without_a_strict_hook_is_still_a_problem_with_a_path() -> None:
    with pytest.raises(JSONMessageError) as info:
        read_json({"when": "soon"}, _Odd, root="odd")
    assert [p.path for p in info.value.problems] == ["odd.when"]
    assert info.value.problems[0].detail.startswith("cannot be read as ")
