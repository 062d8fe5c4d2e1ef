"""The checks that find every place a message breaks one of Discord's limits.

The limits themselves, with their sources, are in :mod:`trio_webhook._limit_values`;
an embed's checks are in :mod:`trio_webhook._embed_checks`, a file's in
:mod:`trio_webhook._file_checks`.

Two levels of checks:

* :func:`validate` looks at a whole :class:`~trio_webhook.Message`. A message may be
  larger than one request allows (more than 10 embeds, more than 6000 embed
  characters, more than 10 files, more bytes than one upload): the planner splits
  those, so they are not violations. A single part that breaks a limit on its own
  (one embed over 6000 characters, one file over the upload budget) is. Content over
  2000 characters is split too, unless the caller says ``split_content=False``.
* :func:`validate_request` looks at one planned request and adds the per-request
  rules (at most 10 embeds, 6000 characters, 10 files and the upload budget).

Both return every violation at once, each with a path such as
``embeds[3].fields[7].value``, the limit, the actual size and a sentence saying how to
fix it. :func:`check` and :func:`check_request` raise them as a
:class:`~trio_webhook.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Sequence

from trio_webhook._checks import Collector
from trio_webhook._component_checks import (
    check_component_references,
    check_components,
    check_components_v2,
    check_poll,
)
from trio_webhook._component_tree import effective_flags
from trio_webhook._edit_checks import check_edit_files
from trio_webhook._edits import UNSET, MessageEdit
from trio_webhook._embed_checks import check_embed, check_references, embed_length
from trio_webhook._errors import ValidationError, Violation
from trio_webhook._file_checks import check_files
from trio_webhook._limit_values import (
    ALLOWED_FLAGS,
    ALLOWED_MENTION_TYPES,
    CONTENT_MAX,
    DEFAULT_MAX_UPLOAD_BYTES,
    EMBED_TOTAL_CHARS,
    EMBEDS_PER_REQUEST,
    FILES_PER_REQUEST,
    IS_COMPONENTS_V2,
    MENTION_IDS_MAX,
    WEBHOOK_EDIT_FLAGS,
    WEBHOOK_FLAGS,
)
from trio_webhook._models import AllowedMentions, Embed, FilePart, Message, PlannedRequest
from trio_webhook._name_checks import check_identity, check_thread
from trio_webhook._quick_checks import plainly_valid

__all__ = [
    "check",
    "check_request",
    "embed_length",
    "full_validate",
    "validate",
    "validate_edit",
    "validate_request",
]


def _check_allowed_mentions(c: Collector, am: AllowedMentions) -> None:
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


def _check_flags(c: Collector, flags: int, *, has_components: bool, edit: bool) -> None:
    if flags & IS_COMPONENTS_V2 and not has_components:
        c.add(
            "flags",
            ALLOWED_FLAGS,
            flags,
            "IS_COMPONENTS_V2 (32768) makes the components the whole message, and this one "
            "has none; add components or remove the flag",
        )
    allowed = WEBHOOK_EDIT_FLAGS if edit else WEBHOOK_FLAGS
    unknown = flags & ~allowed if flags >= 0 else flags
    if unknown and edit:
        c.add(
            "flags",
            allowed,
            flags,
            f"flags {flags} carry bits an edit may not set; Discord lets an edit set only "
            "SUPPRESS_EMBEDS (4) and IS_COMPONENTS_V2 (32768) (SUPPRESS_NOTIFICATIONS counts "
            "only when a message is sent)",
        )
    elif unknown:
        c.add(
            "flags",
            allowed,
            flags,
            f"flags {flags} carry bits a webhook may not set; only SUPPRESS_EMBEDS (4), "
            "SUPPRESS_NOTIFICATIONS (4096) and IS_COMPONENTS_V2 (32768) are allowed",
        )


def _check_common(
    c: Collector,
    body: Message | PlannedRequest,
    *,
    has_files: bool,
    edit: bool = False,
    split_content: bool = False,
) -> None:
    # In field order, so violations are listed as the message reads. An edit changes
    # only content, embeds, components, allowed mentions and flags, and need not carry any.
    flags = effective_flags(body.flags, body.components)
    v2 = flags is not None and flags >= 0 and bool(flags & IS_COMPONENTS_V2)
    body_given = bool(body.embeds) or has_files or bool(body.components) or body.poll is not None
    _check_content(c, body.content, empty_allowed=edit or body_given, split_content=split_content)
    if not edit:
        check_identity(c, body.username, body.avatar_url)
    for i, embed in enumerate(body.embeds):
        check_embed(c, f"embeds[{i}]", embed)
    if body.allowed_mentions is not None:
        _check_allowed_mentions(c, body.allowed_mentions)
    if flags is not None:
        # An edit that leaves the components may keep the flag of those on Discord.
        _check_flags(c, flags, has_components=bool(body.components) or edit, edit=edit)
    if v2 and body.components:
        check_components_v2(c, body)
    if body.components:
        check_components(c, body.components, v2=v2, application_owned=body.application_owned)
    if body.poll is not None:
        if edit:
            c.add("poll", 0, 1, "a poll cannot be edited (Discord); send a new message")
        else:
            check_poll(c, body.poll)
    if not edit:
        check_thread(c, body.thread_id, body.thread_name, body.applied_tags)


def _check_content(
    c: Collector, content: str | None, *, empty_allowed: bool, split_content: bool
) -> None:
    if split_content:
        # Any length: the planner cuts it into messages (trio_webhook._content_split).
        c.encodable("content", "content", content)
    else:
        c.max_len("content", "content", content, CONTENT_MAX)
    if not empty_allowed and not (content and content.strip()):
        c.add(
            "message",
            1,
            0,
            "message is empty (no content, embeds, components, poll or files); Discord "
            "rejects it (50006): give it some content",
        )


def _budgets(max_upload_bytes: int, max_request_bytes: int | None) -> tuple[int, int]:
    """The most bytes a file (never more than a whole request), and a request, may upload."""
    request = max_upload_bytes if max_request_bytes is None else max_request_bytes
    return min(max_upload_bytes, request), request


def validate(
    message: Message,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_request_bytes: int | None = None,
    split_content: bool = True,
) -> list[Violation]:
    """Every limit that ``message`` breaks, in the order of its fields.

    What the planner splits (more than 10 embeds, 6000 characters or 10 files, or more
    bytes than one request may upload, and with ``split_content`` content over 2000
    characters) is not a violation; a part that alone breaks a limit is. File sizes are
    taken with ``FilePart.size()``: nothing is read.

    Args:
        message: The message to check.
        max_upload_bytes: The most bytes one file may upload (Discord checks each file).
        max_request_bytes: The most bytes all files of one request may upload; a file
            must fit in it too (``None``: ``max_upload_bytes``).
        split_content: Whether long content will be split into several messages (the
            sender's and ``WebhookClient.execute``'s default); ``False`` holds it to
            2000 characters.

    Returns:
        The violations; empty when the message can be sent.
    """
    per_file, per_request = _budgets(max_upload_bytes, max_request_bytes)
    if plainly_valid(message, per_file, split_content=split_content):
        return []  # the usual message: no field needs the full walk's look
    return full_validate(message, per_file, per_request, split_content=split_content)


def full_validate(
    message: Message, per_file: int, per_request: int, *, split_content: bool
) -> list[Violation]:
    """:func:`validate` without the fast path: the walk of every field, with the budgets."""
    c = Collector()
    _check_common(c, message, has_files=bool(message.attachments), split_content=split_content)
    upload = check_files(c, "attachments", message.attachments, per_file)
    check_references(c, message.embeds, message.attachments, "the message")
    flags = effective_flags(message.flags, message.components)
    if message.components:
        check_component_references(c, message.components, message.attachments, "the message")
    if flags is not None and flags >= 0 and flags & IS_COMPONENTS_V2:
        # A V2 message is one layout: it is never split, so its files go in one request.
        _check_request_totals(c, (), message.attachments, upload, per_request, label="attachments")
    return c.violations


def check(
    message: Message,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_request_bytes: int | None = None,
    split_content: bool = True,
) -> None:
    """Raise if ``message`` breaks a limit (see :func:`validate`).

    Raises:
        ValidationError: Listing every violation.
    """
    per_file, per_request = _budgets(max_upload_bytes, max_request_bytes)
    if plainly_valid(message, per_file, split_content=split_content):
        return  # on send_nowait's path: the one call most messages cost
    violations = full_validate(message, per_file, per_request, split_content=split_content)
    if violations:
        raise ValidationError(violations)


def _check_request_totals(
    c: Collector,
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
    planned: PlannedRequest,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_request_bytes: int | None = None,
) -> list[Violation]:
    """Every limit that one planned request breaks, per-request totals included.

    On top of :func:`validate`'s rules: at most 10 embeds, 6000 embed characters, 10
    files and ``max_request_bytes`` in all; every ``attachment://`` reference must name
    a file of this very request.

    Args:
        planned: A request from :func:`~trio_webhook._planning.plan_requests`.
        max_upload_bytes: The most bytes one file may upload.
        max_request_bytes: The most bytes the request may upload in all (``None``:
            ``max_upload_bytes``).

    Returns:
        The violations (paths name ``files[i]`` for the request's files).
    """
    per_file, per_request = _budgets(max_upload_bytes, max_request_bytes)
    c = Collector()
    _check_common(c, planned, has_files=bool(planned.files))
    upload = check_files(c, "files", planned.files, per_file)
    _check_request_totals(c, planned.embeds, planned.files, upload, per_request)
    check_references(c, planned.embeds, planned.files, "this request")
    if planned.components:
        check_component_references(c, planned.components, planned.files, "this request")
    return c.violations


def check_request(
    planned: PlannedRequest,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_request_bytes: int | None = None,
) -> None:
    """Raise if one planned request breaks a limit (see :func:`validate_request`).

    Raises:
        ValidationError: Listing every violation.
    """
    violations = validate_request(
        planned, max_upload_bytes=max_upload_bytes, max_request_bytes=max_request_bytes
    )
    if violations:
        raise ValidationError(violations)


def validate_edit(
    edit: MessageEdit | Message,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_request_bytes: int | None = None,
) -> list[Violation]:
    """Every limit an edit (``PATCH``) breaks; a ``Message`` is read by ``from_message``.

    One request: the per-request totals apply. The content, embeds, allowed mentions,
    flags (an edit may set only ``SUPPRESS_EMBEDS`` and ``IS_COMPONENTS_V2``) and
    components it sets are checked as for a message; at most 10 files remain after the
    edit, a kept attachment's id is a snowflake, its description and title within limits.
    A poll cannot be edited.

    Args:
        edit: The edit.
        max_upload_bytes: The most bytes one new file may upload.
        max_request_bytes: The most bytes of all new files (``None``: ``max_upload_bytes``).

    Returns:
        The violations.
    """
    poll = edit.poll if isinstance(edit, Message) else None  # refused below
    if isinstance(edit, Message):
        edit = MessageEdit.from_message(edit)
    per_file, per_request = _budgets(max_upload_bytes, max_request_bytes)
    # What the edit sets, as a message: the message's rules apply to it as they are.
    view = Message(
        content=edit.content if isinstance(edit.content, str) else None,
        embeds=() if edit.embeds is UNSET else edit.embeds,
        allowed_mentions=edit.allowed_mentions
        if isinstance(edit.allowed_mentions, AllowedMentions)
        else None,
        flags=edit.flags if isinstance(edit.flags, int) else None,
        components=() if edit.components is UNSET else edit.components,
        poll=poll,
        application_owned=edit.application_owned,
    )
    c = Collector()
    _check_common(c, view, has_files=bool(edit.new_files), edit=True)
    upload = check_edit_files(c, edit, per_file)
    # References are not checked: an edit may refer to attachments the message keeps.
    _check_request_totals(c, view.embeds, edit.new_files, upload, per_request, label="attachments")
    return c.violations
