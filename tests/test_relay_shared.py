"""Several senders, or several relay processes, sharing one Redis outbox (issue 17).

One holds a webhook's lease and delivers; the others append to the outbox without it,
and their receipts settle from the outcome the holder writes. Real redis-server, real
clock (STACK-NOTES: redis-server is another process): the tests assert outcomes with
generous deadlines, never durations.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import trio
from redis_server import RedisServer
from test_relay import (
    _free_port,
    _start_relay_process,
    path_of,
    running_relay,
    wait_for_history,
)

from trio_webhook import (
    DeliveryFailed,
    Message,
    SenderConfig,
    WebhookSender,
    open_webhook_sender,
)
from trio_webhook.hub import open_webhook_hub
from trio_webhook.outbox import OutboxLeaseHeld, RedisOutbox
from trio_webhook.testing import FakeDiscord, FakeWebhook, serve_fake_discord
from trio_webhook.testing._asgi import ASGIReceive, ASGIScope, ASGISend


def fast_fake() -> tuple[FakeDiscord, FakeWebhook]:
    fake = FakeDiscord(seed=0, bucket_limit=1000, bucket_window=1.0)
    return fake, fake.create_webhook()


def contents(fake: FakeDiscord, hook: FakeWebhook) -> list[str]:
    return [m.get("content", "") for m in fake.history(hook.channel_id)]


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def shared(outbox: RedisOutbox, **changes: Any) -> SenderConfig:
    return SenderConfig(seed=0, outbox=outbox, share_outbox=True, **changes)


# A refusal the library cannot foresee (a rule of Discord's it does not check): Discord's
# Invalid Form Body, with its errors tree.
FORM_ERROR: Final = {
    "code": 50035,
    "message": "Invalid Form Body",
    "errors": {"content": {"_errors": [{"code": "AUTOMOD_BLOCKED", "message": "Blocked"}]}},
}


class RefusingFake(FakeDiscord):
    """The fake Discord, answering every post with :data:`FORM_ERROR` while ``refusing``."""

    refusing = False

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        if not (self.refusing and scope["type"] == "http" and scope["method"] == "POST"):
            await super().__call__(scope, receive, send)
            return
        body = json.dumps(FORM_ERROR).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# -- two senders, two outbox objects (two consumers, as two processes are) ----------------


@asynccontextmanager
async def two_outboxes(url: str, prefix: str) -> AsyncIterator[tuple[RedisOutbox, RedisOutbox]]:
    async with (
        RedisOutbox(url, prefix=prefix) as first,
        RedisOutbox(url, prefix=prefix) as second,
    ):
        yield first, second


@asynccontextmanager
async def holder_and_appender(
    url: str, prefix: str, fake: FakeDiscord, hook: FakeWebhook, **holder: Any
) -> AsyncIterator[tuple[RedisOutbox, WebhookSender, WebhookSender]]:
    """The first sender opens first, so it holds the lease; the second appends."""
    async with (
        two_outboxes(url, prefix) as (first, second),
        open_webhook_sender(
            hook.url, config=shared(first, **holder), transport=fake.transport()
        ) as a,
        open_webhook_sender(hook.url, config=shared(second), transport=fake.transport()) as b,
    ):
        yield first, a, b


async def test_two_senders_share_one_outbox_in_commit_order(
    redis_server: RedisServer, prefix: str
) -> None:
    fake, hook = fast_fake()
    async with holder_and_appender(redis_server.url, prefix, fake, hook) as (first, a, b):
        receipts = [await (a, b)[i % 2].send(Message(content=f"m{i}")) for i in range(20)]
        with trio.fail_after(30):
            deliveries = [await r.wait() for r in receipts]
        assert await first.pending() == []
    stored = fake.history(hook.channel_id)
    assert [m["content"] for m in stored] == [f"m{i}" for i in range(20)]
    # The appender's receipts carry Discord's message, as the holder's do.
    assert [d.id for d in deliveries] == [m["id"] for m in stored]
    assert (b.stats().requests, b.stats().delivered, b.stats().enqueued) == (0, 10, 10)
    assert (a.stats().delivered, a.stats().recovered) == (20, 10)


async def test_an_appender_learns_its_message_was_dead_lettered(
    redis_server: RedisServer, prefix: str
) -> None:
    fake, hook = fast_fake()
    pair = holder_and_appender(redis_server.url, prefix, fake, hook, max_attempts=1)
    async with pair as (first, a, b):
        await (await a.send(Message(content="first"))).wait()
        fake.inject("server_error", count=1, status=502)
        receipt = await b.send(Message(content="lost"))
        with trio.fail_after(30), pytest.raises(DeliveryFailed) as info:
            await receipt.wait()
        [dead] = await first.dead_letters(hook.id)
    assert (info.value.reason, info.value.status) == ("exhausted", 502)
    assert dead.record.message.content == "lost"
    assert (b.stats().dead, b.stats().in_flight) == (1, 0)


async def test_an_appenders_failed_receipt_carries_discords_error_as_the_holders_does(
    redis_server: RedisServer, prefix: str
) -> None:
    fake = RefusingFake(seed=0, bucket_limit=1000, bucket_window=1.0)
    hook = fake.create_webhook()
    failures: list[DeliveryFailed] = []
    async with holder_and_appender(redis_server.url, prefix, fake, hook) as (_, a, b):
        await (await a.send(Message(content="first"))).wait()
        fake.refusing = True
        for sender in (a, b):
            with trio.fail_after(30), pytest.raises(DeliveryFailed) as info:
                await (await sender.send(Message(content="refused"))).wait()
            failures.append(info.value)
    held, appended = failures
    assert (appended.reason, appended.status) == ("permanent", 400)
    assert appended.discord_error == held.discord_error == FORM_ERROR


async def test_two_hubs_share_an_outbox_in_order(redis_server: RedisServer, prefix: str) -> None:
    fake, hook = fast_fake()
    async with (
        two_outboxes(redis_server.url, prefix) as (first, second),
        open_webhook_hub(config=shared(first), transport=fake.transport()) as one,
        open_webhook_hub(config=shared(second), transport=fake.transport()) as two,
    ):
        hubs = (one, two)
        receipts = [await hubs[i % 2].send(hook.url, Message(content=f"m{i}")) for i in range(10)]
        with trio.fail_after(30):
            deliveries = [await r.wait() for r in receipts]
    assert contents(fake, hook) == [f"m{i}" for i in range(10)]
    assert [d.id for d in deliveries] == [m["id"] for m in fake.history(hook.channel_id)]
    appender = two.webhook_stats(hook.url)
    assert appender is not None
    assert (appender.requests, appender.delivered) == (0, 5)


async def test_the_appender_delivers_once_the_holder_leaves(
    redis_server: RedisServer, prefix: str
) -> None:
    fake, hook = fast_fake()
    fake.inject("delay", count=1, delay=5.0)  # the holder is stuck on its first message
    left = trio.Event()
    async with (
        two_outboxes(redis_server.url, prefix) as (first, second),
        trio.open_nursery() as nursery,
    ):
        holder = shared(first, drain_timeout=0.2, total_timeout=10.0)
        opened = trio.Event()

        async def hold() -> None:
            async with open_webhook_sender(
                hook.url, config=holder, transport=fake.transport()
            ) as a:
                await a.send(Message(content="h0"))
                opened.set()
                await left.wait()
                await a.send(Message(content="h1"))

        nursery.start_soon(hold)
        await opened.wait()
        async with open_webhook_sender(
            hook.url, config=shared(second), transport=fake.transport()
        ) as b:
            mine = [await b.send(Message(content=f"b{i}")) for i in range(3)]
            left.set()  # the holder sends one more and leaves: its work stays in the outbox
            with trio.fail_after(30):
                deliveries = [await r.wait() for r in mine]
                while len(contents(fake, hook)) < 5:  # noqa: ASYNC110 -- the fake's state
                    await trio.sleep(0.02)
    # h0 may show twice: it was in flight when the holder left (the ambiguity rule).
    assert [c for c in contents(fake, hook) if c != "h0"] == ["b0", "b1", "b2", "h1"]
    assert all(d.id for d in deliveries)
    assert b.stats().recovered >= 2  # h0 and h1 came from the other sender


async def test_without_share_outbox_a_held_lease_is_still_refused(
    redis_server: RedisServer, prefix: str
) -> None:
    fake, hook = fast_fake()
    async with (
        two_outboxes(redis_server.url, prefix) as (first, second),
        open_webhook_sender(hook.url, config=shared(first), transport=fake.transport()),
    ):
        plain = SenderConfig(seed=0, outbox=second)
        with pytest.raises(OutboxLeaseHeld):
            async with open_webhook_sender(hook.url, config=plain, transport=fake.transport()):
                pass


# -- two relay processes -------------------------------------------------------------------


async def test_a_relay_without_the_lease_hands_back_discords_errors_tree(
    tmp_path: Path, redis_server: RedisServer, prefix: str
) -> None:
    fake = RefusingFake()
    hook = fake.create_webhook()
    async with (
        two_outboxes(redis_server.url, prefix) as (first, second),
        serve_fake_discord(fake) as server,
        running_relay(server, tmp_path, sender=SenderConfig(outbox=first)) as one,
        running_relay(server, tmp_path, sender=SenderConfig(outbox=second)) as two,
        httpx.AsyncClient(timeout=30) as http,
    ):
        assert (await http.post(one + path_of(hook), json={"content": "a"})).status_code == 204
        await wait_for_history(fake, hook, 1)  # relay one holds the webhook's lease
        fake.refusing = True
        waited = {"wait": "true"}
        answer = await http.post(two + path_of(hook), params=waited, json={"content": "b"})
    assert answer.status_code == 400
    assert answer.json() == FORM_ERROR


def _relay_toml(tmp_path: Path, name: str, port: int, upstream: str, ca: Path, redis: str) -> Path:
    toml = tmp_path / f"{name}.toml"
    toml.write_text(
        f'[relay]\nlisten = "127.0.0.1:{port}"\nupstream = "{upstream}"\nca_file = "{ca}"\n'
        f'[relay.sender]\noutbox = "{redis}"\n'
    )
    return toml


async def test_two_relay_processes_share_one_outbox_and_survive_a_sigkill(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    fake = FakeDiscord(time_scale=0.05)
    hook = fake.create_webhook()
    redis = redis_server.url.rsplit("/", 1)[0] + "/9"  # a database (default prefix) of its own
    async with serve_fake_discord(fake) as server:
        ca = tmp_path / "ca.pem"
        server.ca.cert_pem.write_to_path(str(ca))
        ports = [_free_port(), _free_port()]
        relays = [
            await _start_relay_process(
                _relay_toml(tmp_path, f"r{n}", port, server.url, ca, redis), port, {}
            )
            for n, port in enumerate(ports)
        ]
        try:
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30) as one,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}", timeout=30) as two,
            ):
                # Relay one opens first, so it holds the lease; posts alternate.
                answers = [
                    await (one, two)[i % 2].post(path_of(hook), json={"content": f"m{i}"})
                    for i in range(10)
                ]
                assert {a.status_code for a in answers} == {204}  # never 503
                waited = await two.post(
                    path_of(hook), params={"wait": "true"}, json={"content": "w"}
                )
                shown = await wait_for_history(fake, hook, 11)
                # An outage keeps the next posts pending; then the holder is killed.
                fake.fault_rate(1.0, ["server_error"])
                more = [
                    await (one, two)[i % 2].post(path_of(hook), json={"content": f"k{i}"})
                    for i in range(6)
                ]
                relays[0].send_signal(signal.SIGKILL)
                await relays[0].wait()
                fake.fault_rate(0)
                after = await wait_for_history(fake, hook, 17)
        finally:
            for relay in relays:
                if relay.returncode is None:
                    relay.send_signal(signal.SIGTERM)
                    with trio.fail_after(30):
                        await relay.wait()
    assert {a.status_code for a in more} == {204}
    assert shown == [f"m{i}" for i in range(10)] + ["w"]
    assert waited.status_code == 200
    assert waited.json()["id"] == fake.history(hook.channel_id)[10]["id"]
    # Exactly once, in commit order: an outage answers 500 without posting.
    assert after == shown + [f"k{i}" for i in range(6)]
    assert relays[1].returncode == 0
    assert relays[1].stderr is not None
    logs = (await relays[1].stderr.receive_some(1 << 20)).decode()
    assert f"taking over webhook {hook.id} from process {relays[0].pid}" in logs
    assert hook.token not in logs
