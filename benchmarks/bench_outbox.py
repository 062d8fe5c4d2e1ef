"""SQLiteOutbox: how fast it absorbs appends, what it costs trio's loop, how big the file gets.

Run: ``python benchmarks/bench_outbox.py [--messages 20000] [--cycles 100000]
[--synchronous normal|full] [--dir DIR]``

Each message carries content, an embed and a 1 KiB attachment (stored base64 with it).

- one by one: ``await append(hook, [m])`` in a loop, as ``await send()`` will: a commit
  per call; p50/p99 of the call.
- 64 tasks: 64 producers awaiting one append each at a time: the worker commits what
  queued up during the previous commit (group commit across calls).
- batches of 100: what a ``send_nowait`` group commit hands over every few ms.
- During each run a trio task ticks every 1 ms; the worst gap is how long trio's loop was
  kept from running (the database work is in the worker thread).
- size: ``--cycles`` append+settle cycles (100 appends a call, each settled on its own
  call, concurrently), the file (database + WAL) measured during and after close.

Target: absorb at least 10x Discord's global ceiling of 50 requests a second (500/s).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import trio

from trio_webhook import Embed, FilePart, Message
from trio_webhook.outbox import SQLiteOutbox

HOOK = "123456789012345678"


def make(n: int) -> Message:
    return Message(
        content=f"build {n} passed",
        embeds=[Embed(title=f"#{n}", description="all green " * 10)],
        attachments=[FilePart(f"log-{n}.txt", data=bytes(1024), content_type="text/plain")],
    )


def files_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def with_ticker(body: Callable[[], Awaitable[None]]) -> float:
    """Run ``body`` beside a 1 ms ticker; return the worst gap between ticks (seconds)."""
    worst = 0.0

    async def tick() -> None:
        nonlocal worst
        last = time.perf_counter()
        while True:
            await trio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick)
        await body()
        nursery.cancel_scope.cancel()
    return worst


async def one_by_one(outbox: SQLiteOutbox, messages: list[Message]) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def body() -> None:
        for m in messages:
            start = time.perf_counter()
            await outbox.append(HOOK, [m])
            latencies.append(time.perf_counter() - start)

    gap = await with_ticker(body)
    return latencies, gap


async def concurrent(
    outbox: SQLiteOutbox, messages: list[Message], tasks: int
) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def producer(share: list[Message]) -> None:
        for m in share:
            start = time.perf_counter()
            await outbox.append(HOOK, [m])
            latencies.append(time.perf_counter() - start)

    async def body() -> None:
        async with trio.open_nursery() as nursery:
            for i in range(tasks):
                nursery.start_soon(producer, messages[i::tasks])

    gap = await with_ticker(body)
    return latencies, gap


async def batches(
    outbox: SQLiteOutbox, messages: list[Message], size: int
) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def body() -> None:
        for i in range(0, len(messages), size):
            start = time.perf_counter()
            await outbox.append(HOOK, messages[i : i + size])
            latencies.append(time.perf_counter() - start)

    gap = await with_ticker(body)
    return latencies, gap


async def cycles(path: Path, total: int, synchronous: Literal["normal", "full"]) -> None:
    message = make(0)
    peak = 0
    start = time.perf_counter()
    async with SQLiteOutbox(path, synchronous=synchronous) as outbox:
        for done in range(0, total, 100):
            entries = await outbox.append(HOOK, [message] * 100)
            async with trio.open_nursery() as nursery:
                for entry in entries:
                    nursery.start_soon(outbox.settle_delivered, entry)
            if done % 10_000 == 0:
                peak = max(peak, files_size(path))
        during = files_size(path)
    elapsed = time.perf_counter() - start
    print(
        f"size after {total:,} append+settle cycles: {during / 1024:,.0f} KiB open "
        f"(peak {max(peak, during) / 1024:,.0f} KiB), {files_size(path) / 1024:,.0f} KiB "
        f"after close ({elapsed:.1f} s, {total / elapsed:,.0f} cycles/s)"
    )


def report(name: str, count: int, latencies: list[float], elapsed: float, gap: float) -> None:
    print(
        f"{name:<14} {count / elapsed:>9,.0f} msg/s   call p50 "
        f"{pct(latencies, 0.5) * 1e6:>7,.0f} us   p99 {pct(latencies, 0.99) * 1e6:>8,.0f} us"
        f"   worst loop gap "
        f"{gap * 1e3:>5.1f} ms"
    )


async def main(args: argparse.Namespace, workdir: Path) -> None:
    messages = [make(n) for n in range(args.messages)]
    print(
        f"SQLiteOutbox, synchronous={args.synchronous}, {args.messages:,} messages of "
        f"~{len(messages[0].attachments[0].read()) // 1024} KiB attachment + embed"
    )
    runs: list[tuple[str, Callable[[SQLiteOutbox], Awaitable[tuple[list[float], float]]]]] = [
        ("one by one", lambda o: one_by_one(o, messages[: max(1, args.messages // 4)])),
        ("64 tasks", lambda o: concurrent(o, messages, 64)),
        ("batches of 100", lambda o: batches(o, messages, 100)),
    ]
    for name, run in runs:
        path = workdir / f"{name.replace(' ', '-')}.db"
        async with SQLiteOutbox(path, synchronous=args.synchronous) as outbox:
            await outbox.open()
            commits = outbox.commits
            start = time.perf_counter()
            latencies, gap = await run(outbox)
            elapsed = time.perf_counter() - start
            count = len(await outbox.pending(HOOK))
            commits = outbox.commits - commits
            report(name, count, latencies, elapsed, gap)
            print(f"{'':<14} {commits:,} commits, {count / max(1, commits):,.1f} messages each")
    await cycles(workdir / "cycles.db", args.cycles, args.synchronous)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--cycles", type=int, default=100_000)
    parser.add_argument("--synchronous", choices=("normal", "full"), default="normal")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go (a temp dir)")
    args = parser.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        trio.run(main, args, args.dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            trio.run(main, args, Path(tmp))
