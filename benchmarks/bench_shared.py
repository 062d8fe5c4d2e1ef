"""A shared Redis outbox: what appending through another process's lease costs.

Run: ``python benchmarks/bench_shared.py [--url redis://127.0.0.1:6379/0] [--rounds 200]
[--messages 1000]``

Without ``--url`` it starts its own ``redis-server`` on a free loopback port (and stops it).
Two senders on one webhook, each on its own :class:`RedisOutbox` (two consumers, as two
processes are): the first holds the lease, the second appends (``share_outbox=True``).
Delivery goes to an in-process FakeDiscord with a bucket that never runs out, so what is
measured is the outbox's hand-offs.

Printed: the round trip of one message sent through the appender (``send`` until its
receipt resolves: the append, the holder's wake-up and delivery, the outcome's wake-up),
p50 / p99 / worst, and the slowest rounds; and the messages a second when both senders
send at once. The sender paces Discord's global limit (50 requests a second), so every
50th round waits for the next second and the second figure cannot pass 50: what is
the outbox's is the p50.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import trio
from bench_redis import start_redis

from trio_webhook import Message, SenderConfig, open_webhook_sender
from trio_webhook.outbox import RedisOutbox
from trio_webhook.testing import FakeDiscord


async def bench(url: str, rounds: int, messages: int) -> None:
    fake = FakeDiscord(seed=0, bucket_limit=1_000_000, bucket_window=1.0)
    hook = fake.create_webhook()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    async with (
        RedisOutbox(url, prefix=prefix) as first,
        RedisOutbox(url, prefix=prefix) as second,
        open_webhook_sender(
            hook.url,
            config=SenderConfig(outbox=first, share_outbox=True, max_buffered=100_000),
            transport=fake.transport(),
        ) as holder,
        open_webhook_sender(
            hook.url,
            config=SenderConfig(outbox=second, share_outbox=True, max_buffered=100_000),
            transport=fake.transport(),
        ) as appender,
    ):
        trips = []
        for i in range(rounds):
            started = time.perf_counter()
            await (await appender.send(Message(content=f"r{i}"))).wait()
            trips.append((time.perf_counter() - started) * 1000)
        slow = sorted(range(rounds), key=lambda i: -trips[i])[:3]
        print("slowest rounds:", ", ".join(f"#{i} {trips[i]:.1f} ms" for i in slow))
        trips.sort()
        print(
            f"appender round trip over {rounds}: p50 {statistics.median(trips):.2f} ms, "
            f"p99 {trips[int(len(trips) * 0.99) - 1]:.2f} ms, worst {trips[-1]:.2f} ms"
        )
        started = time.perf_counter()
        receipts = [
            (holder, appender)[i % 2].send_nowait(Message(content=f"m{i}")) for i in range(messages)
        ]
        for receipt in receipts:
            await receipt.wait()
        took = time.perf_counter() - started
        print(f"{messages} messages, both senders at once: {messages / took:.0f} a second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    if args.url:
        trio.run(bench, args.url, args.rounds, args.messages)
        return
    with tempfile.TemporaryDirectory() as directory:
        server, url = start_redis(Path(directory))
        try:
            trio.run(bench, url, args.rounds, args.messages)
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
