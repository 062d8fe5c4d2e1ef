"""The shared-limits test's child: one process, one sender, one webhook.

    python shared_child.py URL CA_FILE COUNT STORE PREFIX NAME

``STORE`` is ``memory`` or a ``redis://`` URL (then the rate limits live under ``PREFIX``).
Prints ``ready`` once its sender is open, waits for a line on stdin (so that every child
starts at once), sends ``COUNT`` messages (``NAME 0``, ``NAME 1``, ...), waits for every
receipt, and prints one JSON line: what it delivered, what went to a dead letter, and the
429s its tracker saw.
"""

from __future__ import annotations

import json
import ssl
import sys
from contextlib import AsyncExitStack

import trio

from trio_webhook import DeliveryFailed, Message, SenderConfig, open_webhook_sender
from trio_webhook.ratelimit import MemoryStore, RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.stores import RedisRateLimitStore


async def main(url: str, ca_file: str, count: int, store_url: str, prefix: str, name: str) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    async with AsyncExitStack() as stack:
        store: MemoryStore | RedisRateLimitStore = MemoryStore()
        if store_url != "memory":
            store = await stack.enter_async_context(RedisRateLimitStore(store_url, prefix=prefix))
        # The fake's limits are time-scaled, the tracker's global pacing (50 a second) is
        # not, and the fake has no global limit: pace by the fake's limits alone.
        tracker = RateLimitTracker(store=store, pacing=GlobalPacing(limit=0))
        sender = await stack.enter_async_context(
            open_webhook_sender(
                url, config=SenderConfig(seed=0), ssl_context=context, tracker=tracker
            )
        )
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await trio.to_thread.run_sync(sys.stdin.readline)
        receipts = [sender.send_nowait(Message(content=f"{name} {i}")) for i in range(count)]
        delivered = dead = 0
        for receipt in receipts:
            try:
                await receipt.wait()
                delivered += 1
            except DeliveryFailed:
                dead += 1
        metrics = tracker.metrics()
        outages = store.outages if isinstance(store, RedisRateLimitStore) else 0
    report = {
        "delivered": delivered,
        "dead": dead,
        "rate_limited": metrics.rate_limited,
        "outages": outages,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    url, ca_file, count, store_url, prefix, name = sys.argv[1:7]
    trio.run(main, url, ca_file, int(count), store_url, prefix, name)
