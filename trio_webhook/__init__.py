"""trio-webhook: deliver Discord webhook messages from trio, reliably and as fast as allowed.

Example::

    from trio_webhook import Embed, Message, open_webhook_sender

    async with open_webhook_sender(url) as sender:
        sender.send_nowait(Message(embeds=[Embed(title="build 42 passed")]))
"""

from trio_webhook._errors import (
    DeliveryFailed,
    DiscordHTTPError,
    Forbidden,
    InvalidWebhookURL,
    MessageNotFound,
    PayloadTooLarge,
    QueueFull,
    RateLimited,
    SenderClosed,
    TransportError,
    Unauthorized,
    ValidationError,
    Violation,
    WebhookError,
    WebhookNotFound,
)
from trio_webhook._models import (
    AllowedMentions,
    Delivery,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
    SentMessage,
)
from trio_webhook._version import __version__

__all__ = [
    "AllowedMentions",
    "Delivery",
    "DeliveryFailed",
    "DiscordHTTPError",
    "Embed",
    "EmbedAuthor",
    "EmbedField",
    "EmbedFooter",
    "EmbedMedia",
    "FilePart",
    "Forbidden",
    "InvalidWebhookURL",
    "Message",
    "MessageNotFound",
    "PayloadTooLarge",
    "QueueFull",
    "RateLimited",
    "SenderClosed",
    "SentMessage",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "Violation",
    "WebhookError",
    "WebhookNotFound",
    "__version__",
]
