"""trio-webhook: deliver Discord webhook messages from trio, reliably and as fast as allowed.

The names most programs need are here; the rest live in public sub-namespaces:
:mod:`trio_webhook.errors` (the whole exception tree), :mod:`trio_webhook.deadletter`,
:mod:`trio_webhook.limits`, :mod:`trio_webhook.ratelimit`, :mod:`trio_webhook.transport`,
:mod:`trio_webhook.outbox` and :mod:`trio_webhook.testing`.

Example::

    from trio_webhook import Embed, Message, open_webhook_sender

    async with open_webhook_sender(url) as sender:
        sender.send_nowait(Message(embeds=[Embed(title="build 42 passed")]))
"""

from trio_webhook._client import WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._errors import (
    DeliveryFailed,
    DiscordHTTPError,
    QueueFull,
    SenderClosed,
    TransportError,
    ValidationError,
    WebhookError,
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
from trio_webhook._retry import RetryPolicy
from trio_webhook._sender import (
    Receipt,
    SenderStats,
    WebhookSender,
    open_webhook_sender,
)
from trio_webhook._version import __version__

__all__ = [
    # the sender
    "open_webhook_sender",
    "WebhookSender",
    "Receipt",
    "SenderStats",
    # the client
    "WebhookClient",
    # the config
    "SenderConfig",
    "RetryPolicy",
    # the models
    "Message",
    "Embed",
    "EmbedField",
    "EmbedFooter",
    "EmbedAuthor",
    "EmbedMedia",
    "FilePart",
    "AllowedMentions",
    "Delivery",
    "SentMessage",
    # the main errors (the whole tree: trio_webhook.errors)
    "WebhookError",
    "ValidationError",
    "DeliveryFailed",
    "QueueFull",
    "SenderClosed",
    "DiscordHTTPError",
    "TransportError",
    "__version__",
]
