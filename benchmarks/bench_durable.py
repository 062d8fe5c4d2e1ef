"""The sender with an outbox against without: what durability costs the producer.

Run: ``python benchmarks/bench_durable.py [--messages 20000] [--delivered 100000]``

- ``send_nowait`` p50/p99, with and without an outbox, into a stalled webhook (the
  transport never answers, so everything stays queued): the producer's cost.
- ``await send`` p50/p99 with an outbox (returns once committed).
- messages a second the outbox absorbs while the webhook is stalled: ``send_nowait``
  as fast as possible, then ``flush()``; accepted / wall time.
- the file's size after ``--delivered`` messages delivered (through a dry-run transport,
  global pacing off), during and after close.

Targets (issue "A crash loses nothing"): ``send_nowait`` p99 under 50 us with the outbox;
absorb at least 10x Discord's global ceiling of 50 requests a second.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import trio

from trio_webhook import Embed, Message, SenderConfig, open_webhook_sender
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.transport import DryRunTransport, HTTPRequest, HTTPResponse

URL = "https://discord.com/api/webhooks/123456789012345678/bench-token"


class Stalled:
    """A transport that never answers: every message stays queued."""

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        await trio.sleep_forever()
        raise AssertionError

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def message(n: int) -> Message:
    return Message(content=f"build {n} passed", embeds=[Embed(title=f"#{n}")])


def quantiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[int(len(ordered) * 0.99)] * 1e6
    return f"p50 {p50:6.1f} us  p99 {p99:7.1f} us"


async def nowait(n: int, outbox: str | None) -> tuple[list[float], float]:
    config = SenderConfig(
        outbox=outbox, queue_cap=100, max_buffered=n + 200, drain_timeout=0.0, seed=0
    )
    samples: list[float] = []
    async with open_webhook_sender(URL, config=config, transport=Stalled()) as sender:
        started = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            sender.send_nowait(message(i))
            samples.append(time.perf_counter() - t)
            if i % 1000 == 999:
                await trio.lowlevel.checkpoint()  # let the group commits run, as a real app
        await sender.flush()
        absorbed = n / (time.perf_counter() - started)
    return samples, absorbed


async def send(n: int, outbox: str) -> list[float]:
    # Room for all: send() waits for room below the high-water mark, and nothing drains.
    config = SenderConfig(outbox=outbox, queue_cap=n, max_buffered=2 * n, drain_timeout=0.0, seed=0)
    samples: list[float] = []
    async with open_webhook_sender(URL, config=config, transport=Stalled()) as sender:
        for i in range(n):
            t = time.perf_counter()
            await sender.send(message(i))
            samples.append(time.perf_counter() - t)
    return samples


async def delivered(n: int, outbox: str) -> tuple[int, int]:
    config = SenderConfig(outbox=outbox, max_buffered=n + 200, drain_timeout=3600.0, seed=0)
    tracker = RateLimitTracker(pacing=GlobalPacing(limit=0))
    during = 0
    async with open_webhook_sender(
        URL, config=config, transport=DryRunTransport(), tracker=tracker
    ) as sender:
        for i in range(n):
            await sender.send(message(i)) if i % 100 == 0 else sender.send_nowait(message(i))
        while sender.stats().delivered < n:  # noqa: ASYNC110 (polling the counters is the point)
            await trio.sleep(0.05)
        during = size(outbox)
    return during, size(outbox)


def size(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


async def main(args: argparse.Namespace) -> None:
    # The stalled runs end with thousands of shutdown dead letters: one warning each.
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        base, _ = await nowait(args.messages, None)
        durable, absorbed = await nowait(args.messages, str(Path(tmp) / "a.db"))
        sends = await send(min(args.messages, 5000), str(Path(tmp) / "b.db"))
        during, after = await delivered(args.delivered, str(Path(tmp) / "c.db"))
    print(f"send_nowait, no outbox:    {quantiles(base)}")
    print(f"send_nowait, with outbox:  {quantiles(durable)}")
    print(f"await send, with outbox:   {quantiles(sends)}")
    print(f"absorbed while stalled:    {absorbed:,.0f} messages/s (send_nowait + flush)")
    print(
        f"file after {args.delivered:,} delivered: {during / 1024:,.0f} KiB open, "
        f"{after / 1024:,.0f} KiB closed"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--delivered", type=int, default=100_000)
    trio.run(main, parser.parse_args())
