"""An in-process httpx transport over FakeDiscord that honours timeouts on trio's clock."""

from __future__ import annotations

import math
from typing import Any, cast

import httpx
import trio

from trio_webhook.testing._asgi import ASGIApp, ConnectionDroppedError

__all__ = ["FakeDiscordTransport"]


class FakeDiscordTransport(httpx.ASGITransport):
    """Runs a :class:`FakeDiscord` in-process: no sockets, and ``MockClock`` drives it.

    ``httpx.ASGITransport`` ignores httpx's timeouts; this subclass applies the request's
    read timeout (``request.extensions["timeout"]["read"]``) as a ``trio.fail_after``
    around the whole exchange, raising ``httpx.ReadTimeout`` as a socket would. A
    connection dropped by the fake surfaces as ``httpx.RemoteProtocolError``.

    Args:
        fake: The fake to serve: a :class:`FakeDiscord`, or any ASGI app that raises
            :class:`ConnectionDroppedError` to drop a connection.
    """

    def __init__(self, fake: ASGIApp) -> None:
        super().__init__(app=cast(Any, fake), raise_app_exceptions=True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request to the fake and return its complete response.

        Raises:
            httpx.ReadTimeout: The fake took longer than the read timeout.
            httpx.RemoteProtocolError: The fake dropped the connection mid-response.
        """
        timeouts = request.extensions.get("timeout", {})
        read = timeouts.get("read")
        try:
            with trio.fail_after(math.inf if read is None else read):
                return await super().handle_async_request(request)
        except trio.TooSlowError as exc:
            raise httpx.ReadTimeout("timed out waiting for FakeDiscord", request=request) from exc
        except ConnectionDroppedError as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response", request=request
            ) from exc
