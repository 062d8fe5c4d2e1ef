"""PressureBuffer.push_nowait latency and peak memory while the consumer is stalled.

Run: ``python benchmarks/bench_buffer.py [--messages 100000] [--attachment 1024]``

Every message carries content, an embed and a small attachment, so past the high-water
mark each push also sheds. The mover runs and fills the bounded channel, then blocks
because nobody receives: the stall the buffer exists for.

- caps: the default SenderConfig (high water 200, hard cap 10,000). Pushes run until
  QueueFull, the buffer is drained (untimed: as shutdown dead-lettering would), and again,
  until the requested number of successful pushes were timed.
- one stall: max_buffered raised to the message count, so every push lands in one
  ever-longer buffer.

Target: p99 under 20 us.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable

import attrs
import trio
import trio.testing

from trio_webhook._buffer import Entry, PressureBuffer
from trio_webhook._config import SenderConfig
from trio_webhook._errors import QueueFull
from trio_webhook._models import Embed, FilePart, Message

Item = Entry[int]


def make(n: int, size: int) -> Item:
    # bytes(size) is a fresh object per call, so shed attachments really free memory.
    part = FilePart(f"log-{n}.txt", data=bytes(size), content_type="text/plain")
    return Entry(
        Message(content=f"build {n}", embeds=[Embed(title=f"#{n}")], attachments=[part]), n
    )


@attrs.define
class Result:
    latencies_ns: list[int]
    queue_full: int
    shed_messages: int
    peak_buffered: int


async def run(config: SenderConfig, total: int, size: int, timed: bool) -> Result:
    buffer = PressureBuffer[Item].from_config(config)
    send, receive = trio.open_memory_channel[Item](config.queue_cap)
    latencies: list[int] = []
    full = 0
    peak = 0
    clock: Callable[[], int] = time.perf_counter_ns
    async with trio.open_nursery() as nursery:
        await nursery.start(buffer.run_mover, send)
        n = 0
        while len(latencies) < total:
            # Let the mover fill the channel now and then; it then stalls on the send.
            if n % 1000 == 0:
                await trio.testing.wait_all_tasks_blocked()
            entry = make(n, size)
            n += 1
            t0 = clock()
            try:
                buffer.push_nowait(entry)
            except QueueFull:
                full += 1
                peak = max(peak, len(buffer))
                buffer.drain_nowait()
                continue
            t1 = clock()
            latencies.append(t1 - t0 if timed else 0)
        peak = max(peak, len(buffer))
        shed = buffer.statistics().shed_messages
        nursery.cancel_scope.cancel()
    receive.close()
    return Result(latencies, full, shed, peak)


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def report(name: str, config: SenderConfig, total: int, size: int) -> None:
    gc.collect()
    result = trio.run(run, config, total, size, True)
    lat = result.latencies_ns
    print(
        f"{name:9} push_nowait over {len(lat):,} messages "
        f"(high_water={config.high_water_mark}, max_buffered={config.max_buffered:,}, "
        f"queue_cap={config.queue_cap}, {size} B attachment):"
    )
    print(
        f"          p50 {pct(lat, 0.50):.2f} us  p99 {pct(lat, 0.99):.2f} us  "
        f"p99.9 {pct(lat, 0.999):.2f} us  max {max(lat) / 1000:.1f} us  "
        f"mean {statistics.fmean(lat) / 1000:.2f} us"
    )
    print(
        f"          shed {result.shed_messages:,} messages' attachments, "
        f"QueueFull {result.queue_full:,} times, peak buffered {result.peak_buffered:,}"
    )
    gc.collect()
    tracemalloc.start()
    trio.run(run, config, min(total, config.max_buffered + 1), size, False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held_files = config.high_water_mark + config.queue_cap + 1
    print(
        f"          peak traced memory {peak / 2**20:.2f} MiB filling to the cap "
        f"(at most {held_files:,} messages hold files: {held_files * size / 2**20:.2f} MiB "
        f"of attachments; without shedding {config.max_buffered * size / 2**20:.1f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--attachment", type=int, default=1024, help="bytes per attachment")
    args = parser.parse_args()
    report("caps", SenderConfig(), args.messages, args.attachment)
    report(
        "one stall",
        SenderConfig(max_buffered=args.messages + 1),
        args.messages,
        args.attachment,
    )


if __name__ == "__main__":
    main()
