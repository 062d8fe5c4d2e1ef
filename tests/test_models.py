import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from cattrs.gen import make_dict_unstructure_fn, override
from hypothesis import given

from trio_webhook import AllowedMentions, Embed, EmbedField, EmbedFooter, FilePart, Message
from trio_webhook._converter import converter, to_json_dict
from trio_webhook._models import Delivery, SentMessage
from trio_webhook.testing.strategies import embeds


def test_none_fields_are_omitted_but_false_and_empty_are_kept() -> None:
    msg = Message(content="hi", tts=False, allowed_mentions=AllowedMentions.none())
    assert to_json_dict(msg) == {"content": "hi", "tts": False, "allowed_mentions": {"parse": []}}


def test_thread_id_and_attachments_never_reach_the_body() -> None:
    msg = Message(content="x", thread_id=123, attachments=[FilePart("a.txt", data=b"a")])
    assert msg.thread_id == "123"
    assert to_json_dict(msg) == {"content": "x"}


def test_embed_json_is_in_declaration_order() -> None:
    embed = Embed(
        title="t",
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        color=0xFF0000,
        footer=EmbedFooter("f"),
        fields=[EmbedField("n", "v", inline=True)],
    )
    text = json.dumps(to_json_dict(Message(embeds=[embed])))
    assert text == (
        '{"embeds": [{"title": "t", "timestamp": "2026-01-02T03:04:05+00:00", '
        '"color": 16711680, "footer": {"text": "f"}, '
        '"fields": [{"name": "n", "value": "v", "inline": true}]}]}'
    )


# The hook cattrs would generate for Embed: every field left out at its default.
_OMIT_DEFAULTS: dict[str, Any] = {
    a.name: override(omit_if_default=True) for a in attrs.fields(Embed)
}
_GENERATED_EMBED_JSON = make_dict_unstructure_fn(Embed, converter, **_OMIT_DEFAULTS)


@given(embeds())
def test_the_hand_written_embed_json_is_the_generated_one(embed: Embed) -> None:
    # The converter's Embed hook is written by hand for speed; a field added to Embed
    # and not to the hook, or written differently, shows here.
    expected = _GENERATED_EMBED_JSON(embed)
    assert list(converter.unstructure(embed).items()) == list(expected.items())


def test_snowflakes_become_strings() -> None:
    mentions = AllowedMentions(users=[1, 2], roles=["3"])
    assert to_json_dict(mentions) == {"users": ["1", "2"], "roles": ["3"]}
    assert Message(applied_tags=[5]).applied_tags == ("5",)


def test_filepart_guesses_content_type_and_reads_lazily(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    path.write_bytes(b"\x89PNG")
    part = FilePart.from_path(path)
    assert (part.filename, part.content_type, part.size()) == ("chart.png", "image/png", 4)
    path.write_bytes(b"changed")
    assert part.read() == b"changed"
    assert FilePart("x.unknownext", data=b"").content_type == "application/octet-stream"
    assert FilePart("a.txt", data=b"", spoiler=True).upload_name == "SPOILER_a.txt"


def test_filepart_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        FilePart("a.txt")
    with pytest.raises(ValueError, match="exactly one"):
        FilePart("a.txt", data=b"", path=Path("a.txt"))


def test_filepart_repr_never_shows_contents() -> None:
    assert "secret" not in repr(FilePart("a.txt", data=b"secret"))


def test_a_delivery_reads_discords_answers_when_asked() -> None:
    # The sender resolves a receipt with Discord's answers as they came; the messages are
    # read from them on first access, once, and compare like any delivery's.
    answers: list[dict[str, Any]] = [
        {"id": "11", "channel_id": "9", "content": "a", "embeds": [{"title": "t"}]},
        {"id": "12", "channel_id": "9"},
    ]
    delivery = Delivery.from_answers(answers)
    assert delivery.id == "11"
    messages = delivery.messages
    assert messages == (SentMessage.from_json(answers[0]), SentMessage.from_json(answers[1]))
    assert messages[0].embeds == (Embed(title="t"),)
    assert messages[1].raw == answers[1]
    assert delivery.messages is messages
    assert delivery == Delivery(messages=messages)
    assert "id='12'" in repr(delivery)
    assert (Delivery().id, Delivery.from_answers([]).messages) == (None, ())
