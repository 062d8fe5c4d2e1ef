"""The checks' fast path: a message that is plainly within every limit, told cheaply (pure).

:func:`~trio_webhook._limits.check` runs on ``send_nowait``'s path for every message. The
full walk builds a path string for every field it looks at (``embeds[0].title``, ...)
whether or not anything is wrong, which is most of its cost. :func:`plainly_valid` reads
the same fields with no path, no collector and no allocation, and answers only "nothing
to report" (``True``) or "look closer" (``False``): a ``True`` must never hide a violation
:func:`~trio_webhook._limits.validate` would report (``tests/test_quick_checks.py`` checks
that on generated messages, valid and broken), while a ``False`` costs only the full walk.

It answers ``False`` for whatever it does not handle: text outside ASCII (its encodability
takes the full check), components, polls, forum posts, explicit mention lists, flags
beyond ``SUPPRESS_EMBEDS`` and ``SUPPRESS_NOTIFICATIONS``, ``attachment://`` references,
a file that cannot be sized, and any value of an unexpected type (attrs validators off).
"""

from __future__ import annotations

import sys
from typing import Final

from trio_webhook._attachments import ATTACHMENT_SCHEME
from trio_webhook._checks import SNOWFLAKE
from trio_webhook._limit_values import (
    ALLOWED_FLAGS,
    ALLOWED_MENTION_TYPES,
    ATTACHMENT_DESCRIPTION_MAX,
    ATTACHMENT_FILENAME_MAX,
    AUTHOR_NAME_MAX,
    COLOR_MAX,
    CONTENT_MAX,
    EMBED_DESCRIPTION_MAX,
    EMBED_FIELDS_MAX,
    EMBED_TITLE_MAX,
    EMBED_TOTAL_CHARS,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FOOTER_TEXT_MAX,
    URL_MAX,
    USERNAME_FORBIDDEN,
    USERNAME_MAX,
)
from trio_webhook._models import AllowedMentions, Embed, FilePart, Message

__all__ = ["plainly_valid"]

# Sanitising never lengthens a name but for the "file" stem it gives a name with none
# (sanitize_filename), and a spoiler adds "SPOILER_": a filename this short uploads
# within the limit whatever it holds, with no sanitising (and no cache miss) to know it.
_PLAIN_FILENAME_MAX: Final = ATTACHMENT_FILENAME_MAX - len("SPOILER_") - len("file")


def _text(value: object, limit: int) -> bool:
    # ASCII is always encodable, and its length is what Discord counts.
    return value is None or (type(value) is str and len(value) <= limit and value.isascii())


def _required(value: object, limit: int) -> bool:
    # For ASCII, str.isspace() is true exactly when str.strip() would leave nothing
    # (and false for ""), without allocating the stripped copy.
    return (
        type(value) is str and 0 < len(value) <= limit and value.isascii() and not value.isspace()
    )


def _media(url: object) -> bool:
    # An attachment:// reference must name a file: that matching is the full check's.
    if url is None:
        return True
    return (
        type(url) is str
        and len(url) <= URL_MAX
        and url.isascii()
        and not url.startswith(ATTACHMENT_SCHEME)
    )


def _embed_chars(embed: Embed) -> int:
    """The embed's characters (a bound on what Discord counts), or -1 if not plainly valid."""
    title, description = embed.title, embed.description
    if not (
        _text(title, EMBED_TITLE_MAX)
        and _text(description, EMBED_DESCRIPTION_MAX)
        and (embed.url is None or _text(embed.url, URL_MAX))  # mostly None: no call
    ):
        return -1
    color = embed.color
    if color is not None and not (type(color) is int and 0 <= color <= COLOR_MAX):
        return -1
    # Unstripped lengths: never less than the stripped ones Discord sums, so a total
    # within the limit here is within it there.
    chars = (len(title) if title else 0) + (len(description) if description else 0)
    fields = embed.fields
    if fields:
        if len(fields) > EMBED_FIELDS_MAX:
            return -1
        for field in fields:
            name, value = field.name, field.value
            if not (_required(name, FIELD_NAME_MAX) and _required(value, FIELD_VALUE_MAX)):
                return -1
            chars += len(name) + len(value)
    footer, author = embed.footer, embed.author
    if footer is not None:
        if not (_required(footer.text, FOOTER_TEXT_MAX) and _media(footer.icon_url)):
            return -1
        chars += len(footer.text)
    if author is not None:
        if not (
            _required(author.name, AUTHOR_NAME_MAX)
            and _text(author.url, URL_MAX)
            and _media(author.icon_url)
        ):
            return -1
        chars += len(author.name)
    image, thumbnail = embed.image, embed.thumbnail
    if (image is not None and not _media(image.url)) or (
        thumbnail is not None and not _media(thumbnail.url)
    ):
        return -1
    return chars if chars <= EMBED_TOTAL_CHARS else -1


def _file_ok(part: FilePart, per_file: int) -> bool:
    data = part.data
    if type(data) is bytes:
        size = len(data)
    else:
        try:
            size = part.size()
        except (OSError, TypeError, AttributeError):
            return False
    content_type = part.content_type
    return (
        size <= per_file
        and type(part.filename) is str
        and part.filename.isascii()
        and len(part.filename) <= _PLAIN_FILENAME_MAX
        and _text(part.description, ATTACHMENT_DESCRIPTION_MAX)
        and type(content_type) is str
        and content_type != ""
        and content_type.isascii()
        and content_type.isprintable()
    )


def _mentions_ok(mentions: AllowedMentions) -> bool:
    # Only ``parse`` (AllowedMentions.none() and the like); explicit ids: the full check.
    parse = mentions.parse
    if mentions.users is not None or mentions.roles is not None:
        return False
    if parse is None:
        return True
    return len(set(parse)) == len(parse) and ALLOWED_MENTION_TYPES.issuperset(parse)


def plainly_valid(message: Message, per_file: int, *, split_content: bool) -> bool:
    """Whether ``message`` is within every limit by a cheap test; ``False``: don't know.

    Args:
        message: The message.
        per_file: The most bytes one file may upload.
        split_content: Whether content over 2000 characters is split (then any ASCII
            content is within limits).

    Returns:
        ``True`` only if :func:`~trio_webhook._limits.validate` (with the same budget)
        finds nothing; ``False`` if the full check must look.
    """
    if (
        message.components
        or message.poll is not None
        or message.thread_name is not None
        or message.applied_tags is not None
    ):
        return False
    content, flags = message.content, message.flags
    # Split content may be any length: the planner cuts it at 2000.
    if not _text(content, sys.maxsize if split_content else CONTENT_MAX):
        return False
    if flags is not None and not (
        isinstance(flags, int) and flags >= 0 and not flags & ~ALLOWED_FLAGS
    ):
        return False
    embeds, attachments = message.embeds, message.attachments
    if not (embeds or attachments or (content and not content.isspace())):
        return False  # empty: the full check words the error
    username = message.username
    if username is not None:
        if not _required(username, USERNAME_MAX):
            return False
        lowered = username.lower()
        for word in USERNAME_FORBIDDEN:
            if word in lowered:
                return False
    if message.avatar_url is not None and not _text(message.avatar_url, URL_MAX):
        return False
    thread_id, mentions = message.thread_id, message.allowed_mentions
    if thread_id is not None and not (type(thread_id) is str and SNOWFLAKE.fullmatch(thread_id)):
        return False
    if mentions is not None and not _mentions_ok(mentions):
        return False
    for embed in embeds:
        if _embed_chars(embed) < 0:
            return False
    # Loops, not all(...): a generator would be one more allocation on send_nowait's path.
    for part in attachments:  # noqa: SIM110
        if not _file_ok(part, per_file):
            return False
    return True
