"""A poll to send with a message (attrs, frozen), and its JSON shape.

Discord's *Poll Create Request* (OpenAPI ``PollCreateRequest``; docs: resources/poll):
a question, 1 to 10 answers (text and an optional emoji), a duration in hours (1 to
768, 24 when left out), whether several answers may be chosen, and a layout. A poll
cannot be edited, and a Components V2 message cannot carry one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from trio_webhook._components import Emoji
from trio_webhook._validators import as_tuple, v_opt_bool, v_opt_int, v_optional, v_str, v_tuple_of

__all__ = ["Poll", "PollAnswer", "PollLayout", "poll_json"]


class PollLayout(enum.IntEnum):
    """A poll's layout (OpenAPI PollLayoutTypes: only ``DEFAULT`` exists)."""

    DEFAULT = 1


@attrs.frozen
class PollAnswer:
    """One answer of a :class:`Poll`: its text and an optional emoji.

    Example:
        ``PollAnswer("Sushi", emoji=Emoji("🍣"))``
    """

    text: str = attrs.field(validator=v_str)
    emoji: Emoji | None = attrs.field(default=None, validator=v_optional(Emoji))


def _answers(values: Iterable[PollAnswer | str]) -> tuple[PollAnswer, ...]:
    items = as_tuple(values)
    if type(items) is not tuple:
        return items  # type: ignore[return-value]  # the validator names the field
    # Plain strings are the usual answers: Poll("Lunch?", ["Pizza", "Sushi"]).
    return tuple(PollAnswer(a) if isinstance(a, str) else a for a in items)


@attrs.frozen
class Poll:
    """A poll attached to a message.

    Example::

        Poll("Deploy on Friday?", ["yes", PollAnswer("no", emoji=Emoji("🙅"))], duration=4)
    """

    question: str = attrs.field(validator=v_str)
    answers: tuple[PollAnswer, ...] = attrs.field(
        converter=_answers, validator=v_tuple_of(PollAnswer, "PollAnswer or str")
    )
    duration: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)
    """Hours the poll stays open (Discord's default: 24)."""
    allow_multiselect: bool | None = attrs.field(default=None, kw_only=True, validator=v_opt_bool)
    layout_type: int | None = attrs.field(default=None, kw_only=True, validator=v_opt_int)


def poll_json(poll: Poll, unstructure: Callable[[Any], Any]) -> dict[str, Any]:
    """The poll as Discord's JSON (``question`` and each answer are *poll media* objects)."""
    answers = []
    for answer in poll.answers:
        media: dict[str, Any] = {"text": answer.text}
        if answer.emoji is not None:
            media["emoji"] = unstructure(answer.emoji)
        answers.append({"poll_media": media})
    out: dict[str, Any] = {"question": {"text": poll.question}, "answers": answers}
    for key in ("duration", "allow_multiselect", "layout_type"):
        value = getattr(poll, key)
        if value is not None:
            out[key] = int(value) if key == "layout_type" else value
    return out
