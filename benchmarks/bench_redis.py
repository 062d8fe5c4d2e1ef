"""RedisRateLimitStore: reservations per second from one process and from four, and latency.

Run: ``python benchmarks/bench_redis.py [--url redis://127.0.0.1:6379/0] [--cycles 2000]
[--processes 4]``

Without ``--url`` it starts its own ``redis-server`` on a free loopback port (and stops it).
A cycle is what one request costs the tracker: ``areserve`` (granted) then ``aobserve``
of a 200 answer. Each process cycles over ten webhooks of its own whose buckets never run
out, with global pacing off, so nothing waits: what is measured is the store. All
processes share one global gate (the per-IP key every grant writes), which is where they
contend.

Printed: cycles per second of one process and of all together; the latency of a cycle
(p50, p99, worst) through Redis and through the memory store, and their difference, which
is what sharing the limits adds to each request; compare-and-set rounds lost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import trio

from trio_webhook.ratelimit import MemoryStore, RateLimitInfo, RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.stores import RedisRateLimitStore

ANSWER = RateLimitInfo(
    status=200, limit=1_000_000, remaining=999_999, reset_after=60.0, bucket="bench"
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def cycles(store: MemoryStore | RedisRateLimitStore, count: int, name: str) -> list[float]:
    """Run ``count`` reserve+observe cycles; the latency of each (seconds)."""
    tracker = RateLimitTracker(store=store, pacing=GlobalPacing(limit=0))
    routes = [f"POST /webhooks/{name}{i}/***" for i in range(10)]
    latencies: list[float] = []
    for n in range(count):
        route = routes[n % 10]
        start = time.perf_counter()
        while await tracker.aacquire(route, trio.current_time()) > 0:
            pass  # the first request of a route probes alone; its answer opens it
        await tracker.aobserve(route, ANSWER, trio.current_time())
        latencies.append(time.perf_counter() - start)
    return latencies


async def child(url: str, prefix: str, count: int) -> dict[str, object]:
    async with RedisRateLimitStore(url, prefix=prefix, call_timeout=5.0) as store:
        await cycles(store, 100, uuid.uuid4().hex[:6])  # warm up
        start = time.perf_counter()
        latencies = await cycles(store, count, uuid.uuid4().hex[:6])
        elapsed = time.perf_counter() - start
        return {
            "rate": count / elapsed,
            "latencies": latencies,
            "conflicts": store.conflicts,
            "outages": store.outages,
        }


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: apt-get install -y redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise SystemExit("redis-server did not start")


def run_processes(url: str, prefix: str, count: int, processes: int) -> list[dict[str, object]]:
    children = [
        subprocess.Popen(
            [
                *(sys.executable, __file__, "--child", "--url", url),
                *("--prefix", prefix, "--cycles", str(count)),
            ],
            stdout=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    return [json.loads(c.communicate()[0]) for c in children]


def report(label: str, results: list[dict[str, object]], memory: list[float]) -> None:
    latencies = [x for r in results for x in r["latencies"]]  # type: ignore[attr-defined]
    total = sum(r["rate"] for r in results)  # type: ignore[misc]
    p50, p99, worst = pct(latencies, 0.5), pct(latencies, 0.99), max(latencies)
    m50, m99 = pct(memory, 0.5), pct(memory, 0.99)
    print(
        f"{label}: {total:8.0f} cycles/s in all ({total / len(results):.0f} a process); "
        f"cycle p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, worst {worst * 1e3:.1f} ms; "
        f"added over memory p50 {(p50 - m50) * 1e3:.2f} ms, p99 {(p99 - m99) * 1e3:.2f} ms; "
        f"CAS rounds lost {sum(r['conflicts'] for r in results)}, "  # type: ignore[misc]
        f"outages {sum(r['outages'] for r in results)}"  # type: ignore[misc]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(trio.run(child, args.url, args.prefix, args.cycles)))
        return
    server = None
    url = args.url
    with tempfile.TemporaryDirectory() as directory:
        if url is None:
            server, url = start_redis(Path(directory))
        try:
            memory = trio.run(cycles, MemoryStore(), args.cycles, "m")
            print(
                f"memory store: cycle p50 {pct(memory, 0.5) * 1e6:.1f} us, "
                f"p99 {pct(memory, 0.99) * 1e6:.1f} us"
            )
            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            report("redis, 1 process ", run_processes(url, prefix + "a", args.cycles, 1), memory)
            many = run_processes(url, prefix + "b", args.cycles, args.processes)
            report(f"redis, {args.processes} processes", many, memory)
        finally:
            if server is not None:
                server.kill()
                server.wait()


if __name__ == "__main__":
    main()
