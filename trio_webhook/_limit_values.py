"""Discord's limits on a webhook message, as constants, each with where it comes from.

The only place a limit's number is written: the checks (:mod:`trio_webhook._limits`)
and the planner read it from here, and :mod:`trio_webhook.limits` shows it to users.
In the comments, "OpenAPI" names the schema and field in Discord's OpenAPI description
(the discord-api-spec repository); "docs" the prose of the discord-api-docs
repository, where the schema is silent.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALLOWED_FLAGS",
    "ALLOWED_MENTION_TYPES",
    "APPLIED_TAGS_MAX",
    "ATTACHMENT_DESCRIPTION_MAX",
    "ATTACHMENT_FILENAME_MAX",
    "ATTACHMENT_IS_SPOILER",
    "ATTACHMENT_TITLE_MAX",
    "AVATAR_CONTENT_TYPES",
    "AVATAR_MAX_BYTES",
    "AUTHOR_NAME_MAX",
    "BUTTON_LABEL_MAX",
    "BUTTON_URL_MAX",
    "COLOR_MAX",
    "COMPONENTS_V2_MAX",
    "COMPONENTS_V2_TEXT_MAX",
    "CONTAINER_CHILDREN_MAX",
    "CONTENT_MAX",
    "CHANNEL_TYPES",
    "COMPONENT_ID_MAX",
    "CUSTOM_ID_MAX",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "EMBEDS_PER_REQUEST",
    "EMBED_DESCRIPTION_MAX",
    "EMBED_FIELDS_MAX",
    "EMBED_TITLE_MAX",
    "EMBED_TOTAL_CHARS",
    "EMOJI_NAME_MAX",
    "FIELD_NAME_MAX",
    "FIELD_VALUE_MAX",
    "FILES_PER_REQUEST",
    "FOOTER_TEXT_MAX",
    "GALLERY_ITEMS_MAX",
    "IS_COMPONENTS_V2",
    "LEGACY_ROWS_MAX",
    "MEDIA_DESCRIPTION_MAX",
    "MEDIA_URL_MAX",
    "MENTION_IDS_MAX",
    "POLL_ANSWERS_MAX",
    "POLL_ANSWER_MAX",
    "POLL_DURATION_MAX",
    "POLL_LAYOUTS",
    "POLL_QUESTION_MAX",
    "ROW_BUTTONS_MAX",
    "SECTION_TEXTS_MAX",
    "SELECT_DEFAULT_TYPES",
    "SELECT_DEFAULT_VALUES_MAX",
    "SELECT_OPTIONS_MAX",
    "SELECT_OPTION_TEXT_MAX",
    "SELECT_PLACEHOLDER_MAX",
    "SELECT_VALUES_MAX",
    "SUPPRESS_EMBEDS",
    "SUPPRESS_NOTIFICATIONS",
    "TEXT_DISPLAY_MAX",
    "THREAD_NAME_MAX",
    "THREAD_NAME_MIN",
    "URL_MAX",
    "USERNAME_FORBIDDEN",
    "USERNAME_MAX",
    "USERNAME_MIN",
    "WEBHOOK_EDIT_FLAGS",
    "WEBHOOK_FLAGS",
    "WEBHOOK_NAME_MAX",
    "WEBHOOK_NAME_MIN",
]

# The message (OpenAPI IncomingWebhookRequestPartial).
CONTENT_MAX: Final = 2000  # content.maxLength
"""Characters of ``content``."""
EMBEDS_PER_REQUEST: Final = 10  # embeds.maxItems
"""Embeds in one request (a message with more is split)."""
FILES_PER_REQUEST: Final = 10  # attachments.maxItems; more files is error 30015
USERNAME_MIN: Final = 1  # username.minLength
USERNAME_MAX: Final = 80  # username.maxLength
USERNAME_FORBIDDEN: Final = ("discord", "clyde")  # docs: Webhook, "Execute Webhook"
"""Substrings Discord rejects in a webhook username, in any letter case."""
THREAD_NAME_MIN: Final = 1  # docs: a forum post needs a name (the schema says 0)
THREAD_NAME_MAX: Final = 100  # thread_name.maxLength
APPLIED_TAGS_MAX: Final = 5  # applied_tags.maxItems
URL_MAX: Final = 2048  # avatar_url.maxLength, RichEmbed*.url and icon_url.maxLength
"""Characters of any URL (avatar, embed link, image, icon), per Discord's OpenAPI schema."""

# An embed (OpenAPI RichEmbed, RichEmbedField, RichEmbedFooter, RichEmbedAuthor).
EMBED_TOTAL_CHARS: Final = 6000  # docs: Message, "Embed Limits"
"""Characters over all embeds of one request, whitespace trimmed (see
:func:`~trio_webhook._limits.embed_length`)."""
EMBED_TITLE_MAX: Final = 256  # RichEmbed.title.maxLength
EMBED_DESCRIPTION_MAX: Final = 4096  # RichEmbed.description.maxLength
EMBED_FIELDS_MAX: Final = 25  # RichEmbed.fields.maxItems
FIELD_NAME_MAX: Final = 256  # RichEmbedField.name.maxLength
FIELD_VALUE_MAX: Final = 1024  # RichEmbedField.value.maxLength
FOOTER_TEXT_MAX: Final = 2048  # RichEmbedFooter.text.maxLength
AUTHOR_NAME_MAX: Final = 256  # RichEmbedAuthor.name.maxLength
COLOR_MAX: Final = 0xFFFFFF  # RichEmbed.color.maximum

# Uploads (OpenAPI MessageAttachmentRequest).
DEFAULT_MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024  # docs: Reference, "Uploading Files"
"""Default bytes one file may upload. Since 2025 Discord's docs say the limit "applies to
each file in a request" and is 10 MiB by default (Nitro and a server's boost tier raise
it); the 413 for a file over it carries code 40005."""
DEFAULT_MAX_REQUEST_BYTES: Final = 25 * 1024 * 1024  # observed, not documented
"""Default bytes of all files of one request. The docs name no per-request figure since
the per-file rule; a form body over 25 MiB (26,214,400 bytes) is refused with 413 in a
server without boosts (discord-api-docs issue 6058 and clients that measured it)."""
ATTACHMENT_FILENAME_MAX: Final = 1024  # filename.maxLength
ATTACHMENT_DESCRIPTION_MAX: Final = 1024  # description.maxLength
ATTACHMENT_TITLE_MAX: Final = 1024  # title.maxLength
ATTACHMENT_IS_SPOILER: Final = 1 << 3  # docs: Message, "Attachment Flags"
"""The attachment flag of a spoiler; ``is_spoiler`` in an attachment request sets it (docs
change log, 2026-06-24: existing attachments' ``description`` and ``is_spoiler`` can be
edited; the ``SPOILER_`` filename prefix still works)."""

# The webhook itself (OpenAPI update_webhook_by_token request body; docs: Reference,
# "Image Data").
WEBHOOK_NAME_MIN: Final = 1  # name.minLength
WEBHOOK_NAME_MAX: Final = 80  # name.maxLength
AVATAR_CONTENT_TYPES: Final = ("image/jpeg", "image/png", "image/gif")  # docs: "Image Data"
"""The media types of image data (``data:image/png;base64,...``) Discord accepts."""
AVATAR_MAX_BYTES: Final = 10 * 1024 * 1024  # observed, not documented (50045 above it)
"""Bytes of a webhook avatar image before base64 encoding."""

# Mentions (OpenAPI MessageAllowedMentionsRequest; the types from docs: Message).
MENTION_IDS_MAX: Final = 100  # users.maxItems, roles.maxItems
"""Explicit user ids, and role ids, in ``allowed_mentions``."""
ALLOWED_MENTION_TYPES: Final = frozenset({"users", "roles", "everyone"})

# Message flags (docs: Message, "Message Flags"; Webhook, "Execute Webhook").
SUPPRESS_EMBEDS: Final = 1 << 2
SUPPRESS_NOTIFICATIONS: Final = 1 << 12
IS_COMPONENTS_V2: Final = 1 << 15
ALLOWED_FLAGS: Final = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS
"""The only message flags a webhook message without components may carry."""
WEBHOOK_FLAGS: Final = ALLOWED_FLAGS | IS_COMPONENTS_V2
"""Every flag a webhook message may carry (IS_COMPONENTS_V2 only with V2 components)."""
WEBHOOK_EDIT_FLAGS: Final = SUPPRESS_EMBEDS | IS_COMPONENTS_V2
"""The flags an edit may set (docs: Webhook, "Edit Webhook Message": "SUPPRESS_EMBEDS and
IS_COMPONENTS_V2 only"; the first can be set and unset, the second only set)."""

# Components (docs: components/reference, "Component Reference"; OpenAPI
# *ComponentForMessageRequest schemas reachable from IncomingWebhookRequestPartial).
COMPONENTS_V2_MAX: Final = 40  # docs: "Messages allow up to 40 total components" (nested count)
"""Components of an IS_COMPONENTS_V2 message, counted through nesting."""
COMPONENTS_V2_TEXT_MAX: Final = 4000  # TextDisplay...content.maxLength; the discord.js guide:
# "the amount of text across all text display components cannot exceed 4000 characters"
"""Characters over every text display of a message (Discord's reference gives no sum)."""
LEGACY_ROWS_MAX: Final = 5  # docs: "Legacy messages allow up to 5 action rows as top-level"
"""Action rows of a message without IS_COMPONENTS_V2."""
ROW_BUTTONS_MAX: Final = 5  # ActionRowComponentForMessageRequest.components.maxItems
"""Buttons in one action row (or one select menu alone)."""
BUTTON_LABEL_MAX: Final = 80  # ButtonComponentForMessageRequest.label.maxLength
BUTTON_URL_MAX: Final = 512  # ButtonComponentForMessageRequest.url.maxLength
CUSTOM_ID_MAX: Final = 100  # ButtonComponentForMessageRequest.custom_id.maxLength
EMOJI_NAME_MAX: Final = 32  # ComponentEmojiForRequest.name.maxLength, PollEmoji.name
SELECT_PLACEHOLDER_MAX: Final = 150  # StringSelectComponentForMessageRequest.placeholder
SELECT_OPTIONS_MAX: Final = 25  # StringSelectComponentForMessageRequest.options.maxItems
SELECT_VALUES_MAX: Final = 25  # *SelectComponentForMessageRequest.max_values.maximum
SELECT_OPTION_TEXT_MAX: Final = 100  # StringSelectOptionForRequest.label and value.maxLength
SELECT_DEFAULT_VALUES_MAX: Final = 25  # *SelectComponentForMessageRequest.default_values.maxItems
SELECT_DEFAULT_TYPES: Final = {  # docs: Select Default Value Structure; *SelectDefaultValue
    5: frozenset({"user"}),
    6: frozenset({"role"}),
    7: frozenset({"user", "role"}),  # MentionableSelect...: Role- or UserSelectDefaultValue
    8: frozenset({"channel"}),
}
"""The ``type`` a default value of each entity select (by component type) may have."""
CHANNEL_TYPES: Final = frozenset({0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15})  # OpenAPI ChannelTypes
"""The channel types a channel select's ``channel_types`` may name (each once: uniqueItems)."""
COMPONENT_ID_MAX: Final = 2**31 - 1  # docs: "32 bit integer"; OpenAPI id.format int32
"""A component's ``id``: 1 to this, unique in the message. Docs (Anatomy of a Component):
"must be unique within the message"; an id of 0 "will be treated as empty and replaced by
the API", so the checks refuse 0 rather than let Discord renumber it silently."""
SECTION_TEXTS_MAX: Final = 3  # SectionComponentForMessageRequest.components.maxItems
TEXT_DISPLAY_MAX: Final = 4000  # TextDisplayComponentForMessageRequest.content.maxLength
GALLERY_ITEMS_MAX: Final = 10  # MediaGalleryComponentForMessageRequest.items.maxItems
MEDIA_URL_MAX: Final = 2048  # UnfurledMediaRequest.url.maxLength
MEDIA_DESCRIPTION_MAX: Final = 1024  # docs: Thumbnail, Media Gallery Item "max 1024 characters"
CONTAINER_CHILDREN_MAX: Final = 40  # ContainerComponentForMessageRequest.components.maxItems

# Polls (OpenAPI PollCreateRequest, PollMediaCreateRequest; docs: resources/poll).
POLL_QUESTION_MAX: Final = 300  # PollMedia.text.maxLength; docs: "300 for the question"
POLL_ANSWER_MAX: Final = 55  # docs: Poll Media Object, "55 for any answer" (schema says 300)
POLL_ANSWERS_MAX: Final = 10  # PollCreateRequest.answers.maxItems
POLL_DURATION_MAX: Final = 768  # PollCreateRequest.duration.maximum (hours: 32 days)
POLL_LAYOUTS: Final = frozenset({1})  # PollLayoutTypes: DEFAULT
