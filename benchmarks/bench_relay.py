"""The relay's acceptance: posts a second it answers 204, and their latency p50 and p99.

Run: ``python benchmarks/bench_relay.py [--seconds 3] [--posters 16] [--webhooks 4]``

The relay runs as its own process (``python -m trio_webhook relay``), as in production;
this process posts JSON messages to it over loopback with httpx from ``--posters``
concurrent tasks (keep-alive connections) for ``--seconds``, spread over ``--webhooks``
webhooks. Each 204 means the message was committed to the outbox: the SQLite file, then
Redis (a ``redis-server`` started here; the rate limits in it too). Delivery runs as a
dry run (``TRIO_WEBHOOK_DRY_RUN=1``: everything but the POST, still paced at Discord's 50
a second), with queues large enough that acceptance never waits for delivery.

Besides the poster's view (the whole HTTP round trip, hypercorn and httpx included) it
reports the relay's own: the time each of its log lines gives, from the request's start
to its answer (reading, checking, committing).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio

TOKEN = "bench-token"
ANSWERED = re.compile(r" 204 in ([0-9.]+) ms")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: apt-get install -y redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return process, f"redis://127.0.0.1:{port}/0"


async def wait_listening(port: int) -> None:
    with trio.fail_after(30):
        while True:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
                continue
            await stream.aclose()
            return


async def load(port: int, args: argparse.Namespace) -> tuple[int, list[float]]:
    samples: list[float] = []
    failures = 0
    deadline = time.perf_counter() + args.seconds

    async def poster(n: int) -> None:
        nonlocal failures
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            i = 0
            while time.perf_counter() < deadline:
                path = f"/api/webhooks/{1000 + (n + i) % args.webhooks}/{TOKEN}"
                t = time.perf_counter()
                answer = await http.post(path, json={"content": f"p{n} m{i}"})
                samples.append(time.perf_counter() - t)
                failures += answer.status_code != 204
                i += 1

    async with trio.open_nursery() as nursery:
        for n in range(args.posters):
            nursery.start_soon(poster, n)
    return failures, samples


async def run(outbox: str, redis: str | None, log: Path, args: argparse.Namespace) -> str:
    port = free_port()
    env = {
        **os.environ,
        "TRIO_WEBHOOK_RELAY_LISTEN": f"127.0.0.1:{port}",
        "TRIO_WEBHOOK_OUTBOX": outbox,
        "TRIO_WEBHOOK_DRY_RUN": "1",
        "TRIO_WEBHOOK_QUEUE_CAP": "1000000",
        "TRIO_WEBHOOK_MAX_BUFFERED": "2000000",
    }
    if redis is not None:
        env["TRIO_WEBHOOK_REDIS_URL"] = redis
    command = [sys.executable, "-m", "trio_webhook", "relay", "--log-format", "json"]
    with log.open("wb") as stderr:
        process = await trio.lowlevel.open_process(command, env=env, stderr=stderr)
        try:
            await wait_listening(port)
            failures, samples = await load(port, args)
        finally:
            process.terminate()
            await process.wait()
    inside = [float(m[1]) / 1e3 for m in ANSWERED.finditer(log.read_text())]  # noqa: ASYNC240
    rate = (len(samples) - failures) / args.seconds
    return (
        f"{rate:6,.0f} posts/s accepted ({failures} not 204); poster {quantiles(samples)}; "
        f"in the relay {quantiles(inside)}"
    )


def quantiles(samples: list[float]) -> str:
    ordered = sorted(samples) or [0.0]
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[int(len(ordered) * 0.99)] * 1e3
    return f"p50 {p50:.2f} ms p99 {p99:.2f} ms"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await run(str(Path(tmp) / "relay.db"), None, Path(tmp) / "sqlite.log", args)
        redis, url = start_redis(tmp)
        try:
            with_redis = await run(url, url, Path(tmp) / "redis.log", args)
        finally:
            redis.kill()
            redis.wait()
    print(f"{args.posters} posters, {args.webhooks} webhooks, {args.seconds:g} s each")
    print(f"SQLite outbox: {sqlite}")
    print(f"Redis outbox:  {with_redis}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--posters", type=int, default=16)
    parser.add_argument("--webhooks", type=int, default=4)
    trio.run(main, parser.parse_args())
