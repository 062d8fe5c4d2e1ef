"""WebhookClient against the in-process FakeDiscord: round trips, errors, retries, timing.

Timing tests run on the ``autojump_clock``: the fake and the client share trio's clock, so
every wait is asserted in exact virtual seconds.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from trio_webhook import (
    DeliveryFailed,
    DiscordHTTPError,
    Embed,
    EmbedField,
    FilePart,
    Message,
    TransportError,
    ValidationError,
)
from trio_webhook._client import WebhookClient
from trio_webhook._retry import RetryPolicy
from trio_webhook.errors import MessageNotFound, Unauthorized, WebhookNotFound
from trio_webhook.testing import FakeDiscord, FakeWebhook, FaultKind


def make_client(
    fake: FakeDiscord, hook: FakeWebhook | str, *, retry: RetryPolicy | None = None
) -> WebhookClient:
    url = hook if isinstance(hook, str) else hook.url
    return WebhookClient(url, transport=fake.transport(), rng=random.Random(0), retry=retry)


@pytest.fixture
async def client(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> AsyncIterator[WebhookClient]:
    async with make_client(fake_discord, fake_webhook) as c:
        yield c


def gaps(fake: FakeDiscord) -> list[float]:
    times = [r.time for r in fake.requests]
    return [b - a for a, b in itertools.pairwise(times)]


# --- Round trips ------------------------------------------------------------------------------


async def test_execute_returns_the_created_message_and_it_lands_in_the_channel(
    client: WebhookClient, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    delivery = await client.execute(Message(content="hello", embeds=[Embed(title="build 42")]))
    assert len(delivery.messages) == 1
    sent = delivery.messages[0]
    assert delivery.id == sent.id
    assert sent.channel_id == fake_webhook.channel_id
    [stored] = fake_discord.history(fake_webhook.channel_id)
    assert stored["id"] == sent.id
    assert stored["content"] == "hello"
    assert stored["embeds"][0]["title"] == "build 42"


async def test_get_edit_delete_round_trip(
    client: WebhookClient, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    sent = await client.execute(Message(content="v1"))
    assert sent.id is not None
    got = await client.get_message(sent.id)
    assert got.id == sent.id
    assert got.raw["content"] == "v1"

    edited = await client.edit_message(sent.id, Message(content="v2"))
    assert edited.raw["content"] == "v2"
    assert edited.raw["edited_timestamp"] is not None
    assert (await client.get_message(sent.id)).raw["content"] == "v2"

    await client.delete_message(sent.id)
    assert fake_discord.history(fake_webhook.channel_id) == []
    with pytest.raises(MessageNotFound):
        await client.get_message(sent.id)
    assert client.dead is None


async def test_edit_keeps_replaces_or_appends_attachments(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    files = [FilePart("a.txt", data=b"aaa"), FilePart("b.txt", data=b"bbbb")]
    sent = (await client.execute(Message(content="files", attachments=files))).messages[0]
    a, b = sent.raw["attachments"]
    assert (a["filename"], b["filename"]) == ("a.txt", "b.txt")

    # Default: existing attachments stay, new files are appended.
    appended = await client.edit_message(
        sent.id, Message(attachments=[FilePart("c.txt", data=b"c")])
    )
    assert [x["filename"] for x in appended.raw["attachments"]] == ["a.txt", "b.txt", "c.txt"]

    # Keep only one of the old ones and add a replacement.
    replaced = await client.edit_message(
        sent.id,
        Message(content="replaced", attachments=[FilePart("d.txt", data=b"dd")]),
        keep_attachments=[b["id"]],
    )
    names = [x["filename"] for x in replaced.raw["attachments"]]
    assert names == ["b.txt", "d.txt"]
    new_id = replaced.raw["attachments"][1]["id"]
    assert fake_discord.attachment_data(new_id) == b"dd"

    # An empty keep list removes every attachment.
    cleared = await client.edit_message(sent.id, Message(content="none"), keep_attachments=[])
    assert cleared.raw["attachments"] == []


async def test_multipart_with_two_files_sends_payload_json_and_matching_metadata(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    files = [
        FilePart("report.csv", data=b"a,b\n1,2\n", description="nightly"),
        FilePart("shot.png", data=b"\x89PNG....", description="screenshot"),
    ]
    embed = Embed(title="with image", image=None)
    sent = (
        await client.execute(Message(content="two", embeds=[embed], attachments=files))
    ).messages[0]
    [request] = fake_discord.requests
    assert [(f.field, f.filename, f.size) for f in request.files] == [
        ("files[0]", "report.csv", 8),
        ("files[1]", "shot.png", 8),
    ]
    assert request.json["content"] == "two"
    assert request.json["attachments"] == [
        {"id": "0", "filename": "report.csv", "description": "nightly"},
        {"id": "1", "filename": "shot.png", "description": "screenshot"},
    ]
    stored = sent.raw["attachments"]
    assert [(x["filename"], x["size"], x.get("description")) for x in stored] == [
        ("report.csv", 8, "nightly"),
        ("shot.png", 8, "screenshot"),
    ]
    assert fake_discord.attachment_data(stored[1]["id"]) == b"\x89PNG...."


async def test_wait_false_returns_an_empty_delivery(
    client: WebhookClient, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    delivery = await client.execute(Message(content="fire and forget"), wait=False)
    assert delivery.messages == ()
    assert delivery.id is None
    assert fake_discord.requests[0].query["wait"] == "false"
    assert fake_discord.requests[0].status == 204
    assert len(fake_discord.history(fake_webhook.channel_id)) == 1


async def test_thread_message_lands_in_the_thread_and_message_calls_take_thread_id(
    client: WebhookClient, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    thread = fake_discord.create_thread(fake_webhook.channel_id, "incidents")
    sent = await client.execute(Message(content="in thread"), thread_id=thread)
    assert sent.messages[0].channel_id == thread
    assert [m["id"] for m in fake_discord.history(thread)] == [sent.id]
    assert fake_discord.history(fake_webhook.channel_id) == []
    assert sent.id is not None
    # Without the thread the message is not found; with it, get/edit/delete work.
    with pytest.raises(MessageNotFound):
        await client.get_message(sent.id)
    assert (await client.get_message(sent.id, thread_id=thread)).id == sent.id
    edited = await client.edit_message(sent.id, Message(content="edited"), thread_id=int(thread))
    assert edited.raw["content"] == "edited"
    await client.delete_message(sent.id, thread_id=thread)
    assert fake_discord.history(thread) == []


async def test_execute_thread_id_overrides_the_messages_own(
    client: WebhookClient, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    one = fake_discord.create_thread(fake_webhook.channel_id, "one")
    two = fake_discord.create_thread(fake_webhook.channel_id, "two")
    await client.execute(Message(content="x", thread_id=one), thread_id=two)
    assert fake_discord.history(one) == []
    assert len(fake_discord.history(two)) == 1


async def test_forum_post_with_more_than_ten_embeds_continues_in_the_created_thread(
    fake_discord: FakeDiscord,
) -> None:
    forum = fake_discord.create_channel(forum=True)
    hook = fake_discord.create_webhook(forum)
    embeds = [Embed(title=f"e{i}") for i in range(23)]
    async with make_client(fake_discord, hook) as client:
        message = Message(content="release", embeds=embeds, thread_name="v1.0", applied_tags=["7"])
        delivery = await client.execute(message)
    [thread] = fake_discord.threads(forum)
    assert len(delivery.messages) == 3
    assert all(m.channel_id == thread for m in delivery.messages)
    titles = [e["title"] for m in fake_discord.history(thread) for e in m["embeds"]]
    assert titles == [f"e{i}" for i in range(23)]
    first, *rest = fake_discord.requests
    assert first.json["thread_name"] == "v1.0"
    assert "thread_id" not in first.query
    assert all(r.query["thread_id"] == thread and "thread_name" not in r.json for r in rest)


async def test_forum_post_with_wait_false_still_finds_its_thread(
    fake_discord: FakeDiscord,
) -> None:
    forum = fake_discord.create_channel(forum=True)
    hook = fake_discord.create_webhook(forum)
    embeds = [Embed(title=f"e{i}") for i in range(12)]
    async with make_client(fake_discord, hook) as client:
        delivery = await client.execute(Message(embeds=embeds, thread_name="t"), wait=False)
    assert delivery.messages == ()
    [thread] = fake_discord.threads(forum)
    assert len(fake_discord.history(thread)) == 2


async def test_requests_always_go_to_api_v10_even_for_a_v9_or_unversioned_url(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    v9 = fake_webhook.url.replace("/api/webhooks/", "/api/v9/webhooks/")
    for url in (v9, fake_webhook.url):
        async with make_client(fake_discord, url) as client:
            sent = await client.execute(Message(content="v"))
            assert sent.id is not None
            await client.get_message(sent.id)
    assert [r.api_version for r in fake_discord.requests] == [10, 10, 10, 10]


async def test_fetch_webhook_returns_the_webhook_without_its_secret(
    client: WebhookClient, fake_webhook: FakeWebhook
) -> None:
    info = await client.fetch_webhook()
    assert info.id == fake_webhook.id
    assert info.channel_id == fake_webhook.channel_id
    assert info.name == fake_webhook.name
    assert "token" not in info.raw
    assert "url" not in info.raw
    assert fake_webhook.token not in repr(info)


# --- Errors -----------------------------------------------------------------------------------


async def test_deleted_webhook_raises_not_found_and_then_never_calls_again(
    client: WebhookClient, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.delete_webhook(fake_webhook)
    with pytest.raises(WebhookNotFound) as info:
        await client.execute(Message(content="x"))
    assert info.value.status == 404
    assert info.value.code == 10015
    assert client.dead is info.value
    assert len(fake_discord.requests) == 1
    for call in (
        client.execute(Message(content="again")),
        client.get_message("1"),
        client.fetch_webhook(),
    ):
        with pytest.raises(WebhookNotFound):
            await call
    assert len(fake_discord.requests) == 1


async def test_wrong_token_is_unauthorized_and_marks_the_webhook_dead(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    url = fake_webhook.url.replace(fake_webhook.token, "not-the-token")
    async with make_client(fake_discord, url) as client:
        with pytest.raises(Unauthorized) as info:
            await client.execute(Message(content="x"))
        assert info.value.code == 50027
        assert client.dead is info.value
        with pytest.raises(Unauthorized):
            await client.execute(Message(content="x"))
    assert len(fake_discord.requests) == 1


async def test_unknown_message_is_message_not_found_and_the_webhook_lives_on(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    with pytest.raises(MessageNotFound) as info:
        await client.get_message("123456")
    assert (info.value.status, info.value.code) == (404, 10008)
    assert client.dead is None
    with pytest.raises(MessageNotFound):
        await client.edit_message("123456", Message(content="x"))
    with pytest.raises(MessageNotFound):
        await client.delete_message("123456")
    assert (await client.execute(Message(content="still alive"))).id is not None
    assert len(fake_discord.requests) == 4


async def test_a_400_from_discord_is_permanent_and_carries_its_code(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    # A forum post aimed at a text channel: only Discord knows the channel's type.
    with pytest.raises(DiscordHTTPError) as info:
        await client.execute(Message(content="x", thread_name="not a forum"))
    assert (info.value.status, info.value.code) == (400, 220003)
    assert "forum" in info.value.text
    assert len(fake_discord.requests) == 1
    assert client.dead is None


async def test_unknown_thread_is_not_a_missing_webhook(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    with pytest.raises(DiscordHTTPError) as info:
        await client.execute(Message(content="x"), thread_id="999")
    assert (info.value.status, info.value.code) == (404, 10003)
    assert not isinstance(info.value, WebhookNotFound | MessageNotFound)
    assert client.dead is None
    assert (await client.execute(Message(content="the webhook is fine"))).id is not None


async def test_an_edit_that_breaks_a_limit_is_refused_before_sending(
    client: WebhookClient, fake_discord: FakeDiscord
) -> None:
    sent = await client.execute(Message(content="x"))
    assert sent.id is not None
    with pytest.raises(ValidationError) as info:
        await client.edit_message(sent.id, Message(content="y" * 2001))
    assert [v.path for v in info.value.violations] == ["content"]
    assert len(fake_discord.requests) == 1


# --- Rate limits (virtual time) ----------------------------------------------------------------


async def test_429_waits_retry_after_plus_jitter_then_succeeds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(bucket_limit=1, bucket_window=1.5)
    hook = fake.create_webhook()
    # Another process used the bucket's only slot: this client's tracker knows nothing.
    async with make_client(fake, hook) as other:
        await other.execute(Message(content="first"))
    async with make_client(fake, hook) as client:
        delivery = await client.execute(Message(content="second"))
    assert delivery.id is not None
    first, limited, retried = fake.requests
    assert first.status == 200
    assert limited.status == 429
    assert limited.time == 0.0
    assert fake.stats().rate_limited["user"] == 1
    assert retried.status == 200
    assert 1.5 <= retried.time <= 1.75
    assert client.counters.rate_limited == {"user": 1}
    assert client.counters.retries == 1


async def test_429_body_in_milliseconds_is_read_as_seconds(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.RETRY_AFTER_MS, retry_after=1.5)
    async with make_client(fake_discord, fake_webhook) as client:
        await client.execute(Message(content="x"))
    assert 1.5 <= fake_discord.requests[1].time <= 1.75


async def test_remaining_zero_waits_for_reset_after_before_the_next_send(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(bucket_limit=1, bucket_window=0.75)
    hook = fake.create_webhook()
    async with make_client(fake, hook) as client:
        await client.execute(Message(content="one"))
        await client.execute(Message(content="two"))
        await client.execute(Message(content="three"))
    times = [r.time for r in fake.requests]
    assert [r.status for r in fake.requests] == [200, 200, 200]
    assert fake.stats().rate_limited["user"] == 0
    assert times[0] == 0.0
    # Reset-After 0.75 plus the adaptive strategy's reset jitter (at most 10 ms).
    assert 0.75 <= times[1] <= 0.76
    assert 0.75 <= times[2] - times[1] <= 0.76


async def test_a_burst_over_the_default_bucket_gets_no_429(
    autojump_clock: trio.testing.MockClock,
    client: WebhookClient,
    fake_discord: FakeDiscord,
) -> None:
    for i in range(12):
        await client.execute(Message(content=str(i)))
    assert fake_discord.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}
    # 5 per 2 s: the 6th and 11th requests open new windows.
    times = [r.time for r in fake_discord.requests]
    assert times[4] == 0.0
    assert 2.0 <= times[5] <= 2.01
    assert 4.0 <= times[10] <= 4.02


# --- Retries (virtual time) --------------------------------------------------------------------


async def test_5xx_then_success_is_retried_with_decorrelated_jitter(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.SERVER_ERROR, 3, status=502)
    async with make_client(fake_discord, fake_webhook) as client:
        delivery = await client.execute(Message(content="x"))
    assert delivery.id is not None
    assert [r.status for r in fake_discord.requests] == [502, 502, 502, 200]
    first, *later = gaps(fake_discord)
    assert 0.25 <= first <= 0.75
    previous = first
    for gap in later:
        assert 0.25 <= gap <= min(10.0, 3 * previous)
        previous = gap
    assert client.counters.retries == 3
    assert client.counters.ambiguous_retries == 0
    assert len(fake_discord.history(fake_webhook.channel_id)) == 1


async def test_backoff_never_waits_more_than_ten_seconds(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.SERVER_ERROR, 11, status=503)
    async with make_client(fake_discord, fake_webhook, retry=RetryPolicy(max_attempts=12)) as c:
        await c.execute(Message(content="x"))
    delays = gaps(fake_discord)
    assert len(delays) == 11
    assert all(0.25 <= d <= 10.0 for d in delays)
    assert max(delays) == 10.0  # the cap is reached (seed 0) and never passed


async def test_exhausted_retries_raise_delivery_failed_after_five_attempts(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.SERVER_ERROR, 10, status=503)
    async with make_client(fake_discord, fake_webhook) as client:
        with pytest.raises(DeliveryFailed) as info:
            await client.execute(Message(content="x"))
        assert client.dead is None
    assert info.value.reason == "exhausted"
    assert info.value.attempts == 5
    assert info.value.status == 503
    assert isinstance(info.value.__cause__, DiscordHTTPError)
    assert len(fake_discord.requests) == 5
    assert all(d <= 10.0 for d in gaps(fake_discord))


async def test_at_most_once_policy_dead_letters_a_500_but_retries_502_and_503(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    policy = RetryPolicy(retry_ambiguous=False)
    fake_discord.inject(FaultKind.SERVER_ERROR, status=500, stored=True)
    async with make_client(fake_discord, fake_webhook, retry=policy) as client:
        with pytest.raises(DeliveryFailed) as info:
            await client.execute(Message(content="maybe stored"))
        assert info.value.reason == "ambiguous"
        assert info.value.attempts == 1
        assert info.value.status == 500
        assert len(fake_discord.requests) == 1
        # Discord did store it: a retry would have posted it twice.
        assert len(fake_discord.history(fake_webhook.channel_id)) == 1

        fake_discord.inject(FaultKind.SERVER_ERROR, status=502)
        fake_discord.inject(FaultKind.SERVER_ERROR, status=503)
        assert (await client.execute(Message(content="safe"))).id is not None
    assert [r.status for r in fake_discord.requests] == [500, 502, 503, 200]
    assert client.counters.ambiguous_retries == 0


async def test_server_delay_past_ten_seconds_times_out_and_is_retried(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.DELAY, delay=30.0)
    async with make_client(fake_discord, fake_webhook) as client:
        delivery = await client.execute(Message(content="slow"))
    assert delivery.id is not None
    slow, retried = fake_discord.requests
    assert slow.status is None  # abandoned by the client
    assert 10.25 <= retried.time <= 10.75
    assert client.counters.ambiguous_retries == 1
    assert len(fake_discord.history(fake_webhook.channel_id)) == 1


async def test_read_timeout_under_at_most_once_is_dead_lettered(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.DELAY, delay=30.0)
    policy = RetryPolicy(retry_ambiguous=False)
    async with make_client(fake_discord, fake_webhook, retry=policy) as client:
        with pytest.raises(DeliveryFailed) as info:
            await client.execute(Message(content="slow"))
    assert info.value.reason == "ambiguous"
    assert info.value.status is None
    cause = info.value.__cause__
    assert isinstance(cause, TransportError)
    assert cause.kind == "read_timeout"
    assert trio.current_time() == 10.0


async def test_a_custom_total_timeout_is_honoured(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.DELAY, delay=5.0)
    # A given transport has its own timeouts: the fake's takes them as the default would.
    async with WebhookClient(
        fake_webhook.url, transport=fake_discord.transport(total_timeout=3.0), rng=random.Random(0)
    ) as client:
        await client.execute(Message(content="x"))
    assert 3.25 <= fake_discord.requests[1].time <= 3.75


async def test_dropped_connection_is_retried_as_ambiguous(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.DROP, stored=True)
    async with make_client(fake_discord, fake_webhook) as client:
        await client.execute(Message(content="x"))
    assert client.counters.ambiguous_retries == 1
    # The default policy is at-least-once: the dropped answer's message was stored too.
    assert len(fake_discord.history(fake_webhook.channel_id)) == 2


async def test_invalid_json_on_a_200_is_an_ambiguous_protocol_error_not_retried(
    client: WebhookClient, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.inject(FaultKind.INVALID_JSON)
    with pytest.raises(TransportError) as info:
        await client.execute(Message(content="x"))
    assert info.value.kind == "protocol"
    assert info.value.ambiguous
    assert re.search(r"not JSON", str(info.value))
    # Not retried: the message exists, a retry would post it twice.
    assert len(fake_discord.requests) == 1
    assert len(fake_discord.history(fake_webhook.channel_id)) == 1


async def test_client_counts_requests(
    autojump_clock: trio.testing.MockClock,
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
) -> None:
    fake_discord.inject(FaultKind.SERVER_ERROR, status=503)
    async with make_client(fake_discord, fake_webhook) as client:
        await client.execute(Message(embeds=[Embed(fields=[EmbedField("a", "b")])] * 11))
    assert client.counters.requests == 3
    assert client.counters.retries == 1


@pytest.mark.parametrize(
    ("proxy", "expected"), [(None, "H11Transport"), ("http://proxy:3128", "HttpxTransport")]
)
async def test_real_sockets_use_h11_unless_a_proxy_is_configured(
    monkeypatch: pytest.MonkeyPatch, proxy: str | None, expected: str
) -> None:
    # h11 halves the CPU per request but cannot go through a proxy; httpx follows one.
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    if proxy is not None:
        monkeypatch.setenv("HTTPS_PROXY", proxy)
    client = WebhookClient(f"https://discord.com/api/webhooks/1/{'t' * 60}")
    assert type(client._transport).__name__ == expected
    await client.aclose()
