"""The checks' fast path never lets a violation through, and takes the usual messages.

``plainly_valid`` may only say "nothing to report" when the full walk finds nothing, on
valid messages (the strategies'), broken ones (a message the fast path takes, with one
field pushed past a limit) and texts at every limit's edge (one under, at, one over; blank; outside
ASCII; a lone surrogate).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import assume, given, settings
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
from trio_webhook._limits import check, full_validate, validate
from trio_webhook._quick_checks import plainly_valid
from trio_webhook.testing.strategies import messages, rich_messages

Break = Callable[[Message], Message]


def _first_embed(message: Message, **changes: Any) -> Message:
    embed = message.embeds[0] if message.embeds else Embed(title="t")
    return attrs.evolve(message, embeds=(attrs.evolve(embed, **changes), *message.embeds[1:]))


def _first_file(message: Message, **changes: Any) -> Message:
    part = message.attachments[0] if message.attachments else FilePart("a.txt", data=b"x")
    return attrs.evolve(
        message, attachments=(attrs.evolve(part, **changes), *message.attachments[1:])
    )


BREAKS: list[Break] = [
    lambda m: attrs.evolve(m, content="x" * 2001),
    lambda m: attrs.evolve(m, content="a\ud800b"),
    lambda m: attrs.evolve(m, content=" \t", embeds=(), attachments=()),
    lambda m: attrs.evolve(m, username="Discord bot"),
    lambda m: attrs.evolve(m, username="   "),
    lambda m: attrs.evolve(m, username="x" * 81),
    lambda m: attrs.evolve(m, avatar_url="h" * 2049),
    lambda m: attrs.evolve(m, flags=1 << 15),
    lambda m: attrs.evolve(m, flags=8),
    lambda m: attrs.evolve(m, flags=-1),
    lambda m: attrs.evolve(m, thread_id="0123"),
    lambda m: attrs.evolve(m, allowed_mentions=AllowedMentions(parse=["users", "users"])),
    lambda m: attrs.evolve(m, allowed_mentions=AllowedMentions(parse=["users"], users=["1"])),
    lambda m: _first_embed(m, title="t" * 257),
    lambda m: _first_embed(m, description="d" * 4097),
    lambda m: _first_embed(m, url="u" * 2049),
    lambda m: _first_embed(
        m, description="d" * 4096, fields=[EmbedField("n" * 256, "v" * 1024)] * 2
    ),
    lambda m: _first_embed(m, fields=[EmbedField("n", "v")] * 26),
    lambda m: _first_embed(m, fields=[EmbedField(" ", "v")]),
    lambda m: _first_embed(m, fields=[EmbedField("n", "v" * 1025)]),
    lambda m: _first_embed(m, footer=EmbedFooter("")),
    lambda m: _first_embed(m, footer=EmbedFooter("f", icon_url="i" * 2049)),
    lambda m: _first_embed(m, author=EmbedAuthor("a" * 257)),
    lambda m: _first_embed(m, author=EmbedAuthor("a", url="u" * 2049)),
    lambda m: _first_embed(m, image=EmbedMedia("attachment://missing.png")),
    lambda m: _first_embed(m, thumbnail=EmbedMedia("t" * 2049)),
    lambda m: _first_file(m, data=b"x" * 65),
    lambda m: _first_file(m, filename="a\ud800.txt"),
    lambda m: _first_file(m, filename="n" * 1025),
    lambda m: _first_file(m, filename="n" * 1020, spoiler=True),
    lambda m: _first_file(m, description="d" * 1025),
    lambda m: _first_file(m, content_type="text/plain\r\nX-Injected: 1"),
    lambda m: _first_file(m, content_type=""),
    lambda m: _first_file(m, data=None, path=Path("/nonexistent/trio-webhook/file.bin")),
]


@st.composite
def plain_text(draw: st.DrawFn, limit: int) -> str:
    """ASCII text within ``limit``, often at it, never blank."""
    length = draw(st.sampled_from([1, limit]) | st.integers(1, limit))
    return "x" * (length - 1) + draw(st.sampled_from(["x", "y", "."]))


@st.composite
def plain_messages(draw: st.DrawFn) -> Message:
    """Valid messages the fast path takes: ASCII text, plain files, web media only."""
    web = st.just(EmbedMedia("https://example.com/a.png"))
    embed = st.builds(
        Embed,
        title=st.none() | plain_text(256),
        description=st.none() | plain_text(1500),
        url=st.none() | plain_text(2048),
        fields=st.lists(st.builds(EmbedField, plain_text(256), plain_text(1024)), max_size=3),
        footer=st.none()
        | st.builds(EmbedFooter, plain_text(100), icon_url=st.none() | plain_text(2048)),
        author=st.none()
        | st.builds(EmbedAuthor, plain_text(256), url=st.none() | plain_text(2048)),
        image=st.none() | web,
        thumbnail=st.none() | web,
        color=st.none() | st.integers(0, 0xFFFFFF),
    )
    files = st.builds(
        FilePart,
        plain_text(1012),
        data=st.binary(max_size=64),
        description=st.none() | plain_text(1024),
        spoiler=st.booleans(),
    )
    message = Message(
        content=draw(plain_text(2000)),
        username=draw(st.none() | plain_text(80)),
        avatar_url=draw(st.none() | plain_text(2048)),
        embeds=draw(st.lists(embed, max_size=3)),
        attachments=draw(st.lists(files, max_size=3)),
        allowed_mentions=draw(st.none() | st.just(AllowedMentions(parse=["roles", "users"]))),
        flags=draw(st.none() | st.sampled_from([0, 4, 4096, 4100])),
        thread_id=draw(st.none() | st.just("1234")),
    )
    assume(plainly_valid(message, 64, split_content=False))
    return message


# Each break on its own: sampled_from over 34 of them leaves some undrawn in 200 examples.
@pytest.mark.parametrize("brk", BREAKS)
@settings(max_examples=15)
@given(message=plain_messages(), split=st.booleans())
def test_the_fast_path_sees_every_break(message: Message, brk: Break, split: bool) -> None:
    broken = brk(message)
    assert full_validate(broken, 64, 64, split_content=False) != []
    assert not plainly_valid(broken, 64, split_content=False)
    _agree(broken, 64, split)


# Text at the edge of a field's limit: empty, one, one under, at (often), one over;
# mostly ASCII letters, sometimes blank, outside ASCII or a lone surrogate.
_CHARS = st.sampled_from(["x", "x", "x", "x", " ", "\t", "é", "\ud800"])
_OFFSETS = st.sampled_from([None, -(10**6), 1 - 10**6, -1, 0, 0, 0, 1])


@st.composite
def edge_text(draw: st.DrawFn, limit: int) -> str:
    offset = draw(_OFFSETS)
    length = 1 if offset is None else max(0, limit + offset)
    return draw(_CHARS) * length + draw(st.sampled_from(["", "", "x", " "]))


def _maybe(limit: int) -> st.SearchStrategy[str | None]:
    return st.none() | edge_text(limit)


@st.composite
def edge_embeds(draw: st.DrawFn) -> Embed:
    media = st.sampled_from(["https://example.com/a.png", "attachment://a.txt"]) | edge_text(2048)
    return Embed(
        title=draw(_maybe(256)),
        description=draw(_maybe(4096)),
        url=draw(_maybe(2048)),
        fields=draw(st.lists(st.builds(EmbedField, edge_text(256), edge_text(1024)), max_size=2)),
        footer=draw(st.none() | st.builds(EmbedFooter, edge_text(2048), icon_url=media)),
        author=draw(st.none() | st.builds(EmbedAuthor, edge_text(256), url=_maybe(2048))),
        image=draw(st.none() | st.builds(EmbedMedia, media)),
        thumbnail=draw(st.none() | st.builds(EmbedMedia, media)),
    )


@st.composite
def edge_messages(draw: st.DrawFn) -> Message:
    name = edge_text(1012).map(lambda t: t + ".txt") | st.just("a.txt")
    files = st.builds(
        FilePart,
        name,
        data=st.binary(max_size=70),
        description=_maybe(1024),
        spoiler=st.booleans(),
    )
    return Message(
        content=draw(_maybe(2000)),
        username=draw(_maybe(80)),
        avatar_url=draw(_maybe(2048)),
        embeds=draw(st.lists(edge_embeds(), max_size=2)),
        attachments=draw(st.lists(files, max_size=2)),
        allowed_mentions=draw(st.none() | st.just(AllowedMentions.none())),
        flags=draw(st.none() | st.sampled_from([0, 4, 4096, 4100])),
        thread_id=draw(st.none() | st.sampled_from(["1234", "0"])),
    )


def _agree(message: Message, per_file: int, split_content: bool) -> None:
    full = full_validate(message, per_file, per_file, split_content=split_content)
    if plainly_valid(message, per_file, split_content=split_content):
        assert full == []
    assert validate(message, max_upload_bytes=per_file, split_content=split_content) == full
    if full:
        with pytest.raises(ValidationError) as raised:
            check(message, max_upload_bytes=per_file, split_content=split_content)
        assert list(raised.value.violations) == full
    else:
        check(message, max_upload_bytes=per_file, split_content=split_content)


@given(messages() | rich_messages(), st.booleans())
def test_the_fast_path_agrees_with_the_full_check(message: Message, split: bool) -> None:
    _agree(message, 64, split)


@given(edge_messages(), st.sampled_from([10, 64]), st.booleans())
def test_the_fast_path_agrees_at_every_limits_edge(
    message: Message, per_file: int, split: bool
) -> None:
    _agree(message, per_file, split)


@pytest.mark.parametrize(
    "message",
    [
        Message(content="build 1"),
        Message(
            content="build 1",
            embeds=[Embed(title="#1")],
            attachments=[FilePart("log-1.txt", data=bytes(1024), content_type="text/plain")],
        ),
        Message(
            content="x" * 5000,
            username="deploy-bot",
            avatar_url="https://example.com/a.png",
            allowed_mentions=AllowedMentions.none(),
            flags=4096,
            thread_id="1234",
            embeds=[
                Embed(
                    title="v1.2.3",
                    description="released",
                    url="https://example.com/r",
                    color=0x00FF00,
                    fields=[EmbedField("tests", "passed", inline=True)],
                    footer=EmbedFooter("ci", icon_url="https://example.com/ci.png"),
                    author=EmbedAuthor("ci", url="https://example.com"),
                    image=EmbedMedia("https://example.com/i.png"),
                )
            ]
            * 12,
            attachments=[FilePart("report.csv", data=b"a,b", description="nightly", spoiler=True)],
        ),
    ],
)
def test_usual_messages_take_the_fast_path(message: Message) -> None:
    assert plainly_valid(message, 10 * 1024 * 1024, split_content=True)
