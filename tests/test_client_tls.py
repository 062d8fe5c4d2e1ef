"""WebhookClient against FakeDiscord over real TLS on 127.0.0.1 (trustme certificates).

Real sockets: these tests assert outcomes, never virtual durations. The default trust's
tests set ``SSL_CERT_FILE``/``SSL_CERT_DIR`` and rebuild the cached default context.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
import trustme

from trio_webhook import FilePart, Message, TransportError
from trio_webhook._client import WebhookClient
from trio_webhook._url import parse_webhook_url
from trio_webhook.testing import FakeDiscord, FakeDiscordServer, FaultKind
from trio_webhook.transport import HttpxTransport, default_ssl_context
from trio_webhook.transport._tls import system_has_trust_store

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


# --- the default trust: the system's store, SSL_CERT_FILE, SSL_CERT_DIR; certifi as a last resort


@pytest.fixture
def fresh_trust(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Rebuild the default context from this test's environment, and forget it after."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    default_ssl_context.cache_clear()
    yield monkeypatch
    default_ssl_context.cache_clear()


def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("proxy_path", [False, True], ids=["default transport", "httpx"])
async def test_a_ca_named_only_in_ssl_cert_file_is_trusted_by_default(
    fake_discord_tls: FakeDiscordServer,
    fake_discord: FakeDiscord,
    fresh_trust: pytest.MonkeyPatch,
    tmp_path: Path,
    proxy_path: bool,
) -> None:
    # A company CA: in no bundle, named by SSL_CERT_FILE, as ssl.create_default_context()
    # honours it. No ssl_context is passed anywhere.
    assert fake_discord_tls.ca is not None
    ca_file = tmp_path / "company-ca.pem"
    fake_discord_tls.ca.cert_pem.write_to_path(str(ca_file))
    fresh_trust.setenv("SSL_CERT_FILE", str(ca_file))
    no_proxy(fresh_trust)
    hook = fake_discord.create_webhook()
    url = fake_discord_tls.webhook_url(hook)
    extra: dict[str, Any] = {}
    if proxy_path:
        extra["transport"] = HttpxTransport(parse_webhook_url(url).api_base)
    async with WebhookClient(url, rng=random.Random(0), **extra) as client:
        assert (await client.execute(Message(content="company CA"))).id is not None
    assert len(fake_discord.history(hook.channel_id)) == 1


async def test_a_ca_the_default_trust_does_not_hold_fails_with_the_tls_text(
    fake_discord_tls: FakeDiscordServer,
    fake_discord: FakeDiscord,
    fresh_trust: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    fresh_trust.setenv("SSL_CERT_FILE", str(other))
    no_proxy(fresh_trust)
    hook = fake_discord.create_webhook()
    async with WebhookClient(fake_discord_tls.webhook_url(hook), rng=random.Random(0)) as client:
        with pytest.raises(TransportError) as info:
            await client.execute(Message(content="x"))
    assert info.value.kind == "tls"
    assert "TLS failure (" in str(info.value)
    assert "certificate" in str(info.value)
    assert fake_discord.requests == []


def test_without_any_system_store_certifi_is_the_trust(
    fresh_trust: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    fresh_trust.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    fresh_trust.setenv("SSL_CERT_DIR", str(empty))
    assert not system_has_trust_store(ssl.create_default_context())
    context = default_ssl_context()
    bundle = ssl.create_default_context(cafile=certifi.where())
    assert context.cert_store_stats()["x509_ca"] == bundle.cert_store_stats()["x509_ca"] > 0
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


def test_a_ca_directory_counts_as_a_store(fresh_trust: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A directory's CAs load only when a certificate is checked; its files still count.
    (tmp_path / "ca.pem").write_bytes(trustme.CA().cert_pem.bytes())
    fresh_trust.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    fresh_trust.setenv("SSL_CERT_DIR", str(tmp_path))
    assert system_has_trust_store(ssl.create_default_context())
    assert default_ssl_context().cert_store_stats()["x509_ca"] == 0  # not certifi's


def test_the_default_context_is_built_once(fresh_trust: pytest.MonkeyPatch) -> None:
    assert default_ssl_context() is default_ssl_context()
