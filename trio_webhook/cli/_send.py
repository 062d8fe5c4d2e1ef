"""The work behind the commands that send, as plain async functions.

Each takes an optional ``transport`` and ``ssl_context``, so that tests reach an
in-process fake without sockets; none of them prints anything.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import attrs
import trio

from trio_webhook._config import SenderConfig
from trio_webhook._errors import DeliveryFailed
from trio_webhook._models import Delivery, Message

if TYPE_CHECKING:
    from trio_webhook._replay import ReplayResult
    from trio_webhook._sender import Receipt, SenderStats
    from trio_webhook.transport import Transport

__all__ = ["ProgressFn", "replay_file", "send_message", "send_messages", "watching"]


async def send_message(
    url: str,
    message: Message,
    *,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
) -> Delivery:
    """Send one message with a :class:`~trio_webhook.WebhookClient` and return the delivery.

    Raises:
        WebhookError: Any failure (validation, Discord's answer, transport, retries).
    """
    from trio_webhook._client import WebhookClient

    async with WebhookClient(url, ssl_context=ssl_context, transport=transport) as c:
        return await c.execute(message, wait=True)


ProgressFn = Callable[[int, int], None]
"""Called with ``(delivered, dead)`` each time a message's receipt resolves."""


async def send_messages(
    url: str,
    messages: Iterable[Message],
    *,
    config: SenderConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
    progress: ProgressFn | None = None,
) -> SenderStats:
    """Send many messages through a sender, waiting for room rather than shedding.

    Args:
        url: The webhook URL.
        messages: The messages, in order.
        config: The sender's config (dead-letter target included).
        ssl_context: Trust for the server's certificate.
        transport: A transport instead of the network (tests: ``FakeDiscord.transport()``).
        progress: Called with ``(delivered, dead)`` as each message resolves.

    Returns:
        The sender's counters after it closed.
    """
    from trio_webhook._sender import open_webhook_sender

    async with (
        open_webhook_sender(
            url, config=config, ssl_context=ssl_context, transport=transport
        ) as sender,
        watching(progress) as watch,
    ):
        for message in messages:
            watch(await sender.send(message))
    return sender.stats()


@asynccontextmanager
async def watching(progress: ProgressFn | None) -> AsyncIterator[Callable[[Receipt], None]]:
    """Count receipts as they resolve and report ``(delivered, dead)`` to ``progress``.

    Yields a function that hands a receipt over (it never blocks). Leaving the block
    waits until every receipt handed over has resolved, so open it inside the sender
    that resolves them.
    """
    from trio_webhook._sender import Receipt

    done = [0, 0]

    async def watch(receipts: trio.MemoryReceiveChannel[Receipt]) -> None:
        async for receipt in receipts:
            try:
                await receipt.wait()
                done[0] += 1
            except DeliveryFailed:
                done[1] += 1
            if progress is not None:
                progress(done[0], done[1])

    async with trio.open_nursery() as nursery:
        send_channel, receive_channel = trio.open_memory_channel[Receipt](math.inf)
        nursery.start_soon(watch, receive_channel)
        async with send_channel:
            yield send_channel.send_nowait


async def replay_file(
    path: str,
    url: str,
    *,
    dead_letter: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
) -> ReplayResult:
    """Replay a dead-letter file with :func:`trio_webhook.deadletter.replay`.

    Args:
        path: The dead-letter JSONL file (left unchanged).
        url: The webhook to deliver to.
        dead_letter: Append the records that fail again to this JSONL file.
        ssl_context: Trust for the server's certificate.
        transport: A transport instead of the network (tests: ``FakeDiscord.transport()``).

    Returns:
        The replay's result.
    """
    from trio_webhook._sinks import JsonlSink
    from trio_webhook.deadletter import replay

    result = await replay(path, url, ssl_context=ssl_context, transport=transport)
    if dead_letter is not None and result.failed:
        sink = JsonlSink(dead_letter)
        for record, error in result.failed:
            await sink.put(attrs.evolve(record, error=error))
    return result
