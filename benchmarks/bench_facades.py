"""The asyncio facade: trio's guest mode against the background thread, measured.

Run: ``python benchmarks/bench_facades.py [--messages 2000] [--latency 300] [--repeat 3]``

Both bridges drive the same ``WebhookSender`` through an instant transport
(:class:`~trio_webhook.transport.DryRunTransport`, with the tracker's global pacing
off, so nothing waits on a rate limit) from code running under ``asyncio.run``:

- thread: :mod:`trio_webhook.asyncio` as shipped. ``send_nowait`` hands the message to
  the background trio loop and waits for it to be queued (``trio.from_thread``);
  awaiting a receipt starts a trio task that resolves an asyncio future with
  ``loop.call_soon_threadsafe``.
- guest: a minimal bridge on ``trio.lowlevel.start_guest_run`` on the running asyncio
  loop. trio's tasks run on the asyncio thread, but host code is outside any trio task
  (``trio.Lock.acquire_nowait`` there raises "must be called from async context"), so
  every call, ``send_nowait`` included, is a trio task started with
  ``TrioToken.run_sync_soon`` and awaited through an asyncio future.
- trio: the sender used directly inside ``trio.run``, for reference.

Printed per bridge (medians over ``--repeat`` runs):

- burst: ``--messages`` messages queued as fast as the caller can, then every receipt
  awaited: messages a second (wall) and CPU per message (``time.process_time``: every
  thread of the process, so the background loop's work counts).
- call: what one ``send_nowait`` costs the caller (median and p99, microseconds; each
  call goes through a coroutine, so trio's own figure includes that too).
- latency: one ``await sender.send(message)`` (queued, delivered, answered), one at a
  time: median and p99 in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any, TypeVar

import trio

import trio_webhook.asyncio as tw_asyncio
from trio_webhook import Delivery, Message, Receipt, SenderConfig, WebhookSender
from trio_webhook import open_webhook_sender as open_trio_sender
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.transport import DryRunTransport

T = TypeVar("T")
R = TypeVar("R")
URL = "https://discord.com/api/webhooks/1/bench-token"
CONFIG = SenderConfig(seed=0, queue_cap=10_000, high_water=20_000, max_buffered=100_000)


def tracker() -> RateLimitTracker:
    # Pacing off: the instant transport would otherwise be held to 50 requests a second.
    return RateLimitTracker(pacing=GlobalPacing(limit=0))


def message(n: int) -> Message:
    return Message(content=f"message {n}")


def summary(samples_ns: list[int]) -> tuple[float, float]:
    """Median and p99, in microseconds."""
    cuts = statistics.quantiles(samples_ns, n=100)
    return statistics.median(samples_ns) / 1000, cuts[98] / 1000


# --------------------------------------------------------------------------- the guest


class GuestBridge:
    """trio in guest mode on the running asyncio loop: the smallest working bridge."""

    def __init__(self) -> None:
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop = asyncio.Event()
        self._stopped: asyncio.Future[None] | None = None

    async def __aenter__(self) -> GuestBridge:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._stopped = loop.create_future()
        stopped = self._stopped
        trio.lowlevel.start_guest_run(
            self._main,
            ready,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=lambda _: stopped.set_result(None),
            host_uses_signal_set_wakeup_fd=True,
        )
        await ready
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._token is not None
        assert self._stopped is not None
        self._token.run_sync_soon(self._cancel)
        await self._stopped

    def _cancel(self) -> None:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()

    async def _main(self, ready: asyncio.Future[None]) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            ready.set_result(None)
            await trio.sleep_forever()

    async def call(self, afn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await afn(*args)`` in trio; the result through an asyncio future."""
        assert self._token is not None
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._token.run_sync_soon(self._spawn, afn, args, future)
        return await future

    def _spawn(self, afn: Callable[..., Awaitable[Any]], args: Any, future: Any) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(_resolve, afn, args, future)

    async def open(self, manager: AbstractAsyncContextManager[Any]) -> Any:
        """Enter ``manager`` in a trio task: its value, and the events that close it."""
        assert self._nursery is not None
        return await self.call(self._nursery.start, _keep, manager)


async def _resolve(afn: Callable[..., Awaitable[Any]], args: Any, future: Any) -> None:
    # Same thread as the asyncio loop: the future can be resolved directly.
    try:
        result = await afn(*args)
    except Exception as exc:
        if not future.done():
            future.set_exception(exc)
    else:
        if not future.done():
            future.set_result(result)


async def _keep(
    manager: AbstractAsyncContextManager[Any], *, task_status: trio.TaskStatus[Any]
) -> None:
    async with manager as value:
        release = trio.Event()
        closed = trio.Event()
        task_status.started((value, release, closed))
        await release.wait()
    closed.set()


async def _send_nowait(sender: WebhookSender, m: Message) -> Receipt:
    return sender.send_nowait(m)


async def _send(sender: WebhookSender, m: Message) -> Delivery:
    receipt = await sender.send(m)
    return await receipt.wait()


async def _close(release: trio.Event, closed: trio.Event) -> None:
    release.set()
    await closed.wait()


async def measure(
    queue: Callable[[Message], Awaitable[R]],
    wait_all: Callable[[list[R]], Awaitable[object]],
    send: Callable[[Message], Awaitable[object]],
    total: int,
    latency: int,
) -> dict[str, float]:
    """The burst (``queue`` each message, then ``wait_all``), then ``send`` one at a time."""
    calls: list[int] = []
    cpu, wall = time.process_time(), time.perf_counter()
    receipts = []
    for n in range(total):
        start = time.perf_counter_ns()
        receipts.append(await queue(message(n)))
        calls.append(time.perf_counter_ns() - start)
    await wait_all(receipts)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    waits = []
    for n in range(latency):
        start = time.perf_counter_ns()
        await send(message(n))
        waits.append(time.perf_counter_ns() - start)
    return result(total, cpu, wall, calls, waits)


async def guest_run(total: int, latency: int) -> dict[str, float]:
    async with GuestBridge() as bridge:
        manager = open_trio_sender(
            URL, config=CONFIG, transport=DryRunTransport(), tracker=tracker()
        )
        sender, release, closed = await bridge.open(manager)

        async def wait_all(receipts: list[Receipt]) -> None:
            await asyncio.gather(*(bridge.call(r.wait) for r in receipts))

        figures = await measure(
            partial(bridge.call, _send_nowait, sender),
            wait_all,
            partial(bridge.call, _send, sender),
            total,
            latency,
        )
        await bridge.call(_close, release, closed)
    return figures


# --------------------------------------------------------------------------- the thread


async def thread_run(total: int, latency: int) -> dict[str, float]:
    manager = tw_asyncio.open_webhook_sender(
        URL, config=CONFIG, transport=DryRunTransport(), tracker=tracker()
    )
    async with manager as sender:

        async def queue(m: Message) -> tw_asyncio.AsyncReceipt:
            return sender.send_nowait(m)

        async def wait_all(receipts: list[tw_asyncio.AsyncReceipt]) -> None:
            await asyncio.gather(*(r.wait() for r in receipts))

        return await measure(queue, wait_all, sender.send, total, latency)


# --------------------------------------------------------------------------- trio itself


async def trio_run(total: int, latency: int) -> dict[str, float]:
    manager = open_trio_sender(URL, config=CONFIG, transport=DryRunTransport(), tracker=tracker())
    async with manager as sender:

        async def queue(m: Message) -> Receipt:
            return sender.send_nowait(m)

        async def wait_all(receipts: list[Receipt]) -> None:
            for r in receipts:
                await r.wait()

        return await measure(queue, wait_all, partial(_send, sender), total, latency)


def result(
    total: int, cpu: float, wall: float, calls: list[int], waits: list[int]
) -> dict[str, float]:
    call_p50, call_p99 = summary(calls)
    wait_p50, wait_p99 = summary(waits)
    return {
        "msg/s": total / wall,
        "cpu us/msg": cpu / total * 1e6,
        "call p50 us": call_p50,
        "call p99 us": call_p99,
        "send p50 us": wait_p50,
        "send p99 us": wait_p99,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, Callable[[], dict[str, float]]] = {
        "trio (reference)": lambda: trio.run(trio_run, args.messages, args.latency),
        "asyncio, thread": lambda: asyncio.run(_coro(thread_run(args.messages, args.latency))),
        "asyncio, guest": lambda: asyncio.run(_coro(guest_run(args.messages, args.latency))),
    }
    print(f"{args.messages} messages, {args.latency} sends, median of {args.repeat} runs")
    header = None
    for name, run in runs.items():
        rows = [run() for _ in range(args.repeat)]
        if header is None:
            header = list(rows[0])
            print(f"{'':18}" + "".join(f"{h:>14}" for h in header))
        medians = [statistics.median(r[h] for r in rows) for h in header]
        print(f"{name:18}" + "".join(f"{v:>14.1f}" for v in medians))


def _coro(c: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
    return c


if __name__ == "__main__":
    main()
