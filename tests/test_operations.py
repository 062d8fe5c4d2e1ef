"""Reading back, editing and the webhook itself, end to end through FakeDiscord."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from trio_webhook import Embed, FilePart, Message, SenderConfig, ValidationError
from trio_webhook._client import WebhookClient
from trio_webhook._sender import open_webhook_sender
from trio_webhook.components import ActionRow, Button
from trio_webhook.errors import PayloadTooLarge, WebhookNotFound
from trio_webhook.messages import KeepAttachment, MessageEdit, ReceivedMessage, WebhookInfo
from trio_webhook.testing import FakeDiscord, FakeWebhook

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture
async def client(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> AsyncIterator[WebhookClient]:
    async with WebhookClient(
        fake_webhook.url, transport=fake_discord.transport(), rng=random.Random(0)
    ) as c:
        yield c


async def send(client: WebhookClient, message: Message) -> ReceivedMessage:
    (sent,) = (await client.execute(message)).messages
    return sent


async def test_execute_and_get_read_back_what_discord_stored(
    client: WebhookClient, fake_webhook: FakeWebhook
) -> None:
    files = [
        FilePart("log.txt", data=b"12345", description="the log"),
        FilePart("badge.png", data=PNG, spoiler=True),
    ]
    sent = await send(client, Message(content="hi", embeds=[Embed(title="t")], attachments=files))
    assert isinstance(sent, ReceivedMessage)
    assert (sent.content, sent.channel_id, sent.webhook_id) == (
        "hi",
        fake_webhook.channel_id,
        fake_webhook.id,
    )
    assert sent.embeds == (Embed(title="t"),)
    assert isinstance(sent.timestamp, datetime)
    assert sent.edited_timestamp is None
    assert sent.author_name == fake_webhook.name
    log, badge = sent.attachments
    assert (log.filename, log.size, log.description, log.spoiler) == (
        "log.txt",
        5,
        "the log",
        False,
    )
    assert log.content_type is not None
    assert log.content_type.startswith("text/plain")
    assert log.url.endswith(f"/{log.id}/log.txt")
    assert (badge.filename, badge.spoiler) == ("SPOILER_badge.png", True)
    assert await client.get_message(sent.id) == sent


async def test_edit_keeps_one_file_redescribed_and_replaces_another(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    files = [FilePart("keep.txt", data=b"k"), FilePart("old.txt", data=b"o")]
    sent = await send(client, Message(content="v1", attachments=files))
    keep, _old = sent.attachments
    edited = await client.edit_message(
        sent.id,
        MessageEdit(
            attachments=[
                KeepAttachment(keep.id, description="kept", spoiler=True),
                FilePart("new.txt", data=b"nn"),
            ]
        ),
    )
    assert [(a.filename, a.description, a.spoiler) for a in edited.attachments] == [
        ("keep.txt", "kept", True),
        ("new.txt", None, False),
    ]
    assert edited.attachments[0].id == keep.id
    assert fake_discord.attachment_data(edited.attachments[1].id) == b"nn"
    assert edited.content == "v1"
    assert edited.edited_timestamp is not None
    # Spoiler can be lifted again, and the stored message shows it.
    lifted = await client.edit_message(
        sent.id, MessageEdit(attachments=[KeepAttachment(keep.id, spoiler=False)])
    )
    assert [(a.filename, a.spoiler) for a in lifted.attachments] == [("keep.txt", False)]


async def test_empty_embeds_clear_them_and_a_message_edit_leaves_them(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    sent = await send(client, Message(content="c", embeds=[Embed(title="a"), Embed(title="b")]))
    left = await client.edit_message(sent.id, Message(content="still"))
    assert [e.title for e in left.embeds] == ["a", "b"]
    cleared = await client.edit_message(sent.id, MessageEdit(embeds=[], components=[]))
    assert cleared.embeds == ()
    assert cleared.content == "still"
    assert fake_discord.requests[-1].json == {"embeds": [], "components": []}


async def test_an_edit_sets_and_removes_components_with_with_components(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    # A channel's webhook (no application): Discord ignores an edit's components unless
    # the edit says ?with_components=true, removing them included.
    sent = await send(client, Message(content="c", components=[link_row("old")]))
    assert sent.components[0]["components"][0]["label"] == "old"
    changed = await client.edit_message(sent.id, MessageEdit(components=[link_row("new")]))
    assert changed.components[0]["components"][0]["label"] == "new"
    assert fake_discord.requests[-1].query == {"with_components": "true"}
    cleared = await client.edit_message(sent.id, MessageEdit(components=[]))
    assert cleared.components == ()
    assert fake_discord.requests[-1].query == {"with_components": "true"}
    await client.edit_message(sent.id, MessageEdit(content="text only"))
    assert fake_discord.requests[-1].query == {}


def link_row(label: str) -> ActionRow:
    return ActionRow([Button(label, url="https://example.com")])


async def test_keep_attachments_with_a_message_edit_still_works(client: WebhookClient) -> None:
    sent = await send(client, Message(content="f", attachments=[FilePart("a.txt", data=b"a")]))
    (a,) = sent.attachments
    kept = await client.edit_message(
        sent.id, Message(attachments=[FilePart("b.txt", data=b"b")]), keep_attachments=[a.id]
    )
    assert [x.filename for x in kept.attachments] == ["a.txt", "b.txt"]
    with pytest.raises(TypeError, match="keep_attachments goes with a Message"):
        await client.edit_message(sent.id, MessageEdit(), keep_attachments=[a.id])


async def test_an_invalid_edit_is_refused_before_anything_is_sent(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    with pytest.raises(ValidationError, match=r"attachments\[0\]\.id"):
        await client.edit_message("1", MessageEdit(attachments=[KeepAttachment("nope")]))
    assert fake_discord.requests == []


async def test_fetch_modify_and_delete_the_webhook(
    client: WebhookClient, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    before = await client.fetch_webhook()
    assert isinstance(before, WebhookInfo)
    assert (before.name, before.avatar) == (fake_webhook.name, None)
    renamed = await client.modify_webhook(name="deploys", avatar=PNG)
    assert renamed.name == "deploys"
    assert renamed.avatar is not None
    assert fake_discord.requests[-1].json == {
        "name": "deploys",
        "avatar": "data:image/png;base64,iVBORw0KGgoAAAAAAAAAAAAAAAAAAAAA",
    }
    # Not given leaves it; None removes it.
    assert (await client.modify_webhook(name="again")).avatar == renamed.avatar
    assert (await client.modify_webhook(avatar=None)).avatar is None
    sent = await send(client, Message(content="by the new name"))
    assert sent.author_name == "again"

    await client.delete_webhook()
    assert isinstance(client.dead, WebhookNotFound)
    requests = len(fake_discord.requests)
    with pytest.raises(WebhookNotFound):
        await client.execute(Message(content="gone"))
    assert len(fake_discord.requests) == requests
    async with WebhookClient(fake_webhook.url, transport=fake_discord.transport()) as other:
        with pytest.raises(WebhookNotFound):
            await other.fetch_webhook()


async def test_a_bad_avatar_is_refused_before_anything_is_sent(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    with pytest.raises(ValidationError, match="not a PNG, JPEG or GIF"):
        await client.modify_webhook(avatar=b"RIFF....WEBPVP8 ")
    assert fake_discord.requests == []


async def test_a_file_over_discords_per_file_limit_gets_413_code_40005(
    fake_webhook: FakeWebhook,
) -> None:
    fake = FakeDiscord(max_upload_bytes=10)
    hook = fake.create_webhook()
    async with WebhookClient(hook.url, transport=fake.transport(), max_upload_bytes=100) as c:
        # Discord checks each file: one of 11 bytes is refused, two of 8 pass.
        with pytest.raises(PayloadTooLarge) as info:
            await c.execute(Message(attachments=[FilePart("a.bin", data=b"x" * 11)]))
        await c.execute(
            Message(attachments=[FilePart(f"{n}.bin", data=b"x" * 8) for n in range(2)])
        )
    assert (info.value.status, info.value.code) == (413, 40005)


async def test_the_sender_splits_files_by_the_request_total() -> None:
    fake = FakeDiscord(max_upload_bytes=10, max_request_bytes=10_000)
    hook = fake.create_webhook()
    files = [FilePart(f"{n}.bin", data=b"x" * 8) for n in range(3)]
    config = SenderConfig(max_upload_bytes=10, max_request_bytes=20)
    async with open_webhook_sender(hook.url, config=config, transport=fake.transport()) as sender:
        delivery = await sender.send_nowait(Message(content="three", attachments=files)).wait()
    # 8 + 8 fit one request of 20 bytes; the third goes in a second one.
    assert [len(m.attachments) for m in delivery.messages] == [2, 1]
