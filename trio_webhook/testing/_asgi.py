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
    "ConnectionCounter",
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


class ConnectionCounter:
    """Wraps an ASGI app; ``clients`` holds the client ``(host, port)`` of every request.

    Each address is one connection the client opened (benchmarks and the pool's tests
    count them).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.clients: set[tuple[str, int]] = set()

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] == "http":
            host, port = scope["client"]
            self.clients.add((host, port))
        await self.app(scope, receive, send)
