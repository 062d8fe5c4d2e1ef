"""trio-webhook: deliver Discord webhook messages from trio, reliably and as fast as allowed.

Example::

    from trio_webhook import Embed, Message, open_webhook_sender

    async with open_webhook_sender(url) as sender:
        sender.send_nowait(Message(embeds=[Embed(title="build 42 passed")]))
"""

from trio_webhook._client import WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._errors import (
    ConfigError,
    DeadLetterFormatError,
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
from trio_webhook._limits import DEFAULT_MAX_UPLOAD_BYTES, check, validate
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
from trio_webhook._planning import PlannedRequest, chunk_embeds, embed_length, plan_requests
from trio_webhook._records import DeadLetter
from trio_webhook._replay import ReplayResult, replay
from trio_webhook._retry import RetryPolicy
from trio_webhook._sender import (
    Receipt,
    SenderStats,
    WebhookSender,
    open_webhook_sender,
)
from trio_webhook._sinks import CallbackSink, ChannelSink, DeadLetterSink, JsonlSink, MemorySink
from trio_webhook._version import __version__
from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    ProactiveStrategy,
    RateLimitInfo,
    RateLimitTracker,
    ReactiveStrategy,
    Strategy,
)

__all__ = [
    "AdaptiveStrategy",
    "AllowedMentions",
    "CallbackSink",
    "ChannelSink",
    "ConfigError",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DeadLetter",
    "DeadLetterFormatError",
    "DeadLetterSink",
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
    "JsonlSink",
    "MemorySink",
    "Message",
    "MessageNotFound",
    "PayloadTooLarge",
    "PlannedRequest",
    "ProactiveStrategy",
    "QueueFull",
    "RateLimitInfo",
    "RateLimitTracker",
    "RateLimited",
    "ReactiveStrategy",
    "Receipt",
    "ReplayResult",
    "RetryPolicy",
    "SenderClosed",
    "SenderConfig",
    "SenderStats",
    "SentMessage",
    "Strategy",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "Violation",
    "WebhookClient",
    "WebhookError",
    "WebhookNotFound",
    "WebhookSender",
    "check",
    "chunk_embeds",
    "embed_length",
    "open_webhook_sender",
    "plan_requests",
    "replay",
    "validate",
    "__version__",
]
