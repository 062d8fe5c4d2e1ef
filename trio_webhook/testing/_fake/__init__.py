"""FakeDiscord: an in-memory ASGI app that answers like Discord's webhook API.

One role a module: ``_discord`` (the fake), ``_validation`` (the checks and the 400
``errors`` tree), ``_multipart`` (bodies) and ``_http`` (the answer values they share).
"""

from trio_webhook.testing._asgi import ConnectionDroppedError
from trio_webhook.testing._fake._discord import (
    FakeDiscord,
    FakeStats,
    FakeWebhook,
    Fault,
    FaultKind,
    RecordedFile,
    RecordedRequest,
)

__all__ = [
    "ConnectionDroppedError",
    "FakeDiscord",
    "FakeStats",
    "FakeWebhook",
    "Fault",
    "FaultKind",
    "RecordedFile",
    "RecordedRequest",
]
