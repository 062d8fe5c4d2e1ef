"""The names of uploads: as Discord stores them, and as embeds refer to them (pure).

An embed refers to a file uploaded with the same request as ``attachment://<name>``.
Discord resolves the name against the sanitised upload name it stores; users write the
filename as they gave it. Planning (which file goes with which embeds), the checks (a
reference must name a file of its request) and the encoder (which rewrites references to
the stored names) all read names through these helpers, so they agree.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

import attrs

from trio_webhook._component_tree import map_media
from trio_webhook._components import Component, TextDisplay
from trio_webhook._models import Embed, FilePart

__all__ = [
    "ATTACHMENT_SCHEME",
    "file_names",
    "sanitize_filename",
    "strip_attachment_refs",
    "strip_component_refs",
]

ATTACHMENT_SCHEME: Final = "attachment://"
"""The prefix by which an embed refers to a file uploaded with the same request."""

_DROPPED: Final = frozenset("\"'")
_SEPARATORS: Final = frozenset("/\\")
# Control and format characters (CR, LF, NUL, bidi overrides, zero-width joiners) and
# line/paragraph separators could split a header or disguise a name: drop them.
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_FALLBACK_STEM: Final = "file"
# Names sanitising leaves as they are (ASCII letters, digits, "_", "-" and inner dots):
# most names are, and one match costs a fifth of the character-by-character walk.
_PLAIN_NAME: Final = re.compile(r"[\w-](?:[\w.-]*[\w-])?", re.ASCII)


# Pure and called for every file on every validation and encoding (send_nowait's hot
# path): filenames repeat, so a small cache halves the cost of checking a message.
@functools.lru_cache(maxsize=1024)
def sanitize_filename(name: str) -> str:
    r"""Make a filename safe to put in a multipart header, as Discord would store it.

    Quotes and control characters (CR, LF, NUL, ...) are dropped, slashes and
    backslashes become ``_`` (no path survives), whitespace becomes ``_`` as Discord
    does, and leading and trailing dots are removed. The extension is kept; an empty stem becomes
    ``file``, so the result is never empty.

    Args:
        name: The filename as the user gave it (``FilePart.upload_name``).

    Returns:
        The filename that is uploaded and that ``attachment://`` references resolve to.

    Example::

        sanitize_filename('a"\r\nX: y.png')  # 'aX:_y.png'
        sanitize_filename("../../etc/passwd")  # '_.._etc_passwd'
    """
    if _PLAIN_NAME.fullmatch(name):
        return name
    return _sanitize(name)


def _sanitize(name: str) -> str:
    out = []
    for ch in name:
        if ch in _DROPPED or unicodedata.category(ch) in _DROPPED_CATEGORIES:
            continue
        if ch in _SEPARATORS or ch.isspace():
            out.append("_")
        else:
            out.append(ch)
    # Trailing dots go too: "0.." would otherwise become "0." and, sanitised again, "0".
    cleaned = "".join(out).rstrip(".")
    stem, dot, ext = cleaned.rpartition(".")
    if not dot:
        stem, ext = cleaned, ""
    stem = stem.lstrip(".")
    if not stem:
        stem = _FALLBACK_STEM
    return f"{stem}.{ext}" if ext else stem


def file_names(part: FilePart) -> frozenset[str]:
    """Every name by which an embed may refer to ``part`` (after ``attachment://``).

    That is the sanitised upload name (what Discord stores), the upload name with its
    ``SPOILER_`` prefix, and the filename as given.
    """
    return frozenset({part.filename, part.upload_name, sanitize_filename(part.upload_name)})


def _is_upload_ref(url: str | None) -> bool:
    return url is not None and url.startswith(ATTACHMENT_SCHEME)


def strip_attachment_refs(embed: Embed) -> Embed:
    """``embed`` without its ``attachment://`` images and icons (the same object if none).

    For a message whose files were dropped (shed under pressure, or left out of a dead
    letter): a reference to a missing upload makes Discord refuse the whole message.
    """
    # Runs on send_nowait's path when the buffer sheds: plain tests, no closures.
    image, thumbnail, author, footer = embed.image, embed.thumbnail, embed.author, embed.footer
    drop_image = image is not None and _is_upload_ref(image.url)
    drop_thumbnail = thumbnail is not None and _is_upload_ref(thumbnail.url)
    drop_author = author is not None and _is_upload_ref(author.icon_url)
    drop_footer = footer is not None and _is_upload_ref(footer.icon_url)
    if not (drop_image or drop_thumbnail or drop_author or drop_footer):
        return embed
    return attrs.evolve(
        embed,
        image=None if drop_image else image,
        thumbnail=None if drop_thumbnail else thumbnail,
        author=attrs.evolve(author, icon_url=None) if drop_author and author else author,
        footer=attrs.evolve(footer, icon_url=None) if drop_footer and footer else footer,
    )


SHED_NOTE: Final = "-# (the files of this message were not delivered)"
"""What a Components V2 message shows when every component it had showed a dropped file."""


def _drop_upload(url: str) -> str | None:
    return None if _is_upload_ref(url) else url


def strip_component_refs(components: tuple[Component, ...]) -> tuple[Component, ...]:
    """``components`` without what shows an ``attachment://`` upload (the same object if none).

    The same rule as :func:`strip_attachment_refs`, for a message whose files were
    dropped: the media goes, the text stays (see
    :func:`~trio_webhook._components.map_media`). A message left with no component at
    all says so in a :class:`~trio_webhook.components.TextDisplay`, so it stays valid
    and nothing vanishes silently.
    """
    if not components:
        return components
    kept = map_media(components, _drop_upload)
    return kept if kept else (TextDisplay(SHED_NOTE),)
