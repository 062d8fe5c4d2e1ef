"""Chaos: byte-level faults from a raw server on 127.0.0.1, through the public sender.

Each test sends a message the server mistreats, then one it answers, and checks what a
user relies on: the faulty message ends dead-lettered with the right reason and attempt
count, the next one is still delivered, and nothing is lost (``enqueued == delivered +
dead``, every receipt done). Every case runs over both transports: H11Transport (the
default on real sockets) and HttpxTransport (chosen by passing an httpx transport).

Real sockets and the real clock: these tests assert outcomes, never durations (see
STACK-NOTES, "MockClock and real sockets"). Timeouts are small so the file runs in
seconds.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
import h11
import pytest
import trio

from trio_webhook import (
    Delivery,
    DeliveryFailed,
    Message,
    SenderConfig,
    SenderStats,
    open_webhook_sender,
)
from trio_webhook._url import parse_webhook_url
from trio_webhook.deadletter import DeadLetter, MemorySink
from trio_webhook.transport import HttpxTransport

pytestmark = pytest.mark.tls

TOKEN: Final = "chaos-token-never-shown"
HOOK_ID: Final = "1234"
FAULTY: Final = "faulty"
TRANSPORTS: Final = ("h11", "httpx")
ATTEMPTS: Final = 3
# Small enough that a case with three timed-out attempts takes about a second.
FAST: Final[dict[str, Any]] = {
    "connect_timeout": 0.2,
    "total_timeout": 0.3,
    "max_attempts": ATTEMPTS,
    "backoff_base": 0.01,
    "backoff_cap": 0.02,
    "drain_timeout": 15.0,
    "seed": 0,
}
# Turns a hang into a failure instead of a stuck run; far above any case's real time.
HANG_GUARD: Final = 30.0

# What the server does instead of answering the faulty message: it has read the whole
# request, so Discord would have received it.
Fault = Callable[[trio.SocketStream], Awaitable[None]]


@attrs.define
class RawServer:
    """A plain-HTTP listener on 127.0.0.1 that mistreats requests for the faulty message.

    Attributes:
        port: The bound port.
        faulty_requests: Requests whose body held the faulty message (retries included).
        other_requests: Requests answered normally (200 with a message object).
        connections: Connections accepted.
    """

    port: int
    faulty_requests: int = 0
    other_requests: int = 0
    connections: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/api/webhooks/{HOOK_ID}/{TOKEN}"


async def read_request(stream: trio.SocketStream) -> bytes | None:
    """The body of one request, or ``None`` if the client went away first."""
    http = h11.Connection(h11.SERVER)
    body = b""
    while True:
        event = http.next_event()
        if event is h11.NEED_DATA:
            http.receive_data(await stream.receive_some(65536))
        elif type(event) is h11.Data:
            body += event.data
        elif type(event) is h11.EndOfMessage:
            return body
        elif type(event) is h11.ConnectionClosed:
            return None


def message_answer(number: int, content: str) -> bytes:
    body = json.dumps({"id": str(number), "channel_id": "99", "content": content}).encode()
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    )
    return head + body


@asynccontextmanager
async def raw_server(fault: Fault) -> AsyncIterator[RawServer]:
    """Serve on 127.0.0.1: ``fault`` for the faulty message, a 200 for anything else."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    server = RawServer(port=listeners[0].socket.getsockname()[1])

    async def handle(stream: trio.SocketStream) -> None:
        server.connections += 1
        try:
            async with stream:
                body = await read_request(stream)
                if body is None:
                    return
                content = json.loads(body).get("content", "")
                if content == FAULTY:
                    server.faulty_requests += 1
                    await fault(stream)
                else:
                    server.other_requests += 1
                    await stream.send_all(message_answer(server.other_requests, content))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client hung up on a fault: that is the point

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handle, listeners)
        yield server
        nursery.cancel_scope.cancel()


async def reset(stream: trio.SocketStream) -> None:
    """Close with a TCP RST instead of a FIN (SO_LINGER with a zero timeout)."""
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await stream.aclose()


async def drain_until_closed(stream: trio.SocketStream) -> None:
    while await stream.receive_some(65536):
        pass


@attrs.frozen
class Outcome:
    """What the sender did with the faulty message and the one after it."""

    records: list[DeadLetter]
    failures: list[DeliveryFailed]
    delivered: list[Delivery]
    stats: SenderStats


async def send_faulty_then_good(url: str, transport: str, **config: Any) -> Outcome:
    """Send the faulty message, then a good one; check nothing is lost.

    ``transport`` is ``h11`` (the default on real sockets) or ``httpx`` (chosen by
    passing an :class:`HttpxTransport` over real sockets).
    """
    sink = MemorySink()
    settings = SenderConfig(**{**FAST, "dead_letter": sink, **config})
    extra: dict[str, Any] = {}
    if transport == "httpx":
        extra["transport"] = HttpxTransport(
            parse_webhook_url(url).api_base,
            connect_timeout=settings.connect_timeout,
            total_timeout=settings.total_timeout,
            max_response_bytes=settings.max_response_bytes,
        )
    with trio.fail_after(HANG_GUARD):
        async with open_webhook_sender(url, config=settings, **extra) as sender:
            receipts = [
                sender.send_nowait(Message(content=FAULTY)),
                sender.send_nowait(Message(content="after")),
            ]
    stats = sender.stats()
    assert all(receipt.done for receipt in receipts)
    assert stats.enqueued == stats.delivered + stats.dead == len(receipts)
    assert stats.in_flight == 0
    failures: list[DeliveryFailed] = []
    delivered: list[Delivery] = []
    for receipt in receipts:
        try:
            delivered.append(await receipt.wait())
        except DeliveryFailed as exc:
            failures.append(exc)
    assert len(sink.records) == stats.dead == len(failures)
    for record, failure in zip(sink.records, failures, strict=True):
        assert (record.reason, record.attempts) == (failure.reason, failure.attempts)
        assert TOKEN not in record.error
        assert TOKEN not in str(failure)
    return Outcome(records=sink.records, failures=failures, delivered=delivered, stats=stats)


def assert_only_faulty_dead(outcome: Outcome, reason: str, attempts: int) -> DeadLetter:
    """The faulty message dead-lettered as ``reason`` after ``attempts``; the next delivered."""
    [record] = outcome.records
    assert record.message.content == FAULTY
    assert (record.reason, record.attempts) == (reason, attempts)
    [delivery] = outcome.delivered
    assert delivery.messages[0].raw["content"] == "after"
    return record


# --- no answer at all -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_unresolvable_host_is_a_safe_connect_error_retried_then_exhausted(
    transport: str,
) -> None:
    # `.invalid` never resolves (RFC 6761); the resolver answers at once even offline. A
    # hanging resolver would be bounded by connect_timeout (the lookup is inside it).
    outcome = await send_faulty_then_good(
        f"https://discord.invalid/api/webhooks/{HOOK_ID}/{TOKEN}", transport
    )
    # Nothing can get through; both messages are retried as safe faults, in order.
    assert [r.message.content for r in outcome.records] == [FAULTY, "after"]
    assert [(r.reason, r.attempts, r.status) for r in outcome.records] == [
        ("exhausted", ATTEMPTS, None)
    ] * 2
    assert all("connect" in r.error for r in outcome.records)
    assert outcome.stats.requests == 2 * ATTEMPTS
    assert outcome.stats.ambiguous_retries == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_server_that_never_answers_is_retried_as_ambiguous(transport: str) -> None:
    async with raw_server(drain_until_closed) as server:
        outcome = await send_faulty_then_good(server.url, transport)
    record = assert_only_faulty_dead(outcome, "exhausted", ATTEMPTS)
    assert "read timeout" in record.error
    assert server.faulty_requests == ATTEMPTS
    assert outcome.stats.ambiguous_retries == ATTEMPTS - 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_server_that_never_answers_without_ambiguous_retries(transport: str) -> None:
    async with raw_server(drain_until_closed) as server:
        outcome = await send_faulty_then_good(server.url, transport, retry_ambiguous=False)
    record = assert_only_faulty_dead(outcome, "ambiguous", 1)
    assert "read timeout" in record.error
    assert server.faulty_requests == 1
    assert outcome.stats.retries == 0


# --- broken answers ---------------------------------------------------------------------------


def head_200(content_length: int) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % content_length
    )


PARTIAL_ANSWERS: Final = {
    "after the status line": b"HTTP/1.1 200 OK\r\n",
    "in the headers": b"HTTP/1.1 200 OK\r\ncontent-type: appl",
    # 16 of the 100 bytes announced.
    "in the body": head_200(100) + b'{"id": "1", "cha',
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("where", PARTIAL_ANSWERS)
async def test_a_reset_mid_response_is_retried_as_ambiguous(transport: str, where: str) -> None:
    async def partial_then_reset(stream: trio.SocketStream) -> None:
        await stream.send_all(PARTIAL_ANSWERS[where])
        await trio.sleep(0.01)  # let the partial answer leave before the RST
        await reset(stream)

    async with raw_server(partial_then_reset) as server:
        outcome = await send_faulty_then_good(server.url, transport)
    record = assert_only_faulty_dead(outcome, "exhausted", ATTEMPTS)
    assert "protocol" in record.error
    assert server.faulty_requests == ATTEMPTS
    assert outcome.stats.ambiguous_retries == ATTEMPTS - 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_reset_mid_response_without_ambiguous_retries(transport: str) -> None:
    async def partial_then_reset(stream: trio.SocketStream) -> None:
        await stream.send_all(PARTIAL_ANSWERS["in the body"])
        await trio.sleep(0.01)
        await reset(stream)

    async with raw_server(partial_then_reset) as server:
        outcome = await send_faulty_then_good(server.url, transport, retry_ambiguous=False)
    assert_only_faulty_dead(outcome, "ambiguous", 1)
    assert server.faulty_requests == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_truncated_body_is_retried_as_ambiguous(transport: str) -> None:
    async def truncated(stream: trio.SocketStream) -> None:
        # Content-Length 100, 16 bytes, then an orderly close (FIN, not RST).
        await stream.send_all(PARTIAL_ANSWERS["in the body"])

    async with raw_server(truncated) as server:
        outcome = await send_faulty_then_good(server.url, transport)
    record = assert_only_faulty_dead(outcome, "exhausted", ATTEMPTS)
    assert "protocol" in record.error
    assert server.faulty_requests == ATTEMPTS


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_slow_drip_body_is_ended_by_the_total_timeout(transport: str) -> None:
    async def drip(stream: trio.SocketStream) -> None:
        # A byte every 20 ms never trips a per-read timeout; only the deadline on the whole
        # request (total_timeout) can end it.
        await stream.send_all(head_200(100_000))
        while True:
            await stream.send_all(b" ")
            await trio.sleep(0.02)

    async with raw_server(drip) as server:
        outcome = await send_faulty_then_good(server.url, transport)
    record = assert_only_faulty_dead(outcome, "exhausted", ATTEMPTS)
    assert "read timeout" in record.error
    assert server.faulty_requests == ATTEMPTS


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_3_mib_success_body_is_ambiguous_never_permanent(transport: str) -> None:
    # Discord answered 2xx: the message is posted, but the answer (past max_response_bytes,
    # 1 MiB by default) cannot be read. Retrying would post it twice; calling it permanent
    # would say it was refused.
    body = b'{"id": "1", "channel_id": "99", "content": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    async def huge(stream: trio.SocketStream) -> None:
        await stream.send_all(head_200(len(body)) + body)

    async with raw_server(huge) as server:
        outcome = await send_faulty_then_good(
            server.url, transport, max_response_bytes=1024 * 1024, total_timeout=5.0
        )
    record = assert_only_faulty_dead(outcome, "ambiguous", 1)
    assert "too large" in record.error
    # The record says Discord answered 200 (the message is posted), not just "too large".
    assert "of a 200 answer passed max_response_bytes (1048576 bytes)" in record.error
    assert server.faulty_requests == 1


# --- answers that point elsewhere -------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_never_followed_and_is_permanent(transport: str, status: int) -> None:
    async def nothing(stream: trio.SocketStream) -> None:
        raise AssertionError("the Location server answers nothing")

    async with raw_server(nothing) as elsewhere:
        location = f"{elsewhere.origin}/api/v10/webhooks/{HOOK_ID}/{TOKEN}"

        async def redirect(stream: trio.SocketStream) -> None:
            await stream.send_all(
                b"HTTP/1.1 %d Moved\r\nlocation: %s\r\ncontent-length: 0\r\n\r\n"
                % (status, location.encode())
            )

        async with raw_server(redirect) as server:
            outcome = await send_faulty_then_good(server.url, transport)
    record = assert_only_faulty_dead(outcome, "permanent", 1)
    assert record.status == status
    assert server.faulty_requests == 1
    assert elsewhere.connections == 0
