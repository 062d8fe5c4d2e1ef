"""A transport that answers every request as Discord would, sending nothing (``dry_run``)."""

from __future__ import annotations

import itertools
import json

import trio

from trio_webhook.transport._values import HTTPRequest, HTTPResponse

__all__ = ["DryRunTransport"]


class DryRunTransport:
    """Answers every request as Discord would, without sending anything.

    An execute with ``wait=true`` gets a message with a fresh id (1, 2, ...) and
    ``"dry_run": true``; with ``wait=false``, and every ``DELETE``, a 204. Rate limits are
    never announced, so a dry run shows planning and pacing by the client's own rules.

    Example::

        async with WebhookClient(url, transport=DryRunTransport()) as client:
            delivery = await client.execute(Message(content="not really"))
    """

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Answer ``request`` at once, as Discord would."""
        await trio.lowlevel.checkpoint()
        if request.method == "DELETE" or ("wait", "false") in request.query:
            return HTTPResponse(204, {})
        message_id = str(next(self._ids))
        body = {"id": message_id, "channel_id": "0", "content": "", "dry_run": True}
        return HTTPResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())

    async def aclose(self) -> None:
        """Nothing to close."""
        await trio.lowlevel.checkpoint()
