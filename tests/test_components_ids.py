"""Component ids, and entity selects' default values and channel types: every rule.

Each rule is tested at its limit (valid) and one over (the violation's path, limit and
size); the numbers come from ``_limit_values``, whose comments say where Discord states
them. A golden file pins a Components V2 message with ids as it is sent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from trio_webhook import Message
from trio_webhook._component_tree import map_media
from trio_webhook._converter import to_json_dict
from trio_webhook._encoding import encode_execute
from trio_webhook._limit_values import COMPONENT_ID_MAX
from trio_webhook._limits import validate
from trio_webhook._planning import plan_requests
from trio_webhook.components import (
    ActionRow,
    Button,
    Container,
    EntitySelect,
    MediaGallery,
    MediaGalleryItem,
    Section,
    SelectDefaultValue,
    SelectKind,
    Separator,
    StringSelect,
    TextDisplay,
    Thumbnail,
)
from trio_webhook.testing.strategies import rich_messages

GOLDEN = Path(__file__).parent / "golden"
LINK = Button("docs", url="https://example.com/docs")


def only(violations: list[Any]) -> tuple[str, int, int]:
    assert len(violations) == 1, violations
    (v,) = violations
    return v.path, v.limit, v.actual


def v2(*components: Any) -> Message:
    return Message(components=list(components))


def owned(select: EntitySelect | StringSelect) -> Message:
    return Message(components=[ActionRow([select])], application_owned=True)


def users(n: int) -> list[SelectDefaultValue]:
    return [SelectDefaultValue(10**17 + i, "user") for i in range(n)]


def user_select(n: int, **limits: Any) -> Message:
    return owned(EntitySelect(SelectKind.USER, "who", default_values=users(n), **limits))


def channel_select(types: list[int], kind: SelectKind = SelectKind.CHANNEL) -> Message:
    return owned(EntitySelect(kind, "where", channel_types=types))


# --- the models -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "text"),
    [
        (lambda: TextDisplay("x", id="3"), "TextDisplay.id must be int or None, got str"),  # type: ignore[arg-type]
        (lambda: Separator(id=True), "Separator.id must be int or None, got bool"),
        (lambda: Button("x", url="u", id=1.5), "Button.id must be int or None, got float"),  # type: ignore[arg-type]
        (
            lambda: EntitySelect(5, "c", default_values=[3]),
            r"EntitySelect.default_values\[0\] must be SelectDefaultValue, got int",
        ),
        (
            lambda: EntitySelect(8, "c", channel_types=["text"]),
            r"EntitySelect.channel_types\[0\] must be int \(a channel type\), got str",
        ),
        (
            lambda: SelectDefaultValue(None, "user"),
            r"SelectDefaultValue.id must be a snowflake \(int or str\), got NoneType",
        ),
    ],
)
def test_a_wrong_type_is_refused_at_construction_naming_class_and_field(
    build: Any, text: str
) -> None:
    with pytest.raises(TypeError, match="^" + text):
        build()


def test_every_component_takes_an_id_sent_only_when_given() -> None:
    tree = [
        Container(
            [
                Section([TextDisplay("t", id=3)], Thumbnail("https://e.com/a.png", id=4), id=2),
                MediaGallery([MediaGalleryItem("https://e.com/b.png")], id=5),
                Separator(id=6),
                ActionRow([Button("b", url="https://e.com", id=8)], id=7),
            ],
            id=1,
        )
    ]
    sent = to_json_dict(v2(*tree))["components"]
    assert sent[0]["id"] == 1
    assert [c["id"] for c in sent[0]["components"]] == [2, 5, 6, 7]
    assert sent[0]["components"][0]["accessory"]["id"] == 4
    assert "id" not in to_json_dict(v2(TextDisplay("x")))["components"][0]


# --- ids: range and uniqueness ----------------------------------------------------------------


ID_RULES = [
    (
        v2(TextDisplay("x", id=COMPONENT_ID_MAX)),
        v2(TextDisplay("x", id=COMPONENT_ID_MAX + 1)),
        ("components[0].id", COMPONENT_ID_MAX, COMPONENT_ID_MAX + 1),
    ),
    (
        v2(TextDisplay("x", id=1)),
        v2(TextDisplay("x", id=0)),
        ("components[0].id", COMPONENT_ID_MAX, 0),
    ),
    (
        v2(TextDisplay("x", id=1), TextDisplay("y", id=2)),
        v2(TextDisplay("x", id=1), TextDisplay("y", id=1)),
        ("components[1].id", 1, 2),
    ),
    (  # unique through nesting: a child may not reuse its container's id
        v2(Container([TextDisplay("x", id=2)], id=1)),
        v2(Container([TextDisplay("x", id=1)], id=1)),
        ("components[0].components[0].id", 1, 2),
    ),
    (  # and in V1 rows: a button may not reuse its row's id
        Message(content="x", components=[ActionRow([Button("d", url="u", id=2)], id=1)]),
        Message(content="x", components=[ActionRow([Button("d", url="u", id=1)], id=1)]),
        ("components[0].components[0].id", 1, 2),
    ),
]


def test_a_duplicate_id_names_the_component_that_has_it_first() -> None:
    (violation,) = validate(v2(TextDisplay("x", id=9), Container([Separator(id=9)])))
    assert "components[0]" in violation.detail
    assert violation.path == "components[1].components[0].id"


# --- entity selects: default_values and channel_types -----------------------------------------


SELECT_RULES = [
    (user_select(1), user_select(2), ("components[0].components[0].default_values", 1, 2)),
    (
        user_select(25, max_values=25),
        user_select(26, max_values=25),
        ("components[0].components[0].default_values", 25, 26),
    ),
    (
        user_select(2, min_values=2, max_values=3),
        user_select(1, min_values=2, max_values=3),
        ("components[0].components[0].default_values", 3, 1),
    ),
    (
        user_select(0, min_values=0),
        user_select(0),
        ("components[0].components[0].default_values", 1, 0),
    ),
    (
        channel_select([0, 5, 15]),
        channel_select([0, 5, 16]),
        ("components[0].components[0].channel_types[2]", 0, 16),
    ),
    (
        channel_select([0, 5]),
        channel_select([0, 0]),
        ("components[0].components[0].channel_types[1]", 1, 2),
    ),
    (
        channel_select([0]),
        channel_select([0], SelectKind.ROLE),
        ("components[0].components[0].channel_types", 0, 1),
    ),
]


@pytest.mark.parametrize(("at_limit", "over", "expected"), ID_RULES + SELECT_RULES)
def test_each_rule_at_its_limit_and_one_over(
    at_limit: Message, over: Message, expected: tuple[str, int, int]
) -> None:
    # Valid at the limit, and one over is the one violation, with its path, limit, size.
    assert (validate(at_limit), only(validate(over))) == ([], expected)


@pytest.mark.parametrize(
    ("kind", "value_type", "ok"),
    [
        (SelectKind.USER, "user", True),
        (SelectKind.USER, "role", False),
        (SelectKind.ROLE, "role", True),
        (SelectKind.ROLE, "channel", False),
        (SelectKind.MENTIONABLE, "user", True),
        (SelectKind.MENTIONABLE, "role", True),
        (SelectKind.MENTIONABLE, "channel", False),
        (SelectKind.CHANNEL, "channel", True),
        (SelectKind.CHANNEL, "user", False),
    ],
)
def test_a_default_values_type_must_suit_the_select(
    kind: SelectKind, value_type: str, ok: bool
) -> None:
    value = SelectDefaultValue(123456789012345678, value_type)
    violations = validate(owned(EntitySelect(kind, "c", default_values=[value])))
    if ok:
        assert violations == []
    else:
        path, _, _ = only(violations)
        assert path == "components[0].components[0].default_values[0].type"
        assert kind.name in violations[0].detail


def test_a_default_value_id_must_be_a_snowflake() -> None:
    select = EntitySelect(SelectKind.ROLE, "c", default_values=[SelectDefaultValue("x1", "role")])
    path, _, _ = only(validate(owned(select)))
    assert path == "components[0].components[0].default_values[0].id"


# --- reading Discord's JSON, shedding, the golden file -------------------------------------


@settings(max_examples=100)
@given(rich_messages())
def test_ids_default_values_and_channel_types_are_read_back_from_json(message: Message) -> None:
    sent = Message(components=message.components)
    assert Message.from_json(to_json_dict(sent)) == sent


def test_dropping_a_gallerys_media_keeps_the_gallerys_id() -> None:
    shown = MediaGallery(
        [MediaGalleryItem("attachment://a.png"), MediaGalleryItem("https://e.com/b.png")], id=7
    )
    (kept,) = map_media((shown,), lambda url: None if url.startswith("attachment:") else url)
    assert kept.id == 7
    assert [item.media.url for item in kept.items] == ["https://e.com/b.png"]


GOLDEN_IDS = Message(
    components=[
        Container(
            [
                TextDisplay("## deploy 7", id=2),
                Section(
                    [TextDisplay("pick who approves", id=4)],
                    Button("runbook", url="https://example.com/runbook", id=5),
                    id=3,
                ),
                ActionRow(
                    [
                        EntitySelect(
                            SelectKind.CHANNEL,
                            "announce_in",
                            max_values=2,
                            default_values=[SelectDefaultValue(111111111111111111, "channel")],
                            channel_types=[0, 5],
                            id=7,
                        )
                    ],
                    id=6,
                ),
                ActionRow(
                    [
                        EntitySelect(
                            SelectKind.MENTIONABLE,
                            "approvers",
                            min_values=1,
                            max_values=3,
                            default_values=[
                                SelectDefaultValue(222222222222222222, "user"),
                                SelectDefaultValue(333333333333333333, "role"),
                            ],
                        )
                    ]
                ),
            ],
            id=1,
        )
    ],
    application_owned=True,
)


def test_golden_components_v2_with_ids_and_select_defaults() -> None:
    (request,) = plan_requests(GOLDEN_IDS)
    body = encode_execute(request)
    assert body.json is not None
    path = GOLDEN / "components_v2_ids.json"
    if os.environ.get("TRIO_WEBHOOK_UPDATE_GOLDEN"):
        path.write_bytes(body.json + b"\n")
    assert path.read_bytes() == body.json + b"\n", f"{path.name} drifted; check it by eye"
