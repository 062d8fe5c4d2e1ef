"""What an edit (``PATCH`` of a webhook message) changes: :class:`MessageEdit`.

An edit must tell "leave this as it is" from "set it to nothing": ``embeds=[]`` removes
every embed, while an edit that does not mention embeds leaves them. A
:class:`~trio_webhook.Message` cannot say that (its ``embeds`` default to ``()``), so an
edit has its own model whose fields default to :data:`UNSET`, a sentinel that is never
sent. ``Message`` still works for an edit (``MessageEdit.from_message`` reads it as
before: what it leaves empty is left as it is).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Final, Literal

import attrs

from trio_webhook._components import COMPONENT_NAMES, COMPONENT_TYPES, Component
from trio_webhook._models import AllowedMentions, Embed, FilePart, Message
from trio_webhook._validators import (
    as_tuple,
    opt_snowflake,
    v_bool,
    v_opt_bool,
    v_opt_str,
    v_str,
    v_tuple_of,
)

__all__ = ["UNSET", "KeepAttachment", "MessageEdit", "Unset"]


class Unset(enum.Enum):
    """The type of :data:`UNSET`."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = Unset.UNSET
"""Leave this field as it is on Discord (it is not sent)."""


@attrs.frozen
class KeepAttachment:
    """An existing attachment to keep on an edit, optionally re-described or spoilered.

    Discord removes the attachments an edit's list leaves out; since 2026-06 it also
    updates a kept one's ``description`` and ``is_spoiler`` (``title`` is in Discord's
    schema for attachment requests too). ``None`` leaves a field as it is.

    Example::

        KeepAttachment(sent.attachments[0].id, description="the nightly log", spoiler=True)
    """

    id: str = attrs.field(converter=opt_snowflake, validator=v_str)
    description: str | None = attrs.field(default=None, validator=v_opt_str)
    spoiler: bool | None = attrs.field(default=None, validator=v_opt_bool)
    title: str | None = attrs.field(default=None, validator=v_opt_str)

    def to_json(self) -> dict[str, Any]:
        """The attachment request object (``{"id", "description"?, "is_spoiler"?, ...}``)."""
        entry: dict[str, Any] = {"id": self.id}
        if self.description is not None:
            entry["description"] = self.description
        if self.spoiler is not None:
            entry["is_spoiler"] = self.spoiler
        if self.title is not None:
            entry["title"] = self.title
        return entry


def _embeds(values: Iterable[Embed] | Unset) -> tuple[Embed, ...] | Unset:
    return values if values is UNSET else as_tuple(values)


def _components(values: Iterable[Component] | Unset) -> tuple[Component, ...] | Unset:
    return values if values is UNSET else as_tuple(values)


def _attachments(
    values: Iterable[KeepAttachment | FilePart] | Unset,
) -> tuple[KeepAttachment | FilePart, ...] | Unset:
    return values if values is UNSET else as_tuple(values)


def _files(values: Iterable[FilePart]) -> tuple[FilePart, ...]:
    return as_tuple(values)


def _v_unset_or(inner: Any) -> Any:
    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if value is not UNSET:
            inner(inst, attr, value)

    return validate


def _v_optional_of(kind: type) -> Any:
    def validate(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, kind):
            raise TypeError(
                f"MessageEdit.{attr.name} must be {kind.__name__}, None or UNSET, "
                f"got {type(value).__name__}"
            )

    return validate


@attrs.frozen
class MessageEdit:
    """The changes of one edit; a field left :data:`UNSET` is left as it is.

    Attributes:
        content: The new text; ``None`` or ``""`` removes it.
        embeds: The embeds after the edit; ``[]`` removes them all.
        allowed_mentions: Which mentions in the new content may ping.
        flags: The message flags after the edit: Discord lets an edit set only
            ``SUPPRESS_EMBEDS`` (which it can also unset) and ``IS_COMPONENTS_V2`` (added
            for V2 components, and never removed).
        components: The components after the edit (:mod:`trio_webhook.components`),
            action rows or a Components V2 layout; ``[]`` removes them all. The edit is
            sent with ``?with_components=true`` when it sets some.
        attachments: The files after the edit, in order: a
            :class:`KeepAttachment` keeps an existing one (with new metadata if given),
            a :class:`~trio_webhook.FilePart` uploads a new one. Existing files not listed
            are removed; ``[]`` removes every file.
        add_files: New files appended after the others. With ``attachments`` left
            unset the existing files stay and no list is sent (Discord cannot take the
            new files' descriptions then).
        application_owned: Whether an application owns the webhook, which alone may send
            interactive components (as ``Message.application_owned``; not sent).

    Example::

        MessageEdit(
            content="build 43 passed",
            embeds=[],  # remove the embeds
            attachments=[KeepAttachment(log_id), FilePart("report.csv", data=csv)],
        )
    """

    content: str | Unset | None = attrs.field(
        default=UNSET, validator=_v_unset_or(_v_optional_of(str))
    )
    embeds: tuple[Embed, ...] | Unset = attrs.field(
        default=UNSET, converter=_embeds, validator=_v_unset_or(v_tuple_of(Embed, "Embed"))
    )
    allowed_mentions: AllowedMentions | Unset | None = attrs.field(
        default=UNSET, validator=_v_unset_or(_v_optional_of(AllowedMentions))
    )
    flags: int | Unset | None = attrs.field(
        default=UNSET, validator=_v_unset_or(_v_optional_of(int))
    )
    components: tuple[Component, ...] | Unset = attrs.field(
        default=UNSET,
        converter=_components,
        validator=_v_unset_or(v_tuple_of(COMPONENT_TYPES, COMPONENT_NAMES)),
    )
    attachments: tuple[KeepAttachment | FilePart, ...] | Unset = attrs.field(
        default=UNSET,
        converter=_attachments,
        validator=_v_unset_or(v_tuple_of((KeepAttachment, FilePart), "KeepAttachment or FilePart")),
    )
    add_files: tuple[FilePart, ...] = attrs.field(
        default=(), converter=_files, validator=v_tuple_of(FilePart, "FilePart")
    )
    application_owned: bool = attrs.field(default=False, validator=v_bool, kw_only=True)

    @property
    def with_components(self) -> bool:
        """Whether to edit with ``?with_components=true``: the edit sets components.

        ``components=[]`` too: without the parameter Discord ignores the field for a
        webhook no application owns, and would leave the components it means to remove.
        """
        return self.components is not UNSET

    @property
    def new_files(self) -> tuple[FilePart, ...]:
        """The files this edit uploads, in the order of their ``files[n]`` parts."""
        if self.attachments is UNSET:
            return self.add_files
        listed = tuple(a for a in self.attachments if isinstance(a, FilePart))
        return listed + self.add_files

    @classmethod
    def from_message(
        cls, message: Message, *, keep_attachments: Iterable[int | str] | None = None
    ) -> MessageEdit:
        """The edit a :class:`~trio_webhook.Message` has always meant.

        What the message leaves empty (``content`` ``None``, no embeds, no components, no
        allowed mentions, no flags) is left as it is; ``message.attachments`` are new
        files.

        Args:
            message: The new content; username, thread and forum fields are ignored.
            keep_attachments: Ids of the existing attachments to keep (the others are
                removed); ``None`` keeps them all and appends the new files.
        """
        files = message.attachments
        if keep_attachments is None:
            attachments: tuple[KeepAttachment | FilePart, ...] | Unset = UNSET
        else:
            attachments = (*(KeepAttachment(i) for i in keep_attachments), *files)
            files = ()
        return cls(
            content=UNSET if message.content is None else message.content,
            embeds=message.embeds or UNSET,
            allowed_mentions=UNSET
            if message.allowed_mentions is None
            else message.allowed_mentions,
            flags=UNSET if message.flags is None else message.flags,
            components=message.components or UNSET,
            attachments=attachments,
            add_files=files,
            application_owned=message.application_owned,
        )
