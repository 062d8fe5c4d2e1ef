"""Blocking trio-webhook, for programs that do not run trio: scripts, Django, Flask, cron.

The same sender and client, with methods that block the calling thread::

    import trio_webhook.sync
    from trio_webhook import Embed, Message

    trio_webhook.sync.send(url, content="deployed", files=["CHANGELOG.md"])

    with trio_webhook.sync.open_webhook_sender(url) as sender:
        sender.send_nowait(Message(embeds=[Embed(title="build 42 passed")]))
        delivery = sender.send(Message(content="and waited for"))
    # leaving the block drains the queue (within SenderConfig.drain_timeout)

How it works: one trio loop runs in a daemon thread that the facade owns, started on
first use and shared by every facade object of the process (and by
:mod:`trio_webhook.asyncio`). Calls hand their work to it with ``trio.from_thread`` and
wait for the answer, so they are safe from any number of threads at once; messages one
thread queues keep that thread's order. Every sender and client shares one rate-limit
tracker per strategy, so the global limit and a channel's hidden limit are paced across
all of them. An exception raised in the loop comes out in the calling thread as itself
(:class:`~trio_webhook.ValidationError`, :class:`~trio_webhook.DeliveryFailed`,
:class:`~trio_webhook.errors.WebhookNotFound`, ...).

Closing a sender drains its queue within ``drain_timeout``; so does interpreter exit
(an ``atexit`` hook) for senders never closed. Calling this facade from inside a trio
run or a running asyncio loop raises ``RuntimeError`` (blocking there would stall the
loop, or deadlock it): use :func:`trio_webhook.open_webhook_sender` or
:mod:`trio_webhook.asyncio` there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Self, TypeVar, Unpack, final

import trio

from trio_webhook._background import (
    EditOptions,
    ExecuteOptions,
    FacadeOptions,
    Held,
    ReceiptView,
    WebhookChanges,
    background,
    facade_client,
    facade_sender,
    one_message,
    send_and_wait,
)
from trio_webhook._client import WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._edits import MessageEdit
from trio_webhook._models import Delivery, Embed, FilePart, Message, SentMessage, WebhookInfo
from trio_webhook._receipts import Receipt, SenderStats
from trio_webhook._sender import WebhookSender

__all__ = ["SyncReceipt", "SyncSender", "SyncWebhookClient", "open_webhook_sender", "send"]

T = TypeVar("T")


def _refuse_inside_a_loop(name: str, instead: str) -> None:
    """Raise if this thread runs an event loop, which the blocking call would stall."""
    if trio.lowlevel.in_trio_run():
        raise RuntimeError(
            f"trio_webhook.sync.{name} blocks, and was called inside a trio run, where it "
            f"would stall the loop or deadlock: use trio_webhook.{instead} there (await it)"
        )
    # Not imported here: without asyncio in sys.modules, no asyncio loop can be running.
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio._get_running_loop() is not None:
        raise RuntimeError(
            f"trio_webhook.sync.{name} blocks, and was called inside a running asyncio "
            "event loop, where it would stall the loop or deadlock: use "
            "trio_webhook.asyncio.open_webhook_sender there (await it)"
        )


@final
class SyncReceipt(ReceiptView):
    """The promise of one message's outcome, returned by :meth:`SyncSender.send_nowait`."""

    __slots__ = ()

    def wait(self, timeout: float | None = None) -> Delivery:
        """Block until the message is delivered and return what Discord answered.

        Args:
            timeout: Seconds to wait at most (``None``: until the message is settled).

        Raises:
            DeliveryFailed: The message was dead-lettered; ``reason`` says why.
            TimeoutError: ``timeout`` passed first; the message stays queued.
        """
        _refuse_inside_a_loop("SyncReceipt.wait", "Receipt.wait")
        return background.run(_wait, self._receipt, timeout)


async def _wait(receipt: Receipt, seconds: float | None) -> Delivery:
    if seconds is None:
        return await receipt.wait()
    with trio.move_on_after(seconds):
        return await receipt.wait()
    raise TimeoutError(
        f"SyncReceipt.wait: the message was not settled within timeout={seconds} s; it stays queued"
    )


class _Closing:
    """``with`` closes it."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


@final
class SyncSender(_Closing):
    """Queues messages for one webhook and delivers them in order, from any thread.

    Made by :func:`open_webhook_sender`; a context manager that closes on exit.
    """

    def __init__(self, held: Held[WebhookSender]) -> None:
        self._held = held
        self._sender = held.value

    def __repr__(self) -> str:
        return f"<SyncSender {self._sender.client.url.redacted}>"

    def send_nowait(self, message: Message) -> SyncReceipt:
        """Queue ``message`` and return at once; never waits on the network.

        Raises:
            ValidationError: The message breaks a Discord limit that splitting cannot fix.
            QueueFull: ``max_buffered`` messages are already buffered.
            SenderClosed: The sender is closed.
        """
        _refuse_inside_a_loop("SyncSender.send_nowait", "WebhookSender.send_nowait")
        return SyncReceipt(background.run_sync(self._sender.send_nowait, message))

    def send(self, message: Message) -> Delivery:
        """Queue ``message`` (waiting for room rather than shedding) and block until delivered.

        Raises:
            ValidationError: The message breaks a Discord limit that splitting cannot fix.
            DeliveryFailed: The message was dead-lettered; ``reason`` says why.
            SenderClosed: The sender is closed.
        """
        _refuse_inside_a_loop("SyncSender.send", "WebhookSender.send")
        return background.run(send_and_wait, self._sender, message)

    def flush(self) -> None:
        """Block until every message accepted so far is committed to the outbox.

        Without an outbox it returns at once.
        """
        _refuse_inside_a_loop("SyncSender.flush", "WebhookSender.flush")
        background.run(self._sender.flush)

    def stats(self) -> SenderStats:
        """A frozen snapshot of the counters."""
        _refuse_inside_a_loop("SyncSender.stats", "WebhookSender.stats")
        return background.run_sync(self._sender.stats)

    def close(self) -> None:
        """Stop accepting messages and drain the queue (within ``drain_timeout``).

        What the deadline leaves is dead-lettered with reason ``shutdown``. Closing twice,
        or from several threads, is harmless: each call returns once the drain is over.
        """
        _refuse_inside_a_loop("SyncSender.close", "open_webhook_sender")
        background.run(self._held.aclose)


def open_webhook_sender(
    url: str, config: SenderConfig | None = None, **options: Unpack[FacadeOptions]
) -> SyncSender:
    """Open a blocking sender for one webhook; use it as a context manager, or close it.

    Args:
        url: The webhook URL.
        config: Queue sizes, timeouts, retry, strategy, dead-letter target, outbox.
        **options: ``tracker`` (a rate-limit tracker of your own; by default the
            process's shared one), ``ssl_context`` (trust for the server's certificate)
            and ``transport`` (how to reach Discord, such as ``FakeDiscord.transport()``).

    Example::

        with trio_webhook.sync.open_webhook_sender(url) as sender:
            receipt = sender.send_nowait(Message(content="hi"))
            print(receipt.wait().id)

    Resource handling:
        The sender's tasks run in the facade's background loop until :meth:`SyncSender.close`
        (or the end of the ``with`` block), which drains the queue within
        ``config.drain_timeout``. A sender never closed is drained at interpreter exit.

    Raises:
        RuntimeError: Called inside a trio run or a running asyncio loop.
    """
    _refuse_inside_a_loop("open_webhook_sender", "open_webhook_sender")
    return SyncSender(background.hold(facade_sender(url, config, options)))


@final
class SyncWebhookClient(_Closing):
    """Blocking one-shot calls to one webhook: execute, get, edit, delete messages.

    The same calls as :class:`~trio_webhook.WebhookClient` (the same limiter, retries and
    typed errors), safe from many threads at once.

    Args:
        url: The webhook URL.
        config: Timeouts, retry policy and strategy (the queue settings are unused).
        **options: ``tracker``, ``ssl_context`` and ``transport``, as for
            :func:`open_webhook_sender`.

    Example::

        with SyncWebhookClient(url) as client:
            sent = client.execute(Message(content="hello"))
            client.edit_message(sent.id, Message(content="hello, edited"))

    Resource handling:
        :meth:`close` (or the end of the ``with`` block) closes the connections.
    """

    def __init__(
        self, url: str, config: SenderConfig | None = None, **options: Unpack[FacadeOptions]
    ) -> None:
        _refuse_inside_a_loop("SyncWebhookClient", "WebhookClient")
        self._held = background.hold(facade_client(url, config, options))
        self._client: WebhookClient = self._held.value

    def __repr__(self) -> str:
        return f"<SyncWebhookClient {self._client.url.redacted}>"

    def _call(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        _refuse_inside_a_loop(f"SyncWebhookClient.{name}", f"WebhookClient.{name}")
        return background.run(call)

    def execute(self, message: Message, **options: Unpack[ExecuteOptions]) -> Delivery:
        """Send ``message``, split into as many requests as Discord needs, in order.

        ``options`` are those of :meth:`WebhookClient.execute
        <trio_webhook.WebhookClient.execute>`: ``wait`` (ask for the created messages,
        ``True``), ``thread_id`` and ``split_content`` (``False`` refuses content over
        2000 characters instead of sending several messages).

        Raises:
            ValidationError: The message breaks a limit that splitting cannot fix.
            DiscordHTTPError: A permanent error (a subclass says which).
            DeliveryFailed: Retries ran out, or an ambiguous fault was not retried.
            TransportError: A TLS failure or an oversized answer.
        """
        return self._call("execute", partial(self._client.execute, message, **options))

    def get_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> SentMessage:
        """Fetch a message this webhook sent (``MessageNotFound`` if there is none)."""
        get = partial(self._client.get_message, message_id, thread_id=thread_id)
        return self._call("get_message", get)

    def edit_message(
        self, message_id: int | str, message: Message | MessageEdit, **options: Unpack[EditOptions]
    ) -> SentMessage:
        """Edit a message this webhook sent.

        ``options`` are ``keep_attachments`` and ``thread_id``, as for
        :meth:`WebhookClient.edit_message <trio_webhook.WebhookClient.edit_message>`.
        """
        edit = partial(self._client.edit_message, message_id, message, **options)
        return self._call("edit_message", edit)

    def delete_message(self, message_id: int | str, *, thread_id: int | str | None = None) -> None:
        """Delete a message this webhook sent."""
        delete = partial(self._client.delete_message, message_id, thread_id=thread_id)
        self._call("delete_message", delete)

    def fetch_webhook(self) -> WebhookInfo:
        """The webhook itself (name, avatar, channel, guild), never its token."""
        return self._call("fetch_webhook", self._client.fetch_webhook)

    def modify_webhook(self, **changes: Unpack[WebhookChanges]) -> WebhookInfo:
        """Change the webhook's default ``name`` or ``avatar`` (``None`` removes it).

        See :meth:`WebhookClient.modify_webhook <trio_webhook.WebhookClient.modify_webhook>`.
        """
        modify = partial(self._client.modify_webhook, **changes)
        return self._call("modify_webhook", modify)

    def delete_webhook(self) -> None:
        """Delete the webhook for good; the client is dead afterwards."""
        self._call("delete_webhook", self._client.delete_webhook)

    def close(self) -> None:
        """Close the client's connections."""
        _refuse_inside_a_loop("SyncWebhookClient.close", "WebhookClient.aclose")
        background.run(self._held.aclose)


def send(
    url: str,
    content: str | None = None,
    *,
    embeds: Iterable[Embed] = (),
    files: Iterable[str | os.PathLike[str] | FilePart] = (),
    username: str | None = None,
    avatar_url: str | None = None,
    thread_id: int | str | None = None,
    config: SenderConfig | None = None,
    **options: Unpack[FacadeOptions],
) -> Delivery:
    """Send one message and block until Discord has it: the one-liner.

    Args:
        url: The webhook URL.
        content: The text (over 2000 characters, it is split into several messages
            unless ``config.split_content`` is off).
        embeds: Embeds (more than Discord allows in one request are split, in order).
        files: Files to upload: paths or :class:`~trio_webhook.FilePart` objects.
        username: Overrides the webhook's name for this message.
        avatar_url: Overrides the webhook's avatar for this message.
        thread_id: Post into this thread.
        config: Timeouts, retry policy and strategy.
        **options: ``tracker``, ``ssl_context`` and ``transport``, as for
            :func:`open_webhook_sender`.

    Returns:
        What Discord returned (``delivery.id`` is the message's id).

    Raises:
        ValidationError: The message breaks a limit that splitting cannot fix.
        DiscordHTTPError: A permanent error, such as ``WebhookNotFound``.
        DeliveryFailed: Retries ran out.
        TransportError: A TLS failure or an oversized answer.

    Example::

        trio_webhook.sync.send(url, content="backup done", files=["backup.log"])
    """
    _refuse_inside_a_loop("send", "WebhookClient.execute")
    message = one_message(
        content,
        embeds=embeds,
        files=files,
        username=username,
        avatar_url=avatar_url,
        thread_id=thread_id,
    )
    split = config.split_content if config is not None else True
    with SyncWebhookClient(url, config, **options) as client:
        return client.execute(message, split_content=split)
