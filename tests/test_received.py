"""Reading Discord's answers: ReceivedMessage, ReceivedAttachment and WebhookInfo.

Discord adds fields without notice, so an unknown key must never fail a read, and a
missing optional one reads as ``None``; every documented field must come through.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from trio_webhook import Embed, EmbedField, SentMessage
from trio_webhook.messages import ReceivedAttachment, ReceivedMessage, WebhookInfo

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
SNOWFLAKE = st.integers(1, 2**63 - 1).map(str)
TIMES = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def attachment_json(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": draw(SNOWFLAKE),
        "filename": draw(st.text(min_size=1, max_size=20)),
        "size": draw(st.integers(0, 2**31 - 1)),
        "url": "https://cdn.discordapp.com/attachments/1/2/a.png",
        "proxy_url": "https://media.discordapp.net/attachments/1/2/a.png",
    }
    optional = {
        "content_type": st.sampled_from(["image/png", "text/plain; charset=utf-8"]),
        "description": st.text(max_size=30),
        "title": st.text(max_size=30),
        "width": st.integers(1, 4096),
        "height": st.integers(1, 4096),
        "flags": st.integers(0, 63),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            data[key] = draw(values)
    return data


@st.composite
def message_json(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "id": draw(SNOWFLAKE),
        "type": 0,
        "channel_id": draw(SNOWFLAKE),
        "content": draw(st.text(max_size=50)),
        "embeds": [
            {"type": "rich", "title": t}
            for t in draw(st.lists(st.text(min_size=1, max_size=9), max_size=3))
        ],
        "attachments": draw(st.lists(attachment_json(), max_size=3)),
        "components": draw(st.lists(st.just({"type": 1, "components": []}), max_size=2)),
        "poll": draw(st.none() | st.just({"question": {"text": "q"}, "answers": []})),
        "flags": draw(st.integers(0, 2**16)),
        "timestamp": draw(TIMES).isoformat(),
        "edited_timestamp": draw(st.none() | TIMES.map(datetime.isoformat)),
        "webhook_id": draw(SNOWFLAKE),
        "author": {
            "id": "1",
            "username": draw(st.text(min_size=1, max_size=9)),
            "avatar": draw(st.none() | st.just("a1b2")),
        },
    }


@given(message_json())
def test_every_documented_field_of_a_message_comes_through(data: dict[str, Any]) -> None:
    message = SentMessage.from_json(data)
    assert isinstance(message, ReceivedMessage)
    assert (message.id, message.channel_id, message.content) == (
        data["id"],
        data["channel_id"],
        data["content"],
    )
    assert [e.title for e in message.embeds] == [e["title"] for e in data["embeds"]]
    assert [dict(c) for c in message.components] == data["components"]
    assert message.poll == data["poll"]
    assert message.flags == data["flags"]
    assert message.timestamp == datetime.fromisoformat(data["timestamp"])
    edited = data["edited_timestamp"]
    assert message.edited_timestamp == (None if edited is None else datetime.fromisoformat(edited))
    assert message.webhook_id == data["webhook_id"]
    assert message.author_name == data["author"]["username"]
    assert message.author_avatar == data["author"]["avatar"]
    assert message.raw == data
    for read, sent in zip(message.attachments, data["attachments"], strict=True):
        assert (read.id, read.filename, read.size, read.url, read.proxy_url) == (
            sent["id"],
            sent["filename"],
            sent["size"],
            sent["url"],
            sent["proxy_url"],
        )
        for key in ("content_type", "description", "title", "width", "height"):
            assert getattr(read, key) == sent.get(key)
        assert read.flags == sent.get("flags", 0)
        assert read.spoiler == (
            bool(sent.get("flags", 0) & 8) or sent["filename"].startswith("SPOILER_")
        )


@given(message_json(), st.dictionaries(st.text(max_size=12), JSON, max_size=5), JSON)
def test_unknown_keys_and_surprising_values_are_never_fatal(
    data: dict[str, Any], extra: dict[str, Any], odd: Any
) -> None:
    known = {**data, **extra}
    message = ReceivedMessage.from_json(known)
    assert message.raw == known
    # A known key with a value of another type reads as missing, never raises.
    for key in ("content", "embeds", "attachments", "timestamp", "author", "flags", "poll"):
        ReceivedMessage.from_json({**known, key: odd})
    for attachment in data["attachments"]:
        ReceivedAttachment.from_json({**attachment, **extra})
        ReceivedAttachment.from_json({**attachment, "size": odd, "width": odd})


def test_missing_optional_keys_read_as_none_and_embeds_decode_into_the_model() -> None:
    message = ReceivedMessage.from_json(
        {
            "id": "1",
            "channel_id": "2",
            "embeds": [
                {
                    "type": "rich",
                    "title": "t",
                    "color": 255,
                    "fields": [{"name": "n", "value": "v"}],
                },
                {"type": "video", "video": {"url": "https://example.com/v.mp4"}},
            ],
        }
    )
    assert message.timestamp is None
    assert message.edited_timestamp is None
    assert message.webhook_id is None
    assert message.poll is None
    assert message.attachments == ()
    assert message.embeds[0] == Embed(title="t", color=255, fields=[EmbedField("n", "v")])


def test_webhook_info_never_holds_the_token_or_url() -> None:
    info = WebhookInfo.from_json(
        {
            "id": "1",
            "name": "hook",
            "avatar": None,
            "channel_id": "2",
            "guild_id": "3",
            "application_id": None,
            "type": 1,
            "token": "s3cret",
            "url": "https://x/s3cret",
        }
    )
    assert (info.id, info.name, info.channel_id, info.guild_id, info.type) == (
        "1",
        "hook",
        "2",
        "3",
        1,
    )
    assert "s3cret" not in repr(info)
    assert "token" not in info.raw
    assert "url" not in info.raw
