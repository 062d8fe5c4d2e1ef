"""Hypothesis strategies that build valid trio-webhook models, for property tests.

Every value drawn passes :func:`trio_webhook._limits.validate`. Messages may still be
larger than one request allows (up to ~30 embeds and ~25 files), which is what the
planner splits. Long texts are built by repetition, so near-limit values stay cheap to
draw.

Components (V1 rows and Components V2), polls and flags: :func:`rich_messages`,
:func:`components_v2`, :func:`action_rows`, :func:`polls`, :func:`message_flags`.

Example::

    from hypothesis import given
    from trio_webhook.testing.strategies import messages

    @given(messages())
    def test_my_formatter_accepts_anything(message): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from trio_webhook._component_tree import MessageFlags
from trio_webhook._edits import UNSET, KeepAttachment, MessageEdit
from trio_webhook._embed_checks import embed_length
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
from trio_webhook.testing._component_strategies import (
    action_rows,
    components_v2,
    message_flags,
    polls,
    with_component_ids,
)
from trio_webhook.testing._texts import draw_text

__all__ = [
    "action_rows",
    "allowed_mentions",
    "components_v2",
    "embed_fields",
    "embeds",
    "file_parts",
    "keep_attachments",
    "message_edits",
    "message_flags",
    "messages",
    "polls",
    "rich_messages",
    "snowflakes",
    "texts",
]

_EMBED_BUDGET = 6000


@st.composite
def texts(draw: st.DrawFn, max_size: int, *, required: bool = False) -> str:
    """Text of at most ``max_size`` characters: short, near the limit, padded or unicode.

    Args:
        draw: Supplied by hypothesis.
        max_size: The most characters.
        required: Whether the text must hold a non-whitespace character.
    """
    return draw_text(draw, max_size, required)


def snowflakes() -> st.SearchStrategy[str]:
    """Discord ids as strings (decimal, no leading zeros)."""
    return st.integers(1, 2**63 - 1).map(str)


@st.composite
def embed_fields(draw: st.DrawFn, *, budget: int = _EMBED_BUDGET) -> EmbedField:
    """Valid embed fields whose name and value hold at most ``budget`` characters together.

    Args:
        draw: Supplied by hypothesis.
        budget: The characters left in the embed (at least 2).
    """
    name = draw_text(draw, min(256, budget - 1), True)
    value = draw_text(draw, min(1024, budget - len(name)), True)
    return EmbedField(name, value, draw(_INLINE))


_INLINE = st.none() | st.booleans()


def _media(names: Sequence[str]) -> st.SearchStrategy[str]:
    web = st.sampled_from(["https://example.com/a.png", "https://cdn.example.org/x/y.gif"])
    if not names:
        return web
    return web | st.sampled_from([f"attachment://{n}" for n in names])


_FIELD_COUNT = st.integers(0, 3) | st.integers(0, 25)


@st.composite
def embeds(draw: st.DrawFn, attachment_names: Sequence[str] = ()) -> Embed:
    """Valid embeds, from empty to near every limit, with whitespace and unicode.

    The counted characters stay within 6000, so each embed fits one request alone.

    Args:
        draw: Supplied by hypothesis.
        attachment_names: Filenames that image, thumbnail and icon URLs may refer to as
            ``attachment://name``; empty for web URLs only.
    """
    budget = _EMBED_BUDGET

    def spend(limit: int, *, required: bool = False) -> str:
        nonlocal budget
        value = draw_text(draw, min(limit, budget), required)
        budget -= len(value)
        return value

    media = _media(attachment_names)
    title = spend(256) if draw(st.booleans()) else None
    description = spend(4096) if draw(st.booleans()) else None
    fields = []
    for _ in range(draw(_FIELD_COUNT)):
        if budget < 2:
            break
        field = draw(embed_fields(budget=budget))
        budget -= len(field.name) + len(field.value)
        fields.append(field)
    footer = None
    if budget >= 1 and draw(st.booleans()):
        footer = EmbedFooter(spend(2048, required=True), icon_url=draw(st.none() | media))
    author = None
    if budget >= 1 and draw(st.booleans()):
        author = EmbedAuthor(
            spend(256, required=True),
            url=draw(st.none() | st.just("https://example.com/me")),
            icon_url=draw(st.none() | media),
        )
    return Embed(
        title=title,
        description=description,
        url=draw(st.none() | st.just("https://example.com/build/42")),
        color=draw(st.none() | st.integers(0, 0xFFFFFF)),
        footer=footer,
        image=draw(st.none() | media.map(EmbedMedia)),
        thumbnail=draw(st.none() | media.map(EmbedMedia)),
        author=author,
        fields=fields,
    )


_STEMS = st.sampled_from(["report", "build log", "badge", 'a"\r\nX: y', "../../etc/passwd", "é"])
_EXTS = st.sampled_from(["png", "txt", "gif", "json", "bin"])


@st.composite
def file_parts(draw: st.DrawFn, *, index: int | None = None, max_bytes: int = 64) -> FilePart:
    """Valid in-memory files of up to ``max_bytes`` bytes, some with hostile names.

    Args:
        draw: Supplied by hypothesis.
        index: A number put in the filename so that files of one message differ.
        max_bytes: The most bytes of data.
    """
    suffix = "" if index is None else f"-{index}"
    name = f"{draw(_STEMS)}{suffix}.{draw(_EXTS)}"
    return FilePart(
        name,
        data=draw(st.binary(max_size=max_bytes)),
        description=draw(st.none() | texts(1024)),
        spoiler=draw(st.booleans()),
    )


@st.composite
def allowed_mentions(draw: st.DrawFn) -> AllowedMentions:
    """Valid ``allowed_mentions``: never a type both parsed and listed."""
    parse = draw(st.none() | st.lists(st.sampled_from(["users", "roles", "everyone"]), unique=True))
    parsed = set(parse or ())
    ids = st.lists(snowflakes(), max_size=5, unique=True)
    users = None if "users" in parsed else draw(st.none() | ids)
    roles = None if "roles" in parsed else draw(st.none() | ids)
    return AllowedMentions(
        parse=parse, users=users, roles=roles, replied_user=draw(st.none() | st.booleans())
    )


def _username(name: str) -> bool:
    lowered = name.lower()
    return bool(name.strip()) and "discord" not in lowered and "clyde" not in lowered


_REFERS = st.integers(0, 2).map(lambda n: n == 0)


@st.composite
def messages(
    draw: st.DrawFn, *, max_embeds: int = 30, max_files: int = 25, max_file_bytes: int = 64
) -> Message:
    """Valid messages, often larger than one request (more embeds, files or characters).

    Some embeds refer to files of the message as ``attachment://name`` (by the name as
    given or as uploaded); each file is referred to by at most one embed, so that every
    message drawn can be planned.

    Args:
        draw: Supplied by hypothesis.
        max_embeds: The most embeds.
        max_files: The most files.
        max_file_bytes: The most bytes of each file.
    """
    files = [
        draw(file_parts(index=i, max_bytes=max_file_bytes))
        for i in range(draw(st.integers(0, 3) | st.integers(0, max_files)))
    ]
    unclaimed = list(range(len(files)))
    drawn_embeds = []
    for _ in range(draw(st.integers(0, 3) | st.integers(0, max_embeds))):
        names: list[str] = []
        refers: bool = bool(unclaimed) and draw(_REFERS)
        if refers:
            f = files[unclaimed.pop(draw(st.integers(0, len(unclaimed) - 1)))]
            names.append(draw(st.sampled_from([f.filename, f.upload_name])))
        drawn_embeds.append(draw(embeds(names)))
    content = draw(st.none() | texts(2000))
    if not drawn_embeds and not files and not (content and content.strip()):
        content = draw(texts(2000, required=True))
    thread_id = thread_name = applied_tags = None
    where = draw(st.sampled_from(["channel", "thread", "forum"]))
    if where == "thread":
        thread_id = draw(snowflakes())
    elif where == "forum":
        thread_name = draw(texts(100, required=True))
        applied_tags = draw(st.none() | st.lists(snowflakes(), max_size=5, unique=True))
    return Message(
        content=content,
        username=draw(st.none() | texts(80, required=True).filter(_username)),
        avatar_url=draw(st.none() | st.just("https://example.com/avatar.png")),
        tts=draw(st.none() | st.booleans()),
        embeds=drawn_embeds,
        attachments=files,
        allowed_mentions=draw(st.none() | allowed_mentions()),
        flags=draw(st.none() | st.sampled_from([0, 4, 4096, 4100])),
        thread_id=thread_id,
        thread_name=thread_name,
        applied_tags=applied_tags,
    )


@st.composite
def keep_attachments(draw: st.DrawFn) -> KeepAttachment:
    """Kept attachments: a snowflake, sometimes a new description, title or spoiler."""
    return KeepAttachment(
        draw(snowflakes()),
        description=draw(st.none() | texts(1024)),
        spoiler=draw(st.none() | st.booleans()),
        title=draw(st.none() | texts(1024)),
    )


@st.composite
def message_edits(draw: st.DrawFn, *, max_file_bytes: int = 64) -> MessageEdit:
    """Valid edits: each field unset, cleared (``None`` or ``[]``) or set.

    Components are link-button rows (:func:`components_v2` draws layouts, which cannot
    go with content or embeds).

    At most 10 embeds and 10 files after the edit (kept and new), ids unique.
    """
    content = draw(st.just(UNSET) | st.none() | texts(2000))
    embed_list = draw(st.just(UNSET) | st.lists(embeds(), max_size=3))
    if embed_list is not UNSET and sum(embed_length(e) for e in embed_list) > _EMBED_BUDGET:
        embed_list = embed_list[:1]
    kept = draw(st.lists(keep_attachments(), max_size=4, unique_by=lambda k: k.id))
    new = [
        draw(file_parts(index=i, max_bytes=max_file_bytes)) for i in range(draw(st.integers(0, 3)))
    ]
    listed: list[KeepAttachment | FilePart] = draw(st.permutations([*kept, *new]))
    attachments = draw(st.just(UNSET) | st.just(listed))
    return MessageEdit(
        content=content,
        embeds=embed_list,
        allowed_mentions=draw(st.just(UNSET) | st.none() | allowed_mentions()),
        flags=draw(st.just(UNSET) | st.none() | st.sampled_from([0, 4])),
        components=draw(st.just(UNSET) | st.lists(action_rows(), max_size=5)),
        attachments=attachments,
        add_files=[] if attachments is not UNSET else new,
    )


@st.composite
def rich_messages(draw: st.DrawFn) -> Message:
    """Valid messages with components or a poll: Components V2, V1 rows, polls.

    A V2 message shows some of its files through its components (by the name as given
    or as uploaded) and fits one request; a V1 message may also be split by its embeds.
    """
    owned = draw(st.booleans())
    kind = draw(st.sampled_from(["v2", "v1", "poll", "v1+poll"]))
    if kind == "v2":
        files: list[FilePart] = [draw(file_parts(index=i)) for i in range(draw(st.integers(0, 4)))]
        names = [n for f in files for n in (f.filename, f.upload_name)]
        flags = draw(message_flags())
        if draw(st.booleans()):
            flags = int(flags or 0) | MessageFlags.IS_COMPONENTS_V2
        return Message(
            components=with_component_ids(draw, draw(components_v2(names, interactive=owned))),
            attachments=files,
            flags=flags,
            application_owned=owned,
        )
    base = draw(messages(max_embeds=12, max_files=12))
    changes: dict[str, Any] = {"application_owned": owned, "flags": draw(message_flags())}
    if kind.startswith("v1"):
        rows = draw(st.integers(1, 5))
        drawn = [draw(action_rows(interactive=owned)) for _ in range(rows)]
        changes["components"] = with_component_ids(draw, drawn)
    if kind.endswith("poll"):
        changes["poll"] = draw(polls())
    return attrs.evolve(base, **changes)
