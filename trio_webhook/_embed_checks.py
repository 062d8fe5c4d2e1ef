"""The checks of one embed, and of the ``attachment://`` references embeds make (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trio_webhook._attachments import ATTACHMENT_SCHEME, file_names
from trio_webhook._checks import Collector
from trio_webhook._limit_values import (
    AUTHOR_NAME_MAX,
    COLOR_MAX,
    EMBED_DESCRIPTION_MAX,
    EMBED_FIELDS_MAX,
    EMBED_TITLE_MAX,
    EMBED_TOTAL_CHARS,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FOOTER_TEXT_MAX,
    URL_MAX,
)
from trio_webhook._models import Embed, FilePart

__all__ = ["check_embed", "check_references", "check_upload_refs", "embed_length"]


def embed_length(embed: Embed) -> int:
    """The characters of ``embed`` that count towards the 6000 of a request.

    Discord sums the title, description, field names and values, footer text and author
    name, each with leading and trailing whitespace trimmed.
    """
    title, description = embed.title, embed.description
    if not embed.fields and embed.footer is None and embed.author is None:
        # The commonest embed (a title, a description): no list, no generator.
        return (0 if title is None else len(title.strip())) + (
            0 if description is None else len(description.strip())
        )
    parts: list[str | None] = [title, description]
    for f in embed.fields:
        parts.append(f.name)
        parts.append(f.value)
    if embed.footer is not None:
        parts.append(embed.footer.text)
    if embed.author is not None:
        parts.append(embed.author.name)
    return sum(len(p.strip()) for p in parts if p is not None)


def check_embed(c: Collector, path: str, embed: Embed) -> None:
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


def check_references(
    c: Collector, embeds: Sequence[Embed], files: Sequence[FilePart], where: str
) -> None:
    found = [pair for i, e in enumerate(embeds) for pair in _media_paths(f"embeds[{i}]", e)]
    check_upload_refs(c, found, files, where, "refers to")


def check_upload_refs(
    c: Collector, found: Iterable[tuple[str, str]], files: Sequence[FilePart], where: str, verb: str
) -> None:
    """Each ``(path, url)`` of ``found`` that is ``attachment://name`` must name a file."""
    names: set[str] | None = None  # built only when a URL refers to an upload
    for path, url in found:
        if not url.startswith(ATTACHMENT_SCHEME):
            continue
        if names is None:
            names = set().union(*(file_names(part) for part in files))
        if url[len(ATTACHMENT_SCHEME) :] not in names:
            c.add(
                path,
                1,
                0,
                f"{verb} {url} but no file of {where} has that name; attach the file "
                "or correct the name",
            )
