"""Long content is cut where a reader expects, and nothing that renders is cut inside."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook import Embed, Message, SenderConfig, ValidationError, open_webhook_sender
from trio_webhook._client import WebhookClient
from trio_webhook._content_split import CLOSE_FENCE, ContentPiece, content_pieces, split_content
from trio_webhook._limit_values import CONTENT_MAX
from trio_webhook.testing import FakeDiscord

# --- what the texts are made of ------------------------------------------------------

# Each is one grapheme cluster (so a cut may fall on either side of it, never inside).
GRAPHEMES = ["a", "b", "Z", "9", "é", "e\u0301", "語", "🎉", "🇫🇷", "👍🏽", "\r\n"]
GRAPHEMES.append("👨\u200d👩\u200d👧")  # five code points
# Each must reach Discord whole.
TOKENS = [
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&223456789012345678>",
    "<#323456789012345678>",
    "<:blob:423456789012345678>",
    "<a:wave:523456789012345678>",
    "<t:1700000000:R>",
    "<t:1700000000>",
    "</deploy:623456789012345678>",
    "<id:browse>",
    "https://example.com/a/b?c=1&d=2#e",
    "<https://example.com/no-embed>",
    "[the docs](https://example.com/docs)",
]
SPACES = [" ", " ", "\n", "\n\n", "  ", " \n \n", "\t"]
LANGUAGES = ["", "py", "json", "c++", "shell-session"]

words = st.lists(st.sampled_from(GRAPHEMES), min_size=1, max_size=12).map(tuple)
atoms = st.one_of(words, st.sampled_from(TOKENS).map(lambda t: (t,)))


@st.composite
def prose(draw: st.DrawFn, max_atoms: int = 40) -> list[str]:
    """Atoms (graphemes and tokens) with whitespace between; a cut may fall between any two."""
    out: list[str] = []
    for atom in draw(st.lists(atoms, min_size=1, max_size=max_atoms)):
        out.extend(atom)
        out.extend(draw(st.sampled_from(SPACES)))  # one part a character: a cut may go between
    return out


@st.composite
def documents(draw: st.DrawFn) -> list[str]:
    """Prose and fenced code blocks, as atoms: ``"".join(atoms)`` is the text."""
    out: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            out.extend(draw(prose()))
        else:
            lang = draw(st.sampled_from(LANGUAGES))
            out += ["```" + lang + "\n", *draw(prose(20)), "```", "\n"]
    return out


def boundaries(parts: list[str]) -> set[int]:
    found, at = {0}, 0
    for part in parts:
        at += len(part)
        found.add(at)
    return found


def unfenced(text: str, pieces: list[ContentPiece], limit: int) -> str:
    """The pieces without the added fences, joined, with what was left out in between.

    Only whitespace may be left out, and only after a full piece (which could not take
    it) or before the first.
    """
    out, at, before = [], 0, None
    for piece in [*pieces, ContentPiece(len(text), len(text), "")]:
        skipped = text[at : piece.start]
        if skipped:
            assert not skipped.strip(), skipped
            assert before is None or len(before.content) >= limit - 1, (before, skipped)
        out += [skipped, piece.body]
        at, before = piece.end, piece
    return "".join(out)


# --- properties ----------------------------------------------------------------------


@given(documents(), st.integers(80, 400))
def test_pieces_give_back_the_text_and_cut_only_between_atoms(parts: list[str], limit: int) -> None:
    text = "".join(parts)
    pieces = content_pieces(text, limit)
    assert unfenced(text, pieces, limit) == text
    assert [piece.content for piece in pieces] == split_content(text, limit)
    allowed = boundaries(parts)
    for piece in pieces:
        assert len(piece.content) <= limit
        assert piece.content.strip(), "Discord refuses a piece of only whitespace"
        assert piece.body  # a piece carries some of the text, never only fences
        assert piece.start in allowed
        assert piece.end in allowed


@given(documents(), st.integers(80, 400))
def test_fences_balance_in_every_piece(parts: list[str], limit: int) -> None:
    pieces = content_pieces("".join(parts), limit)
    for before, piece in zip([None, *pieces], pieces, strict=False):
        assert piece.content.count("```") % 2 == 0, piece.content
        # A block closed at the end of one piece is reopened at the start of the next.
        assert bool(piece.reopen) == bool(before is not None and before.close)
        assert piece.close in ("", CLOSE_FENCE)


@given(documents(), st.integers(1, 30))
def test_a_limit_shorter_than_the_tokens_cuts_them_between_graphemes(
    parts: list[str], limit: int
) -> None:
    # Tokens longer than a piece are cut inside, as a last resort; graphemes never (each
    # is shorter than a piece here). Under a limit of 18 the fences do not fit twice in
    # a piece, and blocks are cut as plain text.
    text = "".join(parts)
    pieces = content_pieces(text, limit)
    assert unfenced(text, pieces, limit) == text
    token_chars = [c for p in parts for c in (p if p.isascii() and p != "\r\n" else [p])]
    allowed = boundaries(token_chars)
    for piece in pieces:
        assert 0 < len(piece.content) <= limit
        assert piece.content.strip()
        if limit >= max(map(len, GRAPHEMES)):  # the longest cluster fits
            assert piece.start in allowed
            assert piece.end in allowed


@given(st.text(), st.integers(1, 50))
def test_any_text_is_cut_within_the_limit_and_only_whitespace_is_left_out(
    text: str, limit: int
) -> None:
    pieces = content_pieces(text, limit)
    at = 0
    for piece in pieces:
        assert 0 < len(piece.content) <= limit
        assert piece.content.strip()
        assert not text[at : piece.start].strip()  # only whitespace is ever skipped
        at = piece.end
    assert not text[at:].strip()


# --- where the cut goes ----------------------------------------------------------------


def test_content_that_fits_is_one_piece_unchanged() -> None:
    text = "x" * CONTENT_MAX
    assert split_content(text) == [text]
    assert split_content("  hi  ", limit=6) == ["  hi  "]


def test_only_whitespace_gives_no_piece() -> None:
    assert split_content("") == []
    assert split_content(" \n " * 1000) == []


def test_a_paragraph_break_wins_over_later_line_and_word_breaks() -> None:
    text = "one two\n\nthree\nfour five six"
    assert split_content(text, limit=20) == ["one two\n\n", "three\nfour five six"]


def test_a_line_break_wins_over_a_later_word_break() -> None:
    assert split_content("alpha\nbeta gamma delta", limit=16) == ["alpha\n", "beta gamma delta"]


def test_a_word_break_wins_over_cutting_a_word() -> None:
    assert split_content("alpha beta gamma", limit=12) == ["alpha beta ", "gamma"]


def test_the_latest_break_of_the_best_kind_is_taken() -> None:
    text = "a\n\nb\n\nc d e f g h i j k"
    assert split_content(text, limit=8) == ["a\n\nb\n\n", "c d e f ", "g h i j ", "k"]


def test_a_word_longer_than_a_piece_is_cut_inside_at_grapheme_boundaries() -> None:
    accented = "e\u0301"  # one cluster of two code points
    assert split_content(accented * 7, limit=5) == [accented * 2] * 3 + [accented]
    assert split_content("🇫🇷🇩🇪🇮🇹", limit=3) == ["🇫🇷", "🇩🇪", "🇮🇹"]
    assert split_content("ab\r\ncd", limit=3) == ["ab", "\r\nc", "d"]


def test_a_cluster_longer_than_a_piece_is_cut_at_code_points() -> None:
    zalgo = "a" + "\u0301" * 9
    assert split_content(zalgo, limit=4) == ["a\u0301\u0301\u0301", "\u0301" * 4, "\u0301\u0301"]


@pytest.mark.parametrize("token", TOKENS)
def test_a_token_is_moved_to_the_next_piece_rather_than_cut(token: str) -> None:
    text = "x" * 10 + token + "y" * 5
    limit = len(token) + 5  # the limit falls inside the token
    pieces = split_content(text, limit)
    assert pieces[0] == "x" * 10
    assert pieces[1].startswith(token)
    assert "".join(pieces) == text


def test_a_url_longer_than_a_piece_is_cut_inside() -> None:
    url = "https://example.com/" + "a" * 30
    assert "".join(split_content(url, limit=20)) == url


def test_a_markdown_link_too_long_for_a_piece_keeps_its_url_whole() -> None:
    url = "https://example.com/x"
    text = f"[{'label ' * 6}]({url})"
    pieces = split_content(text, limit=30)
    assert "".join(pieces) == text
    assert any(url in piece for piece in pieces)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1 character, got 0"):
        split_content("text", limit=0)


# --- whitespace --------------------------------------------------------------------------


def test_whitespace_at_a_cut_stays_with_the_text_before_it() -> None:
    assert split_content("aaaa \n\n bbbb", limit=8) == ["aaaa \n\n ", "bbbb"]


def test_whitespace_longer_than_a_piece_is_left_out() -> None:
    # Discord trims it from both ends of a message and refuses a message of only it.
    pieces = content_pieces("start" + " " * 50 + "end", limit=10)
    assert [p.content for p in pieces] == ["start     ", "end"]
    assert (pieces[0].end, pieces[1].start) == (10, 55)


# --- code blocks ---------------------------------------------------------------------------


def test_a_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "".join(f"line {n}\n" for n in range(6))
    text = f"intro\n```py\n{code}```\nafter"
    pieces = split_content(text, limit=40)
    assert pieces == [
        "intro\n```py\nline 0\nline 1\nline 2\n\n```",
        "```py\nline 3\nline 4\nline 5\n```\nafter",
    ]
    assert all(len(piece) <= 40 for piece in pieces)  # the added fences count


def test_a_block_without_a_language_is_reopened_without_one() -> None:
    text = "```\n" + "word " * 10 + "```"
    pieces = split_content(text, limit=30)
    assert pieces[1].startswith("```\n")
    assert all(piece.count("```") == 2 for piece in pieces)


def test_a_cut_never_leaves_an_empty_block() -> None:
    # Right after the opening fence, or right before the closing one, is no place to cut.
    text = "a" * 20 + " ```py\n" + "b" * 10 + "```"
    for piece in content_pieces(text, 30):
        assert piece.body.strip("`\n py")


def test_a_lone_fence_is_plain_text() -> None:
    text = "a " * 20 + "``` b " * 3 + "c " * 10  # three fences: the last is not a block
    pieces = split_content(text, limit=25)
    assert "".join(pieces) == text


# --- through the sender and the client -----------------------------------------------------

LONG = "".join(f"paragraph {n}: " + "lorem ipsum " * 40 + "\n\n" for n in range(10))  # 4950


async def test_the_sender_delivers_long_content_as_several_messages_in_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    async with open_webhook_sender(
        hook.url, transport=fake.transport(), config=SenderConfig(seed=0)
    ) as sender:
        receipt = sender.send_nowait(Message(content=LONG, embeds=[Embed(title="summary")]))
        delivery = await receipt.wait()
    stored = fake.history(hook.channel_id)
    assert [m["content"] for m in stored] == split_content(LONG)
    assert len(stored) == len(delivery.messages) == 3
    assert [len(m["embeds"]) for m in stored] == [0, 0, 1]  # under the end of the text


async def test_a_sender_configured_not_to_split_refuses_long_content(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    config = SenderConfig(seed=0, split_content=False)
    async with open_webhook_sender(hook.url, transport=fake.transport(), config=config) as sender:
        too_long = "content has 4950 characters, Discord allows 2000"
        with pytest.raises(ValidationError, match=too_long) as info:
            sender.send_nowait(Message(content=LONG))
        assert [v.path for v in info.value.violations] == ["content"]
        with pytest.raises(ValidationError):
            await sender.send(Message(content=LONG))
    assert fake.history(hook.channel_id) == []
    assert SenderConfig.from_env({"TRIO_WEBHOOK_SPLIT_CONTENT": "off"}).split_content is False


async def test_execute_splits_a_long_forum_post_into_its_thread(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    forum = fake.create_channel(forum=True)
    hook = fake.create_webhook(forum)
    async with WebhookClient(hook.url, transport=fake.transport()) as client:
        delivery = await client.execute(Message(content=LONG, thread_name="notes", tts=True))
        with pytest.raises(ValidationError, match="Discord allows 2000"):
            await client.execute(Message(content=LONG, thread_name="x"), split_content=False)
    [thread] = fake.threads(forum)
    assert [m["content"] for m in fake.history(thread)] == split_content(LONG)
    assert all(m.channel_id == thread for m in delivery.messages)
    first, *rest = (r.json for r in fake.requests)
    assert (first["thread_name"], first["tts"]) == ("notes", True)
    assert all("thread_name" not in r and "tts" not in r for r in rest)
