"""Where W3's CPU goes: trio's floor, our transport alone, the whole library, discord.py.

W3 (``bench_peers.py --only w3``) is 1000 messages over 20 webhooks, ``wait=true``,
against the fake in its own process over TLS on 127.0.0.1. This runs its shape four
ways on one fake, in interleaved rounds, and prints each one's client CPU a message
(``getrusage``, user and system) and its ratio to discord.py's of the same round:

- ``floor``: trio's floor in pure Python. One keep-alive TLS connection a webhook on this
  package's ``transport._stream`` (the stream the transport uses), requests written by
  hand, the answer found by ``bytes.partition``, its JSON parsed, no checks of any kind;
- ``transport``: ``H11Transport.send`` of each request, the JSON parsed: the codec, the
  pool, the deadlines and the stream, no limiter, no sender;
- ``library``: what ``bench_peers`` measures: a sender a webhook, one tracker;
- ``discord.py``: ``Webhook.send(wait=True)``, as ``bench_peers`` drives it.

``library - transport`` is what the sender, planner, encoder, limiter and receipts add;
``transport - floor`` what HTTP/1.1 done carefully (h11's rules, bounds, deadlines, a
pool) costs over a loop that trusts the server. Issue 16's W3 target is 0.8x discord.py.

Run: ``python benchmarks/w3_floor.py [--rounds 5]`` (not part of ``nox -s bench``).
Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import ssl
import statistics
import sys
import tempfile
from collections.abc import Callable
from typing import Any, Final

import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_peers

from trio_webhook.transport import H11Transport, HTTPRequest
from trio_webhook.transport._stream import TLSStream, open_stream

SIZE: Final = {"hooks": 20, "per_hook": 50}
WAYS: Final = ("floor", "transport", "library", "discord.py")


def _body(i: int) -> bytes:
    content, title, description = bench_peers._content(i)
    embed = {"title": title, "description": description}
    return json.dumps({"content": content, "embeds": [embed]}).encode()


async def _floor(base: str, context: ssl.SSLContext, hooks: list[list[str]]) -> None:
    host, port = base.removeprefix("https://").rsplit(":", 1)

    async def one_hook(number: int, webhook_id: str, token: str) -> None:
        stream = await open_stream(host, int(port), context)
        assert isinstance(stream, TLSStream)
        await stream.handshake()
        for i in range(number * 50, number * 50 + 50):
            body = _body(i)
            head = (
                f"POST /api/v10/webhooks/{webhook_id}/{token}?wait=true HTTP/1.1\r\n"
                f"Host: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            await stream.send_all(head.encode() + body)
            answer = await stream.receive_some(first=True)
            while not answer.endswith(b"0\r\n\r\n"):  # the fake answers chunked
                answer += await stream.receive_some()
            _, _, rest = answer.partition(b"\r\n\r\n")
            size, _, data = rest.partition(b"\r\n")
            json.loads(data[: int(size, 16)])
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        for number, (webhook_id, token) in enumerate(hooks):
            nursery.start_soon(one_hook, number, webhook_id, token)


async def _transport(base: str, context: ssl.SSLContext, hooks: list[list[str]]) -> None:
    async with H11Transport(base + "/api/v10", ssl_context=context) as transport:

        async def one_hook(number: int, webhook_id: str, token: str) -> None:
            for i in range(number * 50, number * 50 + 50):
                request = HTTPRequest(
                    "POST",
                    f"/webhooks/{webhook_id}/{token}",
                    f"POST /webhooks/{webhook_id}/***",
                    (("wait", "true"),),
                    json=_body(i),
                )
                json.loads((await transport.send(request)).body)

        async with trio.open_nursery() as nursery:
            for number, (webhook_id, token) in enumerate(hooks):
                nursery.start_soon(one_hook, number, webhook_id, token)


def _cpu(run: Callable[[], object]) -> float:
    before = resource.getrusage(resource.RUSAGE_SELF)
    run()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _one(way: str, fake: Any) -> float:
    """Client CPU ms a message of one run of ``way`` on fresh webhooks."""
    hooks = fake.new_hooks()
    context = ssl.create_default_context(cafile=fake.ca_file)
    spec = {
        **SIZE,
        "workload": "w3",
        "client": way,
        "base": fake.url,
        "ca_file": fake.ca_file,
        "hooks": hooks,
        "transport": "default",
        "api": "senders",
    }
    runs: dict[str, Callable[[], object]] = {
        "floor": lambda: trio.run(_floor, fake.url, context, hooks),
        "transport": lambda: trio.run(_transport, fake.url, context, hooks),
        "library": lambda: bench_peers._trio_webhook(spec),
        "discord.py": lambda: asyncio.run(bench_peers._discord_py(spec)),
    }
    return _cpu(runs[way])  # seconds for 1000 messages: ms a message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp()
    config = {**bench_peers._fake_config("w3", SIZE), "ca_file": os.path.join(workdir, "ca.pem")}
    fake = bench_peers._FakeProcess(config)
    os.environ["SSL_CERT_FILE"] = fake.ca_file
    results: dict[str, list[float]] = {way: [] for way in WAYS}
    try:
        for way in WAYS:
            _one(way, fake)  # warm-up: imports, the first handshakes
        for _ in range(args.rounds):
            for way in WAYS:
                results[way].append(_one(way, fake))
    finally:
        fake.close()
    print(f"W3's shape, {args.rounds} interleaved rounds: client CPU ms a message")
    for way in WAYS:
        peers = results["discord.py"]
        ratios = [ours / peer for ours, peer in zip(results[way], peers, strict=True)]
        print(
            f"  {way:11} {statistics.median(results[way]):.3f} "
            f"({min(results[way]):.3f}-{max(results[way]):.3f})  "
            f"÷ discord.py {statistics.median(ratios):.2f}"
        )


if __name__ == "__main__":
    main()
