"""From one webhook to ten thousand: opening cost, many webhooks on loopback, idle memory.

Run: ``python benchmarks/bench_scale.py [--only open,many,hub] [--rounds 3] [--pairs 3]``

- open: CPU (``time.process_time``) to open one sender, and to close it with nothing
  sent, in µs, the medians of ``--rounds`` rounds of 2,000: through FakeDiscord's
  in-process transport, and with the default transport (the shared pool; nothing is
  connected).
  Then the objects the garbage collector tracks for an open idle sender, and the cyclic
  garbage a closed one leaves. Then a hub lane: open a lane with one message and let it
  close idle, per lane.
- many: 1,000 webhooks x 5 messages against 20 webhooks x 250, one sender per webhook
  with default settings, FakeDiscord (limits off) served by hypercorn on 127.0.0.1
  over plain HTTP in another process. The client process's CPU per message (ms) and the
  part of it the garbage collector took, the retries, dead letters and connect timeouts,
  and the connections the server saw; ``--pairs`` interleaved rounds, then the medians
  and each round's ratio over its own 20 x 250.
- hub: 10,000 webhooks, one message each, through one hub (FakeDiscord in-process,
  autojump clock), then the lanes close idle: bytes still held per webhook (tracemalloc,
  the fake's own allocations left out), and again after the tracker's buckets pass
  their idle TTL.

Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import statistics
import time
import tracemalloc
from multiprocessing.connection import Connection

import trio
import trio.testing

from trio_webhook import Message, SenderConfig, open_webhook_sender
from trio_webhook.ratelimit import MemoryStore, RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.testing import FakeDiscord, serve_fake_discord
from trio_webhook.testing._asgi import ConnectionCounter


def open_close_us(rounds: int, default_transport: bool) -> tuple[float, float]:
    """CPU to open, then to close, one sender, in µs (medians of ``rounds`` x 2,000)."""
    fake = FakeDiscord()
    url = fake.create_webhook().url
    transport = None if default_transport else fake.transport()
    opens: list[float] = []
    closes: list[float] = []

    async def one_round(count: int) -> tuple[float, float]:
        opening = closing = 0.0
        for _ in range(count):
            stack = contextlib.AsyncExitStack()
            start = time.process_time()
            await stack.enter_async_context(open_webhook_sender(url, transport=transport))
            opened = time.process_time()
            await stack.aclose()
            opening += opened - start
            closing += time.process_time() - opened
        return opening / count * 1e6, closing / count * 1e6

    async def main() -> None:
        await one_round(200)  # warm-up
        for _ in range(rounds):
            opening, closing = await one_round(2000)
            opens.append(opening)
            closes.append(closing)

    trio.run(main)
    return statistics.median(opens), statistics.median(closes)


def held_objects(senders: int = 200) -> tuple[float, float]:
    """Objects the garbage collector tracks for one open idle sender, and for a closed one.

    The first: the growth of ``gc.get_objects()`` with ``senders`` open and idle, per
    sender. The second: the cyclic garbage one opened and closed sender leaves (only the
    collector frees it; nothing is what reference counting frees at once).
    """
    fake = FakeDiscord()
    urls = [fake.create_webhook().url for _ in range(senders)]
    figures: list[float] = []

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(open_webhook_sender(urls[0]))
            gc.collect()
            before = len(gc.get_objects())
            for url in urls[1:]:
                await stack.enter_async_context(open_webhook_sender(url))
            await trio.testing.wait_all_tasks_blocked()  # every sender task parked
            gc.collect()
            figures.append((len(gc.get_objects()) - before) / (senders - 1))
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for url in urls:
                async with open_webhook_sender(url):
                    pass
            gc.collect()
            figures.append(len(gc.garbage) / senders)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()

    trio.run(main)
    return figures[0], figures[1]


def lane_us(lanes: int = 2000) -> float:
    """CPU per hub lane: opened by one message, delivered in-process, closed idle (µs)."""
    from trio_webhook.hub import open_webhook_hub

    fake = FakeDiscord()
    urls = [fake.create_webhook().url for _ in range(lanes)]
    transport = fake.transport()
    tracker = RateLimitTracker(pacing=GlobalPacing(limit=0))
    spent: list[float] = []

    async def main() -> None:
        async with open_webhook_hub(tracker=tracker, transport=transport, idle_timeout=1) as hub:
            start = time.process_time()
            receipts = [hub.send_nowait(url, Message(content="hi")) for url in urls]
            for receipt in receipts:
                await receipt.wait()
            await trio.sleep(2)
            spent.append(time.process_time() - start)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    # What one message costs through a sender that stays open, to subtract.
    fake2 = FakeDiscord()
    url = fake2.create_webhook().url

    async def one_sender() -> None:
        async with open_webhook_sender(url, transport=fake2.transport()) as sender:
            start = time.process_time()
            receipts = [sender.send_nowait(Message(content="hi")) for _ in range(lanes)]
            for receipt in receipts:
                await receipt.wait()
            spent.append(time.process_time() - start)

    trio.run(one_sender, clock=trio.testing.MockClock(autojump_threshold=0))
    return (spent[0] - spent[1]) / lanes * 1e6


def serve(pipe: Connection, hooks: int) -> None:
    """The fake, in its own process: sends the webhook URLs, then the stats when asked."""

    async def main() -> None:
        fake = FakeDiscord(bucket_limit=10**9)
        made = [fake.create_webhook() for _ in range(hooks)]
        app = ConnectionCounter(fake)
        async with serve_fake_discord(app, tls=False) as server:  # type: ignore[arg-type]
            pipe.send([server.webhook_url(h) for h in made])
            await trio.to_thread.run_sync(pipe.recv)
            pipe.send({"requests": fake.stats().requests, "connections": len(app.clients)})

    trio.run(main)


def many(hooks: int, per_hook: int, via_hub: bool = False) -> dict[str, float]:
    """``hooks`` senders (or one hub) of ``per_hook`` messages a webhook, on loopback."""
    mine, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(theirs, hooks), daemon=True)
    server.start()
    urls: list[str] = mine.recv()
    totals = {"retries": 0.0, "dead": 0.0, "delivered": 0.0}

    async def one(url: str) -> None:
        async with open_webhook_sender(url) as sender:
            receipts = [sender.send_nowait(Message(content=f"m{n}")) for n in range(per_hook)]
            for receipt in receipts:
                with contextlib.suppress(Exception):  # counted as dead below
                    await receipt.wait()
            stats = sender.stats()
        totals["retries"] += stats.retries
        totals["dead"] += stats.dead
        totals["delivered"] += stats.delivered

    async def through_hub() -> None:
        from trio_webhook.hub import open_webhook_hub

        # Global pacing off, as in bench_peers (c): the fake has no global limit, and a
        # hub's one tracker would pace 5,000 messages at 50 a second (100 s); a sender
        # each has a tracker each, which never reaches the pace.
        tracker = RateLimitTracker(pacing=GlobalPacing(limit=0))
        async with open_webhook_hub(tracker=tracker) as hub:
            receipts = [
                hub.send_nowait(url, Message(content=f"m{n}"))
                for n in range(per_hook)
                for url in urls
            ]
            for receipt in receipts:
                with contextlib.suppress(Exception):  # counted as dead below
                    await receipt.wait()
        stats = hub.stats().total
        totals.update(retries=stats.retries, dead=stats.dead, delivered=stats.delivered)

    async def main() -> float:
        start = time.process_time()
        if via_hub:
            await through_hub()
        else:
            async with trio.open_nursery() as nursery:
                for url in urls:
                    nursery.start_soon(one, url)
        return time.process_time() - start

    collecting = _GcTimer()
    gc.callbacks.append(collecting)  # after the fork: the server process has none
    try:
        cpu = trio.run(main)
    finally:
        gc.callbacks.remove(collecting)
    mine.send("stats")
    seen = mine.recv()
    server.join()
    messages = hooks * per_hook
    return {
        **totals,
        **seen,
        "cpu_ms_per_message": cpu / messages * 1000,
        "gc_ms_per_message": collecting.seconds / messages * 1000,
    }


class _GcTimer:
    """A ``gc.callbacks`` entry: the time spent in collections (``perf_counter``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start


def _run_many(pipe: Connection, hooks: int, per_hook: int, via_hub: bool) -> None:
    pipe.send(many(hooks, per_hook, via_hub))


def _isolated(hooks: int, per_hook: int, via_hub: bool) -> dict[str, float]:
    """``many`` in a child process: what an earlier run left in the heap (caches, pools,
    garbage) would otherwise change the collector's work, and so the CPU, of the next."""
    mine, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=_run_many, args=(theirs, hooks, per_hook, via_hub))
    child.start()
    figures: dict[str, float] = mine.recv()
    child.join()
    return figures


def many_pairs(pairs: int) -> None:
    """``many`` in interleaved rounds: 20 x 250, 1,000 x 5 by senders, 1,000 x 5 by a hub.

    Prints each run, then the medians and each round's ratio over its own 20 x 250, so a
    loaded machine weighs on both sides of a ratio alike. Each run is a fresh process.
    """
    cases = ((20, 250, False), (1000, 5, False), (1000, 5, True))
    runs: dict[tuple[int, int, bool], list[dict[str, float]]] = {case: [] for case in cases}
    for round_ in range(pairs):
        for hooks, per_hook, via_hub in cases:
            figures = _isolated(hooks, per_hook, via_hub)
            runs[(hooks, per_hook, via_hub)].append(figures)
            shown = ", ".join(f"{k}={v:g}" for k, v in figures.items())
            how = "one hub" if via_hub else "a sender each"
            print(f"[{round_ + 1}/{pairs}] {hooks} webhooks x {per_hook}, {how}: {shown}")
    base = [r["cpu_ms_per_message"] for r in runs[cases[0]]]
    for case in cases[1:]:
        cpu = [r["cpu_ms_per_message"] for r in runs[case]]
        gc_ms = [r["gc_ms_per_message"] for r in runs[case]]
        ratios = [mine / theirs for mine, theirs in zip(cpu, base, strict=True)]
        how = "one hub" if case[2] else "a sender each"
        print(
            f"1000 x 5, {how}: CPU {statistics.median(cpu):.3f} ms a message (of which gc "
            f"{statistics.median(gc_ms):.3f}) over 20 x 250's {statistics.median(base):.3f} "
            f"(gc {statistics.median(r['gc_ms_per_message'] for r in runs[cases[0]]):.3f}): "
            f"{statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}); "
            f"retries {sum(r['retries'] for r in runs[case]):g}, dead "
            f"{sum(r['dead'] for r in runs[case]):g}, connections "
            f"{max(r['connections'] for r in runs[case]):g}"
        )


def hub_memory(count: int = 10_000) -> dict[str, float]:
    """Bytes per idle webhook after ``count`` lanes closed, and after the bucket TTL."""
    from trio_webhook.hub import open_webhook_hub

    fake = FakeDiscord()
    urls = [fake.create_webhook().url for _ in range(count)]
    store = MemoryStore(idle_ttl=60)
    keep = [
        tracemalloc.Filter(False, pattern)
        for pattern in ("*/trio_webhook/testing/*", "*/json/*", "*/httpx/*", "*/h11/*")
    ]
    figures: dict[str, float] = {}

    def held(baseline: tracemalloc.Snapshot) -> float:
        gc.collect()
        now = tracemalloc.take_snapshot().filter_traces(keep)
        return sum(s.size_diff for s in now.compare_to(baseline, "filename")) / count

    async def main() -> None:
        tracker = RateLimitTracker(store=store, pacing=GlobalPacing(limit=0))
        gc.collect()
        baseline = tracemalloc.take_snapshot().filter_traces(keep)
        config = SenderConfig(wait=False)
        async with open_webhook_hub(
            config=config, tracker=tracker, transport=fake.transport(), idle_timeout=5
        ) as hub:
            receipts = [hub.send_nowait(url, Message(content="hi")) for url in urls]
            for receipt in receipts:
                await receipt.wait()
            del receipts
            await trio.sleep(6)
            figures["lanes_open"] = hub.stats().lanes
            figures["bytes_per_idle_webhook"] = held(baseline)
            await trio.sleep(61)
            await hub.send_nowait(urls[0], Message(content="later")).wait()
            await trio.sleep(6)
            figures["bytes_after_bucket_ttl"] = held(baseline)
            figures["buckets_left"] = len(store)

    tracemalloc.start()
    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    finally:
        tracemalloc.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="open,many,hub")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pairs", type=int, default=3, help="interleaved rounds of the many workloads"
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    if "open" in only:
        for default in (False, True):
            opening, closing = open_close_us(args.rounds, default)
            which = "default" if default else "in-process"
            print(f"a sender, {which} transport: open {opening:.0f} µs, close {closing:.0f} µs")
        idle, cyclic = held_objects()
        print(
            f"a sender: {idle:.0f} objects tracked by the garbage collector while open and "
            f"idle, {cyclic:.0f} left as cyclic garbage once closed"
        )
        try:
            print(f"a hub lane, opened and closed idle: {lane_us():.0f} µs")
        except ImportError:
            print("a hub lane: n/a (no trio_webhook.hub in this tree)")
    if "many" in only:
        many_pairs(args.pairs)
    if "hub" in only:
        print(f"hub, 10,000 webhooks: {hub_memory()}")


if __name__ == "__main__":
    main()
