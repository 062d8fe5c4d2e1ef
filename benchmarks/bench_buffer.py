"""PressureBuffer.push_nowait latency with 100,000 messages buffered, and peak memory.

Run: ``python benchmarks/bench_buffer.py [--messages 100000] [--timed 20000] [--rounds 3]``

Nobody takes from the buffer: the stall it exists for (the front, 100 entries as a
sender's ``queue_cap``, is full, and everything after is buffered). ``--messages`` are
pushed first (untimed), then ``--timed`` more are built one by one, as a producer builds
them, and each push is timed (``perf_counter_ns``; the build is not timed).

Two cases: every message with content, an embed and a 1 KiB file (``shed file``: past
the high-water mark each push also sheds the oldest buffered message's file), and the
same without the file (``no file``). Each case runs with the garbage collector as it is
and with ``gc.freeze()`` called once the buffer is full (what an application may do at
a quiet moment: the buffered messages then leave the collector's walks), side by side.
Every figure is the best of ``--rounds`` runs: the machine may be shared, and another
process's time slice is no property of the buffer.

Then the default caps (high water 200, hard cap 10,000): pushes until ``QueueFull``,
and the peak traced memory while filling to the cap.

Target: p99 under 20 us with and without a shed file.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

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
    files = [FilePart(f"log-{n}.txt", data=bytes(size), content_type="text/plain")] if size else []
    return Entry(Message(content=f"build {n}", embeds=[Embed(title=f"#{n}")], attachments=files), n)


@attrs.frozen
class Figures:
    p50: float
    p99: float
    max: float
    gen2: int  # full collections during the timed pushes

    @classmethod
    def of(cls, ns: list[int], gen2: int) -> Figures:
        ordered = sorted(ns)

        def at(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000

        return cls(at(0.50), at(0.99), ordered[-1] / 1000, gen2)

    def best(self, other: Figures) -> Figures:
        return Figures(
            min(self.p50, other.p50),
            min(self.p99, other.p99),
            min(self.max, other.max),
            min(self.gen2, other.gen2),
        )


async def latencies(buffered: int, timed: int, rounds: int, size: int) -> dict[bool, Figures]:
    """Push ``buffered`` messages, then time ``timed`` more a round and mode, none taken.

    Returns:
        The best figures of the rounds, with the collector as it is (``False``) and with
        ``gc.freeze()`` once the buffer is full (``True``).
    """
    buffer = PressureBuffer[Item](200, buffered + 2 * rounds * timed + 1, ready_cap=100)
    clock = time.perf_counter_ns
    best: dict[bool, Figures] = {}
    await trio.lowlevel.checkpoint()
    for n in range(buffered):
        buffer.push_nowait(make(n, size))
    n = buffered
    # Interleaved, on one buffer: both modes see the same machine load and about
    # the same number of buffered messages (the timed pushes add 2 * rounds * timed).
    for _ in range(rounds):
        for freeze in (False, True):
            if freeze:
                gc.freeze()
            ns: list[int] = []
            full = gc.get_stats()[2]["collections"]
            for n in range(n, n + timed):  # noqa: B020 (n goes on from where it was)
                entry = make(n, size)
                t0 = clock()
                buffer.push_nowait(entry)
                ns.append(clock() - t0)
            got = Figures.of(ns, gc.get_stats()[2]["collections"] - full)
            gc.unfreeze()
            best[freeze] = best[freeze].best(got) if freeze in best else got
    return best


def fmt(f: Figures) -> str:
    return f"p50 {f.p50:5.2f}  p99 {f.p99:6.2f}  max {f.max:9.1f} us  ({f.gen2} full gc)"


def latency_table(buffered: int, timed: int, rounds: int) -> None:
    print(
        f"push_nowait with {buffered:,} buffered, {timed:,} timed pushes a run, best of "
        f"{rounds} runs (gc as is | gc.freeze() once full | freeze/as-is ratios):"
    )
    for label, size in (("shed file", 1024), ("no file", 0)):
        gc.collect()
        best = trio.run(latencies, buffered, timed, rounds, size)
        a, b = best[False], best[True]
        print(f"  {label:9}  {fmt(a)}  |  {fmt(b)}")
        print(
            f"  {'':9}  ratios: p50 {b.p50 / a.p50:.2f}  p99 {b.p99 / a.p99:.2f}  "
            f"max {b.max / a.max:.2f}"
        )


async def fill_to_cap(config: SenderConfig, total: int, size: int) -> tuple[int, int]:
    """Push ``total`` messages into a stalled buffer, draining on ``QueueFull``."""
    buffer = PressureBuffer[Item].from_config(config)
    full = 0
    await trio.lowlevel.checkpoint()
    for n in range(total):
        try:
            buffer.push_nowait(make(n, size))
        except QueueFull:
            full += 1
            buffer.drain_nowait()  # untimed: as shutdown dead-lettering would
    return full, buffer.statistics().shed_messages


def caps_report(size: int) -> None:
    config = SenderConfig()
    gc.collect()
    tracemalloc.start()
    # The front (queue_cap) and max_buffered behind it fill; one more push is refused.
    total = config.queue_cap + config.max_buffered + 1
    full, shed = trio.run(fill_to_cap, config, total, size)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = config.high_water_mark + config.queue_cap
    print(
        f"default caps (high water {config.high_water_mark}, max_buffered "
        f"{config.max_buffered:,}): QueueFull {full}, shed {shed:,}; peak traced memory "
        f"{peak / 2**20:.2f} MiB filling to the cap (at most {held:,} messages hold files: "
        f"{held * size / 2**20:.2f} MiB; without shedding "
        f"{config.max_buffered * size / 2**20:.1f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="buffered before timing")
    parser.add_argument("--timed", type=int, default=10_000, help="timed pushes a run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    latency_table(args.messages, args.timed, args.rounds)
    caps_report(1024)


if __name__ == "__main__":
    main()
