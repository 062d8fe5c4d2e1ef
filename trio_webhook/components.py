"""Message components: action rows of buttons (V1) and Components V2 layouts, and flags.

A message's ``components`` are either up to five :class:`ActionRow` s shown under its
content and embeds, or a Components V2 layout (:class:`TextDisplay`, :class:`Section`,
:class:`Container`, :class:`MediaGallery`, :class:`FileComponent`, :class:`Separator`
and rows) that *is* the message: then it has no content, embeds or poll, and
``IS_COMPONENTS_V2`` is added to its flags for you. ``attachment://name`` shows a file
uploaded with the message. Interactive components (buttons with a ``custom_id``, select
menus) need a webhook an application owns: say so with ``Message(application_owned=True)``.

Example::

    from trio_webhook import Message
    from trio_webhook.components import ActionRow, Button, Container, TextDisplay

    Message(content="build 42 passed",
            components=[ActionRow([Button("Open the run", url="https://ci.example.com/42")])])
    Message(components=[Container([TextDisplay("## build 42 passed")], accent_color=0x2ECC71)])
"""

from trio_webhook._component_tree import MessageFlags
from trio_webhook._components import (
    ActionRow,
    Button,
    ButtonStyle,
    Component,
    Container,
    Emoji,
    EntitySelect,
    FileComponent,
    MediaGallery,
    MediaGalleryItem,
    Section,
    SelectDefaultValue,
    SelectKind,
    SelectOption,
    Separator,
    SeparatorSpacing,
    StringSelect,
    TextDisplay,
    Thumbnail,
    UnfurledMedia,
)

__all__ = [
    "ActionRow",
    "Button",
    "ButtonStyle",
    "Component",
    "Container",
    "Emoji",
    "EntitySelect",
    "FileComponent",
    "MediaGallery",
    "MediaGalleryItem",
    "MessageFlags",
    "Section",
    "SelectDefaultValue",
    "SelectKind",
    "SelectOption",
    "Separator",
    "SeparatorSpacing",
    "StringSelect",
    "TextDisplay",
    "Thumbnail",
    "UnfurledMedia",
]
