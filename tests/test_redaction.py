"""The webhook token never shows: not in a log record, an exception, a cause chain or a repr.

Every error path is driven with every logger at DEBUG (httpx logs each request's URL at
INFO), and each exception raised is checked along its whole ``__cause__`` /
``__context__`` chain.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio
import trio.testing

from trio_webhook import DeliveryFailed, Message, WebhookError
from trio_webhook._client import WebhookClient
from trio_webhook._retry import RetryPolicy
from trio_webhook.errors import InvalidWebhookURL
from trio_webhook.testing import FakeDiscord, FakeWebhook, FaultKind, serve_fake_discord

LOGGERS = ("", "httpx", "httpcore", "trio_webhook", "hypercorn")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            todo += list(current.exceptions)


def assert_no_token(token: str, exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    for link in chain(exc):
        assert token not in str(link), repr(link)
        assert token not in repr(link)
        assert all(token not in str(arg) for arg in link.args)
        if isinstance(link, DeliveryFailed):
            assert token not in link.error
    for record in caplog.records:
        assert token not in record.getMessage(), record.name
        assert token not in str(record.__dict__), record.name


Call = Callable[[WebhookClient], Awaitable[object]]


def execute(client: WebhookClient) -> Awaitable[object]:
    return client.execute(Message(content="secret stuff"))


async def run_error_path(
    fake: FakeDiscord,
    url: str,
    caplog: pytest.LogCaptureFixture,
    token: str,
    call: Call = execute,
    retry: RetryPolicy | None = None,
) -> None:
    client = WebhookClient(url, transport=fake.transport(), rng=random.Random(0), retry=retry)
    assert token not in repr(client)
    assert token not in str(client.url)
    assert token not in repr(client.url)
    async with client:
        with pytest.raises(WebhookError) as info:
            await call(client)
    assert token not in repr(client)
    assert_no_token(token, info.value, caplog)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        (FaultKind.SERVER_ERROR, {"status": 500}),
        (FaultKind.SERVER_ERROR, {"status": 502}),
        (FaultKind.DELAY, {"delay": 30.0}),
        (FaultKind.DROP, {}),
        (FaultKind.RATE_LIMIT_NO_BODY, {"retry_after": 1.0}),
        (FaultKind.RETRY_AFTER_MS, {"retry_after": 1.0}),
        (FaultKind.INVALID_JSON, {}),
    ],
)
async def test_faults_retried_until_exhausted_never_show_the_token(
    autojump_clock: trio.testing.MockClock,
    debug_logs: pytest.LogCaptureFixture,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
    kind: FaultKind,
    options: dict[str, float],
) -> None:
    fake_discord.inject(kind, 10, **options)  # type: ignore[arg-type]
    await run_error_path(fake_discord, fake_webhook.url, debug_logs, fake_webhook.token)


async def test_httpx_request_log_shows_the_redacted_url(
    debug_logs: pytest.LogCaptureFixture, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    async with WebhookClient(fake_webhook.url, transport=fake_discord.transport()) as client:
        await client.execute(Message(content="x"))
    [line] = [r.getMessage() for r in debug_logs.records if r.name == "httpx"]
    assert f"/api/v10/webhooks/{fake_webhook.id}/***?wait=true" in line
    assert fake_webhook.token not in line


async def test_at_most_once_failures_never_show_the_token(
    debug_logs: pytest.LogCaptureFixture, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.inject(FaultKind.SERVER_ERROR, status=504)
    policy = RetryPolicy(retry_ambiguous=False)
    await run_error_path(
        fake_discord, fake_webhook.url, debug_logs, fake_webhook.token, retry=policy
    )


async def test_a_real_429_never_shows_the_token(
    autojump_clock: trio.testing.MockClock, debug_logs: pytest.LogCaptureFixture
) -> None:
    fake = FakeDiscord(bucket_limit=1, bucket_window=5.0)
    hook = fake.create_webhook()
    async with WebhookClient(hook.url, transport=fake.transport()) as other:
        await other.execute(Message(content="first"))
    # A fresh tracker walks into the 429; one attempt only, so it gives up on it.
    await run_error_path(fake, hook.url, debug_logs, hook.token, retry=RetryPolicy(max_attempts=1))
    assert fake.stats().rate_limited["user"] == 1


async def test_permanent_errors_never_show_the_token(
    debug_logs: pytest.LogCaptureFixture, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    token = fake_webhook.token
    # 400 from Discord (a forum post in a text channel).
    await run_error_path(
        fake_discord,
        fake_webhook.url,
        debug_logs,
        token,
        lambda c: c.execute(Message(content="x", thread_name="t")),
    )
    # 404 10008 on a message, then 404 10003 on an unknown thread.
    await run_error_path(
        fake_discord, fake_webhook.url, debug_logs, token, lambda c: c.get_message("42")
    )
    await run_error_path(
        fake_discord,
        fake_webhook.url,
        debug_logs,
        token,
        lambda c: c.execute(Message(content="x"), thread_id="77"),
    )
    # 401: a wrong token (neither it nor the right one may show).
    wrong = "Wr0ng-t0ken_" + token[:20]
    wrong_url = fake_webhook.url.replace(token, wrong)
    await run_error_path(fake_discord, wrong_url, debug_logs, wrong)
    await run_error_path(fake_discord, wrong_url, debug_logs, token)
    # 404 10015: a deleted webhook, then the dead webhook raising without a request.
    fake_discord.delete_webhook(fake_webhook)
    client = WebhookClient(fake_webhook.url, transport=fake_discord.transport())
    async with client:
        for _ in range(2):
            with pytest.raises(WebhookError) as info:
                await client.execute(Message(content="x"))
            assert_no_token(token, info.value, debug_logs)
        assert client.dead is not None
        assert token not in repr(client.dead)
    assert any(r.levelno == logging.WARNING for r in debug_logs.records)


async def test_a_403_never_shows_the_token(debug_logs: pytest.LogCaptureFixture) -> None:
    # A 403 whose HTML body echoes the request path, as some edge error pages do.
    fake = FakeDiscord()
    hook = fake.create_webhook()
    path = f"/api/v10/webhooks/{hook.id}/{hook.token}"

    async def edge(scope: dict[str, object], receive: object, send: object) -> None:
        assert callable(send)
        body = f"<html>403 Forbidden: {path}?wait=true</html>".encode()
        await send({"type": "http.response.start", "status": 403, "headers": []})
        await send({"type": "http.response.body", "body": body})

    import httpx

    from trio_webhook.transport import HttpxTransport

    edge_transport = httpx.ASGITransport(app=edge)  # type: ignore[arg-type]
    transport = HttpxTransport(f"{fake.base_url}/api/v10", httpx_transport=edge_transport)
    client = WebhookClient(hook.url, transport=transport)
    async with client:
        with pytest.raises(WebhookError) as info:
            await client.execute(Message(content="x"))
    assert "403" in str(info.value)
    assert_no_token(hook.token, info.value, debug_logs)


@pytest.mark.tls
async def test_a_tls_failure_never_shows_the_token(debug_logs: pytest.LogCaptureFixture) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    async with serve_fake_discord(fake) as server:
        url = server.webhook_url(hook)
        async with WebhookClient(url) as client:  # the system trust store: no trustme CA
            with pytest.raises(WebhookError) as info:
                await client.execute(Message(content="x"))
    assert_no_token(hook.token, info.value, debug_logs)


@pytest.mark.parametrize(
    "template",
    [
        "ftp://discord.com/api/webhooks/123/{t}",
        "http://discord.com/api/webhooks/123/{t}",
        "https://discord.com/api/webhooks/abc/{t}",
        "https://discord.com/api/webhooks/123/{t}/extra",
        "https://discord.com/webhooks/123/{t}",
        "https://discord.com/api/webhooks/123/{t}%0A",
        "https://discord.com/api/webhooks/123/{t}$",
        "https://discord.com:99999/api/webhooks/123/{t}",
        "https://[discord.com/api/webhooks/123/{t}",
        "https://{t}:pw@discord.com/api/webhooks/123/{t}",
        "https://discord.com/api/webhooks/{t}/{t}",
        " https://discord.com/api//webhooks/123/{t}",
    ],
)
def test_malformed_urls_never_show_the_token(template: str) -> None:
    token = "Sup3rS3cret-token_value"
    with pytest.raises(InvalidWebhookURL) as info:
        WebhookClient(template.format(t=token))
    for link in chain(info.value):
        assert token not in str(link)
        assert token not in repr(link)
