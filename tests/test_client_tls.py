"""WebhookClient against FakeDiscord over real TLS on 127.0.0.1 (trustme certificates).

Real sockets: these tests assert outcomes, never virtual durations.
"""

from __future__ import annotations

import random

import pytest

from trio_webhook import FilePart, Message, TransportError
from trio_webhook._client import WebhookClient
from trio_webhook.testing import FakeDiscord, FakeDiscordServer, FaultKind

pytestmark = pytest.mark.tls


def tls_client(server: FakeDiscordServer, url: str) -> WebhookClient:
    return WebhookClient(url, ssl_context=server.ssl_context, rng=random.Random(0))


async def test_execute_with_files_then_edit_over_tls(
    fake_discord_tls: FakeDiscordServer, fake_discord: FakeDiscord
) -> None:
    hook = fake_discord.create_webhook()
    files = [FilePart("a.txt", data=b"alpha"), FilePart("b.txt", data=b"beta")]
    async with tls_client(fake_discord_tls, fake_discord_tls.webhook_url(hook)) as client:
        sent = (await client.execute(Message(content="tls", attachments=files))).messages[0]
        assert [a["filename"] for a in sent.raw["attachments"]] == ["a.txt", "b.txt"]
        edited = await client.edit_message(sent.id, Message(content="edited over tls"))
        assert edited.raw["content"] == "edited over tls"
        assert (await client.get_message(sent.id)).raw["content"] == "edited over tls"
    [stored] = fake_discord.history(hook.channel_id)
    assert fake_discord.attachment_data(stored["attachments"][1]["id"]) == b"beta"
    assert [r.api_version for r in fake_discord.requests] == [10, 10, 10]


async def test_a_502_then_success_over_tls(
    fake_discord_tls: FakeDiscordServer, fake_discord: FakeDiscord
) -> None:
    hook = fake_discord.create_webhook()
    fake_discord.inject(FaultKind.SERVER_ERROR, status=502)
    async with tls_client(fake_discord_tls, fake_discord_tls.webhook_url(hook)) as client:
        assert (await client.execute(Message(content="x"))).id is not None
        assert client.counters.retries == 1
    assert [r.status for r in fake_discord.requests] == [502, 200]


async def test_a_dropped_connection_over_tls_is_retried(
    fake_discord_tls: FakeDiscordServer, fake_discord: FakeDiscord
) -> None:
    hook = fake_discord.create_webhook()
    fake_discord.inject(FaultKind.DROP)
    async with tls_client(fake_discord_tls, fake_discord_tls.webhook_url(hook)) as client:
        assert (await client.execute(Message(content="x"))).id is not None
        assert client.counters.ambiguous_retries == 1
    assert len(fake_discord.history(hook.channel_id)) == 1


async def test_a_client_without_the_ca_fails_with_tls_after_one_attempt(
    fake_discord_tls: FakeDiscordServer, fake_discord: FakeDiscord
) -> None:
    hook = fake_discord.create_webhook()
    async with WebhookClient(fake_discord_tls.webhook_url(hook), rng=random.Random(0)) as client:
        with pytest.raises(TransportError) as info:
            await client.execute(Message(content="x"))
        assert info.value.kind == "tls"
        assert not info.value.ambiguous
        assert "certificate" in str(info.value)
        assert client.counters.requests == 1
        assert client.counters.retries == 0
    assert fake_discord.requests == []
