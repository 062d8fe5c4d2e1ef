"""FakeDiscord: an in-memory ASGI app that answers like Discord's webhook API.

One role a module: ``_discord`` (the public face, which delegates), ``_app`` (routing),
``_model`` (channels, webhooks, messages, threads), ``_ratelimits`` (buckets and the
hidden channel limit), ``_validation`` (the checks; ``_components`` for components
and polls), ``_multipart`` (bodies), ``_faults`` (injected failures) and ``_http`` (the
answer values they share, the 400 ``errors`` tree among them).
"""

from trio_webhook.testing._asgi import ConnectionDroppedError
from trio_webhook.testing._fake._app import RecordedFile, RecordedRequest
from trio_webhook.testing._fake._discord import FakeDiscord, FakeStats
from trio_webhook.testing._fake._faults import Fault, FaultKind
from trio_webhook.testing._fake._model import FakeWebhook

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
