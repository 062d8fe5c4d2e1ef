r"""Cut content too long for one message into pieces, where a reader expects them (pure).

Discord counts ``content`` in characters (code points, Python's ``len``) and allows
:data:`~trio_webhook._limit_values.CONTENT_MAX` of them. :func:`split_content` cuts a
longer text into pieces of at most ``limit`` characters, in order, choosing each cut as
late as it can among the best places available:

1. after a blank line (between paragraphs);
2. after a line;
3. at whitespace (between words);
4. only when a single word is longer than a piece, inside it.

A cut never falls inside what would stop rendering if cut and fits in one piece: a
grapheme cluster (``regex``'s ``\X``: an accented letter, a flag, a family emoji), a
mention (``<@123>``, ``<@!123>``, ``<@&123>``, ``<#123>``, ``<id:browse>``), a custom
emoji (``<:name:id>``, ``<a:name:id>``), a timestamp (``<t:123:R>``), a command mention
(``</name:id>``), a URL (``https://...``, ``<https://...>``) or a markdown link
(``[text](url)``). Something longer than a piece is cut inside as a last resort, at a
grapheme boundary if one fits, at a code point otherwise.

A fenced code block (three backticks, an optional language, a newline) cut in two is
closed at the end of one piece (``\n```````) and reopened with its language at the start
of the next; the added fences count toward the limit. A block whose fences would take
half a piece (a limit under about 30, or a language name as long) is cut as plain text.

Whitespace: Discord trims whitespace at both ends of a message's content and refuses a
message of only whitespace (50006 "Cannot send an empty message"), so no piece is only
whitespace. The whitespace at a cut ends the piece before it as far as it fits, and the
rest starts the next piece; what would make a piece of its own (after a full piece, when
it does not fit with the visible text after it, or at the very end) is left out. Nothing
visible is lost: joining the pieces, after removing the fences the splitter added, gives
the text back exactly, but for that whitespace.
"""

from __future__ import annotations

import re
from typing import Final

import attrs
import regex

from trio_webhook._limit_values import CONTENT_MAX

__all__ = ["CLOSE_FENCE", "ContentPiece", "content_pieces", "split_content"]

CLOSE_FENCE: Final = "\n```"
"""What closes a code block at the end of a piece that cuts it (Discord ignores the
newlines before a closing fence, so this adds no blank line)."""

_FENCE: Final = re.compile(r"```")
# Discord's language tag: these characters, then a newline (without one, no language).
_LANG: Final = re.compile(r"[A-Za-z0-9_+\-.#]*\n")
_TOKENS: Final = re.compile(
    r"<@[!&]?\d+>"  # user and role mentions
    r"|<#\d+>"  # channel mentions
    r"|<id:\w+>"  # guild navigation (browse, customize, guide)
    r"|<a?:\w+:\d+>"  # custom emoji
    r"|<t:-?\d+(?::[A-Za-z])?>"  # timestamps
    r"|</[^<>:\n]+:\d+>"  # slash-command mentions
    r"|<https?://[^\s<>]+>"  # a link without its embed
    r"|https?://[^\s<>`]+"  # a bare link
)
_MARKDOWN_LINK: Final = re.compile(r"\[[^\[\]\n]*\]\(<?https?://[^\s<>()`]+>?\)")
_GRAPHEME: Final = regex.compile(r"\X")
_SPACE: Final = re.compile(r"\s+")
_VISIBLE: Final = re.compile(r"\S")

# How good a cut is (higher is better), by what comes before it.
_INSIDE_WORD: Final = 0
_WORD: Final = 1
_LINE: Final = 2
_PARAGRAPH: Final = 3
# The region of a cut: a block's index when it falls in its body, else one of these.
_OUTSIDE: Final = -1
_NEVER: Final = -2  # inside a fence, or where a piece would hold an empty block


@attrs.frozen
class ContentPiece:
    """One piece of a split text: ``reopen + text[start:end] + close``.

    Attributes:
        start: Where the piece's own text starts in the whole text.
        end: Where it ends (exclusive).
        body: ``text[start:end]``.
        reopen: The fence added before it to reopen a code block cut before it, or ``""``.
        close: :data:`CLOSE_FENCE` when it ends inside a code block, or ``""``.
    """

    start: int
    end: int
    body: str
    reopen: str = ""
    close: str = ""

    @property
    def content(self) -> str:
        """The piece as sent."""
        return self.reopen + self.body + self.close


@attrs.frozen
class _Block:
    start: int  # the opening fence
    body: int  # after the fence and its language line
    close: int  # the closing fence
    end: int  # after it
    reopen: str  # the fence that reopens it: three backticks, the language, a newline


def _blocks(text: str, limit: int) -> list[_Block]:
    """The fenced code blocks, paired as Discord pairs them (a last, lone fence is text)."""
    marks = [m.start() for m in _FENCE.finditer(text)]
    blocks = []
    for opened, closed in zip(marks[::2], marks[1::2], strict=False):
        lang = _LANG.match(text, opened + 3)
        reopen = "```" + (lang.group() if lang else "\n")
        if len(reopen) + len(CLOSE_FENCE) + 1 > limit // 2:
            continue  # repeating its fences would leave too little room
        body = lang.end() if lang else opened + 3
        blocks.append(_Block(opened, body, closed, closed + 3, reopen))
    return blocks


def _ranks(text: str) -> bytearray:
    """How good a cut is at each position (see the ``_WORD``... constants)."""
    ranks = bytearray(len(text) + 1)
    for run in _SPACE.finditer(text):
        start, end = run.span()
        ranks[start:end] = bytes([_WORD]) * (end - start)
        newlines = text.count("\n", start, end)
        ranks[end] = _PARAGRAPH if newlines >= 2 else _LINE if newlines else _WORD
    return ranks


class _Layout:
    """Where a cut may go in one text, and how good each place is."""

    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.limit = limit
        self.blocks = _blocks(text, limit)
        self.region = [_OUTSIDE] * (len(text) + 1)
        for k, block in enumerate(self.blocks):
            self.region[block.start + 1 : block.body + 1] = [_NEVER] * (block.body - block.start)
            self.region[block.body + 1 : block.close] = [k] * (block.close - block.body - 1)
            self.region[block.close : block.end] = [_NEVER] * 3
        self.ranks = _ranks(text)
        self.protected = bytearray(len(text) + 1)  # inside a token that fits one piece
        self.in_grapheme = bytearray(len(text) + 1)
        self._protect_graphemes()
        for pattern in (_TOKENS, _MARKDOWN_LINK):
            for match in pattern.finditer(text):
                self._protect(*match.span())

    def _protect_graphemes(self) -> None:
        text = self.text
        # In ASCII only CRLF is a cluster of several code points; skip regex's walk.
        clusters = re.finditer("\r\n", text) if text.isascii() else _GRAPHEME.finditer(text)
        for cluster in clusters:
            start, end = cluster.span()
            if end - start > 1:
                self.in_grapheme[start + 1 : end] = b"\x01" * (end - start - 1)
                self._protect(start, end)

    def _capacity(self, region: int) -> int:
        """The most characters of text a piece holds, cut in ``region``."""
        if region == _OUTSIDE:
            return self.limit
        return self.limit - len(self.blocks[region].reopen) - len(CLOSE_FENCE)

    def _protect(self, start: int, end: int) -> None:
        """Forbid cuts inside ``text[start:end]`` if it fits in one piece."""
        inner = self.region[start + 1 : end]
        region = inner[0]
        # A token that spans a fence is not one Discord renders; leave it be.
        if region == _NEVER or inner.count(region) != len(inner):
            return
        if end - start <= self._capacity(region):
            self.protected[start + 1 : end] = b"\x01" * (end - start - 1)

    def first_visible(self, pos: int) -> int:
        """The first non-whitespace position at or after ``pos`` (the end if none)."""
        found = _VISIBLE.search(self.text, pos)
        return found.start() if found else len(self.text)

    def cut(self, pos: int, reopen: str) -> int | None:
        """Where to end the piece that starts at ``pos`` (after ``reopen``).

        Returns:
            The end, or ``None`` when no piece with visible text fits before the next
            visible text (only whitespace would).
        """
        room = self.limit - len(reopen)
        if len(self.text) - pos <= room:
            return len(self.text)
        # A piece outside any block must hold visible text; one with a fence does.
        visible = pos if reopen else self.first_visible(pos)
        for level in range(3):
            found = self._best(pos, room, visible, level)
            if found is not None:
                return self._with_spaces(found, pos + room)
        return None

    def _with_spaces(self, end: int, most: int) -> int:
        """``end`` moved past the whitespace after it, up to ``most``.

        The whitespace then ends this piece instead of starting the next (or being left
        out when it is all that is left).
        """
        if self.region[end] != _OUTSIDE:
            return end  # inside a block whitespace is code, and stays where the cut put it
        text = self.text
        moved = end
        while moved < most and text[moved].isspace():
            moved += 1
        while self.protected[moved]:  # never between the CR and LF of a CRLF
            moved -= 1
        return moved

    def _best(self, pos: int, room: int, visible: int, level: int) -> int | None:
        """The latest cut of the best rank in ``(max(pos, visible), pos + room]``.

        ``level`` 0 keeps tokens and grapheme clusters whole, 1 grapheme clusters only,
        2 nothing (a last resort for a cluster longer than a piece).
        """
        latest: list[int | None] = [None] * (_PARAGRAPH + 1)
        for end in range(pos + room, max(pos, visible), -1):
            region = self.region[end]
            if region == _NEVER or (region >= 0 and end - pos + len(CLOSE_FENCE) > room):
                continue
            if (level == 0 and self.protected[end]) or (level == 1 and self.in_grapheme[end]):
                continue
            rank = self.ranks[end]
            if rank == _PARAGRAPH:
                return end
            if latest[rank] is None:
                latest[rank] = end
        return next((end for end in reversed(latest) if end is not None), None)


def content_pieces(text: str, limit: int = CONTENT_MAX) -> list[ContentPiece]:
    """Split ``text`` into pieces of at most ``limit`` characters, with where each came from.

    :func:`split_content` without the bookkeeping; see the module's docstring for the
    rules.

    Raises:
        ValueError: ``limit`` is under 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1 character, got {limit}")
    if len(text) <= limit:
        return [ContentPiece(0, len(text), text)] if text.strip() else []
    layout = _Layout(text, limit)
    pieces: list[ContentPiece] = []
    pos, reopen = 0, ""
    while pos < len(text):
        end = layout.cut(pos, reopen)
        if end is None:
            if reopen:
                raise AssertionError(f"no cut after {pos} inside a code block")
            # Only whitespace fits before the next visible text: Discord would trim it.
            pos = layout.first_visible(pos)
            continue
        region = layout.region[end]
        close = CLOSE_FENCE if region >= 0 else ""
        body = text[pos:end]
        if reopen or close or body.strip():
            pieces.append(ContentPiece(pos, end, body, reopen, close))
        pos, reopen = end, layout.blocks[region].reopen if region >= 0 else ""
    return pieces


def split_content(text: str, limit: int = CONTENT_MAX) -> list[str]:
    r"""Split ``text`` into messages of at most ``limit`` characters, in order.

    Cuts between paragraphs, else lines, else words, and inside a word only when it is
    longer than a piece; never inside a grapheme cluster, mention, custom emoji,
    timestamp, command mention, URL or markdown link that fits in one piece. A code
    block cut in two is closed and reopened with its language. No piece is empty or only
    whitespace. The module's docstring has the details.

    Args:
        text: The content.
        limit: The most characters (code points) of one piece.

    Returns:
        The pieces: ``[text]`` when it fits, ``[]`` when it is only whitespace.

    Raises:
        ValueError: ``limit`` is under 1.

    Example::

        split_content("first paragraph\n\nsecond paragraph", limit=20)
        # ['first paragraph\n\n', 'second paragraph']
    """
    return [piece.content for piece in content_pieces(text, limit)]
