"""What the fake checks in a payload's components and poll, and how it stores them.

Written from Discord's component reference, its poll resource and the OpenAPI
schemas, independently of the library's checks (the fake is the project's oracle).
What Discord documents: a webhook no application owns ignores ``components`` unless
the request says ``?with_components=true`` and may then send non-interactive ones
only; ``IS_COMPONENTS_V2`` forbids ``content``, ``embeds``, ``poll`` and ``stickers``,
allows 40 components counted through nesting and 4000 characters of text displays.
A component's ``id`` is a 32-bit integer "unique within the message"; one that is absent
or 0 is numbered by Discord, in tree order from 1, skipping the ids given.
Where Discord does not document the error code of a refusal, the code here is the
fake's own; the answer's shape (400, code 50035, the ``errors`` tree) is Discord's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from trio_webhook.testing._fake._http import ErrorTree

__all__ = [
    "IS_COMPONENTS_V2",
    "accepted_components",
    "stored_components",
    "stored_poll",
    "validate_components",
    "validate_poll",
]

IS_COMPONENTS_V2: Final = 1 << 15
_MAX_TOTAL: Final = 40
_MAX_TEXT: Final = 4000
_MAX_ROWS: Final = 5
_MAX_ROW_ITEMS: Final = 5
_MAX_LABEL: Final = 80
_MAX_BUTTON_URL: Final = 512
_MAX_CUSTOM_ID: Final = 100
_MAX_GALLERY: Final = 10
_MAX_SECTION_TEXTS: Final = 3
_MAX_QUESTION: Final = 300
_MAX_ANSWER: Final = 55
_MAX_ANSWERS: Final = 10
_MAX_HOURS: Final = 768
_MAX_ID: Final = 2**31 - 1
_MAX_DEFAULTS: Final = 25
_DEFAULT_TYPES: Final = {5: {"user"}, 6: {"role"}, 7: {"user", "role"}, 8: {"channel"}}
_SELECTS: Final = frozenset({3, 5, 6, 7, 8})
_TOP_V2: Final = frozenset({1, 9, 10, 12, 13, 14, 17})
_IN_CONTAINER: Final = frozenset({1, 9, 10, 12, 13, 14})
_LEGACY: Final = "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"
_ATTACHMENT: Final = "attachment://"

Path = tuple[str | int, ...]


def accepted_components(
    payload: Mapping[str, Any], *, with_components: bool, application_owned: bool
) -> Mapping[str, Any]:
    """The payload as Discord reads it: without ``components`` when it ignores them."""
    if "components" not in payload or with_components or application_owned:
        return payload
    return {k: v for k, v in payload.items() if k != "components"}


def _is_v2(payload: Mapping[str, Any]) -> bool:
    flags = payload.get("flags")
    return isinstance(flags, int) and bool(flags & IS_COMPONENTS_V2)


def _walk(components: Any) -> Iterator[dict[str, Any]]:
    return (component for _, component in _walk_paths(components, ()))


def validate_components(
    payload: Mapping[str, Any], tree: ErrorTree, upload_names: set[str], *, application_owned: bool
) -> None:
    """Record every component rule the payload breaks in ``tree``."""
    v2 = _is_v2(payload)
    if v2:
        for key in ("content", "embeds", "poll", "stickers"):
            if payload.get(key) not in (None, "", []):
                message = (
                    f"The '{key}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2"
                )
                tree.add((key,), _LEGACY, message)
    components = payload.get("components")
    if components is None:
        return
    if not isinstance(components, list):
        tree.add(("components",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if v2:
        if sum(1 for _ in _walk(components)) > _MAX_TOTAL:
            tree.max_length(("components",), _MAX_TOTAL)
        text = sum(len(c.get("content") or "") for c in _walk(components) if c.get("type") == 10)
        if text > _MAX_TEXT:
            message = f"Total text display length must be {_MAX_TEXT} or fewer characters."
            tree.add(("components",), "COMPONENT_TEXT_LENGTH_EXCEEDED", message)
    elif len(components) > _MAX_ROWS:
        tree.max_length(("components",), _MAX_ROWS)
    rules = _Rules(tree, upload_names, application_owned)
    for i, component in enumerate(components):
        rules.component(component, ("components", i), _TOP_V2 if v2 else frozenset({1}))
    _validate_ids(components, tree)


def _validate_ids(components: list[Any], tree: ErrorTree) -> None:
    seen: set[int] = set()
    for path, component in _walk_paths(components, ("components",)):
        given = component.get("id")
        if given is None:
            continue
        if not isinstance(given, int) or isinstance(given, bool) or not 0 <= given <= _MAX_ID:
            tree.add((*path, "id"), "NUMBER_TYPE_MAX", f"int value must be 0 to {_MAX_ID}")
        elif given in seen:
            # The code is the fake's own: Discord documents the rule, not its error.
            tree.add((*path, "id"), "COMPONENT_ID_DUPLICATED", f"Duplicate component id {given}.")
        elif given:
            seen.add(given)


def _walk_paths(components: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for i, component in enumerate(components if isinstance(components, list) else ()):
        if not isinstance(component, dict):
            continue
        here = (*path, i)
        yield here, component
        yield from _walk_paths(component.get("components"), (*here, "components"))
        if isinstance(component.get("accessory"), dict):
            yield (*here, "accessory"), component["accessory"]


class _Rules:
    def __init__(self, tree: ErrorTree, upload_names: set[str], application_owned: bool) -> None:
        self.tree = tree
        self.upload_names = upload_names
        self.application_owned = application_owned

    def component(self, component: Any, path: Path, allowed: frozenset[int]) -> None:
        if not isinstance(component, dict):
            self.tree.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
            return
        kind = component.get("type")
        if kind not in allowed:
            choices = ", ".join(str(k) for k in sorted(allowed))
            message = f'Value of field "type" must be one of ({choices}).'
            self.tree.add((*path, "type"), "UNION_TYPE_CHOICES", message)
            return
        if kind == 1:
            self._row(component, path)
        elif kind == 2:
            self._button(component, path)
        elif kind in _SELECTS:
            self._interactive(path)
            self._text((*path, "custom_id"), component.get("custom_id"), 1, _MAX_CUSTOM_ID)
            if kind in _DEFAULT_TYPES:
                self._defaults(component, path, _DEFAULT_TYPES[kind])
        elif kind == 9:
            self._children(component, path, frozenset({10}), _MAX_SECTION_TEXTS)
            accessory = component.get("accessory")
            self.component(accessory, (*path, "accessory"), frozenset({2, 11}))
        elif kind == 10:
            self._text((*path, "content"), component.get("content"), 1, _MAX_TEXT)
        elif kind == 11:
            self._media(component.get("media"), (*path, "media"))
        elif kind == 12:
            self._gallery(component, path)
        elif kind == 13:
            self._file(component.get("file"), (*path, "file"))
        elif kind == 17:
            self._children(component, path, _IN_CONTAINER, _MAX_TOTAL)
            color = component.get("accent_color")
            if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
                self.tree.add((*path, "accent_color"), "NUMBER_TYPE_MAX", "int value out of range")

    def _children(
        self, component: dict[str, Any], path: Path, allowed: frozenset[int], limit: int
    ) -> None:
        children = component.get("components")
        if not isinstance(children, list) or not 1 <= len(children) <= limit:
            self.tree.add((*path, "components"), "BASE_TYPE_BAD_LENGTH", _between(1, limit))
            return
        for j, child in enumerate(children):
            self.component(child, (*path, "components", j), allowed)

    def _row(self, row: dict[str, Any], path: Path) -> None:
        items = row.get("components")
        types = (
            [c.get("type") for c in items if isinstance(c, dict)] if isinstance(items, list) else []
        )
        if any(t in _SELECTS for t in types) and len(types) > 1:
            message = "A select menu must be the only component of its action row."
            self.tree.add((*path, "components"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", message)
            return
        self._children(row, path, frozenset({2, *_SELECTS}), _MAX_ROW_ITEMS)

    def _button(self, button: dict[str, Any], path: Path) -> None:
        style = button.get("style")
        if style not in (1, 2, 3, 4, 5):
            self.tree.add((*path, "style"), "BUTTON_COMPONENT_INVALID_STYLE", "Invalid style.")
            return
        self._text((*path, "label"), button.get("label"), 0, _MAX_LABEL)
        if style == 5:
            self._text((*path, "url"), button.get("url"), 1, _MAX_BUTTON_URL, required=True)
            if "custom_id" in button:
                message = "A link button cannot have a custom id."
                self.tree.add((*path, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_WITH_URL", message)
            return
        self._interactive(path)
        self._text((*path, "custom_id"), button.get("custom_id"), 1, _MAX_CUSTOM_ID, required=True)
        if "url" in button:
            message = "A non-link button cannot have a url."
            self.tree.add((*path, "url"), "BUTTON_COMPONENT_URL_WITH_CUSTOM_ID", message)

    def _defaults(self, select: dict[str, Any], path: Path, types: set[str]) -> None:
        # docs: "number of default values must be in the range defined by min_values
        # and max_values" (each 1 when absent).
        values = select.get("default_values")
        if values is None:
            return
        low, high = (select.get(k) for k in ("min_values", "max_values"))
        low, high = (1 if low is None else low), (1 if high is None else high)
        count_ok = isinstance(values, list) and len(values) <= _MAX_DEFAULTS
        if not count_ok or not (isinstance(low, int) and isinstance(high, int)):
            self.tree.add((*path, "default_values"), "BASE_TYPE_BAD_LENGTH", _between(0, 25))
        elif not low <= len(values) <= high:
            message = f"Must be between {low} and {high} in length."
            self.tree.add((*path, "default_values"), "BASE_TYPE_BAD_LENGTH", message)
        for j, value in enumerate(values if isinstance(values, list) else ()):
            if not isinstance(value, dict) or value.get("type") not in types:
                message = "Value is not a valid enum value."
                self.tree.add((*path, "default_values", j, "type"), "ENUM_TYPE_COERCE", message)

    def _interactive(self, path: Path) -> None:
        if not self.application_owned:
            message = "Interactive components can only be sent by application-owned webhooks."
            self.tree.add(path, "COMPONENT_INTERACTIVE_NOT_ALLOWED", message)

    def _gallery(self, gallery: dict[str, Any], path: Path) -> None:
        items = gallery.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= _MAX_GALLERY:
            self.tree.add((*path, "items"), "BASE_TYPE_BAD_LENGTH", _between(1, _MAX_GALLERY))
            return
        for j, item in enumerate(items):
            media = item.get("media") if isinstance(item, dict) else None
            self._media(media, (*path, "items", j, "media"))

    def _media(self, media: Any, path: Path) -> None:
        url = media.get("url") if isinstance(media, dict) else None
        self._text((*path, "url"), url, 1, 2048, required=True)
        name = url[len(_ATTACHMENT) :] if isinstance(url, str) else ""
        if isinstance(url, str) and url.startswith(_ATTACHMENT) and name not in self.upload_names:
            message = f"Attachment {name!r} was not uploaded."
            self.tree.add((*path, "url"), "UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND", message)

    def _file(self, media: Any, path: Path) -> None:
        url = media.get("url") if isinstance(media, dict) else None
        if not (isinstance(url, str) and url.startswith(_ATTACHMENT)):
            message = "File components only support attachment:// references."
            self.tree.add((*path, "url"), "UNFURLED_MEDIA_ITEM_ATTACHMENT_REQUIRED", message)
            return
        self._media(media, path)

    def _text(self, path: Path, value: Any, low: int, high: int, *, required: bool = False) -> None:
        if value is None and not required:
            return
        if not isinstance(value, str) or not low <= len(value) <= high:
            self.tree.add(path, "BASE_TYPE_BAD_LENGTH", _between(low, high))


def _between(low: int, high: int) -> str:
    return f"Must be between {low} and {high} in length."


def validate_poll(poll: Any, tree: ErrorTree) -> None:
    """Record every rule of a poll create request that ``poll`` breaks."""
    if not isinstance(poll, dict):
        tree.add(("poll",), "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
        return
    question = poll.get("question")
    text = question.get("text") if isinstance(question, dict) else None
    if not isinstance(text, str) or not 1 <= len(text) <= _MAX_QUESTION:
        tree.add(("poll", "question", "text"), "BASE_TYPE_BAD_LENGTH", _between(1, _MAX_QUESTION))
    answers = poll.get("answers")
    if not isinstance(answers, list) or not 1 <= len(answers) <= _MAX_ANSWERS:
        tree.add(("poll", "answers"), "BASE_TYPE_BAD_LENGTH", _between(1, _MAX_ANSWERS))
        answers = []
    for i, answer in enumerate(answers):
        media = answer.get("poll_media") if isinstance(answer, dict) else None
        text = media.get("text") if isinstance(media, dict) else None
        if not isinstance(text, str) or not 1 <= len(text) <= _MAX_ANSWER:
            path = ("poll", "answers", i, "poll_media", "text")
            tree.add(path, "BASE_TYPE_BAD_LENGTH", _between(1, _MAX_ANSWER))
    duration = poll.get("duration")
    if duration is not None and not (isinstance(duration, int) and 1 <= duration <= _MAX_HOURS):
        tree.add(("poll", "duration"), "NUMBER_TYPE_MAX", f"int value must be 1 to {_MAX_HOURS}")
    if poll.get("layout_type") not in (None, 1):
        tree.add(("poll", "layout_type"), "ENUM_TYPE_COERCE", "Value is not a valid enum value.")


def stored_components(components: Any, attachments: list[dict[str, Any]]) -> list[Any]:
    """The components as Discord returns them.

    Each without an ``id`` (or with 0) is numbered in tree order, from 1, skipping the
    ids given; and ``attachment://`` media are resolved to
    the stored attachment.
    """
    by_name = {a["filename"]: a for a in attachments}
    stored: list[Any] = _copy(components if isinstance(components, list) else [])
    given = {c["id"] for c in _walk(stored) if c.get("id")}
    free = (n for n in itertools.count(1) if n not in given)
    for component in _walk(stored):
        if not component.get("id"):  # absent, or 0: "treated as empty and replaced"
            component["id"] = next(free)
        for media in _media_of(component):
            url = media.get("url")
            if isinstance(url, str) and url.startswith(_ATTACHMENT):
                attachment = by_name.get(url[len(_ATTACHMENT) :])
                if attachment is not None:
                    media.update(
                        url=attachment["url"],
                        proxy_url=attachment["proxy_url"],
                        attachment_id=attachment["id"],
                        content_type=attachment.get("content_type"),
                    )
    return stored


def _media_of(component: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("media", "file"):
        if isinstance(component.get(key), dict):
            yield component[key]
    for item in component.get("items") or ():
        if isinstance(item, dict) and isinstance(item.get("media"), dict):
            yield item["media"]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def stored_poll(poll: Mapping[str, Any], created: datetime) -> dict[str, Any]:
    """A checked poll create request as Discord's poll object (answers numbered from 1)."""
    hours = poll.get("duration") or 24
    return {
        "question": dict(poll["question"]),
        "answers": [
            {"answer_id": i, "poll_media": dict(a["poll_media"])}
            for i, a in enumerate(poll["answers"], start=1)
        ],
        "expiry": (created + timedelta(hours=hours)).isoformat(timespec="microseconds"),
        "allow_multiselect": bool(poll.get("allow_multiselect", False)),
        "layout_type": poll.get("layout_type") or 1,
        "results": {"is_finalized": False, "answer_counts": []},
    }
