"""The crash test's child: send messages through a durable sender, say which returned.

    python child.py URL CA_FILE OUTBOX COUNT

Prints ``ack N`` (flushed) each time ``await sender.send(...)`` returns for message N,
so the parent knows what the library promised; the parent kills it with SIGKILL.
"""

from __future__ import annotations

import ssl
import sys

import trio

from trio_webhook import Message, SenderConfig, open_webhook_sender
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing


async def main(url: str, ca_file: str, outbox: str, count: int) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    config = SenderConfig(outbox=outbox, seed=0)
    # As the parent's restart: the fake's limits are time-scaled, global pacing is not.
    tracker = RateLimitTracker(pacing=GlobalPacing(limit=0))
    async with open_webhook_sender(
        url, config=config, ssl_context=context, tracker=tracker
    ) as sender:
        for i in range(count):
            await sender.send(Message(content=f"m{i}"))
            sys.stdout.write(f"ack {i}\n")
            sys.stdout.flush()
        await trio.sleep_forever()  # the parent kills us; never a clean exit


if __name__ == "__main__":
    url, ca_file, outbox, count = sys.argv[1:5]
    trio.run(main, url, ca_file, outbox, int(count))
