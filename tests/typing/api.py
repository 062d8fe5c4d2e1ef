"""The public API as users write it, checked by ``mypy --strict`` and never run.

Only public names are used. The ``# type: ignore[...]`` lines are wrong uses the types
must reject: mypy's ``warn_unused_ignores`` (on under ``strict``) fails the check if one
of them ever type-checks, so they guard the surface as much as the rest guards its use.
Not a test module (no ``test_`` prefix): pytest does not collect it.
"""

# The annotated assignments are the point (mypy checks each type), not their values.
# ruff: noqa: F841

from __future__ import annotations

import asyncio
import random

import trio

import trio_webhook
import trio_webhook.asyncio
import trio_webhook.sync
from trio_webhook import (
    AllowedMentions,
    Delivery,
    DeliveryFailed,
    DiscordHTTPError,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
    QueueFull,
    Receipt,
    RetryPolicy,
    SenderClosed,
    SenderConfig,
    SenderStats,
    SentMessage,
    TransportError,
    ValidationError,
    WebhookClient,
    WebhookError,
    WebhookSender,
    deadletter,
    limits,
    open_webhook_sender,
)
from trio_webhook.components import (
    ActionRow,
    Button,
    ButtonStyle,
    Container,
    FileComponent,
    MediaGallery,
    MediaGalleryItem,
    MessageFlags,
    Section,
    Separator,
    SeparatorSpacing,
    TextDisplay,
    Thumbnail,
)
from trio_webhook.errors import InvalidRequestBudgetExceeded, Violation, WebhookNotFound
from trio_webhook.messages import (
    UNSET,
    KeepAttachment,
    MessageEdit,
    ReceivedAttachment,
    WebhookInfo,
)
from trio_webhook.polls import Emoji, Poll, PollAnswer
from trio_webhook.ratelimit import AdaptiveStrategy, RateLimitTracker
from trio_webhook.testing import FakeDiscord, FakeWebhook
from trio_webhook.transport import DryRunTransport, Transport

URL = "https://discord.com/api/webhooks/123/token"

message = Message(
    content="build 42 passed",
    embeds=[
        Embed(
            title="build 42",
            description="all green",
            fields=[EmbedField(name="duration", value="3 min")],
            footer=EmbedFooter(text="ci"),
            author=EmbedAuthor(name="ci bot"),
            image=EmbedMedia(url="attachment://chart.png"),
        )
    ],
    attachments=[FilePart(filename="chart.png", data=b"\x89PNG")],
    allowed_mentions=AllowedMentions(parse=[]),
)
violations: list[Violation] = limits.validate(message)

# Link buttons under the content: any webhook; interactive ones need an application's.
with_buttons = Message(
    content="deployed",
    components=[ActionRow([Button("Changelog", url="https://example.com/changes")])],
    flags=MessageFlags.SUPPRESS_NOTIFICATIONS,
)
clickable = Message(
    content="approve?",
    components=[ActionRow([Button("Yes", custom_id="yes", style=ButtonStyle.SUCCESS)])],
    application_owned=True,
)
# Components V2: the layout is the message (IS_COMPONENTS_V2 is set for you).
layout = Message(
    components=[
        Container(
            [
                Section([TextDisplay("## build 42")], accessory=Thumbnail("attachment://b.png")),
                Separator(spacing=SeparatorSpacing.LARGE),
                MediaGallery([MediaGalleryItem("https://example.com/graph.png")]),
                FileComponent("attachment://log.txt"),
            ],
            accent_color=0x2ECC71,
        )
    ],
    attachments=[FilePart("b.png", data=b"\x89PNG"), FilePart("log.txt", data=b"ok")],
)
vote = Message(poll=Poll("Friday?", ["yes", PollAnswer("no", emoji=Emoji("🙅"))], duration=4))
flags: int | None = Message(content="x", flags=4096).flags

Message(components=[Button("x", url="https://e.com")])  # type: ignore[list-item]
Message(poll="Friday?")  # type: ignore[arg-type]
Poll("q", answers=[1])  # type: ignore[list-item]
max_content: int = limits.CONTENT_MAX
config = SenderConfig(queue_cap=100, dead_letter="dead.jsonl")


async def use_the_sender() -> None:
    async with open_webhook_sender(URL, config=config) as sender:
        _: WebhookSender = sender
        receipt: Receipt = sender.send_nowait(message)
        await sender.send(Message(content="hello"))
        try:
            delivery: Delivery = await receipt.wait()
        except DeliveryFailed as exc:
            reason: str = exc.reason
            attempts: int = exc.attempts
        else:
            first: str | None = delivery.id
            sent: tuple[SentMessage, ...] = delivery.messages
        stats: SenderStats = sender.stats()
        in_flight: int = stats.in_flight

        sender.send_nowait("hello")  # type: ignore[arg-type]
        stats.delivered = 0  # type: ignore[misc]


async def use_the_client() -> None:
    tracker = RateLimitTracker(strategy=AdaptiveStrategy(), rng=random.Random(1))
    async with WebhookClient(URL, retry=RetryPolicy(max_attempts=3), tracker=tracker) as client:
        delivery = await client.execute(message, wait=True)
        assert delivery.id is not None
        sent: SentMessage = await client.edit_message(delivery.id, Message(content="edited"))
        again: SentMessage = await client.get_message(sent.id)
        first: ReceivedAttachment = again.attachments[0]
        edit = MessageEdit(embeds=[], attachments=[KeepAttachment(first.id, spoiler=True)])
        await client.edit_message(again.id, edit)
        await client.delete_message(again.id)
        info: WebhookInfo = await client.modify_webhook(name="deploys", avatar=None)
        assert info.name == "deploys"
        await client.modify_webhook(avatar=UNSET)
        await client.delete_webhook()

        MessageEdit(embeds=UNSET, content=3)  # type: ignore[arg-type]

        await client.execute(message, wait="yes")  # type: ignore[arg-type]


async def catch_the_errors(sender: WebhookSender) -> None:
    try:
        sender.send_nowait(message)
    except ValidationError as exc:
        for violation in exc.violations:
            path: str = violation.path
    except (QueueFull, SenderClosed):
        pass
    try:
        async with WebhookClient(URL) as client:
            await client.execute(message)
    except WebhookNotFound:
        pass
    except DiscordHTTPError as exc:
        status: int = exc.status
    except (TransportError, InvalidRequestBudgetExceeded, WebhookError):
        pass


async def read_the_dead_letters() -> None:
    for record in deadletter.read("dead.jsonl"):
        content: str | None = record.message.content
    result: deadletter.ReplayResult = await deadletter.replay("dead.jsonl", URL)
    delivered: int = result.delivered
    sink = deadletter.MemorySink()
    async with open_webhook_sender(URL, config=SenderConfig(dead_letter=sink)):
        pass
    records: list[deadletter.DeadLetter] = sink.records


async def use_the_fake() -> None:
    fake = FakeDiscord(seed=0)
    hook: FakeWebhook = fake.create_webhook()
    transport: Transport = fake.transport()
    async with open_webhook_sender(hook.url, transport=transport) as sender:
        await sender.send(message)
    assert fake.stats().messages == 1
    async with WebhookClient(hook.url, transport=DryRunTransport()) as client:
        await client.execute(message)


def use_the_sync_facade() -> None:
    delivery: Delivery = trio_webhook.sync.send(
        URL, content="backup done", embeds=[Embed(title="ok")], files=["backup.log"]
    )
    with trio_webhook.sync.open_webhook_sender(URL, SenderConfig(queue_cap=10)) as sender:
        receipt: trio_webhook.sync.SyncReceipt = sender.send_nowait(message)
        first: Delivery = receipt.wait(timeout=5.0)
        done: bool = receipt.done
        waited: Delivery = sender.send(message)
        sender.flush()
        stats: SenderStats = sender.stats()
    with trio_webhook.sync.SyncWebhookClient(URL, transport=DryRunTransport()) as client:
        sent = client.execute(message, wait=True)
        assert sent.id is not None
        edited: SentMessage = client.edit_message(sent.id, message, keep_attachments=[])
        again: SentMessage = client.get_message(sent.id)
        webhook: WebhookInfo = client.fetch_webhook()
        client.delete_message(sent.id)

        client.edit_message(sent.id, message, keep=[])  # type: ignore[call-arg]
    trio_webhook.sync.send(URL, content=42)  # type: ignore[arg-type]
    trio_webhook.sync.open_webhook_sender(URL, tracker="shared")  # type: ignore[arg-type]


async def use_the_asyncio_facade() -> None:
    async with trio_webhook.asyncio.open_webhook_sender(URL) as sender:
        receipt: trio_webhook.asyncio.AsyncReceipt = sender.send_nowait(message)
        first: Delivery = await receipt
        also: Delivery = await receipt.wait()
        waited: Delivery = await sender.send(message)
        await sender.flush()
        stats: SenderStats = sender.stats()

        not_yet: str | None = sender.send(message).id  # type: ignore[attr-defined]
    async with trio_webhook.asyncio.AsyncWebhookClient(URL) as client:
        sent = await client.execute(message)
        assert sent.id is not None
        edited: SentMessage = await client.edit_message(sent.id, message, thread_id=1)
        await client.delete_message(sent.id)


def run_the_asyncio_facade() -> None:
    asyncio.run(use_the_asyncio_facade())


def run() -> None:
    trio.run(use_the_sender)
    version: str = trio_webhook.__version__


def wrong_uses() -> None:
    # Planning is private now, and the rest lives in the sub-namespaces.
    trio_webhook.plan_requests(message)  # type: ignore[attr-defined]
    tracker = trio_webhook.RateLimitTracker  # type: ignore[attr-defined]
    Message(content=42)  # type: ignore[arg-type]
    message.content = "changed"  # type: ignore[misc]


class MyReceipt(Receipt):  # type: ignore[misc]
    """Receipt is final: only the sender makes them."""
