"""A message the encoder cannot encode is refused up front, never inside the sender.

A lone surrogate (``"\\ud800"``) used to pass ``send_nowait``; encoding the request then
raised ``UnicodeEncodeError`` in the sender's delivery task, which took the sender and
every message queued behind it down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from trio_webhook import (
    AllowedMentions,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
    SenderConfig,
    ValidationError,
    open_webhook_sender,
)
from trio_webhook._encoding import encode_execute
from trio_webhook._limits import check, validate, validate_edit, validate_request
from trio_webhook._models import PlannedRequest
from trio_webhook.errors import Violation
from trio_webhook.testing import FakeDiscord

BAD = "bad \ud800 text"

# Every text field a user sets, and the path a violation names for it.
TEXT_FIELDS: list[tuple[str, Callable[[str], Message]]] = [
    ("content", lambda s: Message(content=s)),
    ("username", lambda s: Message(content="x", username=s)),
    ("avatar_url", lambda s: Message(content="x", avatar_url=s)),
    ("thread_name", lambda s: Message(content="x", thread_name=s)),
    ("embeds[0].title", lambda s: Message(embeds=[Embed(title=s)])),
    ("embeds[0].description", lambda s: Message(embeds=[Embed(description=s)])),
    ("embeds[0].url", lambda s: Message(embeds=[Embed(title="t", url=s)])),
    ("embeds[0].fields[0].name", lambda s: Message(embeds=[Embed(fields=[EmbedField(s, "v")])])),
    (
        "embeds[0].fields[0].value",
        lambda s: Message(embeds=[Embed(fields=[EmbedField("n", s)])]),
    ),
    ("embeds[0].footer.text", lambda s: Message(embeds=[Embed(footer=EmbedFooter(s))])),
    (
        "embeds[0].footer.icon_url",
        lambda s: Message(embeds=[Embed(footer=EmbedFooter("f", icon_url=s))]),
    ),
    ("embeds[0].author.name", lambda s: Message(embeds=[Embed(author=EmbedAuthor(s))])),
    (
        "embeds[0].author.url",
        lambda s: Message(embeds=[Embed(author=EmbedAuthor("a", url=s))]),
    ),
    (
        "embeds[0].author.icon_url",
        lambda s: Message(embeds=[Embed(author=EmbedAuthor("a", icon_url=s))]),
    ),
    ("embeds[0].image.url", lambda s: Message(embeds=[Embed(image=EmbedMedia(s))])),
    ("embeds[0].thumbnail.url", lambda s: Message(embeds=[Embed(thumbnail=EmbedMedia(s))])),
    (
        "attachments[0].filename",
        lambda s: Message(attachments=[FilePart(s + ".txt", data=b"a")]),
    ),
    (
        "attachments[0].description",
        lambda s: Message(attachments=[FilePart("a.txt", data=b"a", description=s)]),
    ),
]


def paths(violations: list[Violation]) -> list[str]:
    return [v.path for v in violations]


async def test_send_nowait_refuses_a_lone_surrogate_and_the_sender_keeps_going(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    config = SenderConfig(seed=0)
    async with open_webhook_sender(hook.url, transport=fake.transport(), config=config) as sender:
        with pytest.raises(ValidationError) as info:
            sender.send_nowait(Message(content="bad \ud800"))
        (violation,) = info.value.violations
        assert violation.path == "content"
        assert "lone surrogate U+D800" in violation.detail
        assert "strings must be valid UTF-8" in violation.detail
        with pytest.raises(ValidationError, match=r"embeds\[0\]\.title: title contains"):
            await sender.send(Message(embeds=[Embed(title="\udfff")]))
        receipt = sender.send_nowait(Message(content="fine"))
        await receipt.wait()
    assert sender.stats().enqueued == sender.stats().delivered == 1
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["fine"]


@pytest.mark.parametrize(("path", "build"), TEXT_FIELDS, ids=[p for p, _ in TEXT_FIELDS])
def test_a_lone_surrogate_in_any_text_field_is_a_violation_naming_it(
    path: str, build: Callable[[str], Message]
) -> None:
    message = build(BAD)
    found = [v for v in validate(message) if "surrogate" in v.detail]
    assert paths(found) == [path]
    assert found[0].detail.endswith(
        "contains a lone surrogate U+D800 at index 4; strings must be valid UTF-8 "
        "(encode and decode text with errors='strict', or drop the surrogates)"
    )
    assert found[0].actual == 1  # one lone surrogate
    with pytest.raises(ValidationError):
        check(message)


@pytest.mark.parametrize(("path", "build"), TEXT_FIELDS, ids=[p for p, _ in TEXT_FIELDS])
def test_the_same_text_without_the_surrogate_encodes(
    path: str, build: Callable[[str], Message]
) -> None:
    message = build("good \u00e9\u8a9e\U0001f389 text")
    assert not [v for v in validate(message) if "surrogate" in v.detail]


def test_every_surrogate_is_counted_and_the_first_is_named() -> None:
    (violation,) = validate(Message(content="a\udc80b\ud83dc"))
    assert (violation.path, violation.actual) == ("content", 2)
    assert "U+DC80 at index 1" in violation.detail


def test_a_surrogate_pair_written_as_one_character_is_fine() -> None:
    assert validate(Message(content="party \U0001f389")) == []


def test_per_request_and_edit_checks_refuse_surrogates_too() -> None:
    planned = PlannedRequest(0, content="x", embeds=(Embed(title=BAD),))
    assert paths(validate_request(planned)) == ["embeds[0].title"]
    assert paths(validate_edit(Message(content=BAD))) == ["content"]


def test_without_the_check_the_encoder_would_raise() -> None:
    # What the check protects: the delivery task's encoding of the same request.
    with pytest.raises(UnicodeEncodeError):
        encode_execute(PlannedRequest(0, content=BAD))


@pytest.mark.parametrize(
    "content_type", ["text/plain\r\nX-Injected: 1", "text/\ud800", "t\u00e9xt/plain", ""]
)
def test_a_content_type_that_cannot_go_into_a_header_is_a_violation(content_type: str) -> None:
    part = FilePart("a.txt", data=b"a", content_type=content_type)
    (violation,) = validate(Message(attachments=[part]))
    assert violation.path == "attachments[0].content_type"
    assert "printable ASCII" in violation.detail


def test_bytes_in_a_text_field_are_refused_even_with_attrs_validators_disabled() -> None:
    # attrs.validators.set_disabled() is a process-wide switch a user may flip for speed;
    # check() must still keep bytes away from json.dumps in the delivery task.
    bad: Any = b"hello"
    with attrs.validators.disabled():
        message = Message(content=bad, embeds=[Embed(title=bad)])
        mentions = AllowedMentions(parse=())
    assert paths(validate(message)) == ["content", "embeds[0].title"]
    assert "content is bytes, not str" in str(validate(message)[0])
    assert validate(Message(content="x", allowed_mentions=mentions)) == []
