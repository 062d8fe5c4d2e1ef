"""Many webhooks through one object: :func:`open_webhook_hub`.

A notification service or a relay sends to thousands of webhooks; a hub opens a sender
lane for each when its first message comes and closes it when idle::

    from trio_webhook.hub import open_webhook_hub

    async with open_webhook_hub() as hub:
        receipt = hub.send_nowait(url, Message(content="build 42 passed"))

See ``docs/scale.md``.
"""

from trio_webhook._hub import WebhookHub
from trio_webhook._hub_open import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BUFFERED_TOTAL,
    open_webhook_hub,
)
from trio_webhook._hub_stats import HubStats

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BUFFERED_TOTAL",
    "HubStats",
    "WebhookHub",
    "open_webhook_hub",
]
