from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook._models import (
    AllowedMentions,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
)
from trio_webhook._records import (
    MAX_BODY_BYTES,
    REASONS,
    AttachmentInfo,
    DeadLetter,
    DeadLetterFormatError,
    decode_record,
    encode_record,
)
from trio_webhook._sinks import (
    CallbackSink,
    ChannelSink,
    DeadLetterSink,
    JsonlSink,
    MemorySink,
    make_sink,
    read,
)

# -- small strategies (trio_webhook.testing.strategies may replace these) ------------------

text = st.text(max_size=20)
opt_text = st.none() | text
snowflake = st.integers(0, 2**63).map(str)
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30))])
timestamps = st.none() | st.datetimes(timezones=zones)

embeds = st.builds(
    Embed,
    title=opt_text,
    description=opt_text,
    url=opt_text,
    timestamp=timestamps,
    color=st.none() | st.integers(0, 0xFFFFFF),
    footer=st.none() | st.builds(EmbedFooter, text=text, icon_url=opt_text),
    image=st.none() | st.builds(EmbedMedia, url=text),
    thumbnail=st.none() | st.builds(EmbedMedia, url=text),
    author=st.none() | st.builds(EmbedAuthor, name=text, url=opt_text, icon_url=opt_text),
    fields=st.lists(
        st.builds(EmbedField, name=text, value=text, inline=st.none() | st.booleans()),
        max_size=3,
    ),
)
files = st.builds(
    FilePart,
    filename=st.text(min_size=1, max_size=12),
    data=st.binary(max_size=64),
    description=opt_text,
    spoiler=st.booleans(),
    content_type=st.sampled_from(["text/plain", "image/png", "application/octet-stream"]),
)
mentions = st.builds(
    AllowedMentions,
    parse=st.none() | st.lists(st.sampled_from(["users", "roles", "everyone"]), max_size=3),
    users=st.none() | st.lists(snowflake, max_size=3),
    roles=st.none() | st.lists(snowflake, max_size=3),
    replied_user=st.none() | st.booleans(),
)
messages = st.builds(
    Message,
    content=opt_text,
    username=opt_text,
    avatar_url=opt_text,
    tts=st.none() | st.booleans(),
    embeds=st.lists(embeds, max_size=3),
    attachments=st.lists(files, max_size=3),
    allowed_mentions=st.none() | mentions,
    flags=st.none() | st.integers(0, 2**16),
    thread_id=st.none() | snowflake,
    thread_name=opt_text,
    applied_tags=st.none() | st.lists(snowflake, max_size=5),
)
records = st.builds(
    DeadLetter,
    reason=st.sampled_from(REASONS),
    message=messages,
    status=st.none() | st.integers(100, 599),
    attempts=st.integers(0, 10),
    error=text,
    body=text,
    webhook_id=st.none() | snowflake,
    time=st.datetimes(timezones=st.just(UTC)),
    delivered_requests=st.integers(0, 5),
    thread_id=st.none() | snowflake,
    omitted_attachments=st.lists(
        st.builds(
            AttachmentInfo,
            filename=text,
            size=st.none() | st.integers(0, 2**30),
            content_type=text,
            description=opt_text,
            spoiler=st.booleans(),
        ),
        max_size=2,
    ),
)


@given(records)
def test_codec_round_trips_every_record(record: DeadLetter) -> None:
    line = encode_record(record)
    assert "\n" not in line
    assert decode_record(line) == record
    assert decode_record(line.encode()) == record


def msg(**kw: Any) -> Message:
    return Message(content="hello", embeds=[Embed(title="t")], **kw)


def rec(message: Message | None = None, **kw: Any) -> DeadLetter:
    return DeadLetter(reason="exhausted", message=message or msg(), **kw)


def test_record_defaults_and_time_is_utc() -> None:
    r = rec()
    assert (r.status, r.attempts, r.error, r.body, r.delivered_requests) == (None, 0, "", "", 0)
    assert r.time.tzinfo is UTC
    assert abs((datetime.now(UTC) - r.time).total_seconds()) < 60


def test_bad_reason_and_counts() -> None:
    with pytest.raises(ValueError, match="not one of"):
        DeadLetter(reason="oops", message=msg())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attempts"):
        rec(attempts=-1)


def test_error_and_body_are_redacted() -> None:
    url = "https://discord.com/api/v10/webhooks/123456/s3cr3t-T0KEN.x?wait=true"
    r = rec(error=f"read timeout on POST {url}", body=f'{{"url": "{url}"}}'.encode())
    assert "s3cr3t" not in r.error
    assert "s3cr3t" not in r.body
    assert "/webhooks/123456/***" in r.error
    assert "/webhooks/123456/***" in r.body
    assert "s3cr3t" not in encode_record(r)


def test_body_is_cut_to_about_two_kib_on_a_character_boundary() -> None:
    r = rec(body="é" * 5000)
    assert len(r.body.encode()) <= MAX_BODY_BYTES + 3  # + the ellipsis
    assert r.body.endswith("…")
    assert set(r.body[:-1]) == {"é"}
    assert rec(body=b"\xff\xfeok").body == "\ufffd\ufffdok"


def test_long_error_is_shortened() -> None:
    assert len(rec(error="x" * 5000).error) <= 1001


def test_path_file_is_read_into_the_record(tmp_path: Path) -> None:
    f = tmp_path / "log.txt"
    f.write_bytes(b"line 1\n")
    r = rec(msg(attachments=[FilePart.from_path(f)]))
    back = decode_record(encode_record(r))
    (part,) = back.message.attachments
    assert (part.filename, part.data, part.path, part.content_type) == (
        "log.txt",
        b"line 1\n",
        None,
        "text/plain",
    )


def test_unreadable_path_becomes_metadata(tmp_path: Path) -> None:
    r = rec(msg(attachments=[FilePart.from_path(tmp_path / "gone.png", description="alt")]))
    back = decode_record(encode_record(r))
    assert back.message.attachments == ()
    assert back.omitted_attachments == (AttachmentInfo("gone.png", None, "image/png", "alt"),)


def test_without_attachments_keeps_metadata() -> None:
    r = rec(msg(attachments=[FilePart("a.bin", data=b"12345", spoiler=True)]))
    slim = r.without_attachments()
    assert slim.message.attachments == ()
    assert slim.message.embeds == r.message.embeds
    assert slim.omitted_attachments == (
        AttachmentInfo("a.bin", 5, "application/octet-stream", None, True),
    )
    assert slim.without_attachments() is slim


def test_decode_errors() -> None:
    with pytest.raises(DeadLetterFormatError, match="not JSON"):
        decode_record("{nope")
    with pytest.raises(DeadLetterFormatError, match="not a JSON object"):
        decode_record("[1]")
    with pytest.raises(DeadLetterFormatError, match="version"):
        decode_record('{"v": 99}')
    with pytest.raises(DeadLetterFormatError, match=r"required field missing @ \$.message"):
        decode_record('{"v": 1, "reason": "shutdown"}')
    with pytest.raises(DeadLetterFormatError, match="extra fields"):
        decode_record('{"v": 1, "reason": "shutdown", "message": {}, "token": "x"}')


async def test_jsonl_sink_appends_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    sink = JsonlSink(path)
    first = rec(msg(attachments=[FilePart("a.txt", data=b"abc")]), status=500, attempts=5)
    second = DeadLetter(reason="shutdown", message=Message(content="bye"))
    await sink.put(first)
    assert list(read(path)) == [first]  # flushed at once
    await JsonlSink(path).put(second)  # another sink appends, never truncates
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["reason"] == "exhausted"
    assert list(read(path)) == [first, second]


async def test_jsonl_sink_metadata_only(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    await JsonlSink(path, include_attachments=False).put(
        rec(msg(attachments=[FilePart("big.bin", data=b"\0" * 1000)]))
    )
    assert "AAAA" not in path.read_text()  # no base64 bytes
    (back,) = read(path)
    assert back.message.attachments == ()
    assert back.omitted_attachments == (
        AttachmentInfo("big.bin", 1000, "application/octet-stream"),
    )


async def test_read_tolerates_truncated_last_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dead.jsonl"
    good = rec()
    await JsonlSink(path).put(good)
    line = encode_record(rec(status=400))
    with path.open("a") as f:
        f.write(line[: len(line) // 2])  # a crash mid-append
    with caplog.at_level(logging.WARNING, "trio_webhook.deadletter"):
        assert list(read(path)) == [good]
    assert "truncated last dead-letter record" in caplog.text
    assert ":2" in caplog.text


async def test_read_raises_on_corrupt_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    a, b = rec(status=500), rec(status=502)
    path.write_text(encode_record(a) + "\n" + "{garbage\n\n" + encode_record(b) + "\n")
    with pytest.raises(DeadLetterFormatError, match=r"dead\.jsonl:2: not JSON"):
        list(read(path))
    assert list(read(path, strict=False)) == [a, b]


async def test_read_raises_on_a_bad_last_record_that_is_json(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    path.write_text('{"v": 1, "reason": "nope", "message": {}}\n')
    with pytest.raises(DeadLetterFormatError, match=r":1: not a dead-letter record"):
        list(read(path))


async def test_sink_ends_a_partial_line_before_appending(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dead.jsonl"
    path.write_text(encode_record(rec())[:30])
    after = rec(status=404)
    with caplog.at_level(logging.WARNING, "trio_webhook.deadletter"):
        await JsonlSink(path).put(after)
    assert "partial last line" in caplog.text
    # The new record is intact on a line of its own; the fragment is a bad middle line.
    with pytest.raises(DeadLetterFormatError, match=":1:"):
        list(read(path))
    assert list(read(path, strict=False)) == [after]


async def test_memory_sink() -> None:
    sink = MemorySink()
    r = rec(msg(attachments=[FilePart("a", data=b"1")]))
    await sink.put(r)
    assert sink.records == [r]
    slim = MemorySink(include_attachments=False)
    await slim.put(r)
    assert slim.records[0].message.attachments == ()


async def test_channel_sink() -> None:
    send, receive = trio.open_memory_channel[DeadLetter](1)
    r = rec()
    await ChannelSink(send).put(r)
    assert receive.receive_nowait() == r


async def test_callback_sink_sync_and_async() -> None:
    seen: list[DeadLetter] = []

    async def async_fn(record: DeadLetter) -> None:
        await trio.lowlevel.checkpoint()
        seen.append(record)

    r = rec()
    await CallbackSink(seen.append).put(r)
    await CallbackSink(async_fn).put(r)
    assert seen == [r, r]


async def test_make_sink(tmp_path: Path) -> None:
    assert make_sink(None) is None
    assert make_sink(str(tmp_path / "a.jsonl")) == JsonlSink(tmp_path / "a.jsonl")
    sink = make_sink(tmp_path / "b.jsonl", include_attachments=False)
    assert sink == JsonlSink(tmp_path / "b.jsonl", include_attachments=False)
    memory = MemorySink()
    assert make_sink(memory) is memory
    assert isinstance(memory, DeadLetterSink)
    callback = make_sink(print)
    assert isinstance(callback, CallbackSink)
    with pytest.raises(ValueError, match="empty"):
        make_sink("  ")
    with pytest.raises(TypeError, match="got int"):
        make_sink(42)  # type: ignore[arg-type]

    wrapped = make_sink(memory, include_attachments=False)
    assert wrapped is not None
    assert wrapped is not memory
    await wrapped.put(rec(msg(attachments=[FilePart("a", data=b"1")])))
    assert memory.records[0].message.attachments == ()
    assert memory.records[0].omitted_attachments[0].filename == "a"


def test_record_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        rec().status = 1  # type: ignore[misc]
