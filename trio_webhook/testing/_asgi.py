"""The ASGI seam between FakeDiscord and what runs it (the in-process transport, hypercorn).

Both sides import this module and neither imports the other's, so the fake never depends on
its transport and the transport never on the fake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "ASGIApp",
    "ASGIMessage",
    "ASGIReceive",
    "ASGIScope",
    "ASGISend",
    "ConnectionDroppedError",
]

ASGIScope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[ASGIMessage]]
ASGISend = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[ASGIScope, ASGIReceive, ASGISend], Awaitable[None]]


class ConnectionDroppedError(Exception):
    """Raised by the app to drop the connection mid-response (the ``DROP`` fault).

    The in-process transport turns it into ``httpx.RemoteProtocolError``; hypercorn closes
    the connection without completing the response.
    """
