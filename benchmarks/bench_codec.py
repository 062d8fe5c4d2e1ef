"""The lean HTTP/1.1 codec against h11: one cycle, and messages a second on loopback.

Run: ``python benchmarks/bench_codec.py [--cycles 20000] [--messages 2000] [--rounds 5]``

- cycle: one request/response cycle through each codec's ``Wire`` (what H11Transport
  drives per request): write the head of a ``POST /api/v10/webhooks/{id}/{token}?wait=true``
  with a 60-byte JSON body, feed a Discord-like 200 answer (17 headers, rate-limit ones
  included; a 600-byte JSON body with Content-Length) in one piece, read every event,
  make the connection ready for the next cycle. The same bytes for both. CPU time
  (``time.process_time``) per cycle, in µs; the median of ``--rounds``, each round
  running both codecs in alternating order (interleaved pairs).
- loopback: ``H11Transport(codec=...).send`` of one execute request (``wait=true``, the
  same JSON) after another, against FakeDiscord (limits off) served by hypercorn on
  127.0.0.1 over plain HTTP, in another process. (Not through ``WebhookClient``: its
  global pacing, 50 requests a second as Discord allows, would be all one measured.)
  Messages a second (wall; bound by the fake's process on a shared machine) and the
  client process's CPU per message; interleaved pairs again, ``--messages`` a round
  after a warm-up.

Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any, Final

import trio

from trio_webhook._url import parse_webhook_url
from trio_webhook.transport import H11Transport, HTTPRequest
from trio_webhook.transport._codec import END_OF_MESSAGE, NEED_DATA
from trio_webhook.transport._wire import Codec, H11Wire, LeanWire, RequestWriter, Wire

CODECS: Final[tuple[Codec, ...]] = ("lean", "h11")
FIXED: Final = [
    (b"host", b"discord.com"),
    (b"user-agent", b"DiscordBot (https://github.com/trio-webhook/trio-webhook, 0.1.0)"),
    (b"accept-encoding", b"identity"),
]
PATH: Final = "/webhooks/1234567890123456789/" + "t" * 68
QUERY: Final = (("wait", "true"),)
BODY: Final = b'{"content":"build 42 passed","embeds":[{"title":"#42"}],"tts":false}'
ANSWER_BODY: Final = b'{"id":"1","content":"' + b"x" * 560 + b'"}'
ANSWER: Final = (
    b"HTTP/1.1 200 OK\r\n"
    b"Date: Tue, 01 Dec 2026 12:00:00 GMT\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: %d\r\n"
    b"Connection: keep-alive\r\n"
    b"x-ratelimit-bucket: 7f0e1d2c3b4a5968\r\n"
    b"x-ratelimit-limit: 5\r\n"
    b"x-ratelimit-remaining: 4\r\n"
    b"x-ratelimit-reset: 1796126400.123\r\n"
    b"x-ratelimit-reset-after: 2.000\r\n"
    b"Via: 1.1 google\r\n"
    b'Alt-Svc: h3=":443"; ma=86400\r\n'
    b"CF-Cache-Status: DYNAMIC\r\n"
    b"Strict-Transport-Security: max-age=31536000; includeSubDomains; preload\r\n"
    b"X-Content-Type-Options: nosniff\r\n"
    b"Set-Cookie: __cfruid=0123456789abcdef; path=/; domain=.discord.com; HttpOnly\r\n"
    b"Server: cloudflare\r\n"
    b"CF-RAY: 8f0e1d2c3b4a5968-FRA\r\n"
    b"\r\n" % len(ANSWER_BODY)
) + ANSWER_BODY


def cycle(wire: Wire) -> int:
    """One request written and one answer read; returns the body's size."""
    wire.request("POST", PATH, QUERY, b"application/json", [BODY])
    wire.feed(ANSWER)
    size = 0
    while True:
        event = wire.next_event()
        if event is END_OF_MESSAGE:
            break
        if event is NEED_DATA:
            raise RuntimeError("the answer is incomplete")
        if isinstance(event, bytes):
            size += len(event)
    if not wire.next_cycle():
        raise RuntimeError("the connection was not reusable")
    return size


def cycle_us(codec: Codec, cycles: int) -> float:
    writer = RequestWriter("/api/v10", FIXED)
    wire: Wire = LeanWire(writer) if codec == "lean" else H11Wire(writer)
    cycle(wire)  # the first fills the prefix cache, as the first request of a webhook does
    start = time.process_time()
    for _ in range(cycles):
        cycle(wire)
    return (time.process_time() - start) / cycles * 1e6


def serve(pipe: Connection) -> None:
    """The server process: FakeDiscord (no limits) on plain HTTP; sends its URL, then waits."""
    from trio_webhook.testing import FakeDiscord, serve_fake_discord

    async def main() -> None:
        fake = FakeDiscord(seed=0, bucket_limit=10**9)
        hook = fake.create_webhook()
        async with serve_fake_discord(fake, tls=False) as server:
            pipe.send(server.webhook_url(hook))
            await trio.to_thread.run_sync(pipe.recv)  # any message: stop

    trio.run(main)


async def loopback(url: str, codec: Codec, messages: int) -> tuple[float, float]:
    """Messages a second (wall) and client CPU µs a message, one message after another."""
    parsed = parse_webhook_url(url)
    request = HTTPRequest(
        method="POST",
        path=parsed.path(),
        route=parsed.route("POST"),
        query=(("wait", "true"),),
        json=BODY,
    )
    async with H11Transport(parsed.api_base, codec=codec) as transport:
        for _ in range(50):
            await transport.send(request)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(messages):
            response = await transport.send(request)
            if response.status != 200:
                raise RuntimeError(f"the fake answered {response.status}")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return messages / wall, cpu / messages * 1e6


def interleaved(rounds: int, run: Any) -> dict[Codec, list[Any]]:
    results: dict[Codec, list[Any]] = {codec: [] for codec in CODECS}
    for index in range(rounds):
        order = CODECS if index % 2 == 0 else CODECS[::-1]
        for codec in order:
            results[codec].append(run(codec))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    cycles = interleaved(args.rounds, lambda codec: cycle_us(codec, args.cycles))
    print(f"one request/response cycle, CPU µs (median of {args.rounds}, range):")
    for codec, values in cycles.items():
        print(
            f"  {codec:5} {statistics.median(values):7.1f}  ({min(values):.1f}-{max(values):.1f})"
        )
    ratio = statistics.median(cycles["h11"]) / statistics.median(cycles["lean"])
    print(f"  h11 / lean: {ratio:.1f}x")

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    try:
        url = ours.recv()
        runs = interleaved(args.rounds, lambda codec: trio.run(loopback, url, codec, args.messages))
    finally:
        ours.send("stop")
        server.join(10)
    print(f"H11Transport.send on loopback, plain HTTP, {args.messages} messages a round:")
    for codec, values in runs.items():
        rates = [rate for rate, _ in values]
        cpus = [cpu for _, cpu in values]
        print(
            f"  {codec:5} {statistics.median(rates):7.0f} messages/s "
            f"({min(rates):.0f}-{max(rates):.0f}); client CPU {statistics.median(cpus):6.0f} µs "
            f"a message ({min(cpus):.0f}-{max(cpus):.0f})"
        )


if __name__ == "__main__":
    main()
