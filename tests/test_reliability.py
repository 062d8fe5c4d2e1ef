"""Nothing one message or one answer does can stop the others.

Each test here reproduces a defect found by a fault matrix (an answer or an input that
killed the sender, or an outcome with the wrong label) and asserts the fixed behaviour.
Answers FakeDiscord would never give (a 404 without a body, JSON nested 5,000 deep) come
from :class:`ScriptedDiscord`, a small ASGI server that replays a script of raw answers
over the same in-process HTTP path (httpx's ASGI transport) the fake uses.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from trio_webhook import DeliveryFailed, FilePart, Message, SenderConfig, open_webhook_sender
from trio_webhook._client import WebhookClient
from trio_webhook.deadletter import DeadLetter, MemorySink
from trio_webhook.errors import WebhookNotFound
from trio_webhook.ratelimit import InvalidRequestBudget, RateLimitTracker
from trio_webhook.testing import FakeDiscord
from trio_webhook.transport import HttpxTransport

URL = "https://discord.com/api/webhooks/1174109840998400001/s3cr3t-t0ken"
TOKEN = "s3cr3t-t0ken"

Answer = tuple[int, dict[str, str], bytes]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ScriptedDiscord:
    """An ASGI server answering each request with the next scripted answer (then 204)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers: deque[Answer] = deque(answers)
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        more = True
        while more:
            event = await receive()
            more = event.get("more_body", False)
        self.requests.append((scope["method"], scope["path"]))
        status, headers, body = self.answers.popleft() if self.answers else (204, {}, b"")
        raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})

    def transport(self) -> HttpxTransport:
        base = URL.split("/api/")[0]
        return HttpxTransport(f"{base}/api/v10", httpx_transport=httpx.ASGITransport(app=self))


def message_json(message_id: str) -> bytes:
    return f'{{"id": "{message_id}", "channel_id": "9", "content": "x"}}'.encode()


def config(**changes: Any) -> SenderConfig:
    return SenderConfig(seed=0, **changes)


async def failure(receipt: Any) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as info:
        await receipt.wait()
    return info.value


# --- one answer decides once: a 404 without a body is a dead webhook --------------------------


async def test_404_without_a_json_body_marks_the_webhook_dead_and_stops_calling() -> None:
    server = ScriptedDiscord((404, {"content-type": "text/html"}, b"<html>not found</html>"))
    async with WebhookClient(URL, transport=server.transport()) as client:
        with pytest.raises(WebhookNotFound):
            await client.execute(Message(content="a"))
        assert isinstance(client.dead, WebhookNotFound)
        with pytest.raises(WebhookNotFound):
            await client.execute(Message(content="b"))
    assert len(server.requests) == 1  # the second call never touched the network


# --- a cancelled request gives its rate-limit slot back ----------------------------------------


async def test_a_cancelled_execute_releases_its_slot_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    fake.inject("delay", count=1, delay=60.0)
    async with WebhookClient(hook.url, transport=fake.transport(), rng=random.Random(0)) as client:
        with trio.move_on_after(1.0):
            await client.execute(Message(content="cancelled"))
        started = trio.current_time()
        await client.execute(Message(content="next"))
        # Before: the cancelled probe held the unknown bucket's slot until its
        # reservation expired, and this call waited 29 s.
        assert trio.current_time() - started == pytest.approx(0.0, abs=1e-6)


# --- an unreadable 2xx is ambiguous, never fatal -----------------------------------------------


async def test_a_2xx_nested_5000_deep_is_ambiguous_and_the_next_message_is_delivered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    server = ScriptedDiscord(
        (200, {"content-type": "application/json"}, deep),
        (200, {"content-type": "application/json"}, message_json("2")),
    )
    sink = MemorySink()
    async with open_webhook_sender(
        URL, config=config(dead_letter=sink), transport=server.transport()
    ) as sender:
        first = sender.send_nowait(Message(content="one"))
        second = sender.send_nowait(Message(content="two"))
        assert (await failure(first)).reason == "ambiguous"
        assert (await second.wait()).id == "2"
    [record] = sink.records
    assert (record.reason, record.delivered_requests) == ("ambiguous", 1)
    stats = sender.stats()
    assert (stats.delivered, stats.dead, stats.in_flight) == (1, 1, 0)


# --- a request in flight at the drain deadline is ambiguous ----------------------------------


async def test_a_message_posted_while_the_drain_deadline_passed_is_ambiguous(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    # Discord stores the message, then answers after 10 s; the drain deadline is 1 s.
    fake.inject("delay", count=1, delay=10.0, stored=True)
    sink = MemorySink()
    async with open_webhook_sender(
        hook.url,
        config=config(dead_letter=sink, drain_timeout=1.0),
        transport=fake.transport(),
    ) as sender:
        posted = sender.send_nowait(Message(content="posted"))
        queued = sender.send_nowait(Message(content="queued"))
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["posted"]
    assert (await failure(posted)).reason == "ambiguous"  # was "shutdown": replay duplicated it
    assert (await failure(queued)).reason == "shutdown"
    assert [r.reason for r in sink.records] == ["ambiguous", "shutdown"]


# --- the caller's exception comes out as itself -----------------------------------------------


async def test_an_exception_in_the_block_comes_out_as_itself() -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()

    async def body() -> None:
        async with open_webhook_sender(
            hook.url, config=config(), transport=fake.transport()
        ) as sender:
            sender.send_nowait(Message(content="before the error"))
            raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        await body()
    # The drain still ran: the message queued before the error was delivered.
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["before the error"]


class StuckSink:
    """A dead-letter sink whose ``put`` never returns (a full channel nobody reads)."""

    def __init__(self) -> None:
        self.calls = 0

    async def put(self, record: DeadLetter) -> None:
        self.calls += 1
        await trio.sleep_forever()


async def test_a_stuck_sink_delays_shutdown_by_one_deadline_not_one_per_record(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    fake.inject("server_error", count=100, status=503)  # nothing gets through
    sink = StuckSink()
    started = trio.current_time()
    async with open_webhook_sender(
        hook.url,
        config=config(dead_letter=sink, drain_timeout=0.0),
        transport=fake.transport(),
    ) as sender:
        receipts = [sender.send_nowait(Message(content=f"m{i}")) for i in range(4)]
    # Before: 4 records x 5 s each. Now one 5-s deadline covers every record.
    assert trio.current_time() - started == pytest.approx(5.0)
    assert all(r.done for r in receipts)
    assert sender.stats().dead == 4
    assert any("not written" in r.getMessage() for r in caplog.records)


# --- the last line of defence ----------------------------------------------------------------


async def test_an_unexpected_error_dead_letters_that_message_alone(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    log = tmp_path / "build.log"
    log.write_bytes(b"log")
    sink = MemorySink()
    caplog.set_level(logging.ERROR, logger="trio_webhook")
    async with open_webhook_sender(
        hook.url, config=config(dead_letter=sink), transport=fake.transport()
    ) as sender:
        # Checked when queued (the file exists), read when sent: by then it is gone.
        vanished = sender.send_nowait(Message(content="log", attachments=[FilePart.from_path(log)]))
        log.unlink()
        after = sender.send_nowait(Message(content="after"))
        error = await failure(vanished)
        assert (await after.wait()).id is not None
    assert error.reason == "internal"
    assert "FileNotFoundError" in error.error
    [record] = sink.records
    assert record.reason == "internal"
    [logged] = [r for r in caplog.records if "unexpected FileNotFoundError" in r.getMessage()]
    assert "Traceback" in logged.getMessage()
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["after"]


# --- logs ----------------------------------------------------------------------------------


def extra(record: logging.LogRecord, key: str) -> Any:
    return record.__dict__[key]


async def test_debug_logs_enqueue_dequeue_and_message_ids_without_the_token(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    server = ScriptedDiscord((200, {"content-type": "application/json"}, message_json("77")))
    caplog.set_level(logging.DEBUG, logger="trio_webhook")
    async with open_webhook_sender(URL, config=config(), transport=server.transport()) as sender:
        await sender.send_nowait(Message(content="a")).wait()
    messages = [r.getMessage() for r in caplog.records]
    assert all(TOKEN not in m for m in messages)
    [enqueued] = [r for r in caplog.records if r.getMessage().startswith("enqueued message")]
    assert (extra(enqueued, "webhook_id"), extra(enqueued, "seq")) == ("1174109840998400001", 1)
    assert any(r.getMessage().startswith("dequeued a message") for r in caplog.records)
    [delivered] = [r for r in caplog.records if r.getMessage().startswith("delivered request")]
    assert (extra(delivered, "message_id"), extra(delivered, "request")) == ("77", 1)


async def test_a_4xx_answer_is_logged_at_warning_with_its_body_cut_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An error that echoes the URL it was sent to must not leak the token into the log.
    echoed = URL.encode()
    body = (
        b'{"code": 50035, "message": "Invalid Form Body at '
        + echoed
        + b'"'
        + (b', "pad": "' + b"x" * 2000 + b'"}')
    )
    server = ScriptedDiscord((400, {"content-type": "application/json"}, body))
    caplog.set_level(logging.WARNING, logger="trio_webhook")
    async with WebhookClient(URL, transport=server.transport()) as client:
        with pytest.raises(Exception, match="400"):
            await client.execute(Message(content="a"))
    [warning] = [r for r in caplog.records if r.getMessage().startswith("Discord answered 400")]
    assert warning.levelno == logging.WARNING
    assert (extra(warning, "status"), extra(warning, "code")) == (400, 50035)
    assert TOKEN not in warning.getMessage()
    assert len(extra(warning, "body")) <= 300


# --- Discord's own protections, seen from the sender -------------------------------------------


async def test_a_spent_invalid_request_budget_dead_letters_instead_of_hammering(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    budget = InvalidRequestBudget(limit=4, slow_share=1.0, stop_share=1.0)
    tracker = RateLimitTracker(rng=random.Random(0), budget=budget)
    fake.inject("retry_after_ms", count=4, retry_after=0.5)  # four plain 429s count
    sink = MemorySink()
    async with open_webhook_sender(
        hook.url,
        config=config(dead_letter=sink, max_attempts=10),
        transport=fake.transport(),
        tracker=tracker,
    ) as sender:
        first = sender.send_nowait(Message(content="a"))
        second = sender.send_nowait(Message(content="b"))
        assert (await failure(first)).reason == "invalid_budget"
        assert (await failure(second)).reason == "invalid_budget"
        assert sender.stats().invalid_requests == 4
    assert len(fake.requests) == 4  # nothing after the fourth 429
    assert [r.reason for r in sink.records] == ["invalid_budget", "invalid_budget"]
    assert "401, 403 or 429" in sink.records[0].error


async def test_an_edge_ban_pauses_every_webhook_of_the_tracker_and_counts_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    one, two = fake.create_webhook(), fake.create_webhook()
    tracker = RateLimitTracker(rng=random.Random(0), edge_ban_floor=60.0)
    fake.inject("rate_limit_no_body", count=1, webhook=one)  # Cloudflare's 429: no headers
    transport = fake.transport()
    async with (
        open_webhook_sender(
            one.url, config=config(), transport=transport, tracker=tracker
        ) as first,
        open_webhook_sender(
            two.url, config=config(), transport=transport, tracker=tracker
        ) as second,
    ):
        banned = first.send_nowait(Message(content="banned"))
        await trio.sleep(1.0)
        started = trio.current_time()
        await second.send_nowait(Message(content="other webhook")).wait()
        # The other webhook waited out the IP-wide pause too.
        assert trio.current_time() - started >= 59.0 - 1e-6
        await banned.wait()
        assert first.stats().rate_limited == {"edge": 1}
        assert first.stats().edge_bans == second.stats().edge_bans == 1


async def test_a_sender_opened_in_a_cancelled_scope_drains_and_never_hangs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    with trio.CancelScope() as outer:
        outer.cancel()  # cancelled before the sender's tasks began (was: a deadlock)
        async with open_webhook_sender(
            hook.url, config=config(), transport=fake.transport()
        ) as sender:
            receipt = sender.send_nowait(Message(content="queued while cancelled"))
            await trio.sleep(1.0)
    assert receipt.done
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["queued while cancelled"]
