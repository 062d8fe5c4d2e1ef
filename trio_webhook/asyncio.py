"""trio-webhook under asyncio: FastAPI, aiohttp, discord.py bots, any ``asyncio.run``.

The same sender, with receipts you can ``await``::

    import trio_webhook.asyncio
    from trio_webhook import Embed, Message

    async def main() -> None:
        async with trio_webhook.asyncio.open_webhook_sender(url) as sender:
            receipt = sender.send_nowait(Message(embeds=[Embed(title="build 42 passed")]))
            delivery = await sender.send(Message(content="and waited for"))
            print((await receipt).id, delivery.id)
        # leaving the block drains the queue (within SenderConfig.drain_timeout)

    asyncio.run(main())

How it works: the sender runs in the one trio loop of :mod:`trio_webhook.sync`, a daemon
thread the facades own, shared by every sender and client of the process (one
rate-limit tracker for all of them, whichever thread or event loop sends). Awaiting
starts the work in that loop, and the trio side resolves an asyncio future with
``loop.call_soon_threadsafe``. ``send_nowait`` and ``stats`` hand their call to the loop
and wait for it (a few tens of microseconds, never on the network), so their errors
(``ValidationError``, ``QueueFull``, ``SenderClosed``) are raised at once, as under trio.

Cancellation: cancelling a task that awaits ``send`` or a receipt stops the waiting
only. The message stays queued and is delivered (or dead-lettered) as under trio.

Why a thread and not trio's guest mode (``trio.lowlevel.start_guest_run`` on the
running asyncio loop): measured with ``benchmarks/bench_facades.py`` (2,000 messages
queued then awaited, and 300 single sends, through an instant transport; 2 shared
cores, three runs of five), the thread is as cheap or cheaper on every figure:

========================  ===============  ===============  ==================
(median of 5)             thread           guest mode       trio, for reference
========================  ===============  ===============  ==================
messages a second         3,400-6,200      3,100-5,700      6,300-11,700
CPU a message             160-187 us       169-181 us       85-104 us
``send_nowait``, caller   77-81 us         146-158 us       4-5 us
one ``await send()``      168-172 us       226-348 us       104-116 us
========================  ===============  ===============  ==================

Guest mode has two further costs. Host code runs outside any trio task, so even
``send_nowait`` has to be an awaited round trip (``trio.Lock.acquire_nowait`` needs a
task), and its errors would come late. And a guest run belongs to one asyncio loop and
thread: two loops (two ``asyncio.run`` calls, or a loop a thread) would each need a trio
run of their own, so the process could no longer share one rate-limit tracker; and a
guest run still alive when its loop closes breaks the next ``asyncio.run`` in that
thread ("Attempted to call run() from inside a run()").
"""

from __future__ import annotations

import asyncio as _asyncio
from collections.abc import Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager, suppress
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, Unpack, final

from trio_webhook._background import (
    ReceiptView,
    background,
    facade_client,
    facade_sender,
    send_and_wait,
)
from trio_webhook._client import WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._edits import MessageEdit
from trio_webhook._models import Delivery, Message, SentMessage, WebhookInfo
from trio_webhook._receipts import SenderStats
from trio_webhook._sender import WebhookSender

if TYPE_CHECKING:
    from trio_webhook._background import (
        EditOptions,
        ExecuteOptions,
        FacadeOptions,
        Held,
        WebhookChanges,
    )

__all__ = ["AsyncReceipt", "AsyncSender", "AsyncWebhookClient", "open_webhook_sender"]

T = TypeVar("T")


async def _call(afn: Callable[..., Awaitable[T]], *args: object) -> T:
    """``await afn(*args)`` in the background trio loop, awaited from asyncio.

    Cancelling the awaiting task stops the waiting only; the call runs to its end.
    """
    try:
        loop = _asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "trio_webhook.asyncio needs a running asyncio loop; under trio use "
            "trio_webhook.open_webhook_sender, in blocking code trio_webhook.sync"
        ) from None
    future: _asyncio.Future[T] = loop.create_future()

    def done(result: T | None, error: BaseException | None) -> None:
        # Called in the trio thread. The asyncio loop may be gone by now (its program
        # stopped waiting and ended): then nobody is left to tell.
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, result, error)

    background.submit(afn, args, done)
    return await future


def _settle(future: _asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if future.done():
        # The waiter was cancelled; the outcome is the sender's to record, not ours.
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


@final
class AsyncReceipt(ReceiptView):
    """The promise of one message's outcome: ``await receipt`` (or ``receipt.wait()``)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, Delivery]:
        return self.wait().__await__()

    async def wait(self) -> Delivery:
        """Wait until the message is delivered and return what Discord answered.

        Raises:
            DeliveryFailed: The message was dead-lettered; ``reason`` says why.

        Cancellation: cancelling the wait leaves the message queued.
        """
        return await _call(self._receipt.wait)


class _Opened(Generic[T]):
    """Entered in the background loop by ``async with``, left (closed) on exit."""

    def __init__(self, manager: AbstractAsyncContextManager[T]) -> None:
        self._manager = manager
        self._held: Held[T] | None = None

    async def __aenter__(self) -> Self:
        opening = _asyncio.ensure_future(_call(background.ahold, self._manager))
        try:
            # Shielded: a cancelled opener must not leave an opened sender nobody holds.
            self._held = await _asyncio.shield(opening)
        except _asyncio.CancelledError:
            opening.add_done_callback(_close_once_open)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def _value(self) -> T:
        if self._held is None:
            raise RuntimeError(f"{type(self).__name__}: open it with `async with`")
        return self._held.value

    async def aclose(self) -> None:
        """Close it (a sender drains its queue within ``drain_timeout``).

        Cancellation: the closing goes on in the background loop all the same.
        """
        if self._held is not None:
            await _call(self._held.aclose)


def _close_once_open(opening: _asyncio.Future[Held[Any]]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        background.submit(opening.result().aclose, (), _ignore)


def _ignore(result: object, error: BaseException | None) -> None:
    """Nobody awaits this close; the sender logs what it could not deliver."""


@final
class AsyncSender(_Opened[WebhookSender]):
    """Queues messages for one webhook and delivers them in order, under asyncio.

    Made by :func:`open_webhook_sender`; ``async with`` it. Leaving the block (or
    :meth:`aclose`) drains the queue within ``drain_timeout``.
    """

    def __repr__(self) -> str:
        if self._held is None:
            return "<AsyncSender (not open)>"
        return f"<AsyncSender {self._value.client.url.redacted}>"

    def send_nowait(self, message: Message) -> AsyncReceipt:
        """Queue ``message`` and return an awaitable receipt; never waits on the network.

        It raises, at once, what :meth:`trio_webhook.WebhookSender.send_nowait` raises: a
        ``ValidationError`` for a message splitting cannot fix, ``QueueFull`` past
        ``max_buffered``, ``SenderClosed`` once closed.
        """
        return AsyncReceipt(background.run_sync(self._value.send_nowait, message))

    async def send(self, message: Message) -> Delivery:
        """Queue ``message`` (waiting for room rather than shedding), wait until delivered.

        A dead-lettered message raises ``DeliveryFailed`` (its ``reason`` says why); a
        message splitting cannot fix, ``ValidationError``; a closed sender,
        ``SenderClosed``.

        Cancellation: the message is queued all the same, and delivered or dead-lettered
        as any other; only the waiting stops.
        """
        return await _call(send_and_wait, self._value, message)

    async def flush(self) -> None:
        """Wait until every message accepted so far is committed to the outbox."""
        await _call(self._value.flush)

    def stats(self) -> SenderStats:
        """A frozen snapshot of the counters."""
        return background.run_sync(self._value.stats)


def open_webhook_sender(
    url: str, config: SenderConfig | None = None, **options: Unpack[FacadeOptions]
) -> AsyncSender:
    """A sender for one webhook, for ``async with`` under asyncio.

    The arguments are those of :func:`trio_webhook.sync.open_webhook_sender`: the URL, a
    :class:`~trio_webhook.SenderConfig`, and the options ``tracker``, ``ssl_context``
    and ``transport``.

    Example::

        async with trio_webhook.asyncio.open_webhook_sender(url) as sender:
            delivery = await sender.send(Message(content="hi"))

    Resource handling:
        The sender's tasks run in the facades' background trio loop from ``__aenter__``
        to ``__aexit__``, which drains the queue within ``config.drain_timeout``.
    """
    return AsyncSender(facade_sender(url, config, options))


@final
class AsyncWebhookClient(_Opened[WebhookClient]):
    """One-shot calls to one webhook under asyncio: execute, get, edit, delete messages.

    The calls of :class:`~trio_webhook.WebhookClient` (its limiter, retries and typed
    errors), awaited from asyncio; ``async with`` it. The arguments are those of
    :class:`trio_webhook.sync.SyncWebhookClient`.
    """

    def __init__(
        self, url: str, config: SenderConfig | None = None, **options: Unpack[FacadeOptions]
    ) -> None:
        super().__init__(facade_client(url, config, options))

    async def execute(self, message: Message, **options: Unpack[ExecuteOptions]) -> Delivery:
        """Send ``message`` in as many requests as Discord needs, in order, and wait.

        ``options`` (``wait``, ``thread_id``, ``split_content``) are those of
        :meth:`trio_webhook.WebhookClient.execute`, and it raises what that raises, as
        itself (``ValidationError``, a ``DiscordHTTPError`` such as ``WebhookNotFound``,
        ``DeliveryFailed``, ``TransportError``).
        """
        return await _call(partial(self._value.execute, message, **options))

    async def get_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> SentMessage:
        """Fetch a message this webhook sent (``MessageNotFound`` if there is none)."""
        return await _call(partial(self._value.get_message, message_id, thread_id=thread_id))

    async def edit_message(
        self, message_id: int | str, message: Message | MessageEdit, **options: Unpack[EditOptions]
    ) -> SentMessage:
        """Edit a message this webhook sent (``keep_attachments=``, ``thread_id=``)."""
        return await _call(partial(self._value.edit_message, message_id, message, **options))

    async def delete_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> None:
        """Delete a message this webhook sent."""
        await _call(partial(self._value.delete_message, message_id, thread_id=thread_id))

    async def fetch_webhook(self) -> WebhookInfo:
        """The webhook itself (name, avatar, channel, guild), never its token."""
        return await _call(self._value.fetch_webhook)

    async def modify_webhook(self, **changes: Unpack[WebhookChanges]) -> WebhookInfo:
        """Change the webhook's default ``name`` or ``avatar`` (``None`` removes it)."""
        return await _call(partial(self._value.modify_webhook, **changes))

    async def delete_webhook(self) -> None:
        """Delete the webhook for good; the client is dead afterwards."""
        await _call(self._value.delete_webhook)
