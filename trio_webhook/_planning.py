"""Turn one message into the ordered requests Discord will accept (pure).

A :class:`~trio_webhook.Message` may hold more than one request allows: more than 10
embeds, more than 6000 embed characters, more than 10 files or more bytes than one
upload. :func:`plan_requests` splits it, keeping order:

* content longer than one request allows is cut by
  :func:`~trio_webhook._content_split.split_content`; each piece is its own request, in
  order, and the embeds and files go with the last piece, so that they appear under the
  end of the text (``split_content=False`` refuses such content instead);
* the content (and ``tts``) goes with the first request;
* embeds are chunked greedily, in order, by count and characters;
* each file goes with the request whose embeds refer to it as ``attachment://name``,
  otherwise with the first request, and is never uploaded twice;
* files that do not fit (more than 10, or over the upload budget) spill into further
  requests that carry only files, after the others.

Components and the poll go with the first request (with the content), and so do the
files components show: a V1 message with components keeps them on one request, and a
Components V2 message (no content or embeds, at most 10 files: the checks say so) is
one request, never split.

Embeds that refer to the same file must share a request (an upload belongs to one
message). The chunker only cuts between embeds where no shared file spans the cut; if
that cannot satisfy the limits a :class:`~trio_webhook.ValidationError` says which
embeds to change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import attrs

from trio_webhook._attachments import ATTACHMENT_SCHEME, file_names
from trio_webhook._component_tree import media_urls
from trio_webhook._components import Component
from trio_webhook._content_split import split_content
from trio_webhook._errors import ValidationError, Violation
from trio_webhook._limit_values import (
    CONTENT_MAX,
    DEFAULT_MAX_UPLOAD_BYTES,
    EMBED_TOTAL_CHARS,
    EMBEDS_PER_REQUEST,
    FILES_PER_REQUEST,
)
from trio_webhook._limits import check, embed_length
from trio_webhook._models import (
    Embed,
    FilePart,
    Message,
    PlannedRequest,
    request_fields,
    whole_request,
)

__all__ = ["chunk_embeds", "embed_length", "plan_checked", "plan_requests"]


def _chunk(
    embeds: Sequence[Embed],
    *,
    max_per: int,
    max_chars: int,
    can_cut_after: Callable[[int], bool],
    fits_extra: Callable[[int, int], bool],
) -> list[tuple[int, int]]:
    """Greedy contiguous chunks as ``[start, end)`` ranges.

    A chunk grows while it fits; it ends at the last position where a cut is allowed.
    ``fits_extra(start, end)`` adds the caller's own constraint (the files a chunk
    needs).
    """
    lengths = [embed_length(e) for e in embeds]
    for i, n in enumerate(lengths):
        if n > max_chars:
            raise ValidationError(
                [
                    Violation(
                        f"embeds[{i}]",
                        max_chars,
                        n,
                        f"embed has {n} characters, at most {max_chars} fit in one request; "
                        "split it into several embeds",
                    )
                ]
            )
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < len(embeds):
        chars = 0
        good_end: int | None = None
        end = start
        while end < len(embeds):
            chars += lengths[end]
            if end - start + 1 > max_per or chars > max_chars or not fits_extra(start, end + 1):
                break
            end += 1
            if end == len(embeds) or can_cut_after(end - 1):
                good_end = end
        if good_end is None:
            raise ValidationError([_no_cut_violation(start, end, max_per, max_chars)])
        ranges.append((start, good_end))
        start = good_end
    return ranges


def _no_cut_violation(start: int, end: int, max_per: int, max_chars: int) -> Violation:
    if end == start:
        return Violation(
            f"embeds[{start}]",
            FILES_PER_REQUEST,
            0,
            f"the files embeds[{start}] refers to as attachment:// do not fit in one request "
            f"({FILES_PER_REQUEST} files and the upload budget); refer to fewer or smaller "
            "files",
        )
    return Violation(
        f"embeds[{start}]",
        max_per,
        end - start + 1,
        f"embeds[{start}] to embeds[{end}] refer to the same attachment:// files, so they "
        f"must go in one request, but more than {max_per} embeds, {max_chars} characters, "
        f"{FILES_PER_REQUEST} files or the upload budget do not fit in one; refer to each "
        "file from nearby embeds only, or attach a copy under another name",
    )


def chunk_embeds(
    embeds: Sequence[Embed],
    max_per: int = EMBEDS_PER_REQUEST,
    max_chars: int = EMBED_TOTAL_CHARS,
) -> list[tuple[Embed, ...]]:
    """Split embeds into contiguous chunks that each fit one request, keeping order.

    Greedy: each chunk takes as many embeds as fit within ``max_per`` embeds and
    ``max_chars`` characters (counted by :func:`embed_length`).

    Args:
        embeds: The embeds, in order.
        max_per: The most embeds in one chunk.
        max_chars: The most characters in one chunk.

    Returns:
        The chunks; ``[]`` for no embeds, otherwise none is empty.

    Raises:
        ValidationError: An embed alone has more than ``max_chars`` characters.

    Example::

        chunk_embeds([Embed(title="x")] * 25)  # chunks of 10, 10 and 5
    """
    ranges = _chunk(
        embeds,
        max_per=max_per,
        max_chars=max_chars,
        can_cut_after=lambda _: True,
        fits_extra=lambda _s, _e: True,
    )
    return [tuple(embeds[s:e]) for s, e in ranges]


def _references(
    embeds: Sequence[Embed], files: Sequence[FilePart], components: Sequence[Component] = ()
) -> tuple[list[frozenset[int]], frozenset[int]]:
    """For each embed, the indices of the files its ``attachment://`` URLs name.

    Also the files the components show (they go with the first request).
    """
    by_name: dict[str, set[int]] = {}
    for i, part in enumerate(files):
        for name in file_names(part):
            by_name.setdefault(name, set()).add(i)

    def named(urls: Iterable[str]) -> frozenset[int]:
        found: set[int] = set()
        for url in urls:
            if url.startswith(ATTACHMENT_SCHEME):
                found |= by_name.get(url[len(ATTACHMENT_SCHEME) :], set())
        return frozenset(found)

    refs = [named(embed.media_urls()) for embed in embeds]
    return refs, named(url for _, url in media_urls(components))


def plan_requests(
    message: Message,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_request_bytes: int | None = None,
    split_content: bool = True,
) -> tuple[PlannedRequest, ...]:
    """Plan the requests that deliver ``message``, in the order to send them.

    Args:
        message: The message to deliver.
        max_upload_bytes: The most bytes one file may upload.
        max_request_bytes: The most bytes all files of one request may upload
            (``None``: ``max_upload_bytes``, the most cautious reading).
        split_content: Cut content over 2000 characters into several messages
            (``False``: such content is a violation).

    Returns:
        At least one request; every one passes
        :func:`~trio_webhook._limits.validate_request`.

    Raises:
        ValidationError: The message breaks a limit (every violation is listed), or
            embeds that refer to the same file cannot share one request.
    """
    check(
        message,
        max_upload_bytes=max_upload_bytes,
        max_request_bytes=max_request_bytes,
        split_content=split_content,
    )
    return plan_checked(
        message,
        max_upload_bytes=max_upload_bytes,
        max_request_bytes=max_request_bytes,
        split_content=split_content,
    )


def plan_checked(
    message: Message,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_request_bytes: int | None = None,
    split_content: bool = True,
) -> tuple[PlannedRequest, ...]:
    """:func:`plan_requests` for a message that already passed ``check``.

    The sender checks each message when it is enqueued (so a bad one is refused to the
    producer, not dead-lettered); checking again for every delivery would double that cost.
    """
    if split_content and message.content is not None and len(message.content) > CONTENT_MAX:
        return _plan_long_content(message, message.content, max_upload_bytes, max_request_bytes)
    embeds = message.embeds
    if (
        not message.attachments
        and len(embeds) <= EMBEDS_PER_REQUEST
        and sum(map(embed_length, embeds)) <= EMBED_TOTAL_CHARS
    ):
        # The common message: one request, nothing to place. Built directly, since
        # the general path below costs about three times as much.
        return (whole_request(message),)
    files = message.attachments
    sizes = [f.size() for f in files]
    refs, first_needs = _references(embeds, files, message.components)
    budget = max_upload_bytes if max_request_bytes is None else max_request_bytes
    ranges = _chunk_keeping_references(embeds, refs, sizes, budget, first_needs)
    placed = [sorted(set().union(*refs[start:end])) for start, end in ranges]
    placed[0] = sorted(first_needs.union(placed[0]))
    referenced = set(first_needs.union(*refs))
    placed[0], spill = _place_unreferenced(placed[0], referenced, sizes, budget)
    requests = [
        PlannedRequest(
            index=n,
            embeds=embeds[start:end],
            files=tuple([files[i] for i in placed[n]]),
            **request_fields(message, first=n == 0),
        )
        for n, (start, end) in enumerate(ranges)
    ]
    for extra in spill:
        requests.append(
            PlannedRequest(
                index=len(requests),
                files=tuple([files[i] for i in extra]),
                **request_fields(message, first=False),
            )
        )
    return tuple(requests)


def _plan_long_content(
    message: Message, content: str, max_upload_bytes: int, max_request_bytes: int | None
) -> tuple[PlannedRequest, ...]:
    """Content over the limit: each piece its own request, the rest with the last piece.

    The embeds and files follow the text they belong under, as one long post would
    show them. ``request_fields`` decides what every request repeats; the first-only
    fields (``tts``, a forum post's name and tags) go with the first piece.
    """
    pieces = split_content(content)
    lead = []
    for n, piece in enumerate(pieces[:-1]):
        fields = request_fields(message, first=n == 0)
        fields["content"] = piece
        # Components and a poll sit under the whole text, with the embeds.
        fields["components"], fields["poll"] = (), None
        lead.append(PlannedRequest(index=n, **fields))
    fields = request_fields(message, first=not lead)
    fields["content"] = pieces[-1] if pieces else None  # None: only whitespace was left
    fields["components"], fields["poll"] = message.components, message.poll
    rest = plan_checked(
        attrs.evolve(message, **fields),
        max_upload_bytes=max_upload_bytes,
        max_request_bytes=max_request_bytes,
        split_content=False,
    )
    return (*lead, *(attrs.evolve(r, index=r.index + len(lead)) for r in rest))


def _chunk_keeping_references(
    embeds: Sequence[Embed],
    refs: Sequence[frozenset[int]],
    sizes: Sequence[int],
    max_upload_bytes: int,
    first_needs: frozenset[int] = frozenset(),
) -> list[tuple[int, int]]:
    """Chunk ``embeds`` so that each chunk's referenced files fit its request.

    ``first_needs`` are files the first request carries whatever its embeds (the ones
    components show): an embed that shows one of them too must go in the first request.

    Returns:
        The ``[start, end)`` ranges; one empty range when there are no embeds, so the
        files still have a first request to go with.
    """
    # A cut between embeds i and i+1 may not separate two embeds that use one file.
    last_use: dict[int, int] = {}
    first_use: dict[int, int] = {}
    for f in first_needs:
        first_use[f] = last_use[f] = 0
    for i, used in enumerate(refs):
        for f in used:
            first_use.setdefault(f, i)
            last_use[f] = i
    blocked: set[int] = set()
    for f, used_from in first_use.items():
        blocked.update(range(used_from, last_use[f]))

    def fits_files(start: int, end: int) -> bool:
        needed: set[int] = set().union(*refs[start:end])
        if start == 0:
            needed |= first_needs
        return (
            len(needed) <= FILES_PER_REQUEST and sum(sizes[i] for i in needed) <= max_upload_bytes
        )

    ranges = _chunk(
        embeds,
        max_per=EMBEDS_PER_REQUEST,
        max_chars=EMBED_TOTAL_CHARS,
        can_cut_after=lambda i: i not in blocked,
        fits_extra=fits_files,
    )
    return ranges or [(0, 0)]


def _place_unreferenced(
    first: list[int], referenced: set[int], sizes: Sequence[int], max_upload_bytes: int
) -> tuple[list[int], list[list[int]]]:
    """Place the files no embed refers to, keeping file order.

    They fill the first request (which holds ``first``), then spill in order into
    file-only requests after the others.

    Returns:
        The first request's files (sorted) and the file-only requests' files.
    """
    first = list(first)
    spill: list[list[int]] = []
    first_bytes = sum(sizes[i] for i in first)
    overflowed = False
    for i in range(len(sizes)):
        if i in referenced:
            continue
        if (
            not overflowed
            and len(first) < FILES_PER_REQUEST
            and first_bytes + sizes[i] <= max_upload_bytes
        ):
            first.append(i)
            first_bytes += sizes[i]
            continue
        overflowed = True  # keep file order: nothing after a spilled file goes first
        if (
            not spill
            or len(spill[-1]) >= FILES_PER_REQUEST
            or sum(sizes[j] for j in spill[-1]) + sizes[i] > max_upload_bytes
        ):
            spill.append([])
        spill[-1].append(i)
    return sorted(first), spill
