from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from hypothesis import given

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
from trio_webhook._limit_values import ALLOWED_FLAGS, DEFAULT_MAX_UPLOAD_BYTES, WEBHOOK_FLAGS
from trio_webhook._limits import (
    check,
    check_request,
    validate,
    validate_edit,
    validate_request,
)
from trio_webhook._models import PlannedRequest
from trio_webhook.errors import Violation
from trio_webhook.testing.strategies import messages


def one(violations: list[Violation]) -> tuple[str, int, int]:
    assert len(violations) == 1, violations
    v = violations[0]
    return v.path, v.limit, v.actual


def test_default_upload_budget_is_ten_mib() -> None:
    assert DEFAULT_MAX_UPLOAD_BYTES == 10 * 1024 * 1024


@given(messages())
def test_generated_messages_are_valid(message: Message) -> None:
    assert validate(message) == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (Message(content="x" * 2001), ("content", 2000, 2001)),
        (Message(embeds=[Embed(title="t" * 257)]), ("embeds[0].title", 256, 257)),
        (
            Message(embeds=[Embed(), Embed(description="d" * 4097)]),
            ("embeds[1].description", 4096, 4097),
        ),
        (
            Message(embeds=[Embed(fields=[EmbedField("n", "v")] * 26)]),
            ("embeds[0].fields", 25, 26),
        ),
        (
            Message(embeds=[Embed(fields=[EmbedField("n", "v"), EmbedField("n" * 257, "v")])]),
            ("embeds[0].fields[1].name", 256, 257),
        ),
        (
            Message(embeds=[Embed(fields=[EmbedField("n", "v" * 1025)])]),
            ("embeds[0].fields[0].value", 1024, 1025),
        ),
        (
            Message(embeds=[Embed(fields=[EmbedField("n", "  ")])]),
            ("embeds[0].fields[0].value", 1, 0),
        ),
        (
            Message(embeds=[Embed(footer=EmbedFooter("f" * 2049))]),
            ("embeds[0].footer.text", 2048, 2049),
        ),
        (
            Message(embeds=[Embed(author=EmbedAuthor("a" * 257))]),
            ("embeds[0].author.name", 256, 257),
        ),
        (Message(content="x", username="u" * 81), ("username", 80, 81)),
        (Message(content="x", username=""), ("username", 1, 0)),
        (Message(content="x", username="My DiScOrD bot"), ("username", 0, 1)),
        (Message(content="x", username="clyde"), ("username", 0, 1)),
        (Message(), ("message", 1, 0)),
        (Message(content="   "), ("message", 1, 0)),
        (
            Message(content="x", allowed_mentions=AllowedMentions(users=range(1, 102))),
            ("allowed_mentions.users", 100, 101),
        ),
        (
            Message(content="x", allowed_mentions=AllowedMentions(roles=range(1, 102))),
            ("allowed_mentions.roles", 100, 101),
        ),
        (
            Message(content="x", allowed_mentions=AllowedMentions(parse=["users"], users=[1])),
            ("allowed_mentions.users", 0, 1),
        ),
        (
            Message(content="x", allowed_mentions=AllowedMentions(parse=["roles"], roles=[1])),
            ("allowed_mentions.roles", 0, 1),
        ),
        (
            Message(content="x", allowed_mentions=AllowedMentions(parse=["user"])),
            ("allowed_mentions.parse[0]", 0, 0),
        ),
        (Message(content="x", thread_name=""), ("thread_name", 1, 0)),
        (Message(content="x", thread_name="n" * 101), ("thread_name", 100, 101)),
        (
            Message(content="x", thread_name="post", applied_tags=range(1, 7)),
            ("applied_tags", 5, 6),
        ),
        (Message(content="x", thread_id=1, thread_name="post"), ("thread_name", 0, 1)),
        (Message(content="x", flags=1), ("flags", WEBHOOK_FLAGS, 1)),
        (Message(content="x", flags=32768), ("flags", ALLOWED_FLAGS, 32768)),
        (
            Message(
                content="x",
                attachments=[
                    FilePart("a.txt", data=b""),
                    FilePart("b", data=b"", description="d" * 1025),
                ],
            ),
            ("attachments[1].description", 1024, 1025),
        ),
        (
            Message(embeds=[Embed(image=EmbedMedia("attachment://missing.png"))]),
            ("embeds[0].image.url", 1, 0),
        ),
    ],
)
def test_each_limit_names_path_limit_and_actual(
    message: Message, expected: tuple[str, int, int]
) -> None:
    # Without splitting, so that content is held to one request's 2000 characters too.
    assert one(validate(message, split_content=False)) == expected


def test_long_content_is_no_violation_when_it_will_be_split() -> None:
    long = Message(content="x" * 2001)
    assert validate(long) == []
    check(long)
    (violation,) = validate(long, split_content=False)
    assert str(violation) == "content: content has 2001 characters, Discord allows 2000; shorten it"
    with pytest.raises(ValidationError, match="content has 2001 characters"):
        check(long, split_content=False)
    # What splitting cannot fix is still refused: text that cannot be encoded, nothing.
    assert [v.path for v in validate(Message(content="x" * 3000 + "\ud800"))] == ["content"]
    assert [v.path for v in validate(Message(content=" " * 3000))] == ["message"]


def test_detail_says_what_is_wrong_and_how_to_fix_it() -> None:
    (violation,) = validate(Message(embeds=[Embed(description="d" * 5012)]))
    assert violation.detail == "description has 5012 characters, Discord allows 4096; shorten it"
    assert str(violation) == f"embeds[0].description: {violation.detail}"


def test_components_flag_is_rejected_with_a_clear_reason() -> None:
    (violation,) = validate(Message(content="x", flags=32768 | 4))
    assert "IS_COMPONENTS_V2" in violation.detail
    assert "components" in violation.detail


def test_allowed_flags_pass() -> None:
    for flags in (0, 4, 4096, 4100):
        assert validate(Message(content="x", flags=flags)) == []


def test_every_violation_is_reported_at_once() -> None:
    message = Message(
        content="x" * 2001,
        username="discord",
        embeds=[
            Embed(title="t" * 257),
            Embed(fields=[EmbedField("n", "v"), EmbedField("n", "v" * 1025)]),
        ],
        thread_id=1,
        thread_name="post",
    )
    paths = [v.path for v in validate(message, split_content=False)]
    assert paths == [
        "content",
        "username",
        "embeds[0].title",
        "embeds[1].fields[1].value",
        "thread_name",
    ]
    with pytest.raises(ValidationError) as info:
        check(message, split_content=False)
    assert [v.path for v in info.value.violations] == paths
    assert "breaks 5 Discord limits" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_embed_alone_over_6000_characters_is_a_violation() -> None:
    embed = Embed(
        title="t" * 256,
        description="d" * 4096,
        fields=[EmbedField("n", "v" * 1024)] * 2,
    )
    assert one(validate(Message(embeds=[Embed(title="ok"), embed]))) == (
        "embeds[1]",
        6000,
        256 + 4096 + 2 * 1025,
    )


def test_whitespace_does_not_count_towards_6000() -> None:
    embed = Embed(
        title="t" * 8,
        description=" " * 50 + "d" * 3990 + " " * 50,
        fields=[EmbedField("n", "v" * 1000 + " " * 24)] * 2,
    )
    raw = 8 + 4090 + 2 * (1 + 1024)
    assert raw > 6000
    assert validate(Message(embeds=[embed])) == []
    padded_more = Embed(title="t" * 9, description=embed.description, fields=embed.fields)
    assert one(validate(Message(embeds=[padded_more]))) == ("embeds[0]", 6000, 6001)


def test_what_the_planner_splits_is_not_a_violation() -> None:
    message = Message(
        embeds=[Embed(description="d" * 4000)] * 30,
        attachments=[FilePart(f"f{i}.bin", data=b"x" * 60) for i in range(25)],
    )
    assert validate(message, max_upload_bytes=100) == []


def test_file_over_budget_alone_is_a_violation() -> None:
    message = Message(
        attachments=[FilePart("ok.bin", data=b"x"), FilePart("big.bin", data=b"x" * 11)]
    )
    assert one(validate(message, max_upload_bytes=10)) == ("attachments[1]", 10, 11)


def test_file_size_is_taken_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 2048)
    message = Message(attachments=[FilePart.from_path(path)])
    assert one(validate(message, max_upload_bytes=1024)) == ("attachments[0]", 1024, 2048)


def test_missing_file_is_a_violation_not_a_crash(tmp_path: Path) -> None:
    message = Message(attachments=[FilePart.from_path(tmp_path / "gone.txt")])
    (violation,) = validate(message)
    assert violation.path == "attachments[0]"
    assert violation.actual == -1
    assert "cannot be read" in violation.detail


def test_reference_to_an_attached_file_is_fine() -> None:
    message = Message(
        embeds=[Embed(thumbnail=EmbedMedia("attachment://my_pic.png"))],
        attachments=[FilePart("my pic.png", data=b"x")],
    )
    assert validate(message) == []


# --- per request --------------------------------------------------------------------


def request(**kwargs: object) -> PlannedRequest:
    return PlannedRequest(index=0, **kwargs)  # type: ignore[arg-type]


def test_request_with_more_than_ten_embeds_is_a_violation() -> None:
    planned = request(embeds=[Embed(title="t")] * 11)
    assert one(validate_request(planned)) == ("embeds", 10, 11)


def test_request_with_more_than_6000_characters_is_a_violation() -> None:
    planned = request(embeds=[Embed(description="d" * 4000), Embed(description="d" * 2001)])
    assert one(validate_request(planned)) == ("embeds", 6000, 6001)


def test_request_with_more_than_ten_files_is_a_violation() -> None:
    planned = request(files=[FilePart(f"{i}.txt", data=b"") for i in range(11)])
    assert one(validate_request(planned)) == ("files", 10, 11)


def test_request_over_the_upload_budget_is_a_violation() -> None:
    planned = request(files=[FilePart("a", data=b"x" * 6), FilePart("b", data=b"x" * 5)])
    assert one(validate_request(planned, max_upload_bytes=10)) == ("files", 10, 11)


def test_request_reference_must_be_in_the_same_request() -> None:
    planned = request(embeds=[Embed(image=EmbedMedia("attachment://a.png"))])
    assert one(validate_request(planned)) == ("embeds[0].image.url", 1, 0)


def test_request_at_every_limit_passes() -> None:
    planned = request(
        content="x" * 2000,
        embeds=[Embed(description="d" * 600)] * 10,
        files=[FilePart(f"{i}.txt", data=b"x") for i in range(10)],
    )
    assert validate_request(planned, max_upload_bytes=10) == []
    check_request(planned, max_upload_bytes=10)


def test_check_request_raises() -> None:
    with pytest.raises(ValidationError):
        check_request(request())


def test_edit_needs_no_content_but_keeps_request_limits() -> None:
    assert validate_edit(Message(flags=4)) == []
    assert one(validate_edit(Message(embeds=[Embed(title="t")] * 11))) == ("embeds", 10, 11)


def test_edit_ignores_the_fields_an_edit_cannot_change() -> None:
    # PATCH sends only content, embeds, allowed mentions, flags and files: a username
    # or forum field on the Message is not sent, so it cannot be a violation.
    message = Message(
        content="edited",
        username="discord",
        avatar_url="https://x/" + "a" * 3000,
        thread_id="01",
        thread_name=" ",
        applied_tags=["1"] * 6,
    )
    assert {v.path for v in validate(message)} == {
        "username",
        "avatar_url",
        "thread_id",
        "thread_name",
        "applied_tags",
    }
    assert validate_edit(message) == []
    assert [v.path for v in validate_edit(attrs.evolve(message, content="x" * 2001))] == ["content"]
