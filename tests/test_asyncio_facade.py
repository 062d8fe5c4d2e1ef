"""trio_webhook.asyncio: the sender and client under ``asyncio.run`` and in a Starlette app.

The facade runs the sender in its background trio loop; these tests are plain functions
that call ``asyncio.run`` themselves, on the real clock, with short waits.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import trio_webhook.asyncio
from trio_webhook import Delivery, DeliveryFailed, Embed, Message, SenderConfig, ValidationError
from trio_webhook.deadletter import MemorySink
from trio_webhook.errors import WebhookNotFound
from trio_webhook.testing import FakeDiscord, FakeDiscordServer, FakeWebhook

pytest_plugins = ["facade_fixtures"]


def contents(fake: FakeDiscord, hook: FakeWebhook) -> list[str]:
    return [m["content"] for m in fake.history(hook.channel_id)]


async def cancel_after(seconds: float, waiting: Coroutine[Any, Any, object]) -> None:
    """Run ``waiting`` as a task and cancel it after ``seconds``, as a timeout would."""
    task = asyncio.create_task(waiting)
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_receipts_and_sends_are_awaitable_under_asyncio_run(
    fake: FakeDiscord, hook: FakeWebhook
) -> None:
    async def main() -> tuple[Delivery, Delivery, int]:
        opened = trio_webhook.asyncio.open_webhook_sender(hook.url, transport=fake.transport())
        async with opened as sender:
            receipt = sender.send_nowait(Message(content="queued"))
            sent = await sender.send(Message(content="waited for"))
            first = await receipt
            assert (await receipt.wait()) == first
            return first, sent, sender.stats().delivered

    first, sent, delivered = asyncio.run(main())
    assert [first.id, sent.id] == [m["id"] for m in fake.history(hook.channel_id)]
    assert contents(fake, hook) == ["queued", "waited for"]
    assert delivered == 2
    # A second asyncio.run (a new loop) uses the same background loop.
    asyncio.run(main())
    assert len(contents(fake, hook)) == 4


def test_errors_come_out_as_themselves(fake: FakeDiscord, hook: FakeWebhook) -> None:
    async def main() -> None:
        config = SenderConfig(max_attempts=1)
        opened = trio_webhook.asyncio.open_webhook_sender(
            hook.url, config, transport=fake.transport()
        )
        async with opened as sender:
            with pytest.raises(ValidationError, match="257 characters"):
                sender.send_nowait(Message(embeds=[Embed(title="x" * 257)]))
            fake.inject("server_error", status=503)
            with pytest.raises(DeliveryFailed) as failed:
                await sender.send(Message(content="refused"))
            assert failed.value.reason == "exhausted"
        fake.delete_webhook(hook)
        client = trio_webhook.asyncio.AsyncWebhookClient(hook.url, transport=fake.transport())
        async with client:
            with pytest.raises(WebhookNotFound):
                await client.execute(Message(content="gone"))

    asyncio.run(main())


def test_the_client_reads_back_edits_and_deletes(fake: FakeDiscord, hook: FakeWebhook) -> None:
    async def main() -> None:
        client = trio_webhook.asyncio.AsyncWebhookClient(hook.url, transport=fake.transport())
        async with client:
            sent = await client.execute(Message(content="hello"))
            assert sent.id is not None
            await client.edit_message(sent.id, Message(content="hello, edited"))
            assert (await client.get_message(sent.id)).raw["content"] == "hello, edited"
            assert "token" not in (await client.fetch_webhook()).raw
            await client.delete_message(sent.id)

    asyncio.run(main())
    assert contents(fake, hook) == []


def test_the_client_modifies_and_deletes_the_webhook(fake: FakeDiscord, hook: FakeWebhook) -> None:
    async def main() -> None:
        client = trio_webhook.asyncio.AsyncWebhookClient(hook.url, transport=fake.transport())
        async with client:
            renamed = await client.modify_webhook(name="deploys")
            assert renamed.name == "deploys"
            await client.delete_webhook()
            with pytest.raises(WebhookNotFound):
                await client.fetch_webhook()

    asyncio.run(main())
    # Deleted on the fake; the fetch after it raised without a request.
    assert (fake.requests[-1].method, fake.requests[-1].status) == ("DELETE", 204)


def test_cancelling_the_waiting_task_leaves_the_message_queued(
    fake: FakeDiscord, hook: FakeWebhook
) -> None:
    fake.inject("delay", delay=0.3)

    async def main() -> tuple[bool, bool, int]:
        opened = trio_webhook.asyncio.open_webhook_sender(hook.url, transport=fake.transport())
        async with opened as sender:
            await cancel_after(0.1, sender.send(Message(content="slow")))
            receipt = sender.send_nowait(Message(content="behind it"))
            await cancel_after(0.05, receipt.wait())
            settled_inside = receipt.done
        # Leaving the block drained both.
        return settled_inside, receipt.done, sender.stats().delivered

    assert asyncio.run(main()) == (False, True, 2)
    assert contents(fake, hook) == ["slow", "behind it"]


def test_a_cancelled_send_past_the_drain_deadline_is_dead_lettered(
    fake: FakeDiscord, hook: FakeWebhook
) -> None:
    fake.inject("delay", delay=30)
    sink = MemorySink()
    config = SenderConfig(drain_timeout=0.3, dead_letter=sink)

    async def main() -> None:
        opened = trio_webhook.asyncio.open_webhook_sender(
            hook.url, config, transport=fake.transport()
        )
        async with opened as sender:
            await cancel_after(0.1, sender.send(Message(content="stuck")))

    asyncio.run(main())
    assert [(r.reason, r.message.content) for r in sink.records] == [("ambiguous", "stuck")]


def test_a_starlette_app_served_by_uvicorn_posts_through_the_facade(
    fake: FakeDiscord, hook: FakeWebhook, served: FakeDiscordServer
) -> None:
    url = served.webhook_url(hook)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with trio_webhook.asyncio.open_webhook_sender(url) as sender:
            app.state.sender = sender
            yield

    async def notify(request: Request) -> JSONResponse:
        text = (await request.json())["text"]
        delivery = await request.app.state.sender.send(Message(content=text))
        return JSONResponse({"id": delivery.id})

    app = Starlette(routes=[Route("/notify", notify, methods=["POST"])], lifespan=lifespan)

    async def main() -> httpx.Response:
        listening = socket.create_server(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        # Connections wait in the socket's backlog until the server accepts them.
        serving = asyncio.create_task(server.serve(sockets=[listening]))
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"http://127.0.0.1:{port}/notify", json={"text": "deployed"})
        server.should_exit = True
        await serving
        return answer

    answer = asyncio.run(main())
    assert answer.status_code == 200, answer.text
    (posted,) = fake.history(hook.channel_id)
    assert (posted["content"], posted["id"]) == ("deployed", answer.json()["id"])
