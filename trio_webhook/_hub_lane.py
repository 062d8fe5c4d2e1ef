"""A hub's lane (a sender that reports what it settles) and the transport lanes borrow."""

from __future__ import annotations

from collections.abc import Callable

import trio

from trio_webhook._client import WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._sender import WebhookSender
from trio_webhook.transport._base import Transport
from trio_webhook.transport._values import HTTPRequest, HTTPResponse

__all__ = ["Borrowed", "Lane"]


class _Settled:
    """A settled-messages counter of the delivery loop that reports each change.

    The delivery loop counts a settled message in ``_delivered`` or ``_dead``, in
    several places; as this descriptor those two are the one point where the hub hears
    of it, without a second copy of the loop.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = f"_settled{name}"

    def __get__(self, lane: Lane, owner: type | None = None) -> int:
        value: int = lane.__dict__.get(self._name, 0)
        return value

    def __set__(self, lane: Lane, value: int) -> None:
        lane._on_settled(value - self.__get__(lane))
        lane.__dict__[self._name] = value


class Lane(WebhookSender):
    """A hub's sender for one webhook: tells the hub of every message it settles."""

    _delivered = _Settled()
    _dead = _Settled()

    def __init__(
        self, client: WebhookClient, config: SenderConfig, on_settled: Callable[[int], None]
    ) -> None:
        self._on_settled = on_settled
        super().__init__(client, config, None)
        self.last_used = trio.current_time()
        self.idle_scope = trio.CancelScope()

    def idle(self) -> bool:
        """Whether every message it accepted is settled."""
        return self._enqueued == self._delivered + self._dead


class Borrowed:
    """A transport the lanes use and never close (the hub closes it, once, at the end)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        return await self._transport.send(request)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
