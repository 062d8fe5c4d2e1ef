"""The checks of a message's components and poll, and of their ``attachment://`` references.

The numbers, with where each comes from, are in :mod:`trio_webhook._limit_values`. Every
violation names the path (``components[0].components[2].label``), the limit and the size.
"""

from __future__ import annotations

from collections.abc import Sequence

from trio_webhook._attachments import ATTACHMENT_SCHEME
from trio_webhook._checks import SNOWFLAKE, Collector
from trio_webhook._component_tree import media_urls, walk
from trio_webhook._components import (
    ActionRow,
    Button,
    ButtonStyle,
    Component,
    Container,
    EntitySelect,
    FileComponent,
    MediaGallery,
    Section,
    SelectKind,
    StringSelect,
    TextDisplay,
    Thumbnail,
)
from trio_webhook._embed_checks import check_upload_refs
from trio_webhook._limit_values import (
    BUTTON_LABEL_MAX,
    BUTTON_URL_MAX,
    CHANNEL_TYPES,
    COMPONENT_ID_MAX,
    COMPONENTS_V2_MAX,
    COMPONENTS_V2_TEXT_MAX,
    CUSTOM_ID_MAX,
    EMOJI_NAME_MAX,
    GALLERY_ITEMS_MAX,
    LEGACY_ROWS_MAX,
    MEDIA_DESCRIPTION_MAX,
    MEDIA_URL_MAX,
    POLL_ANSWER_MAX,
    POLL_ANSWERS_MAX,
    POLL_DURATION_MAX,
    POLL_LAYOUTS,
    POLL_QUESTION_MAX,
    ROW_BUTTONS_MAX,
    SECTION_TEXTS_MAX,
    SELECT_DEFAULT_TYPES,
    SELECT_OPTION_TEXT_MAX,
    SELECT_OPTIONS_MAX,
    SELECT_PLACEHOLDER_MAX,
    SELECT_VALUES_MAX,
    TEXT_DISPLAY_MAX,
)
from trio_webhook._models import FilePart, Message, PlannedRequest
from trio_webhook._polls import Poll

__all__ = [
    "check_component_references",
    "check_components",
    "check_components_v2",
    "check_poll",
    "component_count",
    "text_length",
]


def component_count(components: Sequence[Component]) -> int:
    """Components counted as Discord counts them towards 40: every one, nested included."""
    return sum(1 for _ in walk(components))


def text_length(components: Sequence[Component]) -> int:
    """Characters over every :class:`TextDisplay` of the tree (at most 4000 in a message)."""
    return sum(len(c.content) for _, c in walk(components) if isinstance(c, TextDisplay))


def check_components(
    c: Collector, components: Sequence[Component], *, v2: bool, application_owned: bool
) -> None:
    """Check a message's components: the totals, then each component in tree order."""
    if v2:
        count = component_count(components)
        if count > COMPONENTS_V2_MAX:
            c.add(
                "components",
                COMPONENTS_V2_MAX,
                count,
                f"message has {count} components counted through nesting, Discord allows "
                f"{COMPONENTS_V2_MAX} with IS_COMPONENTS_V2; send fewer (or a second message)",
            )
        chars = text_length(components)
        if chars > COMPONENTS_V2_TEXT_MAX:
            c.add(
                "components",
                COMPONENTS_V2_TEXT_MAX,
                chars,
                f"text displays have {chars} characters in all, Discord allows "
                f"{COMPONENTS_V2_TEXT_MAX} in one message; shorten them",
            )
    elif len(components) > LEGACY_ROWS_MAX:
        c.add(
            "components",
            LEGACY_ROWS_MAX,
            len(components),
            f"message has {len(components)} action rows, Discord allows {LEGACY_ROWS_MAX} "
            "without IS_COMPONENTS_V2; merge rows",
        )
    for path, component in walk(components):
        _check_one(c, path, component)
        if not application_owned and _interactive(component):
            c.add(
                path,
                0,
                1,
                "is interactive (a button with custom_id, or a select menu), which only an "
                "application-owned webhook may send (Discord drops it otherwise); use a link "
                "button, or pass Message(application_owned=True) if an application owns the "
                "webhook",
            )
    _check_ids(c, components)


def _check_ids(c: Collector, components: Sequence[Component]) -> None:
    # docs (Anatomy of a Component): an id "must be unique within the message", and 0
    # "will be treated as empty and replaced by the API": refused, not renumbered silently.
    first: dict[int, str] = {}
    for path, component in walk(components):
        given = getattr(component, "id", None)
        if given is None:
            continue
        if not 1 <= given <= COMPONENT_ID_MAX:
            c.add(
                f"{path}.id",
                COMPONENT_ID_MAX,
                given,
                f"id is {given}, Discord allows 1 to {COMPONENT_ID_MAX} (a 32-bit integer); "
                "leave id out to let Discord number the component",
            )
        elif given in first:
            c.add(
                f"{path}.id",
                1,
                2,
                f"id {given} is already the id of {first[given]}; ids are unique in a message",
            )
        else:
            first[given] = path


def _interactive(component: object) -> bool:
    if isinstance(component, Button):
        return component.interactive
    return isinstance(component, StringSelect | EntitySelect)


def _check_one(c: Collector, path: str, component: object) -> None:
    if isinstance(component, ActionRow):
        _check_row(c, path, component)
    elif isinstance(component, Button):
        _check_button(c, path, component)
    elif isinstance(component, StringSelect | EntitySelect):
        _check_select(c, path, component)
    elif isinstance(component, TextDisplay):
        c.required_text(f"{path}.content", "text display content", component.content)
        c.max_len(f"{path}.content", "text display content", component.content, TEXT_DISPLAY_MAX)
    elif isinstance(component, Section):
        _count(
            c, f"{path}.components", "text displays", len(component.components), SECTION_TEXTS_MAX
        )
    elif isinstance(component, Thumbnail):
        _check_media(c, path, "media", component.media.url, component.description)
    elif isinstance(component, MediaGallery):
        _count(c, f"{path}.items", "items", len(component.items), GALLERY_ITEMS_MAX)
        for j, item in enumerate(component.items):
            _check_media(c, f"{path}.items[{j}]", "media", item.media.url, item.description)
    elif isinstance(component, FileComponent):
        _check_media(c, path, "file", component.file.url, None)
        if not component.file.url.startswith(ATTACHMENT_SCHEME):
            c.add(
                f"{path}.file.url",
                0,
                0,
                f"a file component shows an upload only: give attachment://<filename>, not "
                f"{component.file.url[:80]!r}",
            )
    elif isinstance(component, Container) and not component.components:
        c.add(f"{path}.components", 1, 0, "container is empty; give it at least one component")


def _count(c: Collector, path: str, what: str, n: int, limit: int) -> None:
    if n < 1:
        c.add(path, 1, 0, f"has no {what}; Discord requires 1 to {limit}")
    elif n > limit:
        c.add(path, limit, n, f"has {n} {what}, Discord allows {limit}")


def _check_row(c: Collector, path: str, row: ActionRow) -> None:
    selects = sum(1 for item in row.components if not isinstance(item, Button))
    if selects and len(row.components) > 1:
        c.add(
            f"{path}.components",
            1,
            len(row.components),
            "a row with a select menu holds that select alone; put the others in another row",
        )
    else:
        _count(c, f"{path}.components", "buttons", len(row.components), ROW_BUTTONS_MAX)


def _check_button(c: Collector, path: str, button: Button) -> None:
    c.max_len(f"{path}.label", "label", button.label, BUTTON_LABEL_MAX)
    if button.style is ButtonStyle.LINK:
        if button.url is None:
            c.add(f"{path}.url", 1, 0, "a link button needs url=")
        if button.custom_id is not None:
            c.add(f"{path}.custom_id", 0, 1, "a link button cannot have a custom_id; drop it")
        c.max_len(f"{path}.url", "url", button.url, BUTTON_URL_MAX)
    else:
        if button.url is not None:
            c.add(
                f"{path}.url",
                0,
                1,
                f"a {button.style.name} button cannot have a url; use style=ButtonStyle.LINK",
            )
        _check_custom_id(c, path, button.custom_id)
    if button.label is None and button.emoji is None:
        c.add(path, 1, 0, "button has neither label nor emoji; give it one")
    if button.emoji is not None:
        _check_emoji(c, f"{path}.emoji", button.emoji.name, button.emoji.id, name_required=True)


def _check_custom_id(c: Collector, path: str, custom_id: str | None) -> None:
    if custom_id is None or not custom_id:
        c.add(
            f"{path}.custom_id",
            1,
            0,
            "an interactive component needs a custom_id (1-100 characters)",
        )
    c.max_len(f"{path}.custom_id", "custom_id", custom_id, CUSTOM_ID_MAX)


def _check_emoji(
    c: Collector, path: str, name: str | None, emoji_id: str | None, *, name_required: bool
) -> None:
    if name is None and name_required:
        c.add(f"{path}.name", 1, 0, "a component's emoji needs name= (for a custom one too)")
    c.max_len(f"{path}.name", "emoji name", name, EMOJI_NAME_MAX)
    if emoji_id is not None:
        c.snowflakes(f"{path}.id", [emoji_id])


def _check_select(c: Collector, path: str, select: StringSelect | EntitySelect) -> None:
    _check_custom_id(c, path, select.custom_id)
    c.max_len(f"{path}.placeholder", "placeholder", select.placeholder, SELECT_PLACEHOLDER_MAX)
    low, high = select.min_values, select.max_values
    for name, value, floor in (("min_values", low, 0), ("max_values", high, 1)):
        if value is not None and not floor <= value <= SELECT_VALUES_MAX:
            c.add(
                f"{path}.{name}",
                SELECT_VALUES_MAX,
                value,
                f"{name} is {value}, Discord allows {floor} to {SELECT_VALUES_MAX}",
            )
    if low is not None and high is not None and low > high:
        c.add(f"{path}.min_values", high, low, f"min_values {low} is above max_values {high}")
    if isinstance(select, EntitySelect):
        _check_entity(c, path, select)
    else:
        _count(c, f"{path}.options", "options", len(select.options), SELECT_OPTIONS_MAX)
        for j, option in enumerate(select.options):
            where = f"{path}.options[{j}]"
            for name in ("label", "value", "description"):
                text = getattr(option, name)
                if name != "description":
                    c.required_text(f"{where}.{name}", f"option {name}", text)
                c.max_len(f"{where}.{name}", f"option {name}", text, SELECT_OPTION_TEXT_MAX)
            if option.emoji is not None:
                emoji = option.emoji
                _check_emoji(c, f"{where}.emoji", emoji.name, emoji.id, name_required=True)


def _check_entity(c: Collector, path: str, select: EntitySelect) -> None:
    defaults = select.default_values
    if defaults is not None:
        # docs: "number of default values must be in the range defined by min_values and
        # max_values", which both default to 1.
        low = 1 if select.min_values is None else select.min_values
        high = 1 if select.max_values is None else select.max_values
        if not low <= len(defaults) <= high:
            c.add(
                f"{path}.default_values",
                high,
                len(defaults),
                f"has {len(defaults)} default values, the select's min_values and max_values "
                f"allow {low} to {high}",
            )
        allowed = SELECT_DEFAULT_TYPES[int(select.kind)]
        for j, value in enumerate(defaults):
            where = f"{path}.default_values[{j}]"
            if not SNOWFLAKE.fullmatch(value.id):
                c.add(f"{where}.id", 0, 0, f"{value.id!r} is not a snowflake (a decimal id)")
            if value.type not in allowed:
                c.add(
                    f"{where}.type",
                    0,
                    1,
                    f"a {select.kind.name} select's default values have type "
                    f"{' or '.join(repr(t) for t in sorted(allowed))}, not {value.type!r}",
                )
    _check_channel_types(c, f"{path}.channel_types", select)


def _check_channel_types(c: Collector, path: str, select: EntitySelect) -> None:
    types = select.channel_types
    if types is None:
        return
    if select.kind is not SelectKind.CHANNEL:
        c.add(path, 0, len(types), "only a CHANNEL select takes channel_types; drop them")
        return
    for j, kind in enumerate(types):
        if kind not in CHANNEL_TYPES:
            known = ", ".join(str(t) for t in sorted(CHANNEL_TYPES))
            c.add(f"{path}[{j}]", 0, kind, f"{kind} is not a channel type; Discord's are {known}")
        elif kind in types[:j]:
            c.add(f"{path}[{j}]", 1, 2, f"channel type {kind} is listed twice; name each once")


def _check_media(c: Collector, path: str, key: str, url: str, description: str | None) -> None:
    c.max_len(f"{path}.{key}.url", "media url", url, MEDIA_URL_MAX)
    c.max_len(f"{path}.description", "description", description, MEDIA_DESCRIPTION_MAX)


def check_components_v2(c: Collector, body: Message | PlannedRequest) -> None:
    """Refuse what a Components V2 message cannot have: content, embeds, a poll."""
    # docs: components/reference: with the flag "the content and embeds fields will no
    # longer work" and "the poll and stickers fields are disabled".
    for path, present in (
        ("content", body.content is not None),
        ("embeds", bool(body.embeds)),
        ("poll", body.poll is not None),
    ):
        if present:
            c.add(
                path,
                0,
                1,
                f"a Components V2 message (IS_COMPONENTS_V2, set for its V2 components) "
                f"cannot have {path}; Discord refuses it: put the text in a TextDisplay"
                + (" and drop the poll" if path == "poll" else ""),
            )


def check_component_references(
    c: Collector, components: Sequence[Component], files: Sequence[FilePart], where: str
) -> None:
    """Every ``attachment://name`` a component shows must name a file of ``where``."""
    check_upload_refs(c, media_urls(components), files, where, "shows")


def check_poll(c: Collector, poll: Poll) -> None:
    """Check a poll against Discord's limits (question, answers, duration, layout)."""
    c.required_text("poll.question", "poll question", poll.question)
    c.max_len("poll.question", "poll question", poll.question, POLL_QUESTION_MAX)
    _count(c, "poll.answers", "answers", len(poll.answers), POLL_ANSWERS_MAX)
    for i, answer in enumerate(poll.answers):
        path = f"poll.answers[{i}]"
        c.required_text(f"{path}.text", "poll answer", answer.text)
        c.max_len(f"{path}.text", "poll answer", answer.text, POLL_ANSWER_MAX)
        if answer.emoji is not None:
            emoji = answer.emoji
            _check_emoji(c, f"{path}.emoji", emoji.name, emoji.id, name_required=False)
    if poll.duration is not None and not 1 <= poll.duration <= POLL_DURATION_MAX:
        c.add(
            "poll.duration",
            POLL_DURATION_MAX,
            poll.duration,
            f"duration is {poll.duration} hours, Discord allows 1 to {POLL_DURATION_MAX} (32 days)",
        )
    if poll.layout_type is not None and poll.layout_type not in POLL_LAYOUTS:
        c.add(
            "poll.layout_type",
            1,
            poll.layout_type,
            f"layout_type {poll.layout_type} is not a poll layout; use PollLayout.DEFAULT (1)",
        )
