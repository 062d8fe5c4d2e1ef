"""Discord's documented limits, and the checks that find every place a message breaks one.

Two levels of checks:

* :func:`validate` looks at a whole :class:`~trio_webhook.Message`. A message may be
  larger than one request allows (more than 10 embeds, more than 6000 embed
  characters, more than 10 files, more bytes than one upload): the planner splits
  those, so they are not violations. A single part that breaks a limit on its own
  (2001 characters of content, one embed over 6000 characters, one file over the
  upload budget) is.
* :func:`validate_request` looks at one planned request and adds the per-request
  rules (at most 10 embeds, 6000 characters, 10 files and the upload budget).

Both return every violation at once, each with a path such as
``embeds[3].fields[7].value``, the limit, the actual size and a sentence saying how to
fix it. :func:`check` and :func:`check_request` raise them as a
:class:`~trio_webhook.ValidationError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from trio_webhook._attachments import ATTACHMENT_SCHEME, file_names, sanitize_filename
from trio_webhook._errors import ValidationError, Violation
from trio_webhook._models import AllowedMentions, Embed, FilePart, Message, PlannedRequest

__all__ = [
    "ALLOWED_FLAGS",
    "ALLOWED_MENTION_TYPES",
    "APPLIED_TAGS_MAX",
    "ATTACHMENT_DESCRIPTION_MAX",
    "ATTACHMENT_FILENAME_MAX",
    "AUTHOR_NAME_MAX",
    "COLOR_MAX",
    "CONTENT_MAX",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "EMBEDS_PER_REQUEST",
    "EMBED_DESCRIPTION_MAX",
    "EMBED_FIELDS_MAX",
    "EMBED_TITLE_MAX",
    "EMBED_TOTAL_CHARS",
    "FIELD_NAME_MAX",
    "FIELD_VALUE_MAX",
    "FILES_PER_REQUEST",
    "FOOTER_TEXT_MAX",
    "IS_COMPONENTS_V2",
    "MENTION_IDS_MAX",
    "SUPPRESS_EMBEDS",
    "SUPPRESS_NOTIFICATIONS",
    "THREAD_NAME_MAX",
    "THREAD_NAME_MIN",
    "URL_MAX",
    "USERNAME_FORBIDDEN",
    "USERNAME_MAX",
    "USERNAME_MIN",
    "check",
    "check_request",
    "embed_length",
    "validate",
    "validate_edit",
    "validate_request",
]

CONTENT_MAX: Final = 2000
"""Characters of ``content``."""
EMBEDS_PER_REQUEST: Final = 10
"""Embeds in one request (a message with more is split)."""
EMBED_TOTAL_CHARS: Final = 6000
"""Characters over all embeds of one request, whitespace trimmed (see :func:`embed_length`)."""
EMBED_TITLE_MAX: Final = 256
EMBED_DESCRIPTION_MAX: Final = 4096
EMBED_FIELDS_MAX: Final = 25
FIELD_NAME_MAX: Final = 256
FIELD_VALUE_MAX: Final = 1024
FOOTER_TEXT_MAX: Final = 2048
AUTHOR_NAME_MAX: Final = 256
URL_MAX: Final = 2048
"""Characters of any URL (avatar, embed link, image, icon), per Discord's OpenAPI schema."""
COLOR_MAX: Final = 0xFFFFFF
USERNAME_MIN: Final = 1
USERNAME_MAX: Final = 80
USERNAME_FORBIDDEN: Final = ("discord", "clyde")
"""Substrings Discord rejects in a webhook username, in any letter case."""
FILES_PER_REQUEST: Final = 10
DEFAULT_MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024
"""Default bytes a file and a request may upload (a boosted server allows more)."""
ATTACHMENT_FILENAME_MAX: Final = 1024
ATTACHMENT_DESCRIPTION_MAX: Final = 1024
MENTION_IDS_MAX: Final = 100
"""Explicit user ids, and role ids, in ``allowed_mentions``."""
ALLOWED_MENTION_TYPES: Final = frozenset({"users", "roles", "everyone"})
THREAD_NAME_MIN: Final = 1
THREAD_NAME_MAX: Final = 100
APPLIED_TAGS_MAX: Final = 5
SUPPRESS_EMBEDS: Final = 1 << 2
SUPPRESS_NOTIFICATIONS: Final = 1 << 12
IS_COMPONENTS_V2: Final = 1 << 15
ALLOWED_FLAGS: Final = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS
"""The only message flags a webhook message without components may carry."""

_SNOWFLAKE: Final = re.compile(r"(0|[1-9][0-9]*)")


def embed_length(embed: Embed) -> int:
    """The characters of ``embed`` that count towards the 6000 of a request.

    Discord sums the title, description, field names and values, footer text and author
    name, each with leading and trailing whitespace trimmed.
    """
    parts: list[str | None] = [embed.title, embed.description]
    for f in embed.fields:
        parts.append(f.name)
        parts.append(f.value)
    if embed.footer is not None:
        parts.append(embed.footer.text)
    if embed.author is not None:
        parts.append(embed.author.name)
    return sum(len(p.strip()) for p in parts if p is not None)


class _Collector:
    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, path: str, limit: int, actual: int, detail: str) -> None:
        self.violations.append(Violation(path, limit, actual, detail))

    def max_len(self, path: str, name: str, value: str | None, limit: int) -> None:
        if value is None:
            return
        if len(value) > limit:
            self.add(
                path,
                limit,
                len(value),
                f"{name} has {len(value)} characters, Discord allows {limit}; shorten it",
            )
        # Every text field passes here once: the encodability check rides along, and
        # costs one isascii() for the usual ASCII text.
        if not value.isascii() or type(value) is not str:
            self.encodable(path, name, value)

    def encodable(self, path: str, name: str, value: str | None) -> None:
        """Add a violation if ``value`` would make encoding the request fail."""
        text: object = value
        if text is None:
            return
        if not isinstance(text, str):
            # Reachable only with attrs validators disabled; the delivery task's
            # json.dumps would raise instead.
            self.add(path, 0, 0, f"{name} is {type(text).__name__}, not str; give text")
            return
        if text.isascii():
            return
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            lone = sum(1 for ch in text if "\ud800" <= ch <= "\udfff")
            self.add(
                path,
                0,
                lone,
                f"{name} contains a lone surrogate U+{ord(text[exc.start]):04X} at index "
                f"{exc.start}; strings must be valid UTF-8 (encode and decode text with "
                "errors='strict', or drop the surrogates)",
            )

    def required_text(self, path: str, name: str, value: str) -> None:
        if not value.strip():
            self.add(path, 1, 0, f"{name} is empty or only whitespace; Discord requires text")

    def snowflakes(self, path: str, ids: Iterable[str]) -> None:
        for i, value in enumerate(ids):
            if not _SNOWFLAKE.fullmatch(value):
                self.add(
                    f"{path}[{i}]",
                    0,
                    0,
                    f"{value!r} is not a snowflake (a decimal id without leading zeros)",
                )

    def unique(self, path: str, values: Sequence[str]) -> None:
        if len(set(values)) != len(values):
            dupes = sorted({v for v in values if values.count(v) > 1})
            self.add(
                path,
                len(set(values)),
                len(values),
                f"lists {', '.join(dupes)} more than once; Discord wants each once",
            )


def _check_embed(c: _Collector, path: str, embed: Embed) -> None:
    c.max_len(f"{path}.title", "title", embed.title, EMBED_TITLE_MAX)
    c.max_len(f"{path}.description", "description", embed.description, EMBED_DESCRIPTION_MAX)
    c.max_len(f"{path}.url", "url", embed.url, URL_MAX)
    if embed.color is not None and not 0 <= embed.color <= COLOR_MAX:
        c.add(
            f"{path}.color",
            COLOR_MAX,
            embed.color,
            f"color {embed.color:#x} is outside 0x000000..0xFFFFFF; give a 24-bit RGB value",
        )
    if len(embed.fields) > EMBED_FIELDS_MAX:
        c.add(
            f"{path}.fields",
            EMBED_FIELDS_MAX,
            len(embed.fields),
            f"has {len(embed.fields)} fields, Discord allows {EMBED_FIELDS_MAX}; "
            "move some into another embed",
        )
    for i, field in enumerate(embed.fields):
        fpath = f"{path}.fields[{i}]"
        c.required_text(f"{fpath}.name", "field name", field.name)
        c.max_len(f"{fpath}.name", "field name", field.name, FIELD_NAME_MAX)
        c.required_text(f"{fpath}.value", "field value", field.value)
        c.max_len(f"{fpath}.value", "field value", field.value, FIELD_VALUE_MAX)
    if embed.footer is not None:
        c.required_text(f"{path}.footer.text", "footer text", embed.footer.text)
        c.max_len(f"{path}.footer.text", "footer text", embed.footer.text, FOOTER_TEXT_MAX)
        c.max_len(f"{path}.footer.icon_url", "footer icon_url", embed.footer.icon_url, URL_MAX)
    if embed.author is not None:
        c.required_text(f"{path}.author.name", "author name", embed.author.name)
        c.max_len(f"{path}.author.name", "author name", embed.author.name, AUTHOR_NAME_MAX)
        c.max_len(f"{path}.author.url", "author url", embed.author.url, URL_MAX)
        c.max_len(f"{path}.author.icon_url", "author icon_url", embed.author.icon_url, URL_MAX)
    if embed.image is not None:
        c.max_len(f"{path}.image.url", "image url", embed.image.url, URL_MAX)
    if embed.thumbnail is not None:
        c.max_len(f"{path}.thumbnail.url", "thumbnail url", embed.thumbnail.url, URL_MAX)
    total = embed_length(embed)
    if total > EMBED_TOTAL_CHARS:
        c.add(
            path,
            EMBED_TOTAL_CHARS,
            total,
            f"embed has {total} characters over title, description, fields, footer and "
            f"author, Discord allows {EMBED_TOTAL_CHARS} in one message; split it into "
            "several embeds",
        )


def _media_paths(path: str, embed: Embed) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if embed.image is not None:
        found.append((f"{path}.image.url", embed.image.url))
    if embed.thumbnail is not None:
        found.append((f"{path}.thumbnail.url", embed.thumbnail.url))
    if embed.author is not None and embed.author.icon_url is not None:
        found.append((f"{path}.author.icon_url", embed.author.icon_url))
    if embed.footer is not None and embed.footer.icon_url is not None:
        found.append((f"{path}.footer.icon_url", embed.footer.icon_url))
    return found


def _check_references(
    c: _Collector, embeds: Sequence[Embed], files: Sequence[FilePart], where: str
) -> None:
    names: set[str] | None = None  # built only when an embed refers to an upload
    for i, embed in enumerate(embeds):
        for path, url in _media_paths(f"embeds[{i}]", embed):
            if not url.startswith(ATTACHMENT_SCHEME):
                continue
            if names is None:
                names = set().union(*(file_names(part) for part in files))
            if url[len(ATTACHMENT_SCHEME) :] not in names:
                c.add(
                    path,
                    1,
                    0,
                    f"refers to {url} but no file of {where} has that name; attach the file "
                    "or correct the name",
                )


def _file_size(c: _Collector, path: str, part: FilePart, max_upload_bytes: int) -> int:
    try:
        size = part.size()
    except OSError as exc:
        c.add(
            path,
            max_upload_bytes,
            -1,
            f"file {part.filename!r} cannot be read ({exc.strerror or exc}); "
            "check the path (actual -1: size unknown)",
        )
        return 0
    if size > max_upload_bytes:
        c.add(
            path,
            max_upload_bytes,
            size,
            f"file {part.filename!r} has {size} bytes, the upload limit is "
            f"{max_upload_bytes}; compress or split it, or raise max_upload_bytes if the "
            "server is boosted",
        )
    return size


def _check_files(
    c: _Collector, label: str, files: Sequence[FilePart], max_upload_bytes: int
) -> int:
    total = 0
    for i, part in enumerate(files):
        path = f"{label}[{i}]"
        total += _file_size(c, path, part, max_upload_bytes)
        if not part.filename.isascii():
            c.encodable(f"{path}.filename", "filename", part.filename)
        uploaded = sanitize_filename(part.upload_name)
        if len(uploaded) > ATTACHMENT_FILENAME_MAX:
            c.add(
                f"{path}.filename",
                ATTACHMENT_FILENAME_MAX,
                len(uploaded),
                f"filename has {len(uploaded)} characters, Discord allows "
                f"{ATTACHMENT_FILENAME_MAX}; shorten it",
            )
        c.max_len(
            f"{path}.description", "description", part.description, ATTACHMENT_DESCRIPTION_MAX
        )
        _check_content_type(c, f"{path}.content_type", part.content_type)
    return total


def _check_content_type(c: _Collector, path: str, content_type: str) -> None:
    # It is written into the part's header as is: CR or LF would inject a header, and
    # a character outside ASCII makes the transport's encoding fail.
    if content_type and content_type.isascii() and content_type.isprintable():
        return
    c.add(
        path,
        0,
        0,
        f"content_type {content_type!r} is not a media type of printable ASCII (as "
        "'image/png'); correct it or leave it out to have it guessed",
    )


def _check_allowed_mentions(c: _Collector, am: AllowedMentions) -> None:
    parse = am.parse or ()
    for i, kind in enumerate(parse):
        if kind not in ALLOWED_MENTION_TYPES:
            c.add(
                f"allowed_mentions.parse[{i}]",
                0,
                0,
                f"{kind!r} is not a mention type; use 'users', 'roles' or 'everyone'",
            )
    c.unique("allowed_mentions.parse", parse)
    for kind, ids in (("users", am.users), ("roles", am.roles)):
        if ids is None:
            continue
        path = f"allowed_mentions.{kind}"
        if len(ids) > MENTION_IDS_MAX:
            c.add(
                path,
                MENTION_IDS_MAX,
                len(ids),
                f"lists {len(ids)} {kind}, Discord allows {MENTION_IDS_MAX}; "
                f"list fewer or parse all {kind}",
            )
        if kind in parse:
            c.add(
                path,
                0,
                len(ids),
                f"parse contains {kind!r} and {kind} are also listed; Discord rejects both "
                f"together: drop {kind!r} from parse or the explicit list",
            )
        c.snowflakes(path, ids)
        c.unique(path, ids)


def _check_flags(c: _Collector, flags: int) -> None:
    if flags & IS_COMPONENTS_V2:
        c.add(
            "flags",
            ALLOWED_FLAGS,
            flags,
            "IS_COMPONENTS_V2 (32768) needs components, which trio-webhook does not send; "
            "remove the flag",
        )
    unknown = flags & ~(ALLOWED_FLAGS | IS_COMPONENTS_V2) if flags >= 0 else flags
    if unknown:
        c.add(
            "flags",
            ALLOWED_FLAGS,
            flags,
            f"flags {flags} carry bits a webhook may not set; only SUPPRESS_EMBEDS (4) and "
            "SUPPRESS_NOTIFICATIONS (4096) are allowed",
        )


def _check_common(
    c: _Collector, body: Message | PlannedRequest, *, has_files: bool, edit: bool = False
) -> None:
    # An edit changes only content, embeds, allowed mentions and flags, and need not
    # carry any of them: the other fields are not checked.
    content, embeds = body.content, body.embeds
    require_body = not edit
    username, avatar_url = (None, None) if edit else (body.username, body.avatar_url)
    thread_id, thread_name, applied_tags = (
        (None, None, None) if edit else (body.thread_id, body.thread_name, body.applied_tags)
    )
    allowed_mentions, flags = body.allowed_mentions, body.flags
    c.max_len("content", "content", content, CONTENT_MAX)
    if require_body and not (content and content.strip()) and not embeds and not has_files:
        c.add(
            "message",
            1,
            0,
            "message is empty (no content, embeds or files); Discord rejects it (50006): "
            "give it some content",
        )
    if username is not None:
        if len(username.strip()) < USERNAME_MIN:
            c.add("username", USERNAME_MIN, 0, "username is empty; give a name or leave it unset")
        c.max_len("username", "username", username, USERNAME_MAX)
        lowered = username.lower()
        for word in USERNAME_FORBIDDEN:
            if word in lowered:
                c.add(
                    "username",
                    0,
                    lowered.count(word),
                    f"username {username!r} contains {word!r}, which Discord rejects; "
                    "choose another name",
                )
    c.max_len("avatar_url", "avatar_url", avatar_url, URL_MAX)
    for i, embed in enumerate(embeds):
        _check_embed(c, f"embeds[{i}]", embed)
    if allowed_mentions is not None:
        _check_allowed_mentions(c, allowed_mentions)
    if flags is not None:
        _check_flags(c, flags)
    if thread_id is not None and not _SNOWFLAKE.fullmatch(thread_id):
        c.add("thread_id", 0, 0, f"thread_id {thread_id!r} is not a snowflake")
    if thread_name is not None:
        if len(thread_name.strip()) < THREAD_NAME_MIN:
            c.add("thread_name", THREAD_NAME_MIN, 0, "thread_name is empty; name the forum post")
        c.max_len("thread_name", "thread_name", thread_name, THREAD_NAME_MAX)
        if thread_id is not None:
            c.add(
                "thread_name",
                0,
                1,
                "thread_id and thread_name together are an error (220002): post into the "
                "thread, or create a forum post, not both",
            )
    if applied_tags is not None:
        if len(applied_tags) > APPLIED_TAGS_MAX:
            c.add(
                "applied_tags",
                APPLIED_TAGS_MAX,
                len(applied_tags),
                f"{len(applied_tags)} tags, Discord allows {APPLIED_TAGS_MAX}; apply fewer",
            )
        c.snowflakes("applied_tags", applied_tags)
        c.unique("applied_tags", applied_tags)


def validate(
    message: Message, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
) -> list[Violation]:
    """Every limit that ``message`` breaks, in the order of its fields.

    What the planner splits (more than 10 embeds, 6000 characters or 10 files, or more
    bytes than one request may upload) is not a violation; a part that alone breaks a
    limit is. File sizes are taken with ``FilePart.size()``: nothing is read.

    Args:
        message: The message to check.
        max_upload_bytes: The most bytes one file (and one request) may upload.

    Returns:
        The violations; empty when the message can be sent.
    """
    c = _Collector()
    _check_common(c, message, has_files=bool(message.attachments))
    _check_files(c, "attachments", message.attachments, max_upload_bytes)
    _check_references(c, message.embeds, message.attachments, "the message")
    return c.violations


def check(message: Message, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> None:
    """Raise if ``message`` breaks a limit (see :func:`validate`).

    Raises:
        ValidationError: Listing every violation.
    """
    violations = validate(message, max_upload_bytes=max_upload_bytes)
    if violations:
        raise ValidationError(violations)


def _check_request_totals(
    c: _Collector,
    embeds: Sequence[Embed],
    files: Sequence[FilePart],
    upload: int,
    budget: int,
    *,
    label: str = "files",
) -> None:
    if len(embeds) > EMBEDS_PER_REQUEST:
        c.add(
            "embeds",
            EMBEDS_PER_REQUEST,
            len(embeds),
            f"request has {len(embeds)} embeds, Discord allows {EMBEDS_PER_REQUEST}",
        )
    chars = sum(embed_length(e) for e in embeds)
    if chars > EMBED_TOTAL_CHARS:
        c.add(
            "embeds",
            EMBED_TOTAL_CHARS,
            chars,
            f"request's embeds have {chars} characters, Discord allows {EMBED_TOTAL_CHARS}",
        )
    if len(files) > FILES_PER_REQUEST:
        c.add(
            label,
            FILES_PER_REQUEST,
            len(files),
            f"request has {len(files)} files, Discord allows {FILES_PER_REQUEST} (30015)",
        )
    if upload > budget:
        c.add(
            label,
            budget,
            upload,
            f"request uploads {upload} bytes, more than the {budget}-byte limit",
        )


def validate_request(
    planned: PlannedRequest, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
) -> list[Violation]:
    """Every limit that one planned request breaks, per-request totals included.

    On top of :func:`validate`'s rules: at most 10 embeds, 6000 embed characters, 10
    files and ``max_upload_bytes`` in all; every ``attachment://`` reference must name
    a file of this very request.

    Args:
        planned: A request from :func:`~trio_webhook._planning.plan_requests`.
        max_upload_bytes: The most bytes the request may upload.

    Returns:
        The violations (paths name ``files[i]`` for the request's files).
    """
    c = _Collector()
    _check_common(c, planned, has_files=bool(planned.files))
    upload = _check_files(c, "files", planned.files, max_upload_bytes)
    _check_request_totals(c, planned.embeds, planned.files, upload, max_upload_bytes)
    _check_references(c, planned.embeds, planned.files, "this request")
    return c.violations


def check_request(
    planned: PlannedRequest, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
) -> None:
    """Raise if one planned request breaks a limit (see :func:`validate_request`).

    Raises:
        ValidationError: Listing every violation.
    """
    violations = validate_request(planned, max_upload_bytes=max_upload_bytes)
    if violations:
        raise ValidationError(violations)


def validate_edit(
    message: Message, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
) -> list[Violation]:
    """Every limit an edit (``PATCH``) with ``message`` breaks.

    An edit is one request, so the per-request totals apply; it may change only the
    content, embeds, allowed mentions and flags and add files, and it need not carry
    any of them.

    Args:
        message: The edit; username, thread and forum fields are ignored.
        max_upload_bytes: The most bytes the request may upload.

    Returns:
        The violations.
    """
    c = _Collector()
    _check_common(c, message, has_files=bool(message.attachments), edit=True)
    upload = _check_files(c, "attachments", message.attachments, max_upload_bytes)
    # References are not checked: an edit may refer to attachments the message keeps.
    _check_request_totals(
        c, message.embeds, message.attachments, upload, max_upload_bytes, label="attachments"
    )
    return c.violations
