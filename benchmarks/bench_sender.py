"""WebhookSender.send_nowait latency and buffer memory while FakeDiscord stalls.

Run: ``python benchmarks/bench_sender.py [--messages 100000] [--attachment 1024]``

A sender is opened on the in-process FakeDiscord with one injected ``delay`` fault far
longer than the run, so the first request never returns: the sender task is stuck, the
bounded channel fills, the mover blocks, and everything else piles up in the buffer. The
producer calls ``send_nowait`` in a tight loop and yields to trio (a checkpoint)
every ``--round`` messages, so the mover and the sender do run, as in a real program.

Every message carries content, an embed and (unless ``--attachment 0``) a small file, so
past the high-water mark each call also sheds the oldest buffered message's file.

Scenarios:

- latency: ``max_buffered`` raised to the message count so every call succeeds; p50,
  p99, p99.9 and max of each call (``perf_counter_ns`` around it; messages built
  beforehand, or with ``--inline`` each right before its call, untimed, as a producer
  builds them: the garbage collector's passes then also run in the building). Target:
  p99 under 20 us.
- breakdown: the same messages through ``check()`` alone (the validation
  ``send_nowait`` runs first) and through a bare ``PressureBuffer.push_nowait``; then
  all three again for messages without a file.
- memory: ``tracemalloc`` peak while the producer builds and enqueues messages, once
  with the caps raised (100,000 buffered) and once with the default caps (high water
  200, hard cap 10,000; ``QueueFull`` past it): the default caps bound the peak.
- limiter (``--limiter``, alone): the rate limiter's per-request CPU on a bucket that is
  known and open, the global pace open: ``acquire`` alone and an ``acquire`` +
  ``observe`` cycle, in µs (medians of 7 x 20,000), each also as a ratio of a bare
  ``dict.get`` + attribute read (the floor of any lookup, so the figure travels
  between machines).
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import time
import tracemalloc

import attrs
import trio

from trio_webhook import Embed, FilePart, Message, QueueFull, SenderConfig, open_webhook_sender
from trio_webhook._buffer import Entry, PressureBuffer
from trio_webhook._limits import check
from trio_webhook.testing import FakeDiscord

STALL = 1e7  # seconds: longer than any run


def make(n: int, size: int) -> Message:
    files = [FilePart(f"log-{n}.txt", data=bytes(size), content_type="text/plain")] if size else []
    return Message(content=f"build {n}", embeds=[Embed(title=f"#{n}")], attachments=files)


def percentiles(ns: list[int]) -> dict[str, float]:
    cuts = statistics.quantiles(ns, n=1000)
    return {
        "p50": statistics.median(ns) / 1000,
        "p99": cuts[989] / 1000,
        "p99.9": cuts[998] / 1000,
        "max": max(ns) / 1000,
    }


def config(max_buffered: int | None) -> SenderConfig:
    base = SenderConfig(seed=0, drain_timeout=0, connect_timeout=1.0, total_timeout=STALL * 10)
    return base if max_buffered is None else attrs.evolve(base, max_buffered=max_buffered)


async def stalled_run(
    total: int,
    size: int,
    round_size: int,
    max_buffered: int | None,
    timed: bool,
    inline: bool = False,
) -> tuple[list[int], int, int, int]:
    """Enqueue up to ``total`` messages into a stalled sender.

    Returns:
        The per-call latencies (ns, when ``timed``), calls refused with ``QueueFull``,
        files shed, and the most messages ever buffered.
    """
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    fake.inject("delay", count=1, delay=STALL)
    messages = [make(n, size) for n in range(total)] if timed and not inline else []
    latencies: list[int] = []
    refused = 0
    peak = 0
    clock = time.perf_counter_ns
    async with open_webhook_sender(
        hook.url, transport=fake.transport(), config=config(max_buffered)
    ) as sender:
        send = sender.send_nowait
        for n in range(total):
            message = messages[n] if messages else make(n, size)
            try:
                if timed:
                    t0 = clock()
                    send(message)
                    latencies.append(clock() - t0)
                else:
                    send(message)
            except QueueFull:
                refused += 1
            if n % round_size == round_size - 1:
                peak = max(peak, sender.stats().buffered)
                await trio.lowlevel.checkpoint()
        stats = sender.stats()
        peak = max(peak, stats.buffered)
        # Leaving drops the rest as "shutdown" (no sink); its warnings are not the point.
        logging.disable(logging.WARNING)
    logging.disable(logging.NOTSET)
    return latencies, refused, stats.shed_attachments, peak


async def breakdown(total: int, size: int) -> tuple[dict[str, float], dict[str, float]]:
    messages = [make(n, size) for n in range(total)]
    clock = time.perf_counter_ns
    checks: list[int] = []
    for m in messages:
        t0 = clock()
        check(m)
        checks.append(clock() - t0)
    buffer = PressureBuffer[Entry[None]](200, total)
    pushes: list[int] = []
    for m in messages:
        entry = Entry(m, None)
        t0 = clock()
        buffer.push_nowait(entry)
        pushes.append(clock() - t0)
    return percentiles(checks), percentiles(pushes)


def limiter(rounds: int = 7, calls: int = 20_000) -> dict[str, float]:
    """µs per ``acquire`` and per ``acquire`` + ``observe`` on an open bucket."""
    import inspect
    import random

    from trio_webhook.ratelimit import RateLimitInfo, RateLimitTracker
    from trio_webhook.ratelimit._records import GlobalPacing

    route = "POST /webhooks/1/***"
    # A window that never empties: the bucket stays known and open.
    answer = RateLimitInfo(status=200, limit=10**9, remaining=10**9, reset_after=2.0, bucket="b")
    tracker = RateLimitTracker(rng=random.Random(0), pacing=GlobalPacing(limit=10**9))
    acquire, observe, release = tracker.acquire, tracker.observe, tracker.release
    acquire(route, 0.0)
    observe(route, answer, 0.0)
    # The same script measures the code before ``sent_at`` existed.
    timed_send = "sent_at" in inspect.signature(observe).parameters
    floor_map = {route: tracker}
    ns = time.perf_counter_ns

    def one_round(kind: str) -> float:
        spent = 0
        for i in range(calls):
            now = 1.0 + i * 1e-6
            if kind == "floor":
                t0 = ns()
                floor_map.get(route)
                spent += ns() - t0
            elif kind == "acquire":
                t0 = ns()
                acquire(route, now)
                spent += ns() - t0
                release(route, now)
            else:
                t0 = ns()
                acquire(route, now)
                if timed_send:
                    observe(route, answer, now, sent_at=now)
                else:
                    observe(route, answer, now)
                spent += ns() - t0
        return spent / calls / 1000

    return {
        kind: statistics.median(one_round(kind) for _ in range(rounds))
        for kind in ("floor", "acquire", "cycle")
    }


def fmt(p: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:7.2f} us" for k, v in p.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--attachment", type=int, default=1024, help="file bytes (0: none)")
    parser.add_argument("--round", type=int, default=1000, help="yield to trio every N calls")
    parser.add_argument("--limiter", action="store_true", help="only the limiter's fast path")
    parser.add_argument("--inline", action="store_true", help="build each message at its call")
    args = parser.parse_args()
    if args.limiter:
        f = limiter()
        print(
            f"limiter, open bucket: acquire {f['acquire']:.2f} µs "
            f"({f['acquire'] / f['floor']:.1f}x a dict lookup), acquire + observe "
            f"{f['cycle']:.2f} µs ({f['cycle'] / f['floor']:.1f}x)"
        )
        return
    total, size = args.messages, args.attachment
    print(f"send_nowait into a stalled sender: {total:,} messages (content, an embed, a file)")

    # Shedding warnings still go through logging (summed, at most one a second); a
    # NullHandler keeps them off the terminal, as an application's handler would.
    logging.getLogger("trio_webhook").addHandler(logging.NullHandler())

    for label, file_size in ((f"{size}-byte file", size), ("no file", 0)):
        if label == "no file" and size == 0:
            continue
        gc.collect()
        latencies, refused, shed, peak = trio.run(
            stalled_run, total, file_size, args.round, total, True, args.inline
        )
        assert refused == 0
        checks, pushes = trio.run(breakdown, total, file_size)
        print(f"  {label}: files shed {shed:,}; most buffered {peak:,}")
        print(f"    send_nowait      {fmt(percentiles(latencies))}")
        print(f"    check() alone    {fmt(checks)}")
        print(f"    push_nowait only {fmt(pushes)}")

    for label, cap in (("caps raised", total), ("default caps", None)):
        gc.collect()
        tracemalloc.start()
        _, refused, shed, peak = trio.run(stalled_run, total, size, args.round, cap, False)
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"  memory, {label:12}: peak {peak_bytes / 2**20:7.1f} MiB, most buffered "
            f"{peak:,}, refused (QueueFull) {refused:,}, files shed {shed:,}"
        )


if __name__ == "__main__":
    main()
