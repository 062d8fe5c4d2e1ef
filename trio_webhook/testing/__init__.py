"""Test helpers for code that uses trio-webhook: a faithful fake Discord and strategies.

The names are imported on first use, so that the pytest plugin (which imports this
package) stays cheap and works without the ``testing`` extra installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trio_webhook.testing._asgi import ConnectionDroppedError
    from trio_webhook.testing._asgi_transport import FakeDiscordTransport
    from trio_webhook.testing._fake import (
        FakeDiscord,
        FakeStats,
        FakeWebhook,
        Fault,
        FaultKind,
        RecordedFile,
        RecordedRequest,
    )
    from trio_webhook.testing._server import FakeDiscordServer, serve_fake_discord

__all__ = [
    "ConnectionDroppedError",
    "FakeDiscord",
    "FakeDiscordServer",
    "FakeDiscordTransport",
    "FakeStats",
    "FakeWebhook",
    "Fault",
    "FaultKind",
    "RecordedFile",
    "RecordedRequest",
    "serve_fake_discord",
]

_MODULES = {
    "ConnectionDroppedError": "_asgi",
    "FakeDiscordTransport": "_asgi_transport",
    "FakeDiscordServer": "_server",
    "serve_fake_discord": "_server",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = importlib.import_module(f"{__name__}.{_MODULES.get(name, '_fake')}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
