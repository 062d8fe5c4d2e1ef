"""Components (V1 rows, Components V2), polls and flags: the models, every rule, planning.

Each rule is tested at its limit (valid) and one over (the violation's path, limit and
size); the numbers come from ``_limit_values``, whose comments say where Discord states
them.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings

from trio_webhook import Embed, FilePart, Message, ValidationError
from trio_webhook._attachments import SHED_NOTE, strip_component_refs
from trio_webhook._converter import to_json_dict
from trio_webhook._encoding import encode_edit
from trio_webhook._limits import validate, validate_edit, validate_request
from trio_webhook._models import PlannedRequest
from trio_webhook._planning import plan_requests
from trio_webhook._records import decode_message, encode_message
from trio_webhook._shed import strip_attachments as _strip_attachments
from trio_webhook.components import (
    ActionRow,
    Button,
    ButtonStyle,
    Container,
    Emoji,
    EntitySelect,
    FileComponent,
    MediaGallery,
    MediaGalleryItem,
    MessageFlags,
    Section,
    SelectKind,
    SelectOption,
    Separator,
    StringSelect,
    TextDisplay,
    Thumbnail,
)
from trio_webhook.errors import JSONMessageError
from trio_webhook.polls import Poll, PollAnswer
from trio_webhook.testing.strategies import components_v2, polls

LINK = Button("docs", url="https://example.com/docs")


def only(violations: list[Any]) -> tuple[str, int, int]:
    assert len(violations) == 1, violations
    (v,) = violations
    return v.path, v.limit, v.actual


def texts(n: int, size: int = 1) -> list[TextDisplay]:
    return [TextDisplay("t" * size) for _ in range(n)]


def gallery(n: int) -> MediaGallery:
    return MediaGallery([MediaGalleryItem("https://example.com/a.png")] * n)


# --- the models -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "text"),
    [
        (lambda: Button(label=1), TypeError, "Button.label must be str or None, got int"),  # type: ignore[arg-type]
        (lambda: Button("x", url="u", style=9), ValueError, "Button.style must be one of"),
        (
            lambda: Button("x", url="u", style="link"),
            TypeError,
            "Button.style must be a ButtonStyle",
        ),
        (lambda: ActionRow([TextDisplay("x")]), TypeError, "ActionRow.components[0] must be"),
        (lambda: Container([Container([])]), TypeError, "Container.components[0] must be"),
        (lambda: Section([LINK], accessory=LINK), TypeError, "Section.components[0] must be"),
        (lambda: Section([], accessory="x"), TypeError, "Section.accessory must be Thumbnail"),  # type: ignore[arg-type]
        (lambda: Thumbnail(3), TypeError, "Thumbnail.media must be UnfurledMedia or a URL"),
        (lambda: Separator(spacing=3), ValueError, "Separator.spacing must be one of"),
        (lambda: Emoji(), ValueError, "Emoji: give name="),
        (lambda: Poll("q", ["a", 3]), TypeError, "Poll.answers[1] must be PollAnswer or str"),  # type: ignore[list-item]
        (lambda: Poll("q", ["a"], duration="4"), TypeError, "Poll.duration must be int"),  # type: ignore[arg-type]
        (lambda: Message(components=[LINK]), TypeError, "Message.components[0] must be"),  # type: ignore[list-item]
        (lambda: Message(poll="q"), TypeError, "Message.poll must be Poll or None"),  # type: ignore[arg-type]
        (lambda: Message(application_owned=1), TypeError, "Message.application_owned must be bool"),  # type: ignore[arg-type]
    ],
)
def test_a_wrong_value_is_refused_at_construction_naming_class_and_field(
    build: Any, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match="^" + text.replace("(", r"\(").replace("[", r"\[")):
        build()


def test_convenient_forms_convert() -> None:
    assert Button("x", url="https://e.com").style is ButtonStyle.LINK
    assert Button("x", custom_id="c").style is ButtonStyle.PRIMARY
    assert Button("x", custom_id="c", style=4).style is ButtonStyle.DANGER
    assert Thumbnail("https://e.com/a.png").media.url == "https://e.com/a.png"
    assert Poll("q", ["a"]).answers == (PollAnswer("a"),)
    assert Emoji(id=123).id == "123"
    assert Message(content="x", flags=MessageFlags.SUPPRESS_EMBEDS).flags == 4


def test_components_and_polls_survive_the_outbox_and_dead_letter_codec() -> None:
    message = Message(
        components=[
            Container([Section(texts(1), accessory=Thumbnail("attachment://a.png")), gallery(2)]),
            ActionRow(
                [EntitySelect(SelectKind.ROLE, "r"), StringSelect("s", [SelectOption("a", "b")])]
            ),
        ],
        attachments=[FilePart("a.png", data=b"x")],
        application_owned=True,
    )
    assert decode_message(encode_message(message)) == message
    with_poll = Message(poll=Poll("q?", ["a", PollAnswer("b", emoji=Emoji("🍕"))], duration=2))
    assert decode_message(encode_message(with_poll)) == with_poll


# --- the rules, at the limit and one over ------------------------------------------------


def v2(*components: Any, **kwargs: Any) -> Message:
    return Message(components=list(components), **kwargs)


def row(n: int) -> ActionRow:
    return ActionRow([LINK] * n)


@pytest.mark.parametrize(
    ("at_limit", "over", "expected"),
    [
        # 40 components through nesting: a container and 39 texts, then 40.
        (v2(Container(texts(39))), v2(Container(texts(40))), ("components", 40, 41)),
        (
            v2(*texts(2, 2000)),
            v2(TextDisplay("t" * 2000), TextDisplay("t" * 2001)),
            ("components", 4000, 4001),
        ),
        (v2(gallery(10)), v2(gallery(11)), ("components[0].items", 10, 11)),
        (v2(gallery(1)), v2(gallery(0)), ("components[0].items", 1, 0)),
        (
            Message(components=[row(5)]),
            Message(components=[row(6)]),
            ("components[0].components", 5, 6),
        ),
        (Message(components=[row(1)] * 5), Message(components=[row(1)] * 6), ("components", 5, 6)),
        (
            Message(components=[ActionRow([Button("l" * 80, url="https://e.com")])]),
            Message(components=[ActionRow([Button("l" * 81, url="https://e.com")])]),
            ("components[0].components[0].label", 80, 81),
        ),
        (
            Message(components=[ActionRow([Button("x", url="u" * 512)])]),
            Message(components=[ActionRow([Button("x", url="u" * 513)])]),
            ("components[0].components[0].url", 512, 513),
        ),
        (
            Message(
                components=[ActionRow([Button("x", custom_id="c" * 100)])], application_owned=True
            ),
            Message(
                components=[ActionRow([Button("x", custom_id="c" * 101)])], application_owned=True
            ),
            ("components[0].components[0].custom_id", 100, 101),
        ),
        (
            v2(Section(texts(3), accessory=LINK)),
            v2(Section(texts(4), accessory=LINK)),
            ("components[0].components", 3, 4),
        ),
        (
            v2(Section(texts(1), accessory=Thumbnail("h" * 2048, description="d" * 1024))),
            v2(Section(texts(1), accessory=Thumbnail("h" * 2048, description="d" * 1025))),
            ("components[0].accessory.description", 1024, 1025),
        ),
        (
            v2(MediaGallery([MediaGalleryItem("h" * 2048)])),
            v2(MediaGallery([MediaGalleryItem("h" * 2049)])),
            ("components[0].items[0].media.url", 2048, 2049),
        ),
        (
            Message(
                components=[ActionRow([StringSelect("s", [SelectOption("a", "b")] * 25)])],
                application_owned=True,
            ),
            Message(
                components=[ActionRow([StringSelect("s", [SelectOption("a", "b")] * 26)])],
                application_owned=True,
            ),
            ("components[0].components[0].options", 25, 26),
        ),
        (
            Message(
                components=[ActionRow([EntitySelect(SelectKind.USER, "u", max_values=25)])],
                application_owned=True,
            ),
            Message(
                components=[ActionRow([EntitySelect(SelectKind.USER, "u", max_values=26)])],
                application_owned=True,
            ),
            ("components[0].components[0].max_values", 25, 26),
        ),
        (
            Message(poll=Poll("q" * 300, ["a"])),
            Message(poll=Poll("q" * 301, ["a"])),
            ("poll.question", 300, 301),
        ),
        (
            Message(poll=Poll("q", ["a" * 55])),
            Message(poll=Poll("q", ["a" * 56])),
            ("poll.answers[0].text", 55, 56),
        ),
        (
            Message(poll=Poll("q", ["a"] * 10)),
            Message(poll=Poll("q", ["a"] * 11)),
            ("poll.answers", 10, 11),
        ),
        (
            Message(poll=Poll("q", ["a"], duration=768)),
            Message(poll=Poll("q", ["a"], duration=769)),
            ("poll.duration", 768, 769),
        ),
        (
            Message(poll=Poll("q", ["a"], duration=1)),
            Message(poll=Poll("q", ["a"], duration=0)),
            ("poll.duration", 768, 0),
        ),
        (Message(poll=Poll("q", ["a"])), Message(poll=Poll("q", [])), ("poll.answers", 1, 0)),
        (
            Message(poll=Poll("q", [PollAnswer("a", emoji=Emoji("x" * 32))])),
            Message(poll=Poll("q", [PollAnswer("a", emoji=Emoji("x" * 33))])),
            ("poll.answers[0].emoji.name", 32, 33),
        ),
        (
            v2(
                FileComponent("attachment://a.txt"),
                attachments=[FilePart(f"{i}.txt", data=b"") for i in range(9)]
                + [FilePart("a.txt", data=b"")],
            ),
            v2(
                FileComponent("attachment://a.txt"),
                attachments=[FilePart(f"{i}.txt", data=b"") for i in range(10)]
                + [FilePart("a.txt", data=b"")],
            ),
            ("attachments", 10, 11),
        ),
    ],
)
def test_each_rule_at_its_limit_and_one_over(
    at_limit: Message, over: Message, expected: tuple[str, int, int]
) -> None:
    assert validate(at_limit) == []
    assert only(validate(over)) == expected


def test_components_v2_refuses_content_embeds_and_poll_saying_why() -> None:
    found = validate(
        Message(content="hi", embeds=[Embed(title="t")], poll=Poll("q", ["a"]), components=texts(1))
    )
    assert [v.path for v in found] == ["content", "embeds", "poll"]
    assert all("Components V2" in v.detail and "TextDisplay" in v.detail for v in found)


def test_interactive_components_need_an_application_owned_webhook() -> None:
    button = Message(content="x", components=[ActionRow([Button("go", custom_id="go")])])
    (violation,) = validate(button)
    assert violation.path == "components[0].components[0]"
    assert "application-owned" in violation.detail
    assert "application_owned=True" in violation.detail
    select = Message(
        content="x", components=[ActionRow([StringSelect("s", [SelectOption("a", "b")])])]
    )
    assert only(validate(select))[0] == "components[0].components[0]"
    assert validate(attrs.evolve(button, application_owned=True)) == []
    assert validate(attrs.evolve(select, application_owned=True)) == []


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (
            Message(components=[ActionRow([Button("x", style=ButtonStyle.LINK)])]),
            "components[0].components[0].url",
        ),
        (
            Message(components=[ActionRow([Button(url="https://e.com")])]),
            "components[0].components[0]",
        ),
        (
            Message(components=[ActionRow([Button("x", url="https://e.com", custom_id="c")])]),
            "components[0].components[0].custom_id",
        ),
        (
            Message(
                components=[ActionRow([LINK, EntitySelect(SelectKind.USER, "u")])],
                application_owned=True,
            ),
            "components[0].components",
        ),
        (v2(FileComponent("https://e.com/a.txt")), "components[0].file.url"),
        (v2(FileComponent("attachment://missing.txt")), "components[0].file.url"),
        (
            v2(Section(texts(1), accessory=Thumbnail("attachment://no.png"))),
            "components[0].accessory.media.url",
        ),
        (v2(Container([])), "components[0].components"),
        (v2(TextDisplay(" ")), "components[0].content"),
        (Message(content="x", flags=1 << 1), "flags"),
        (Message(content="x", flags=MessageFlags.IS_COMPONENTS_V2), "flags"),
        (Message(poll=Poll("q", ["a"], layout_type=2)), "poll.layout_type"),
        (Message(poll=Poll(" ", ["a"])), "poll.question"),
    ],
)
def test_what_discord_refuses_is_named(message: Message, path: str) -> None:
    assert only(validate(message))[0] == path


def test_flags_are_typed_and_v2_is_set_for_the_user() -> None:
    message = v2(TextDisplay("hi"), flags=MessageFlags.SUPPRESS_NOTIFICATIONS)
    assert validate(message) == []
    (request,) = plan_requests(message)
    assert request.flags == MessageFlags.SUPPRESS_NOTIFICATIONS | MessageFlags.IS_COMPONENTS_V2
    # V1 rows need no flag: the user's flags go as given.
    (legacy,) = plan_requests(Message(content="x", components=[row(1)], flags=4))
    assert legacy.flags == 4


def test_a_poll_cannot_be_edited_and_an_edit_sends_components() -> None:
    assert only(validate_edit(Message(poll=Poll("q", ["a"])))) == ("poll", 0, 1)
    edit = Message(components=texts(1))
    assert validate_edit(edit) == []
    body = encode_edit(edit, keep_attachment_ids=None)
    assert body.json == b'{"components":[{"type":10,"content":"t"}],"flags":32768}'


# --- planning, encoding, shedding ---------------------------------------------------------


def test_a_v1_message_keeps_its_components_and_poll_on_the_first_request() -> None:
    message = Message(
        content="x",
        embeds=[Embed(title=str(i)) for i in range(15)],
        components=[row(2)],
        poll=Poll("q", ["a"]),
    )
    first, second = plan_requests(message)
    assert first.components == message.components
    assert first.poll == message.poll
    assert first.with_components
    assert not second.with_components
    assert second.components == ()
    assert second.poll is None


def test_under_a_long_content_components_and_poll_follow_its_last_piece() -> None:
    message = Message(content="x " * 2250, components=[row(1)], poll=Poll("q", ["a"]))
    *lead, last = plan_requests(message)
    assert lead
    assert all(not r.components and r.poll is None and not r.with_components for r in lead)
    assert last.components == message.components
    assert last.poll == message.poll
    assert last.with_components


def test_a_v2_message_is_one_request_with_every_file_it_shows() -> None:
    files = [FilePart(f"{i}.png", data=b"x") for i in range(10)]
    message = v2(
        MediaGallery([MediaGalleryItem(f"attachment://{i}.png") for i in range(10)]),
        attachments=files,
    )
    (request,) = plan_requests(message)
    assert request.files == tuple(files)
    assert validate_request(request) == []


def test_requests_refuse_a_component_showing_a_file_of_another_request() -> None:
    request = PlannedRequest(index=1, components=(FileComponent("attachment://a.txt"),))
    assert only(validate_request(request)) == ("components[0].file.url", 1, 0)


def test_shedding_a_file_a_component_shows_keeps_the_message_valid() -> None:
    # The buffer sheds files under pressure: a component still showing one would make
    # Discord refuse the whole message; the media goes, the text stays.
    message = v2(
        Container([TextDisplay("report"), FileComponent("attachment://r.csv")]),
        Section(texts(1), accessory=Thumbnail("attachment://g.png")),
        MediaGallery(
            [MediaGalleryItem("attachment://g.png"), MediaGalleryItem("https://e.com/a.png")]
        ),
        attachments=[FilePart("r.csv", data=b"a"), FilePart("g.png", data=b"b")],
    )
    assert validate(message) == []
    shed = _strip_attachments(message)
    assert shed.attachments == ()
    assert validate(shed) == []
    assert shed.components == (
        Container([TextDisplay("report")]),
        TextDisplay("t"),
        MediaGallery([MediaGalleryItem("https://e.com/a.png")]),
    )


def test_a_v2_message_that_only_showed_files_says_they_were_not_delivered() -> None:
    only_file = (FileComponent("attachment://r.csv"),)
    assert strip_component_refs(only_file) == (TextDisplay(SHED_NOTE),)
    unchanged = (TextDisplay("x"), row(1))
    assert strip_component_refs(unchanged) is unchanged


def test_check_raises_for_components_like_anything_else() -> None:
    with pytest.raises(ValidationError, match="components"):
        plan_requests(v2(*texts(41)))


# --- reading Discord's JSON ----------------------------------------------------------------


@settings(max_examples=100)
@given(components_v2(interactive=True), polls())
def test_components_and_polls_are_read_back_from_discords_json(
    components: tuple[Any, ...], poll: Poll
) -> None:
    for message in (Message(components=components), Message(poll=poll)):
        assert Message.from_json(to_json_dict(message)) == message


def test_a_components_type_must_name_its_class() -> None:
    with pytest.raises(JSONMessageError, match=r"components\[0\]\.type: a TextDisplay has type 10"):
        Message.from_json({"components": [{"type": 99, "content": "x"}]})
