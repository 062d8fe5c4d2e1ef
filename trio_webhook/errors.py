"""Every exception trio-webhook raises, and the Discord error codes it acts on.

The five you meet most (:class:`~trio_webhook.WebhookError`,
:class:`~trio_webhook.ValidationError`, :class:`~trio_webhook.DeliveryFailed`,
:class:`~trio_webhook.DiscordHTTPError`, :class:`~trio_webhook.TransportError`, plus
:class:`~trio_webhook.QueueFull` and :class:`~trio_webhook.SenderClosed`) are also
exported from :mod:`trio_webhook`; this module has the whole tree::

    WebhookError
    ├── ValidationError (also ValueError)  a message breaks Discord's limits; nothing was sent
    │   └── JSONMessageError    Message.from_json: the JSON is not a message (problems)
    ├── InvalidWebhookURL (also ValueError) the URL is not a webhook URL we can use
    ├── DiscordHTTPError                    Discord answered with an error status
    │   ├── Unauthorized        401: bad token; the webhook is dead
    │   ├── Forbidden           403
    │   ├── WebhookNotFound     404 on the webhook (code 10015); the webhook is dead
    │   ├── MessageNotFound     404 on a message (code 10008); the webhook is fine
    │   ├── PayloadTooLarge     413 / code 40005
    │   └── RateLimited         429 that the retry policy would not wait out
    ├── TransportError                      no usable answer: connect, TLS, timeout, protocol
    ├── InvalidRequestBudgetExceeded        stopped before Discord's edge bans the IP
    ├── DeliveryFailed                      a message could not be delivered (after retries)
    ├── ConfigError (also ValueError)       a setting is missing, malformed or inconsistent
    ├── DeadLetterFormatError (also ValueError) a dead-letter file holds a bad line
    ├── OutboxError                         the outbox cannot do what was asked
    │   ├── OutboxLeaseHeld     another outbox delivers this webhook
    │   └── OutboxLeaseLost     this outbox's lease ran out; the new holder delivers
    ├── QueueFull                           send_nowait past the hard cap of buffered messages
    └── SenderClosed                        the sender no longer accepts messages

:class:`Violation` is not an exception: it is one broken limit, listed by
:class:`ValidationError` and returned by :func:`trio_webhook.limits.validate`;
:class:`JSONProblem` is one problem of a message's JSON, listed by :class:`JSONMessageError`.

No message or attribute of these exceptions ever holds a webhook token.

Example::

    from trio_webhook.errors import DeliveryFailed, ValidationError

    try:
        receipt = sender.send_nowait(message)
    except ValidationError as exc:
        for violation in exc.violations:
            print(violation.path, violation.detail)
    else:
        try:
            await receipt.wait()
        except DeliveryFailed as exc:
            if exc.reason == "dead_webhook":
                ...  # deleted, or a wrong token: stop using this URL
"""

from trio_webhook._errors import (
    ENTITY_TOO_LARGE,
    INVALID_TOKEN,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    ConfigError,
    DeadLetterFormatError,
    DeliveryFailed,
    DiscordHTTPError,
    Forbidden,
    InvalidRequestBudgetExceeded,
    InvalidWebhookURL,
    JSONMessageError,
    JSONProblem,
    MessageNotFound,
    PayloadTooLarge,
    QueueFull,
    RateLimited,
    SenderClosed,
    TransportError,
    TransportErrorKind,
    Unauthorized,
    ValidationError,
    Violation,
    WebhookError,
    WebhookNotFound,
)
from trio_webhook.outbox._base import OutboxError, OutboxLeaseHeld, OutboxLeaseLost

__all__ = [
    "ENTITY_TOO_LARGE",
    "INVALID_TOKEN",
    "UNKNOWN_MESSAGE",
    "UNKNOWN_WEBHOOK",
    "ConfigError",
    "DeadLetterFormatError",
    "DeliveryFailed",
    "DiscordHTTPError",
    "Forbidden",
    "InvalidRequestBudgetExceeded",
    "InvalidWebhookURL",
    "JSONMessageError",
    "JSONProblem",
    "MessageNotFound",
    "OutboxError",
    "OutboxLeaseHeld",
    "OutboxLeaseLost",
    "PayloadTooLarge",
    "QueueFull",
    "RateLimited",
    "SenderClosed",
    "TransportError",
    "TransportErrorKind",
    "Unauthorized",
    "ValidationError",
    "Violation",
    "WebhookError",
    "WebhookNotFound",
]
