"""The one trio loop the facades run on: a daemon thread, started on first use.

:mod:`trio_webhook.sync` and :mod:`trio_webhook.asyncio` hand their work to this loop
(``trio.from_thread`` with the loop's :class:`trio.lowlevel.TrioToken`), so every sender
and client of the process shares one loop and, through :func:`shared_tracker`, one
rate-limit tracker: the global limit (50 requests a second per IP) and a channel's
hidden limit are paced together, whichever thread or event loop sends.

A sender lives in the loop as a *held* context manager (:meth:`BackgroundLoop.hold`): a
task enters ``open_webhook_sender(...)``, hands the sender back, and leaves the block
(draining) when the facade closes it. At interpreter exit an ``atexit`` hook closes
whatever is still held, each within its own drain deadline, all at once.
"""

from __future__ import annotations

import atexit
import os
import random
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from functools import partial
from typing import Any, Final, Generic, TypedDict, TypeVar

import trio

from trio_webhook._client import WebhookClient
from trio_webhook._client_setup import client_from_config, strategy_for
from trio_webhook._config import SenderConfig
from trio_webhook._models import Delivery, Embed, FilePart, Message
from trio_webhook._receipts import Receipt
from trio_webhook._sender import WebhookSender, open_webhook_sender
from trio_webhook._webhook_update import AvatarSource
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.stores._redis import open_rate_limit_store
from trio_webhook.transport._base import Transport

__all__ = [
    "BackgroundLoop",
    "EditOptions",
    "ExecuteOptions",
    "FacadeOptions",
    "Held",
    "ReceiptView",
    "background",
    "facade_client",
    "facade_sender",
    "one_message",
    "send_and_wait",
    "shared_tracker",
]

T = TypeVar("T")

# How long the loop thread may take to start, and to finish once told to stop.
_START_TIMEOUT: Final = 10.0
_JOIN_TIMEOUT: Final = 5.0


class Held(Generic[T]):
    """A context manager entered by a task of the loop, open until :meth:`aclose`."""

    def __init__(self, value: T) -> None:
        self.value = value
        self.error: BaseException | None = None
        self._release = trio.Event()
        self.closed = trio.Event()

    async def aclose(self) -> None:
        """Leave the block (a sender drains) and re-raise what leaving it raised."""
        self._release.set()
        await self.closed.wait()
        if self.error is not None:
            raise self.error


class ReceiptView:
    """What both facades' receipts share: the trio-side :class:`Receipt` they wrap."""

    __slots__ = ("_receipt",)

    def __init__(self, receipt: Receipt) -> None:
        self._receipt = receipt

    def __repr__(self) -> str:
        return repr(self._receipt).replace("<Receipt", f"<{type(self).__name__}", 1)

    @property
    def done(self) -> bool:
        """Whether the message was delivered or dead-lettered."""
        return self._receipt.done


class BackgroundLoop:
    """A trio loop in a daemon thread, started lazily, shared by every facade object."""

    def __init__(self) -> None:
        self._forget()

    def _forget(self) -> None:
        """Start afresh: on creation, and in a forked child (the thread did not follow)."""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        # Senders of the parent's loop are the parent's to drain, not a forked child's.
        self._held: set[Held[Any]] = set()
        self._stopping = False

    @property
    def token(self) -> trio.lowlevel.TrioToken:
        """The loop's token, starting the loop on first use.

        Raises:
            RuntimeError: The loop was stopped (the interpreter is exiting).
        """
        with self._lock:
            if self._stopping:
                raise RuntimeError(
                    "trio_webhook: the background loop has stopped (the interpreter is exiting)"
                )
            if self._token is None or self._thread is None or not self._thread.is_alive():
                self._start()
            assert self._token is not None
            return self._token

    def _start(self) -> None:
        ready = threading.Event()
        thread = threading.Thread(
            target=trio.run, args=(self._main, ready), name="trio-webhook", daemon=True
        )
        thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError(
                f"trio_webhook: the background loop did not start within {_START_TIMEOUT} s"
            )
        if self._thread is None:
            # Once per process: the first start registers the drain at exit.
            atexit.register(self.stop)
        self._thread = thread

    async def _main(self, ready: threading.Event) -> None:
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    # -- calling into the loop ---------------------------------------------------------

    def run(self, afn: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run ``await afn(*args)`` in the loop and return its result (blocks this thread).

        An exception it raises comes out here as itself.
        """
        return trio.from_thread.run(afn, *args, trio_token=self.token)

    def run_sync(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in the loop (in a task's context) and return its result."""
        return trio.from_thread.run_sync(fn, *args, trio_token=self.token)

    def submit(
        self,
        afn: Callable[..., Awaitable[T]],
        args: tuple[object, ...],
        done: Callable[[T | None, BaseException | None], object],
    ) -> None:
        """Start ``afn(*args)`` in the loop without waiting; ``done`` gets the outcome.

        ``done(result, None)`` or ``done(None, error)`` is called in the loop's thread,
        exactly once; a loop that stops first gives it a ``RuntimeError``.
        """
        self.token.run_sync_soon(self._spawn, partial(_report, afn, args, done))

    def _spawn(self, task: Callable[[], Awaitable[None]]) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(task)

    def hold(self, manager: AbstractAsyncContextManager[T]) -> Held[T]:
        """Enter ``manager`` in the loop and keep it open until its ``Held`` is closed.

        An error entering it comes out here as itself.
        """
        return self.run(self.ahold, manager)

    async def ahold(self, manager: AbstractAsyncContextManager[T]) -> Held[T]:
        """:meth:`hold`, from inside the loop."""
        assert self._nursery is not None
        held: Held[T] = await self._nursery.start(self._keep, manager)
        return held

    async def _keep(
        self,
        manager: AbstractAsyncContextManager[T],
        *,
        task_status: trio.TaskStatus[Held[T]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        held: Held[T] | None = None
        try:
            async with manager as value:
                held = Held(value)
                self._held.add(held)
                task_status.started(held)
                await held._release.wait()
        except Exception as exc:
            if held is None:
                raise
            # Leaving the block failed: the closer gets the error, the loop goes on.
            held.error = exc
        finally:
            if held is not None:
                self._held.discard(held)
                held.closed.set()

    # -- the end -----------------------------------------------------------------------

    def stop(self) -> None:
        """Close everything still held (each sender drains), then end the loop.

        Registered with ``atexit`` when the loop first starts, so queued messages are
        delivered (or dead-lettered) before the interpreter exits.
        """
        with self._lock:
            thread, token = self._thread, self._token
            if self._stopping or thread is None or token is None or not thread.is_alive():
                return
            self._stopping = True
        try:
            trio.from_thread.run(self._close_all, trio_token=token)
        finally:
            thread.join(_JOIN_TIMEOUT)

    async def _close_all(self) -> None:
        async with trio.open_nursery() as nursery:
            for held in list(self._held):
                nursery.start_soon(_close_quietly, held)
        assert self._stop is not None
        self._stop.set()


async def _report(
    afn: Callable[..., Awaitable[T]],
    args: tuple[object, ...],
    done: Callable[[T | None, BaseException | None], object],
) -> None:
    try:
        result = await afn(*args)
    except trio.Cancelled:
        done(None, RuntimeError("trio_webhook: the background loop stopped before the call ended"))
        raise
    except BaseException as exc:
        done(None, exc)
    else:
        done(result, None)


async def _close_quietly(held: Held[Any]) -> None:
    # At exit nobody is left to hear an error; the sender has logged what it lost.
    with suppress(Exception):
        await held.aclose()


background: Final = BackgroundLoop()
"""The process's one background loop."""

# One tracker per pacing choice, made and used in the loop's thread only.
_TRACKERS: Final[dict[tuple[str, int], RateLimitTracker]] = {}


def _after_fork_in_child() -> None:
    # A preforking server (gunicorn, celery) forks after the parent may have sent: the
    # child gets a new loop on first use, and trackers of its own (the parent's hold
    # reservations for requests the child never made).
    background._forget()
    _TRACKERS.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def shared_tracker(config: SenderConfig) -> RateLimitTracker:
    """The process's tracker for ``config``'s strategy (call it in the loop's thread).

    Every facade sender and client with the same strategy shares it, whatever their
    webhook: the global limit is per IP, and webhooks of one channel share its hidden
    limit. The first config's ``seed`` seeds its jitter.
    """
    key = (config.strategy, config.proactive_threshold)
    tracker = _TRACKERS.get(key)
    if tracker is None:
        tracker = RateLimitTracker(strategy=strategy_for(config), rng=random.Random(config.seed))
        _TRACKERS[key] = tracker
    return tracker


class FacadeOptions(TypedDict, total=False):
    """The keyword options of every facade sender and client, beside ``url`` and ``config``.

    Attributes:
        tracker: A rate-limit tracker of your own; by default the process's shared one.
        ssl_context: Trust for the server's certificate.
        transport: How to reach Discord, such as ``FakeDiscord.transport()``.
    """

    tracker: RateLimitTracker | None
    ssl_context: ssl.SSLContext | None
    transport: Transport | None


class ExecuteOptions(TypedDict, total=False):
    """The keyword options of ``execute`` (see :meth:`WebhookClient.execute`)."""

    wait: bool
    thread_id: int | str | None
    split_content: bool


class EditOptions(TypedDict, total=False):
    """The keyword options of ``edit_message`` (see :meth:`WebhookClient.edit_message`)."""

    keep_attachments: Sequence[int | str] | None
    thread_id: int | str | None


class WebhookChanges(TypedDict, total=False):
    """The keyword options of ``modify_webhook`` (see :meth:`WebhookClient.modify_webhook`).

    A key left out leaves that field as it is; ``avatar=None`` removes the avatar.
    """

    name: str
    avatar: AvatarSource | None


@asynccontextmanager
async def facade_sender(
    url: str, config: SenderConfig | None, options: FacadeOptions
) -> AsyncIterator[WebhookSender]:
    """``open_webhook_sender`` with the shared tracker, unless a tracker or store is given."""
    config = config if config is not None else SenderConfig()
    tracker = options.get("tracker")
    if tracker is None and config.rate_limit_store is None:
        # A Redis store is shared by URL already (and refuses a tracker beside it).
        tracker = shared_tracker(config)
    chosen: FacadeOptions = {**options, "tracker": tracker}
    async with open_webhook_sender(url, config=config, **chosen) as sender:
        yield sender


@asynccontextmanager
async def facade_client(
    url: str, config: SenderConfig | None, options: FacadeOptions
) -> AsyncIterator[WebhookClient]:
    """A client made from ``config``, on the shared tracker unless one or a store is given."""
    config = config if config is not None else SenderConfig()
    async with open_rate_limit_store(config.rate_limit_store) as store:
        tracker = options.get("tracker")
        if tracker is None:
            tracker = (
                shared_tracker(config)
                if store is None
                else RateLimitTracker(strategy=strategy_for(config), store=store)
            )
        chosen: FacadeOptions = {**options, "tracker": tracker}
        async with client_from_config(url, config, **chosen) as client:
            yield client


async def send_and_wait(sender: WebhookSender, message: Message) -> Delivery:
    """Queue ``message`` (waiting for room) and wait until it is delivered."""
    receipt = await sender.send(message)
    return await receipt.wait()


def one_message(
    content: str | None,
    *,
    embeds: Iterable[Embed],
    files: Iterable[str | os.PathLike[str] | FilePart],
    username: str | None,
    avatar_url: str | None,
    thread_id: int | str | None,
) -> Message:
    """The message of the one-liners: paths become :class:`FilePart` objects."""
    return Message(
        content=content,
        embeds=tuple(embeds),
        attachments=tuple(f if isinstance(f, FilePart) else FilePart.from_path(f) for f in files),
        username=username,
        avatar_url=avatar_url,
        thread_id=None if thread_id is None else str(thread_id),
    )
