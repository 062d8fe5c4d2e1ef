"""The work behind the commands that send, as plain async functions.

Each takes an optional ``transport`` and ``ssl_context``, so that tests reach an
in-process fake without sockets; none of them prints anything.
"""

from __future__ import annotations

import contextlib
import math
import signal
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Final

import attrs
import trio

from trio_webhook._config import SenderConfig
from trio_webhook._errors import DeliveryFailed
from trio_webhook._models import Delivery, Message

if TYPE_CHECKING:
    from trio_webhook._replay import ReplayResult
    from trio_webhook._sender import Receipt, SenderStats, WebhookSender
    from trio_webhook.transport import Transport

__all__ = [
    "Interrupted",
    "ProgressFn",
    "StatusFn",
    "replay_file",
    "send_message",
    "send_messages",
    "watching",
]


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


StatusFn = Callable[[str], None]
"""Called with a line saying what the sender is waiting on (``""`` when nothing)."""

# What each limit a sender may wait on is, for a person.
_WAIT_REASONS: Final[Mapping[str, str]] = {
    "bucket": "the webhook's rate limit",
    "channel": "the channel's hidden limit (about 30 messages a minute)",
    "global": "Discord's global limit (a global 429)",
    "global_pace": "the global limit of 50 requests a second",
    "edge_ban": "Cloudflare's ban of this IP (too many invalid requests)",
    "invalid_budget": "spacing requests near the invalid-request limit",
}


class Interrupted(Exception):
    """Ctrl-C stopped a batch; ``stats`` says what was delivered and dead-lettered."""

    def __init__(self, stats: SenderStats) -> None:
        super().__init__("interrupted")
        self.stats = stats


async def send_messages(
    url: str,
    messages: Iterable[Message],
    *,
    config: SenderConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
    progress: ProgressFn | None = None,
    status: StatusFn | None = None,
    notify: StatusFn | None = None,
    interrupts: bool = False,
) -> SenderStats:
    """Send many messages through a sender, waiting for room rather than shedding.

    Args:
        url: The webhook URL.
        messages: The messages, in order.
        config: The sender's config (dead-letter target included).
        ssl_context: Trust for the server's certificate.
        transport: A transport instead of the network (tests: ``FakeDiscord.transport()``).
        progress: Called with ``(delivered, dead)`` as each message resolves.
        status: Called with what the sender waits on, several times a second.
        notify: Called once with each event a person must not miss (Ctrl-C).
        interrupts: Handle SIGINT (main thread only): the first stops the batch and drains
            until the drain deadline, a second settles what is left; then raise
            :class:`Interrupted`. Returns the sender's counters after it closed.
    """
    from trio_webhook._sender import open_webhook_sender

    config = config or SenderConfig()
    feeding = trio.CancelScope()
    with _signals(interrupts) as signals:
        # Outside the sender, the watchers and the count live on through its drain.
        async with watching(progress) as watch, trio.open_nursery() as watchers:
            async with open_webhook_sender(
                url, config=config, ssl_context=ssl_context, transport=transport
            ) as sender:
                notice: list[str] = []  # what Ctrl-C did, shown before any wait
                if status is not None:
                    watchers.start_soon(_report_waits, sender, status, notice)
                if signals is not None:
                    notice_fn = notify or (lambda text: None)
                    watchers.start_soon(
                        _on_ctrl_c, signals, sender, feeding, notice, notice_fn, config
                    )
                with feeding:
                    receipts = []
                    for message in messages:
                        receipts.append(await sender.send(message))
                        watch(receipts[-1])
                    # Every message settles before the block is left, however long that
                    # takes: the drain deadline is for Ctrl-C, not for a long batch.
                    for receipt in receipts:
                        with contextlib.suppress(DeliveryFailed):
                            await receipt.wait()
            watchers.cancel_scope.cancel()
    if feeding.cancel_called:
        raise Interrupted(sender.stats())
    return sender.stats()


@contextmanager
def _signals(enabled: bool) -> Iterator[AsyncIterator[int] | None]:
    if not enabled:
        yield None
        return
    with trio.open_signal_receiver(signal.SIGINT) as receiver:
        yield receiver


async def _report_waits(sender: WebhookSender, status: StatusFn, notice: list[str]) -> None:
    tracker = sender.client.tracker
    while True:
        now = trio.current_time()
        parts = list(notice[-1:])
        waits = tracker.waiting(now)
        if waits:
            wait = max(waits, key=lambda w: w.until)
            why = _WAIT_REASONS.get(wait.reason, wait.reason)
            parts.append(f"waiting {wait.until - now:.1f} s on {why}")
        status("; ".join(parts))
        await trio.sleep(0.2)


async def _on_ctrl_c(
    signals: AsyncIterator[int],
    sender: WebhookSender,
    feeding: trio.CancelScope,
    notice: list[str],
    notify: StatusFn,
    config: SenderConfig,
) -> None:
    async for _ in signals:
        if not feeding.cancel_called:
            feeding.cancel()
            until = time.strftime("%H:%M:%S", time.localtime(time.time() + config.drain_timeout))
            notify(
                f"Ctrl-C: sending what is queued until {until} ({config.drain_timeout:g} s); "
                "Ctrl-C again to dead-letter the rest now"
            )
            notice.append(f"draining until {until}")
        else:
            sender.stop_draining()
            notify("Ctrl-C again: dead-lettering what is left")
            notice.append("stopping")


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
