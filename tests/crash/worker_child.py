"""The workers test's child: one worker process on a Redis outbox, until SIGTERM.

    python worker_child.py REDIS_URL PREFIX CA_FILE URLS_FILE

Prints ``stats {json}`` (flushed) every 50 ms and once more after SIGTERM stopped it, so
the parent knows what it did; the parent kills one child with SIGKILL.
"""

from __future__ import annotations

import json
import signal
import ssl
import sys
from pathlib import Path

import attrs
import trio

from trio_webhook import SenderConfig
from trio_webhook._worker import Worker, open_worker
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing


def report(worker: Worker) -> None:
    sys.stdout.write(f"stats {json.dumps(attrs.asdict(worker.stats()))}\n")
    sys.stdout.flush()


async def main(redis_url: str, prefix: str, ca_file: str, urls: list[str]) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    # The fake's limits are time-scaled; global pacing (50 a second) is not, and the fake
    # has no global limit: pace by the fake's buckets alone.
    tracker = RateLimitTracker(pacing=GlobalPacing(limit=0))
    async with open_worker(
        redis_url,
        webhooks=urls,
        prefix=prefix,
        tracker=tracker,
        config=SenderConfig(seed=0),
        ssl_context=context,
        lease_seconds=2.0,
        poll_interval=0.05,
        idle_timeout=0.5,
        max_webhooks=10,
    ) as worker:
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def tick() -> None:
                    while True:
                        report(worker)
                        await trio.sleep(0.05)

                nursery.start_soon(tick)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break
    report(worker)


if __name__ == "__main__":
    redis_url, prefix, ca_file, urls_file = sys.argv[1:5]
    trio.run(main, redis_url, prefix, ca_file, Path(urls_file).read_text().split())
