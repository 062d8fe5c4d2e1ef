"""FakeDiscord over real sockets on 127.0.0.1: TLS with a trustme CA, and plain HTTP."""

from __future__ import annotations

import ssl

import httpx
import pytest
import trustme

from trio_webhook.testing import FakeDiscord, FakeDiscordServer, FakeWebhook, serve_fake_discord

pytestmark = pytest.mark.tls


def find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def test_execute_over_tls(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, fake_discord_tls: FakeDiscordServer
) -> None:
    server = fake_discord_tls
    assert server.url.startswith("https://127.0.0.1:")
    assert isinstance(server.ca, trustme.CA)
    assert server.fake is fake_discord
    async with httpx.AsyncClient(verify=server.ssl_context) as http:
        response = await http.post(
            server.webhook_url(fake_webhook), params={"wait": "true"}, json={"content": "hi"}
        )
        assert response.status_code == 200
        message = response.json()
        assert message["channel_id"] == fake_webhook.channel_id
        assert response.headers["x-ratelimit-remaining"] == "4"

        path = server.webhook_url(fake_webhook).replace("/api/", "/api/v10/")
        got = await http.get(f"{path}/messages/{message['id']}")
        assert got.json() == message
        assert (await http.delete(f"{path}/messages/{message['id']}")).status_code == 204

    assert fake_discord.history(fake_webhook.channel_id) == []
    assert [r.api_version for r in fake_discord.requests] == [None, 10, 10]
    assert all(fake_webhook.token not in r.path for r in fake_discord.requests)


async def test_multipart_over_tls(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, fake_discord_tls: FakeDiscordServer
) -> None:
    files = [
        (
            "payload_json",
            (None, b'{"attachments": [{"id": "0"}, {"id": "1"}]}', "application/json"),
        ),
        ("files[0]", ("a.bin", b"\x00" * 1000, "application/octet-stream")),
        ("files[1]", ("b.txt", b"b", "text/plain")),
    ]
    async with httpx.AsyncClient(verify=fake_discord_tls.ssl_context) as http:
        response = await http.post(
            fake_discord_tls.webhook_url(fake_webhook), params={"wait": "true"}, files=files
        )
    assert response.status_code == 200, response.text
    assert [(a["filename"], a["size"]) for a in response.json()["attachments"]] == [
        ("a.bin", 1000),
        ("b.txt", 1),
    ]


async def test_client_without_the_ca_fails_verification(
    fake_webhook: FakeWebhook, fake_discord_tls: FakeDiscordServer
) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError) as info:
            await http.post(fake_discord_tls.webhook_url(fake_webhook), json={"content": "x"})
    assert find_cause(info.value, ssl.SSLCertVerificationError) is not None


async def test_faults_over_tls(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, fake_discord_tls: FakeDiscordServer
) -> None:
    hook_url = fake_discord_tls.webhook_url(fake_webhook)
    async with httpx.AsyncClient(verify=fake_discord_tls.ssl_context) as http:
        fake_discord.inject("server_error", status=502)
        failed = await http.post(hook_url, json={"content": "x"})
        assert failed.status_code == 502
        assert failed.text.startswith("<html>")

        fake_discord.inject("drop")
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(hook_url, json={"content": "x"})

        # The client recovers on a fresh connection.
        assert (await http.post(hook_url, json={"content": "x"})).status_code == 204
    assert len(fake_discord.history(fake_webhook.channel_id)) == 1


async def test_plain_http_on_loopback() -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    async with serve_fake_discord(fake, tls=False) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.ca is None
        async with httpx.AsyncClient() as http:
            response = await http.get(server.webhook_url(hook))
    assert response.status_code == 200
    assert response.json()["id"] == hook.id


async def test_a_fresh_fake_when_none_is_given() -> None:
    async with serve_fake_discord() as server:
        hook = server.fake.create_webhook()
        async with httpx.AsyncClient(verify=server.ssl_context) as http:
            response = await http.post(server.webhook_url(hook), json={"content": "x"})
    assert response.status_code == 204
