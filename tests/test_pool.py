"""The shared, bounded connection pool: every client of a process given no transport uses it.

Real sockets on 127.0.0.1 (FakeDiscord served by hypercorn over plain HTTP) and the real
clock: a pool's job is sockets, so no in-process transport would show what it does.
Outcomes are asserted, not durations (see STACK-NOTES, "MockClock and real sockets").
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
import trio

from trio_webhook import Message, open_webhook_sender
from trio_webhook.testing import FakeDiscord, FakeDiscordServer, serve_fake_discord
from trio_webhook.testing._asgi import ConnectionCounter
from trio_webhook.transport import H11Transport, HTTPRequest, default_transport
from trio_webhook.transport._pool import DEFAULT_MAX_CONNECTIONS


@asynccontextmanager
async def _served(fake: FakeDiscord) -> AsyncIterator[tuple[FakeDiscordServer, ConnectionCounter]]:
    app = ConnectionCounter(fake)
    async with serve_fake_discord(cast(Any, app), tls=False) as server:
        yield server, app


def _execute(server: FakeDiscordServer, fake: FakeDiscord) -> tuple[HTTPRequest, str]:
    hook = fake.create_webhook()
    path = f"/webhooks/{hook.id}/{hook.token}"
    request = HTTPRequest("POST", path, route="POST /webhooks/1/***", json=b'{"content":"hi"}')
    return request, f"{server.url}/api/v10"


async def test_a_thousand_webhooks_share_a_hundred_connections() -> None:
    # The scale case, with default settings: 1,000 senders of 5 messages each.
    # Each sender with its own connections opened 1,000 at once, which gave connect
    # timeouts, ambiguous retries and duplicates; through the shared pool it must not.
    fake = FakeDiscord()
    hooks = [fake.create_webhook() for _ in range(1000)]
    async with _served(fake) as (server, app):
        stats = []

        async def one(index: int) -> None:
            async with open_webhook_sender(server.webhook_url(hooks[index])) as sender:
                receipts = [sender.send_nowait(Message(content=f"{index}:{n}")) for n in range(5)]
                for receipt in receipts:
                    await receipt.wait()
                stats.append(sender.stats())

        async with trio.open_nursery() as nursery:
            for index in range(len(hooks)):
                nursery.start_soon(one, index)
    assert sum(s.delivered for s in stats) == 5000
    assert sum(s.dead for s in stats) == 0
    assert sum(s.retries for s in stats) == 0
    assert fake.stats().requests == 5000  # no request was repeated, so no duplicate
    for index, hook in enumerate(hooks):
        contents = [m["content"] for m in fake.history(hook.channel_id)]
        assert contents == [f"{index}:{n}" for n in range(5)]
    assert 1 <= len(app.clients) <= DEFAULT_MAX_CONNECTIONS


async def test_a_request_waiting_for_a_connection_is_no_connect_timeout() -> None:
    # One connection, answers that take 0.3 s, a connect timeout of 0.1 s: the requests
    # queued behind the first wait longer than the connect timeout and must still pass.
    fake = FakeDiscord()
    async with _served(fake) as (server, app):
        request, api_base = _execute(server, fake)
        fake.inject("delay", 3, delay=0.3)
        async with H11Transport(
            api_base, connect_timeout=0.1, total_timeout=5, max_connections=1
        ) as transport:
            answers = []

            async def one() -> None:
                answers.append(await transport.send(request))

            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(one)
    assert [a.status for a in answers] == [204, 204, 204]
    assert len(app.clients) == 1


async def test_idle_connections_close_after_the_keepalive_expiry() -> None:
    fake = FakeDiscord()
    async with _served(fake) as (server, _app):
        request, api_base = _execute(server, fake)
        async with H11Transport(api_base, keepalive_expiry=0.2) as transport:
            await transport.send(request)
            assert transport.idle_connections == 1
            await trio.sleep(0.4)
            assert transport.idle_connections == 0
            await transport.send(request)  # a fresh connection, opened on demand
            assert transport.connections_opened == 2


async def test_a_connection_kept_after_a_busy_spell_still_expires() -> None:
    # While every connection is in use the reaper sleeps a full expiry instead of
    # ending (and being started again by the next keep): the connection kept at the end
    # of such a spell must still close one expiry after it went idle, not before.
    fake = FakeDiscord()
    async with _served(fake) as (server, _app):
        request, api_base = _execute(server, fake)
        async with H11Transport(api_base, keepalive_expiry=0.5) as transport:
            await transport.send(request)  # idle: the reaper starts
            fake.inject("delay", delay=0.3)
            await transport.send(request)  # the only connection, in use for 0.3 s
            assert transport.idle_connections == 1
            await trio.sleep(0.25)  # 0.55 s after the first keep, 0.25 s after this one
            assert transport.idle_connections == 1
            await trio.sleep(0.5)
            assert transport.idle_connections == 0
            assert transport.connections_opened == 1


async def test_the_default_transport_is_one_pool_for_every_client() -> None:
    fake = FakeDiscord()
    async with _served(fake) as (server, app):
        request, api_base = _execute(server, fake)
        first = default_transport(api_base)
        second = default_transport(api_base)
        assert first is second
        assert isinstance(first, H11Transport)
        assert first.shared
        await first.send(request)
        await first.aclose()  # a client leaving: the pool stays for the others
        await second.send(request)
    assert len(app.clients) == 1


def test_a_shared_pool_never_reuses_a_finished_runs_sockets() -> None:
    # The process-wide pool outlives trio.run; its connections do not: the run's end
    # closes them, and the next run (the same server address, so the same pool)
    # connects afresh.
    seen: list[int] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def run_once() -> None:
        fake = FakeDiscord()
        async with serve_fake_discord(fake, tls=False, port=port) as server:
            request, api_base = _execute(server, fake)
            transport = default_transport(api_base)
            assert isinstance(transport, H11Transport)
            before = transport.connections_opened
            answer = await transport.send(request)
            assert answer.status == 204
            seen.append(transport.connections_opened - before)
            assert transport.idle_connections == 1

    trio.run(run_once)
    trio.run(run_once)
    assert seen == [1, 1]


@pytest.mark.parametrize("expiry", [0, -1.0])
def test_a_keepalive_expiry_must_be_positive(expiry: float) -> None:
    with pytest.raises(ValueError, match=f"keepalive_expiry must be positive.*{expiry}"):
        H11Transport("https://discord.com/api/v10", keepalive_expiry=expiry)


async def test_two_runs_at_once_have_a_pool_each() -> None:
    # A facade's background loop beside the program's own trio.run: the same default
    # transport, two runs in two threads, neither touching the other's sockets.
    fake = FakeDiscord()
    async with _served(fake) as (server, app):
        request, api_base = _execute(server, fake)
        other_request, _ = _execute(server, fake)  # another webhook: its own bucket
        transport = default_transport(api_base)

        async def in_the_other_run() -> int:
            statuses = [(await transport.send(other_request)).status for _ in range(3)]
            assert isinstance(transport, H11Transport)
            assert transport.connections_opened == 1
            return sum(statuses)

        results: list[int] = []

        async def other_thread() -> None:
            results.append(await trio.to_thread.run_sync(trio.run, in_the_other_run))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(other_thread)
            mine = [(await transport.send(request)).status for _ in range(3)]
    assert results == [3 * 204]
    assert mine == [204, 204, 204]
    assert len(app.clients) == 2
