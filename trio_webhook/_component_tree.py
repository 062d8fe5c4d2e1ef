"""Reading and rewriting a tree of components (pure): walks, media, flags, JSON hooks.

The checks (:mod:`trio_webhook._component_checks`), the planner, the encoder and the
shedder read component trees only through these helpers, so they agree on what a tree
holds and where (paths as ``components[0].components[1].accessory``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from trio_webhook._components import (
    COMPONENT_TYPES,
    ROW_ITEMS,
    TYPED,
    ActionRow,
    Button,
    Component,
    Container,
    ContainerItem,
    EntitySelect,
    FileComponent,
    MediaGallery,
    RowItem,
    Section,
    Thumbnail,
    UnfurledMedia,
)

__all__ = [
    "MessageFlags",
    "effective_flags",
    "map_media",
    "media_urls",
    "register_record_unions",
    "unstructure_hook",
    "uses_components_v2",
    "walk",
]


class MessageFlags(enum.IntFlag):
    """The message flags a webhook may set (docs: Message, "Message Flags").

    ``Message.flags`` takes these or a plain ``int``; any other bit is refused by the
    checks. ``IS_COMPONENTS_V2`` is set for you when the message has V2 components.
    """

    SUPPRESS_EMBEDS = 1 << 2
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


def unstructure_hook(cls: type, fn: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Any]:
    """The converter's hook for ``cls``: ``fn``, with ``"type"`` first for a component.

    Discord tells components apart by their ``type`` number, which is the class (or an
    :class:`EntitySelect`'s ``kind``); keys follow the declaration order, so golden
    files compare byte for byte.
    """
    if cls is EntitySelect:

        def entity(obj: EntitySelect) -> dict[str, Any]:
            raw = fn(obj)
            del raw["kind"]
            return {"type": int(obj.kind), **_in_order(cls, raw)}

        return entity
    kind = getattr(cls, "TYPE", None)
    if not isinstance(kind, int) or cls not in TYPED:
        return fn

    def typed(obj: Any) -> dict[str, Any]:
        return {"type": kind, **_in_order(cls, fn(obj))}

    return typed


def _in_order(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    order = {a.name: i for i, a in enumerate(attrs.fields(cls))}
    return dict(sorted(raw.items(), key=lambda kv: order.get(kv[0], len(order))))


def register_record_unions(conv: Any) -> None:
    """Teach a converter that *structures* (the dead-letter and outbox codec) unions.

    Each member of a component union is written with a ``_type`` key holding its class
    name, and read back as that class.
    """
    by_name = {cls.__name__: cls for cls in (*COMPONENT_TYPES, *ROW_ITEMS, Thumbnail)}

    def unstructure(obj: Any) -> Any:
        return {"_type": type(obj).__name__, **conv.unstructure(obj, type(obj))}

    def structure(raw: Any, _: Any) -> Any:
        fields = dict(raw)
        name = fields.pop("_type", None)
        if name not in by_name:
            raise ValueError(f"not a component: _type {name!r}")
        return conv.structure(fields, by_name[name])

    for union in (RowItem, ContainerItem, Component, Thumbnail | Button):
        conv.register_unstructure_hook(union, unstructure)
        conv.register_structure_hook(union, structure)


def uses_components_v2(components: Iterable[Component]) -> bool:
    """Whether a message with these top-level components needs ``IS_COMPONENTS_V2``."""
    return any(type(c) is not ActionRow for c in components)


def effective_flags(flags: int | None, components: Sequence[Component]) -> int | None:
    """The flags to send: ``flags`` with ``IS_COMPONENTS_V2`` added for V2 components."""
    # On every message's path (checks, planning, encoding): no components costs nothing.
    if not components or not uses_components_v2(components):
        return flags
    return int(flags or 0) | MessageFlags.IS_COMPONENTS_V2.value


def _children(component: object) -> Iterator[tuple[str, object]]:
    if isinstance(component, ActionRow | Container | Section):
        for i, child in enumerate(component.components):
            yield f"components[{i}]", child
    if isinstance(component, Section):
        yield "accessory", component.accessory


def walk(components: Iterable[object], path: str = "components") -> Iterator[tuple[str, object]]:
    """Every component of a tree, parents first, with its path (``components[0].accessory``)."""
    for i, component in enumerate(components):
        here = f"{path}[{i}]"
        yield here, component
        stack = [(f"{here}.{p}", c) for p, c in _children(component)]
        while stack:
            child_path, child = stack.pop(0)
            yield child_path, child
            stack[:0] = [(f"{child_path}.{p}", c) for p, c in _children(child)]


def media_urls(components: Iterable[object]) -> Iterator[tuple[str, str]]:
    """Every media URL of a tree, with the path of its ``url``, in tree order."""
    for path, component in walk(components):
        if isinstance(component, Thumbnail):
            yield f"{path}.media.url", component.media.url
        elif isinstance(component, FileComponent):
            yield f"{path}.file.url", component.file.url
        elif isinstance(component, MediaGallery):
            for j, item in enumerate(component.items):
                yield f"{path}.items[{j}].media.url", item.media.url


def map_media(components: tuple[Any, ...], change: Callable[[str], str | None]) -> tuple[Any, ...]:
    """``components`` with each media URL replaced by ``change(url)``.

    The same object comes back if nothing changes.

    ``None`` drops the media: a gallery item goes (and a gallery left empty), a file
    component goes, a section whose thumbnail goes becomes its text displays, and a
    container left empty goes. So dropping never leaves a component Discord refuses.
    """
    out: list[Any] = []
    changed = False
    for component in components:
        mapped = _map_one(component, change)
        changed = changed or len(mapped) != 1 or mapped[0] is not component
        out.extend(mapped)
    return tuple(out) if changed else components


def _map_one(component: Any, change: Callable[[str], str | None]) -> tuple[Any, ...]:
    if isinstance(component, Thumbnail | FileComponent):
        media = component.media if isinstance(component, Thumbnail) else component.file
        url = change(media.url)
        if url is None:
            return ()
        if url == media.url:
            return (component,)
        if isinstance(component, Thumbnail):
            return (attrs.evolve(component, media=UnfurledMedia(url)),)
        return (attrs.evolve(component, file=UnfurledMedia(url)),)
    if isinstance(component, MediaGallery):
        items = []
        for item in component.items:
            url = change(item.media.url)
            if url is not None:
                items.append(item if url == item.media.url else attrs.evolve(item, media=url))
        if not items:
            return ()
        if tuple(items) == component.items:
            return (component,)
        return (attrs.evolve(component, items=items),)  # keeps its id
    if isinstance(component, Section):
        accessory = _map_one(component.accessory, change)
        if not accessory:
            return component.components
        if accessory[0] is component.accessory:
            return (component,)
        return (attrs.evolve(component, accessory=accessory[0]),)
    if isinstance(component, Container):
        children = map_media(component.components, change)
        if not children:
            return ()
        return (
            (component,)
            if children is component.components
            else (attrs.evolve(component, components=children),)
        )
    return (component,)
