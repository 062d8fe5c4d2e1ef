"""trio-webhook side by side with the peers users would otherwise pick (issue 6, item 3).

The same four workloads run through trio-webhook and through discord.py's ``Webhook``,
hikari's REST client and discord-webhook's ``AsyncDiscordWebhook``, all against the same
FakeDiscord served over TLS on 127.0.0.1:

- (a) rate-limited: N messages to one webhook under the 5-per-2-s bucket (time-scaled):
  elapsed over the theoretical minimum, and the 429s the fake answered;
- (b) the same bucket plus the hidden channel limit (30 a minute, shared by the webhooks of
  a channel; three webhooks in one channel): the 429s the fake answered;
- (c) no limits, 100 webhooks in one process: the client's CPU seconds per 1000 messages;
- (d) ten 8 MiB attachments (one a message): the client's peak RSS growth over the
  attachment bytes.

Issue 16's workloads compare trio-webhook with discord.py (asyncio, aiohttp) alone, in
interleaved pairs (ours, discord.py, ours, discord.py, ... ``--pairs`` rounds on one fake),
so that a loaded machine weighs on both alike; each prints the median and range of every
figure and of ours over discord.py's of the same round:

- w3: 1000 messages over 20 webhooks, no limits: client CPU per message;
- w1: 100 messages to one webhook under 5 per 0.2 s (5 per 2 s at a tenth of the time):
  elapsed over the minimum, and the 429s;
- scale: 1,000 webhooks x 5 messages: client CPU per message (and over w3's), retries,
  dead letters, duplicates (a content twice in a channel), errors, connections.

trio-webhook sends these through a hub (``open_webhook_hub``) and through a sender per
webhook sharing one tracker (``--trio-api hub,senders``), as ``docs/scale.md`` advises.

Every (workload, client) pair runs in two fresh processes: the fake (a trio script, this
file with ``_serve``) and the client (this file with ``_client``; asyncio for the peers,
trio for us). The client's CPU and memory are its own; the fake's counters are read after
the client has finished.

Run: ``python benchmarks/bench_peers.py [--quick] [--only a,b,w3] [--clients ...]
[--pairs 5] [--trio-api hub,senders] [--markdown PATH] [--json PATH]``. The peers come
from ``benchmarks/requirements-peers.txt``; a peer that is not installed is reported as
such.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import io
import json
import logging
import math
import os
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final

CLIENTS: Final = ("trio-webhook", "discord.py", "hikari", "discord-webhook")
PEERS: Final = CLIENTS[1:]
WORKLOADS: Final = ("a", "b", "c", "d")
# Issue 16's workloads, each run as interleaved pairs against discord.py.
PAIRED: Final = ("w3", "w1", "scale")
TRIO_APIS: Final = ("hub", "senders")
MiB: Final = 1024 * 1024
BUCKET_LIMIT: Final = 5
BUCKET_WINDOW: Final = 2.0
CHANNEL_LIMIT: Final = 30
CHANNEL_WINDOW: Final = 60.0
UNLIMITED: Final = 10**9

# Sizes: (default, --quick). Each case is a few seconds; the whole default run stays
# under three minutes on two busy cores.
SIZES: Final[dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    "a": ({"messages": 60, "time_scale": 0.25}, {"messages": 10, "time_scale": 0.1}),
    "b": (
        {"hooks": 3, "per_hook": 40, "time_scale": 0.05},
        {"hooks": 3, "per_hook": 11, "time_scale": 0.02},
    ),
    "c": ({"hooks": 100, "per_hook": 20}, {"hooks": 20, "per_hook": 5}),
    "d": ({"files": 10, "file_mib": 8}, {"files": 2, "file_mib": 8}),
    # W3: 1000 messages over 20 webhooks, no limit. W1: one webhook, 5 per 0.2 s window
    # (Discord's 5 per 2 s at a tenth of the time). Each pair is a few seconds; scale's
    # a pair is about 20 s (5,000 messages through each of three clients).
    "w3": ({"hooks": 20, "per_hook": 50}, {"hooks": 20, "per_hook": 10}),
    "w1": ({"messages": 100, "time_scale": 0.1}, {"messages": 25, "time_scale": 0.1}),
    "scale": ({"hooks": 1000, "per_hook": 5}, {"hooks": 100, "per_hook": 5}),
}


# ============================================================================ the fake ===


class _ViaHeader:
    """Wraps the fake: every response carries ``Via: 1.1 google``, as Discord's do.

    discord.py and discord-webhook treat a 429 without ``Via`` as a Cloudflare ban and
    raise instead of waiting; Discord's API answers always carry the header.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_via(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"via", b"1.1 google")]}
            await send(message)

        await self.app(scope, receive, send_with_via)


def _duplicates(fake: Any, hooks: Sequence[Any]) -> int:
    """Messages posted more than once: a content seen again in the same channel."""
    duplicates = 0
    for channel in {h.channel_id for h in hooks}:
        contents = [m.get("content") for m in fake.history(channel)]
        duplicates += len(contents) - len(set(contents))
    return duplicates


def serve(config: dict[str, Any]) -> None:
    """The fake's process: print its URL, then answer commands on stdin, one a line.

    ``hooks``: create ``config["hooks"]`` fresh webhooks (in one fresh channel when
    ``config["one_channel"]``) and print them; ``stats``: print the counters, and since
    the last ``hooks``: the span from the first to the last accepted request, the
    connections seen and the duplicate posts (a content twice in a channel); ``quit``.
    """
    import trio

    from trio_webhook.testing import FakeDiscord, serve_fake_discord
    from trio_webhook.testing._asgi import ConnectionCounter

    async def main() -> None:
        # X-RateLimit-Reset in real epoch seconds, as Discord sends it: hikari paces on it
        # against time.time() (the fake's default epoch is a fixed, reproducible origin).
        epoch_offset = time.time() - trio.current_time()
        fake = FakeDiscord(seed=1, epoch_offset=epoch_offset, **config["fake"])
        since = 0
        hooks: list[Any] = []
        counter = ConnectionCounter(fake)
        app = _ViaHeader(counter)
        async with serve_fake_discord(app, tls=True) as server:  # type: ignore[arg-type]
            server.ca.cert_pem.write_to_path(config["ca_file"])
            print(json.dumps({"url": server.url}), flush=True)
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            buffered = b""
            while True:
                chunk = await stdin.receive_some()
                if not chunk:
                    return
                buffered += chunk
                while b"\n" in buffered:
                    line, buffered = buffered.split(b"\n", 1)
                    command = line.strip().decode()
                    if command == "quit":
                        return
                    if command == "hooks":
                        channel = fake.create_channel() if config["one_channel"] else None
                        hooks = [fake.create_webhook(channel) for _ in range(config["hooks"])]
                        since = len(fake.requests)
                        counter.clients.clear()
                        print(json.dumps([[h.id, h.token] for h in hooks]), flush=True)
                        continue
                    stats = fake.stats()
                    ok = [
                        r.time
                        for r in fake.requests[since:]
                        if r.status is not None and r.status < 300
                    ]
                    answer = {
                        "span": max(ok) - min(ok) if ok else None,
                        "requests": stats.requests,
                        "messages": stats.messages,
                        "rate_limited": dict(stats.rate_limited),
                        "connections": len(counter.clients),
                        "duplicates": _duplicates(fake, hooks),
                    }
                    print(json.dumps(answer), flush=True)

    logging.disable(logging.WARNING)
    trio.run(main)


# ========================================================================== the clients ===


def _content(i: int) -> tuple[str, str, str]:
    """Content, embed title and embed description of message ``i`` (same for every client)."""
    return (
        f"deploy #{i} finished",
        f"build {i} passed",
        f"All 1234 tests passed in 56.7 s on runner {i % 7}; artefacts uploaded.",
    )


def _file_data(spec: dict[str, Any]) -> list[bytes]:
    """The attachments of workload (d), allocated inside the measured region."""
    size = spec["file_mib"] * MiB
    return [bytes([65 + i % 26]) * size for i in range(spec["files"])]


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


class _Tally:
    """What a client run counts: deliveries, failures, the first failure's text."""

    def __init__(self) -> None:
        self.delivered = 0
        self.errors = 0
        self.first_error: str | None = None
        self.kinds: dict[str, int] = {}

    def fail(self, exc: BaseException | str) -> None:
        self.errors += 1
        kind = "error status" if isinstance(exc, str) else type(exc).__name__
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if self.first_error is None:
            text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
            self.first_error = text[:200]

    def figures(self, elapsed: float, cpu: float, rss_before: int) -> dict[str, Any]:
        """The run's figures as a client process reports them."""
        return {
            "delivered": self.delivered,
            "errors": self.errors,
            "error_kinds": self.kinds,
            "first_error": self.first_error,
            "elapsed": elapsed,
            "cpu": cpu,
            "rss_growth": _maxrss() - rss_before,
        }


def _plan(spec: dict[str, Any]) -> list[tuple[int, list[int]]]:
    """Per webhook (by index): the message numbers it sends."""
    if spec["workload"] == "d":
        return [(0, list(range(spec["files"])))]
    per_hook = spec["per_hook"]
    return [(h, list(range(h * per_hook, (h + 1) * per_hook))) for h in range(len(spec["hooks"]))]


async def _run_peer_tasks(
    spec: dict[str, Any], send_one: Callable[[int, int, bytes | None], Awaitable[bool]]
) -> dict[str, Any]:
    """Drive an asyncio peer: each webhook sends its messages in order, webhooks at once."""
    tally = _Tally()
    rss_before = _maxrss()
    files = _file_data(spec) if spec["workload"] == "d" else None

    async def one_hook(hook: int, numbers: list[int]) -> None:
        for i in numbers:
            try:
                if await send_one(hook, i, files[i] if files is not None else None):
                    tally.delivered += 1
                else:
                    tally.fail("answered with an error status")
            except Exception as exc:
                tally.fail(exc)

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one_hook(h, numbers) for h, numbers in _plan(spec)))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return tally.figures(elapsed, cpu, rss_before)


def _untyped(module: str) -> Any:
    """A peer's module, typed as ``Any``: the peers are installed by the bench session only."""
    return importlib.import_module(module)


def _ssl_context(spec: dict[str, Any]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=spec["ca_file"])


async def _discord_py(spec: dict[str, Any]) -> dict[str, Any]:
    aiohttp = _untyped("aiohttp")
    discord = _untyped("discord")

    # Webhook.from_url accepts discord.com URLs only; Route.BASE (discord.http) is the API
    # root every webhook request is built on, so partial webhooks on it reach the fake.
    discord.http.Route.BASE = spec["base"] + "/api/v10"
    connector = aiohttp.TCPConnector(ssl=_ssl_context(spec))
    async with aiohttp.ClientSession(connector=connector) as session:
        hooks = [discord.Webhook.partial(int(i), t, session=session) for i, t in spec["hooks"]]

        async def send_one(hook: int, i: int, data: bytes | None) -> bool:
            content, title, description = _content(i)
            embed = discord.Embed(title=title, description=description)
            if data is None:
                await hooks[hook].send(content, embed=embed, wait=True)
            else:
                file = discord.File(io.BytesIO(data), filename=f"file{i}.bin")
                await hooks[hook].send(content, file=file, wait=True)
            return True

        return await _run_peer_tasks(spec, send_one)


async def _hikari(spec: dict[str, Any]) -> dict[str, Any]:
    hikari = _untyped("hikari")
    _untyped("hikari.impl")

    app = hikari.RESTApp(
        url=spec["base"] + "/api/v10",
        http_settings=hikari.impl.HTTPSettings(ssl=_ssl_context(spec)),
    )
    await app.start()
    try:
        async with app.acquire(None) as rest:
            hooks = [(int(i), t) for i, t in spec["hooks"]]

            async def send_one(hook: int, i: int, data: bytes | None) -> bool:
                content, title, description = _content(i)
                webhook_id, token = hooks[hook]
                if data is None:
                    embed = hikari.Embed(title=title, description=description)
                    await rest.execute_webhook(webhook_id, token, content, embed=embed)
                else:
                    file = hikari.Bytes(data, f"file{i}.bin")
                    await rest.execute_webhook(webhook_id, token, content, attachment=file)
                return True

            return await _run_peer_tasks(spec, send_one)
    finally:
        await app.close()


async def _discord_webhook(spec: dict[str, Any]) -> dict[str, Any]:
    # It opens a fresh httpx.AsyncClient (and TLS connection) per call and has no knob for
    # the trust store; httpx reads SSL_CERT_FILE (set by the parent process).
    discord_webhook = _untyped("discord_webhook")
    AsyncDiscordWebhook = discord_webhook.AsyncDiscordWebhook
    DiscordEmbed = discord_webhook.DiscordEmbed

    urls = [f"{spec['base']}/api/webhooks/{i}/{t}" for i, t in spec["hooks"]]

    async def send_one(hook: int, i: int, data: bytes | None) -> bool:
        content, title, description = _content(i)
        webhook = AsyncDiscordWebhook(
            url=urls[hook], content=content, rate_limit_retry=True, wait=True
        )
        if data is None:
            webhook.add_embed(DiscordEmbed(title=title, description=description))
        else:
            webhook.add_file(file=data, filename=f"file{i}.bin")
        response = await webhook.execute()
        return int(response.status_code) in (200, 204)

    return await _run_peer_tasks(spec, send_one)


def _trio_webhook(spec: dict[str, Any]) -> dict[str, Any]:
    """Our side: everything enqueued at once, receipts awaited; the result's figures.

    ``spec["api"]`` picks how: ``senders`` (one sender per webhook, their clients sharing
    one tracker) or ``hub`` (one :func:`~trio_webhook.hub.open_webhook_hub` for every
    webhook). Both are what ``docs/scale.md`` advises for many webhooks.
    """
    import trio

    if spec.get("transport") != "h11":
        # httpx imports its transport stack (httpcore, h11, h2) when the first client is
        # built; the peers' modules are imported before their clock starts, so is this:
        # otherwise about 0.1 s of imports lands inside (a)'s elapsed time.
        importlib.import_module("httpcore")

    tally = _Tally()
    rss_before = _maxrss()
    files = _file_data(spec) if spec["workload"] == "d" else None
    counters: dict[str, int] = {"retries": 0, "ambiguous_retries": 0, "dead": 0}
    if spec.get("api") == "hub":
        main, used = _trio_hub(spec, tally, files, counters), "open_webhook_hub"
    else:
        main, used = _trio_senders(spec, tally, files, counters)

    async def timed() -> tuple[float, float]:
        cpu0, t0 = time.process_time(), time.perf_counter()
        await main()
        return time.perf_counter() - t0, time.process_time() - cpu0

    elapsed, cpu = trio.run(timed)
    return {
        **tally.figures(elapsed, cpu, rss_before),
        "api": used,
        **counters,
    }


def _tracker(spec: dict[str, Any]) -> Any:
    """One tracker for the process, as the docs advise.

    Where the fake has no limits (c, w3, scale), so no global limit either, the proactive
    global pacing (50 requests a second) is off: we measure CPU, not Discord's per-IP rate.
    """
    from trio_webhook.ratelimit import RateLimitTracker
    from trio_webhook.ratelimit._records import GlobalPacing

    unlimited = spec["workload"] in ("c", "w3", "scale")
    return RateLimitTracker(pacing=GlobalPacing(limit=0) if unlimited else GlobalPacing())


def _trio_message(i: int, files: list[bytes] | None) -> Any:
    from trio_webhook import Embed, FilePart, Message

    content, title, description = _content(i)
    if files is not None:
        return Message(content=content, attachments=[FilePart(f"file{i}.bin", data=files[i])])
    return Message(content=content, embeds=[Embed(title=title, description=description)])


async def _await_all(receipts: Sequence[Any], tally: _Tally) -> None:
    for receipt in receipts:
        try:
            await receipt.wait()
            tally.delivered += 1
        except Exception as exc:
            tally.fail(exc)


def _add_stats(counters: dict[str, int], stats: Any) -> None:
    for name in counters:
        counters[name] += int(getattr(stats, name))


def _trio_hub(
    spec: dict[str, Any], tally: _Tally, files: list[bytes] | None, counters: dict[str, int]
) -> Callable[[], Awaitable[None]]:
    """One hub for every webhook: lanes open on their first message, inside the clock."""
    from trio_webhook import SenderConfig
    from trio_webhook.hub import open_webhook_hub

    tracker = _tracker(spec)
    context = _ssl_context(spec)
    urls = [f"{spec['base']}/api/webhooks/{i}/{t}" for i, t in spec["hooks"]]
    config = SenderConfig(drain_timeout=300.0)

    async def main() -> None:
        async with open_webhook_hub(config=config, tracker=tracker, ssl_context=context) as hub:
            receipts = [
                hub.send_nowait(urls[hook], _trio_message(i, files))
                for hook, numbers in _plan(spec)
                for i in numbers
            ]
            await _await_all(receipts, tally)
            _add_stats(counters, hub.stats().total)

    return main


def _trio_senders(
    spec: dict[str, Any], tally: _Tally, files: list[bytes] | None, counters: dict[str, int]
) -> tuple[Callable[[], Awaitable[None]], str]:
    """One sender per webhook, their clients sharing one tracker."""
    import trio

    import trio_webhook
    from trio_webhook._client import WebhookClient

    api: Any = trio_webhook
    open_sender = getattr(api, "open_webhook_sender", None)
    config_class = getattr(api, "SenderConfig", None)
    context = _ssl_context(spec)
    tracker = _tracker(spec)
    urls = [f"{spec['base']}/api/webhooks/{i}/{t}" for i, t in spec["hooks"]]

    def make_client(url: str) -> WebhookClient:
        choice = spec.get("transport", "default")
        if choice == "default":  # whatever WebhookClient picks by itself
            return WebhookClient(url, ssl_context=context, tracker=tracker)
        from trio_webhook._url import parse_webhook_url
        from trio_webhook.transport._h11 import H11Transport
        from trio_webhook.transport._httpx import HttpxTransport

        api_base = parse_webhook_url(url).api_base
        transport: H11Transport | HttpxTransport = (
            H11Transport(api_base, ssl_context=context)
            if choice == "h11"
            else HttpxTransport(api_base, ssl_context=context)
        )
        return WebhookClient(url, tracker=tracker, transport=transport)

    # Built before the clock starts, as the peers' sessions and webhook objects are;
    # connections are still opened inside the measured region.
    clients = [make_client(url) for url in urls]

    async def one_hook(hook: int, numbers: list[int]) -> None:
        client = clients[hook]
        if open_sender is None:  # before the sender lands: the one-shot client in order
            async with client:
                for i in numbers:
                    try:
                        await client.execute(_trio_message(i, files), wait=True)
                        tally.delivered += 1
                    except Exception as exc:
                        tally.fail(exc)
            return
        config = config_class(drain_timeout=300.0) if config_class is not None else None
        async with open_sender(urls[hook], config=config, client=client) as sender:
            await _await_all([sender.send_nowait(_trio_message(i, files)) for i in numbers], tally)
            _add_stats(counters, sender.stats())

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for hook, numbers in _plan(spec):
                nursery.start_soon(one_hook, hook, numbers)

    used = "open_webhook_sender" if open_sender is not None else "WebhookClient.execute"
    return main, used


_PEER_RUNNERS: Final[dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]]] = {
    "discord.py": _discord_py,
    "hikari": _hikari,
    "discord-webhook": _discord_webhook,
}
_MODULES: Final = {
    "trio-webhook": "trio_webhook",
    "discord.py": "discord",
    "hikari": "hikari",
    "discord-webhook": "discord_webhook",
}


def run_client(spec: dict[str, Any]) -> dict[str, Any]:
    """The client's process: run one workload through one client, return its figures."""
    name = spec["client"]
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError as exc:
        return {"unavailable": f"not installed ({exc.name})"}
    # Peers log every 429 at WARNING or ERROR; the figures are what matters here.
    logging.disable(logging.CRITICAL)
    if name == "trio-webhook":
        result = _trio_webhook(spec)
    else:
        result = asyncio.run(_PEER_RUNNERS[name](spec))
    try:
        result["version"] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        result["version"] = str(getattr(module, "__version__", "?"))
    return result


# ========================================================================= orchestration ===


def _fake_config(workload: str, size: dict[str, Any]) -> dict[str, Any]:
    if workload in ("a", "w1"):
        fake = {"time_scale": size["time_scale"]}
        return {"fake": fake, "hooks": 1, "one_channel": False}
    if workload == "b":
        fake = {
            "time_scale": size["time_scale"],
            "channel_limit": CHANNEL_LIMIT,
            "channel_window": CHANNEL_WINDOW,
        }
        return {"fake": fake, "hooks": size["hooks"], "one_channel": True}
    hooks = size["hooks"] if workload in ("c", "w3", "scale") else 1
    return {"fake": {"bucket_limit": UNLIMITED}, "hooks": hooks, "one_channel": False}


class _FakeProcess:
    """A fake Discord in its own process, driven through its stdin and stdout."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.ca_file = config["ca_file"]
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "_serve", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url: str = self._ask(None)["url"]

    def _ask(self, command: str | None) -> Any:
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        if command is not None:
            process.stdin.write(command + "\n")
            process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the fake's process ended early")
        return json.loads(line)

    def new_hooks(self) -> list[list[str]]:
        return list(self._ask("hooks"))

    def stats(self) -> dict[str, Any]:
        return dict(self._ask("stats"))

    def close(self) -> None:
        process = self._process
        try:
            assert process.stdin is not None
            process.stdin.write("quit\n")
            process.stdin.close()
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()


def _run_client(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The client's process: its figures, or why there are none."""
    try:
        done = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "_client", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "SSL_CERT_FILE": spec["ca_file"]},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"unavailable": f"timed out after {timeout:g} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"unavailable": f"crashed: {last[:160]}"}
    return dict(json.loads(lines[-1]))


def _run_case(
    fake: _FakeProcess,
    workload: str,
    client: str,
    size: dict[str, Any],
    timeout: float,
    options: dict[str, str],
) -> dict[str, Any]:
    """One client on fresh webhooks of ``fake``: its figures and what the fake saw."""
    spec = {
        **size,
        "workload": workload,
        "client": client,
        "base": fake.url,
        "ca_file": fake.ca_file,
        "hooks": fake.new_hooks(),
        **options,
    }
    if "messages" in size:  # (a) and w1: one webhook
        spec["per_hook"] = size["messages"]
    before = fake.stats()
    result = _run_client(spec, timeout)
    after = fake.stats()
    result["fake"] = {
        "span": after["span"],
        "requests": after["requests"] - before["requests"],
        "messages": after["messages"] - before["messages"],
        "connections": after["connections"],
        "duplicates": after["duplicates"],
        "rate_limited": {
            scope: count - before["rate_limited"].get(scope, 0)
            for scope, count in after["rate_limited"].items()
        },
    }
    return result


def run_workload(
    workload: str,
    clients: Sequence[str],
    size: dict[str, Any],
    workdir: str,
    timeout: float,
    trio_transport: str = "default",
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every client in turn against one fake process, each on fresh webhooks and channels.

    Workload (d) starts a fresh fake for each client, so that the fake's process never
    holds more than one client's uploads.
    """
    config = {**_fake_config(workload, size), "ca_file": os.path.join(workdir, "ca.pem")}
    results: dict[tuple[str, str], dict[str, Any]] = {}
    fake: _FakeProcess | None = None
    options = {"transport": trio_transport, "api": "senders"}
    try:
        for client in clients:
            if fake is None or workload == "d":
                if fake is not None:
                    fake.close()
                fake = _FakeProcess(config)
            result = _run_case(fake, workload, client, size, timeout, options)
            results[(workload, client)] = result
            print(details({(workload, client): result}), flush=True)
    finally:
        if fake is not None:
            fake.close()
    return results


def _minimum_a(size: dict[str, Any]) -> float:
    """Theoretical minimum of (a): full windows back to back; the first opens at t=0."""
    windows = math.ceil(int(size["messages"]) / BUCKET_LIMIT) - 1
    return windows * BUCKET_WINDOW * float(size["time_scale"])


def _minimum_b(size: dict[str, Any]) -> float:
    """Minimum of (b) if the hidden limit is obeyed: full channel windows back to back."""
    windows = math.ceil(int(size["hooks"] * size["per_hook"]) / CHANNEL_LIMIT) - 1
    return windows * CHANNEL_WINDOW * float(size["time_scale"])


def _metric(workload: str, row: str, result: dict[str, Any], size: dict[str, Any]) -> float:
    if row == "429s":
        return float(sum(result["fake"]["rate_limited"].values()))
    if row == "overshoot":
        windows = math.ceil(int(size["messages"]) / BUCKET_LIMIT) - 1
        return (float(result["fake"]["span"]) - _minimum_a(size)) / float(windows) * 1000
    if workload == "a":
        return float(result["elapsed"]) / _minimum_a(size)
    if workload == "c":
        return float(result["cpu"]) / max(1, int(result["delivered"])) * 1000
    if workload == "b":
        return float(result["elapsed"]) / _minimum_b(size)
    if workload == "d":
        return float(result["rss_growth"]) / float(size["files"] * size["file_mib"] * MiB)
    return float(result["elapsed"])


ROWS: Final = (
    ("a", "ratio", "(a) elapsed / minimum", "≤ 1.02", "{:.3f}"),
    ("a", "overshoot", "(a) overshoot per window at the fake, ms", "—", "{:.1f}"),
    ("a", "429s", "(a) 429s received", "0", "{:.0f}"),
    ("b", "429s", "(b) 429s received, hidden channel limit", "< every peer", "{:.0f}"),
    ("b", "elapsed", "(b) elapsed / minimum under the hidden limit", "—", "{:.2f}"),
    ("c", "cpu", "(c) client CPU s / 1000 messages", "≤ best peer", "{:.2f}"),
    ("d", "mem", "(d) peak RSS growth / attachment bytes", "≤ 1.5", "{:.2f}"),
)


def _cell(result: dict[str, Any], value: float | None, fmt: str, expected: int) -> str:
    if value is None:
        return "n/a: " + str(result.get("unavailable", "?"))
    text = fmt.format(value)
    if result["delivered"] < expected:
        text += f" ({expected - result['delivered']} of {expected} failed)"
    return text


def table(results: dict[tuple[str, str], dict[str, Any]], sizes: dict[str, Any]) -> str:
    """One Markdown table: the clients side by side, ours over the best peer, the targets."""
    header = ["workload", *CLIENTS, "trio-webhook ÷ best peer", "target", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for workload, row, label, target, fmt in ROWS:
        if not any(w == workload for w, _ in results):
            continue
        size = sizes[workload]
        expected = _expected(workload, size)
        values: dict[str, float | None] = {}
        cells = []
        for client in CLIENTS:
            result = results.get((workload, client), {"unavailable": "not run"})
            ok = "unavailable" not in result and (row == "429s" or result["delivered"] > 0)
            values[client] = _metric(workload, row, result, size) if ok else None
            cells.append(_cell(result, values[client], fmt, expected))
        ours = values["trio-webhook"]
        full = {
            c: v
            for c, v in values.items()
            if v is not None and results[(workload, c)]["delivered"] == expected
        }
        peers = [v for c, v in full.items() if c != "trio-webhook"]
        best = min(peers) if peers else None
        if ours is None or best is None:
            ratio = "—"
        elif best == 0:
            ratio = "—" if ours == 0 else f"{ours:.0f} vs 0"
        else:
            ratio = f"{ours / best:.2f}"
        lines.append(
            "| "
            + " | ".join([label, *cells, ratio, target, _met(row, workload, ours, best, results)])
            + " |"
        )
    return "\n".join(lines)


def _expected(workload: str, size: dict[str, Any]) -> int:
    if "messages" in size:
        return int(size["messages"])
    if workload == "d":
        return int(size["files"])
    return int(size["hooks"] * size["per_hook"])


def _met(
    row: str,
    workload: str,
    ours: float | None,
    best: float | None,
    results: dict[tuple[str, str], dict[str, Any]],
) -> str:
    if ours is None:
        return "no (not measured)"
    if row == "ratio":
        ok = ours <= 1.02
    elif row == "429s" and workload == "a":
        ok = ours == 0
    elif row == "429s":
        ok = best is None or ours < best
    elif row == "cpu":
        ok = best is None or ours <= best
    elif row == "mem":
        ok = ours <= 1.5
    else:
        return "—"
    return "yes" if ok else "**no**"


def details(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    """One line per case: delivered, errors, elapsed, CPU, 429s by scope, first error."""
    out = []
    for (workload, client), r in results.items():
        if "unavailable" in r:
            out.append(f"({workload}) {client}: {r['unavailable']}")
            continue
        scopes = {k: v for k, v in r["fake"]["rate_limited"].items() if v}
        line = (
            f"({workload}) {client} {r.get('version', '')}: delivered {r['delivered']}, "
            f"errors {r['errors']}, elapsed {r['elapsed']:.2f} s, CPU {r['cpu']:.2f} s, "
            f"RSS growth {r['rss_growth'] / MiB:.0f} MiB, requests {r['fake']['requests']}, "
            f"429s {scopes or 0}"
        )
        if r.get("api"):
            line += f", via {r['api']}"
        if r.get("first_error"):
            line += f"; first error: {r['first_error']}"
        out.append(line)
    return "\n".join(out)


# ============================================================ issue 16: interleaved pairs ===

PEER: Final = "discord.py"


def _label(api: str) -> str:
    return f"trio-webhook ({api})"


def run_pairs(
    workload: str,
    size: dict[str, Any],
    pairs: int,
    apis: Sequence[str],
    workdir: str,
    timeout: float,
) -> list[dict[str, Any]]:
    """``pairs`` rounds of (ours through each of ``apis``, then discord.py), one fake.

    Interleaving puts ours and discord.py side by side in time, so that what the other
    jobs of a loaded machine do affects both alike; every run has fresh webhooks. Each
    round records the 1-minute load average before it.
    """
    config = {**_fake_config(workload, size), "ca_file": os.path.join(workdir, "ca.pem")}
    rounds: list[dict[str, Any]] = []
    fake = _FakeProcess(config)
    try:
        for n in range(pairs):
            results: dict[str, Any] = {"load": os.getloadavg()[0]}
            for api in [*apis, None]:
                client = "trio-webhook" if api is not None else PEER
                options = {"transport": "default", "api": api or ""}
                result = _run_case(fake, workload, client, size, timeout, options)
                label = _label(api) if api is not None else PEER
                results[label] = result
                print(f"[{workload} pair {n + 1}/{pairs}] " + details({(workload, label): result}))
            rounds.append(results)
    finally:
        fake.close()
    return rounds


def _paired_metric(metric: str, result: dict[str, Any], size: dict[str, Any]) -> float | None:
    """``elapsed`` (the client's) or ``span`` (the fake's, first to last accepted request)
    over the minimum, or ``cpu``: client CPU ms a delivered message."""
    if "unavailable" in result or result["delivered"] == 0:
        return None
    if metric == "elapsed":
        return float(result["elapsed"]) / _minimum_a(size)
    if metric == "span":
        return float(result["fake"]["span"]) / _minimum_a(size)
    return float(result["cpu"]) / int(result["delivered"]) * 1000


def _spread(values: Sequence[float], fmt: str) -> str:
    """Median and range, as ``median (low-high)``; a dash when nothing was measured."""
    if not values:
        return "—"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{fmt.format(mid)} ({fmt.format(low)}-{fmt.format(high)})"


_PAIRED_ROWS: Final = (
    (
        "w3",
        "cpu",
        "W3: client CPU ms / message, {hooks} webhooks x {per_hook}",
        "≤ 0.8x discord.py",
    ),
    ("w1", "elapsed", "W1: elapsed / minimum, 1 webhook, 5 per 0.2 s", "≤ 1.015, 0 429s"),
    ("w1", "span", "W1: the fake's span / minimum (no last round trip)", "—"),
    (
        "scale",
        "cpu",
        "scale: client CPU ms / message, {hooks:,} webhooks x {per_hook}",
        "≤ 1.1x W3; 0 retries, dead, duplicates",
    ),
)


def _health(label: str, rounds: Sequence[dict[str, Any]]) -> str:
    """What went wrong, summed over the rounds: 429s, retries, dead, duplicates, errors."""
    runs = [r[label] for r in rounds if "unavailable" not in r[label]]
    if not runs:
        return "n/a: " + str(rounds[0][label].get("unavailable", "?")) if rounds else "—"
    sums = {
        "429s": sum(sum(r["fake"]["rate_limited"].values()) for r in runs),
        "retries": sum(
            r.get("retries", r["fake"]["requests"] - r["fake"]["messages"]) for r in runs
        ),
        "dead": sum(r.get("dead", 0) for r in runs),
        "duplicates": sum(r["fake"]["duplicates"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }
    text = ", ".join(f"{v} {k}" for k, v in sums.items())
    connections = sorted({r["fake"]["connections"] for r in runs})
    return text + f"; connections {connections[0]}-{connections[-1]}"


def paired_table(runs: dict[str, list[dict[str, Any]]], sizes: dict[str, Any]) -> str:
    """Issue 16's table: each client's figure and ours over discord.py of the same pair."""
    header = ["workload", "client", "median (range)", "÷ discord.py, paired", "target", "counts"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    medians: dict[tuple[str, str], float] = {}
    for workload, metric, label_text, target in _PAIRED_ROWS:
        if workload not in runs:
            continue
        rounds, size, fmt = runs[workload], sizes[workload], "{:.3f}"
        labels = [k for k in rounds[0] if k != "load"] if rounds else []
        for label in labels:
            values = [_paired_metric(metric, r[label], size) for r in rounds]
            mine = [v for v in values if v is not None]
            if mine and metric == "cpu":
                medians[(workload, label)] = statistics.median(mine)
            ratios = [
                v / peer
                for v, r in zip(values, rounds, strict=True)
                if v is not None
                and (peer := _paired_metric(metric, r[PEER], size)) is not None
                and label != PEER
            ]
            goal = target if label != PEER else "—"
            text = label_text.format(**size)
            cells = [text, label, _spread(mine, fmt), _spread(ratios, "{:.2f}"), goal]
            lines.append("| " + " | ".join([*cells, _health(label, rounds)]) + " |")
    for (workload, label), value in medians.items():
        if workload == "scale" and ("w3", label) in medians:
            ratio = value / medians[("w3", label)]
            lines.append(f"| scale ÷ W3, CPU a message | {label} | {ratio:.2f} | | ≤ 1.1 | |")
    for workload, rounds in runs.items():
        loads = [float(r["load"]) for r in rounds]
        lines.append(f"| {workload}: load average (1 min) | | {_spread(loads, '{:.1f}')} | | | |")
    return "\n".join(lines)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run (under a minute)")
    parser.add_argument(
        "--only",
        default=",".join((*WORKLOADS, *PAIRED)),
        help="workloads, as a,b,c,d (every client in turn) and w3,w1,scale (issue 16: "
        "interleaved pairs of trio-webhook and discord.py)",
    )
    parser.add_argument("--clients", default=",".join(CLIENTS), help="clients of (a)-(d)")
    parser.add_argument(
        "--pairs", type=int, default=None, help="rounds of w3, w1, scale (3; 1 with --quick)"
    )
    parser.add_argument(
        "--trio-api",
        default=",".join(TRIO_APIS),
        help="how trio-webhook sends in w3, w1, scale: hub (one open_webhook_hub), senders "
        "(a sender per webhook, one tracker), or both",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per case")
    parser.add_argument(
        "--trio-transport",
        choices=("default", "httpx", "h11"),
        default="default",
        help="trio-webhook's transport in (a)-(d): WebhookClient's own choice (default), "
        "HttpxTransport or H11Transport",
    )
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args(argv)
    args.workloads = [w for w in args.only.split(",") if w]
    args.client_list = [c for c in args.clients.split(",") if c]
    args.apis = [a for a in args.trio_api.split(",") if a]
    choices = ((args.workloads, (*WORKLOADS, *PAIRED)), (args.client_list, CLIENTS))
    for name, allowed in (*choices, (args.apis, TRIO_APIS)):
        unknown = set(name) - set(allowed)
        if unknown:
            parser.error(f"unknown: {', '.join(sorted(unknown))} (choose from {allowed})")
    if args.pairs is None:
        args.pairs = 1 if args.quick else 3
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases, print the detail lines and the tables."""
    args = _parse(argv)
    sizes = {w: SIZES[w][1 if args.quick else 0] for w in (*WORKLOADS, *PAIRED)}
    timeout = args.timeout or (20.0 if args.quick else 60.0)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    paired: dict[str, list[dict[str, Any]]] = {}
    workdir = tempfile.mkdtemp(prefix="bench-peers-")
    started = time.perf_counter()
    try:
        for workload in args.workloads:
            if workload in PAIRED:
                size = sizes[workload]
                paired[workload] = run_pairs(
                    workload, size, args.pairs, args.apis, workdir, timeout
                )
                continue
            results.update(
                run_workload(
                    workload,
                    args.client_list,
                    sizes[workload],
                    workdir,
                    timeout,
                    args.trio_transport,
                )
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    tables = [table(results, sizes)] if results else []
    if paired:
        tables.append(paired_table(paired, sizes))
    text = "\n\n".join(tables)
    print()
    print(text)
    cases = len(results) + sum(len(r) * (len(args.apis) + 1) for r in paired.values())
    print(f"\n{cases} cases in {time.perf_counter() - started:.0f} s; sizes: {sizes}")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            rows = [{"workload": w, "client": c, **r} for (w, c), r in results.items()]
            json.dump({"sizes": sizes, "results": rows, "paired": paired}, f, indent=2)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_serve":
        serve(json.loads(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "_client":
        print(json.dumps(run_client(json.loads(sys.argv[2]))))
    else:
        sys.exit(main())
