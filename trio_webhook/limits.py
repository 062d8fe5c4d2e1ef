"""Discord's limits on a message, and the checks that find every place one is broken.

:func:`validate` lists every limit a :class:`~trio_webhook.Message` breaks (an empty list
when it can be sent), each as a :class:`~trio_webhook.errors.Violation` with a path such
as ``embeds[3].fields[7].value``, the limit, the actual size and a sentence saying how to
fix it; :func:`check` raises them as one :class:`~trio_webhook.ValidationError`.
:func:`validate_edit` does the same for an edit. What the sender splits across requests
(more than 10 embeds, 6000 embed characters or 10 files, and content over 2000
characters unless ``split_content=False``) is not a violation: the limits per request
are checked on the planned requests.

The constants are Discord's documented limits (``CONTENT_MAX`` characters of content, and
so on); :data:`DEFAULT_MAX_UPLOAD_BYTES` is the upload budget a sender assumes unless its
config says otherwise.

Example::

    from trio_webhook import Message
    from trio_webhook.limits import CONTENT_MAX, validate

    for violation in validate(Message(content="x" * (CONTENT_MAX + 1)), split_content=False):
        print(violation)  # content: content has 2001 characters, Discord allows 2000; ...
"""

from trio_webhook._limit_values import (
    ALLOWED_FLAGS,
    ALLOWED_MENTION_TYPES,
    APPLIED_TAGS_MAX,
    ATTACHMENT_DESCRIPTION_MAX,
    ATTACHMENT_FILENAME_MAX,
    AUTHOR_NAME_MAX,
    BUTTON_LABEL_MAX,
    BUTTON_URL_MAX,
    COLOR_MAX,
    COMPONENTS_V2_MAX,
    COMPONENTS_V2_TEXT_MAX,
    CONTAINER_CHILDREN_MAX,
    CONTENT_MAX,
    CUSTOM_ID_MAX,
    DEFAULT_MAX_UPLOAD_BYTES,
    EMBED_DESCRIPTION_MAX,
    EMBED_FIELDS_MAX,
    EMBED_TITLE_MAX,
    EMBED_TOTAL_CHARS,
    EMBEDS_PER_REQUEST,
    EMOJI_NAME_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FILES_PER_REQUEST,
    FOOTER_TEXT_MAX,
    GALLERY_ITEMS_MAX,
    IS_COMPONENTS_V2,
    LEGACY_ROWS_MAX,
    MEDIA_DESCRIPTION_MAX,
    MEDIA_URL_MAX,
    MENTION_IDS_MAX,
    POLL_ANSWER_MAX,
    POLL_ANSWERS_MAX,
    POLL_DURATION_MAX,
    POLL_LAYOUTS,
    POLL_QUESTION_MAX,
    ROW_BUTTONS_MAX,
    SECTION_TEXTS_MAX,
    SELECT_OPTION_TEXT_MAX,
    SELECT_OPTIONS_MAX,
    SELECT_PLACEHOLDER_MAX,
    SELECT_VALUES_MAX,
    SUPPRESS_EMBEDS,
    SUPPRESS_NOTIFICATIONS,
    TEXT_DISPLAY_MAX,
    THREAD_NAME_MAX,
    THREAD_NAME_MIN,
    URL_MAX,
    USERNAME_FORBIDDEN,
    USERNAME_MAX,
    USERNAME_MIN,
    WEBHOOK_FLAGS,
)
from trio_webhook._limits import check, embed_length, validate, validate_edit

__all__ = [
    "ALLOWED_FLAGS",
    "ALLOWED_MENTION_TYPES",
    "APPLIED_TAGS_MAX",
    "ATTACHMENT_DESCRIPTION_MAX",
    "ATTACHMENT_FILENAME_MAX",
    "AUTHOR_NAME_MAX",
    "BUTTON_LABEL_MAX",
    "BUTTON_URL_MAX",
    "COLOR_MAX",
    "COMPONENTS_V2_MAX",
    "COMPONENTS_V2_TEXT_MAX",
    "CONTAINER_CHILDREN_MAX",
    "CONTENT_MAX",
    "CUSTOM_ID_MAX",
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
    "WEBHOOK_FLAGS",
    "check",
    "embed_length",
    "validate",
    "validate_edit",
]
