"""FakeDiscord, in-process: routes, validation, rate limits and faults (plain httpx)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from discord_schema import validator

from trio_webhook.testing import FakeDiscord, FakeWebhook, FaultKind


def url(hook: FakeWebhook, suffix: str = "", version: str = "v10/") -> str:
    return f"https://discord.test/api/{version}webhooks/{hook.id}/{hook.token}{suffix}"


@pytest.fixture
async def http(fake_discord: FakeDiscord) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake_discord.httpx_transport()) as client:
        yield client


async def post(
    http: httpx.AsyncClient, hook: FakeWebhook, body: Any, **params: str
) -> httpx.Response:
    return await http.post(url(hook), params={"wait": "true", **params}, json=body)


def multipart(payload: Any, *files: tuple[str, str, bytes]) -> list[Any]:
    parts: list[Any] = [("payload_json", (None, json.dumps(payload).encode(), "application/json"))]
    parts += [(field, (name, data, "text/plain")) for field, name, data in files]
    return parts


def schema_validator(name: str) -> Any:
    # Discord's response schemas, from the pruned copy or the full DISCORD_OPENAPI file.
    return validator(name)


# --- Execute ---------------------------------------------------------------------------------


async def test_execute_json_wait_true_returns_discord_message(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    body = {"content": "hello", "embeds": [{"title": "build 42", "description": "passed"}]}
    response = await post(http, fake_webhook, body, username="ci bot")
    assert response.status_code == 200
    message = response.json()
    assert message["content"] == "hello"
    assert message["channel_id"] == fake_webhook.channel_id
    assert message["webhook_id"] == message["author"]["id"] == fake_webhook.id
    assert message["author"]["username"] == "captain hook"
    assert message["embeds"] == [{"type": "rich", "title": "build 42", "description": "passed"}]
    assert message["id"].isdigit()
    assert fake_discord.history(fake_webhook.channel_id) == [message]
    schema_validator("MessageResponse").validate(message)


async def test_username_overrides_author_name(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    response = await post(http, fake_webhook, {"content": "x", "username": "deploys"})
    assert response.json()["author"]["username"] == "deploys"


async def test_execute_without_wait_answers_204_and_stores(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    response = await http.post(url(fake_webhook), json={"content": "fire and forget"})
    assert response.status_code == 204
    assert response.content == b""
    assert [m["content"] for m in fake_discord.history(fake_webhook.channel_id)] == [
        "fire and forget"
    ]


async def test_api_version_is_recorded_and_old_versions_are_unknown(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    for version in ("", "v9/", "v10/"):
        response = await http.post(url(fake_webhook, version=version), json={"content": "x"})
        assert response.status_code == 204
    old = await http.post(url(fake_webhook, version="v6/"), json={"content": "x"})
    assert old.status_code == 404
    assert [r.api_version for r in fake_discord.requests] == [None, 9, 10, 6]


async def test_multipart_round_trip(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    payload = {
        "content": "logs",
        "attachments": [
            {"id": "0", "filename": "build.log", "description": "the build"},
            {"id": "1", "filename": "test.log"},
        ],
    }
    files = multipart(payload, ("files[0]", "build.log", b"ok\n" * 10), ("files[1]", "x", b"!"))
    response = await http.post(url(fake_webhook), params={"wait": "true"}, files=files)
    assert response.status_code == 200, response.text
    attachments = response.json()["attachments"]
    assert [(a["filename"], a["size"]) for a in attachments] == [("build.log", 30), ("test.log", 1)]
    assert attachments[0]["description"] == "the build"
    assert attachments[0]["url"].endswith(f"/{attachments[0]['id']}/build.log")
    assert attachments[0]["proxy_url"].startswith("https://")
    assert fake_discord.attachment_data(attachments[1]["id"]) == b"!"
    record = fake_discord.requests[-1]
    assert record.json == payload
    assert [(f.field, f.filename, f.size) for f in record.files] == [
        ("files[0]", "build.log", 30),
        ("files[1]", "x", 1),
    ]
    schema_validator("MessageResponse").validate(response.json())


async def test_multipart_metadata_without_its_part_is_invalid_form_body(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    payload = {"attachments": [{"id": "0", "filename": "a"}, {"id": "3", "filename": "b"}]}
    files = multipart(payload, ("files[0]", "a", b"a"))
    response = await http.post(url(fake_webhook), files=files)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 50035
    assert body["errors"]["attachments"]["1"]["id"]["_errors"][0]["code"] == "ATTACHMENT_NOT_FOUND"
    assert fake_discord.history(fake_webhook.channel_id) == []


async def test_file_without_metadata_keeps_its_part_filename(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    files = [("files[0]", ("report.txt", b"abc", "text/plain"))]
    response = await http.post(url(fake_webhook), params={"wait": "true"}, files=files)
    assert response.status_code == 200
    assert response.json()["attachments"][0]["filename"] == "report.txt"
    assert response.json()["attachments"][0]["content_type"] == "text/plain"


# --- Message endpoints ------------------------------------------------------------------------


async def test_get_edit_delete_round_trip(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    sent = (await post(http, fake_webhook, {"content": "v1"})).json()
    path = url(fake_webhook, f"/messages/{sent['id']}")

    got = await http.get(path)
    assert got.status_code == 200
    assert got.json() == sent

    edited = await http.patch(path, json={"content": "v2", "embeds": [{"title": "t"}]})
    assert edited.status_code == 200
    assert edited.json()["content"] == "v2"
    assert edited.json()["edited_timestamp"] is not None
    assert (await http.get(path)).json()["embeds"] == [{"type": "rich", "title": "t"}]
    assert fake_discord.history(fake_webhook.channel_id)[0]["content"] == "v2"

    deleted = await http.delete(path)
    assert deleted.status_code == 204
    assert fake_discord.history(fake_webhook.channel_id) == []
    gone = await http.get(path)
    assert (gone.status_code, gone.json()["code"]) == (404, 10008)


async def test_edit_keeps_listed_attachments_and_appends_new_files(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    files = [
        ("files[0]", ("a.txt", b"a", "text/plain")),
        ("files[1]", ("b.txt", b"bb", "text/plain")),
    ]
    sent = (await http.post(url(fake_webhook), params={"wait": "true"}, files=files)).json()
    first, _second = sent["attachments"]
    path = url(fake_webhook, f"/messages/{sent['id']}")

    untouched = await http.patch(path, json={"content": "no attachments key"})
    assert [a["filename"] for a in untouched.json()["attachments"]] == ["a.txt", "b.txt"]

    payload = {"attachments": [{"id": first["id"]}, {"id": "0", "filename": "c.txt"}]}
    edited = await http.patch(path, files=multipart(payload, ("files[0]", "c.txt", b"ccc")))
    assert edited.status_code == 200, edited.text
    kept = edited.json()["attachments"]
    assert [a["filename"] for a in kept] == ["a.txt", "c.txt"]
    assert kept[0] == first

    cleared = await http.patch(path, json={"attachments": []})
    assert cleared.json()["attachments"] == []


async def test_edit_to_an_empty_message_is_rejected(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    sent = (await post(http, fake_webhook, {"content": "x"})).json()
    response = await http.patch(url(fake_webhook, f"/messages/{sent['id']}"), json={"content": ""})
    assert (response.status_code, response.json()["code"]) == (400, 50006)


async def test_thread_messages_land_in_the_thread_history(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    thread = fake_discord.create_thread(fake_webhook.channel_id, "incidents")
    sent = (await post(http, fake_webhook, {"content": "in thread"}, thread_id=thread)).json()
    assert sent["channel_id"] == thread
    assert [m["id"] for m in fake_discord.history(thread)] == [sent["id"]]
    assert fake_discord.history(fake_webhook.channel_id) == []

    path = url(fake_webhook, f"/messages/{sent['id']}")
    assert (await http.get(path)).json()["code"] == 10008
    assert (await http.get(path, params={"thread_id": thread})).json() == sent
    edited = await http.patch(path, params={"thread_id": thread}, json={"content": "edited"})
    assert edited.json()["content"] == "edited"
    assert (await http.delete(path, params={"thread_id": thread})).status_code == 204
    assert fake_discord.history(thread) == []


async def test_unknown_thread_is_unknown_channel(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    response = await post(http, fake_webhook, {"content": "x"}, thread_id="123")
    assert (response.status_code, response.json()["code"]) == (404, 10003)


async def test_forum_post_creates_a_thread_named_after_the_message(
    fake_discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    forum = fake_discord.create_channel(forum=True)
    hook = fake_discord.create_webhook(forum)
    body = {"content": "release notes", "thread_name": "v1.0", "applied_tags": ["1"]}
    sent = (await post(http, hook, body)).json()
    # On Discord a forum post's thread has the id of its starter message.
    assert sent["channel_id"] == sent["id"]
    assert fake_discord.threads(forum) == [sent["id"]]
    assert fake_discord.history(sent["id"]) == [sent]
    reply = (await post(http, hook, {"content": "more"}, thread_id=sent["id"])).json()
    assert reply["channel_id"] == sent["id"]


@pytest.mark.parametrize(
    ("forum", "body", "params", "code"),
    [
        (True, {"content": "x"}, {}, 220001),
        (True, {"content": "x", "thread_name": "t"}, {"thread_id": "1"}, 220002),
        (False, {"content": "x", "thread_name": "t"}, {}, 220003),
    ],
)
async def test_thread_rules(
    fake_discord: FakeDiscord,
    http: httpx.AsyncClient,
    forum: bool,
    body: dict[str, Any],
    params: dict[str, str],
    code: int,
) -> None:
    hook = fake_discord.create_webhook(fake_discord.create_channel(forum=forum))
    response = await post(http, hook, body, **params)
    assert (response.status_code, response.json()["code"]) == (400, code)


async def test_get_webhook_with_token(fake_webhook: FakeWebhook, http: httpx.AsyncClient) -> None:
    response = await http.get(url(fake_webhook))
    assert response.status_code == 200
    webhook = response.json()
    assert webhook["id"] == fake_webhook.id
    assert webhook["channel_id"] == fake_webhook.channel_id
    assert webhook["name"] == "captain hook"
    assert webhook["type"] == 1
    schema_validator("GuildIncomingWebhookResponse").validate(webhook)


# --- Errors -----------------------------------------------------------------------------------


async def test_unknown_webhook_wrong_token_and_deleted_webhook(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    unknown = await http.post(
        f"https://discord.test/api/v10/webhooks/1/{fake_webhook.token}", json={"content": "x"}
    )
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "Unknown Webhook", "code": 10015},
    )
    wrong = await http.post(
        f"https://discord.test/api/v10/webhooks/{fake_webhook.id}/nope", json={"content": "x"}
    )
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"message": "Invalid Webhook Token", "code": 50027},
    )
    fake_discord.delete_webhook(fake_webhook)
    for response in (
        await post(http, fake_webhook, {"content": "x"}),
        await http.get(url(fake_webhook)),
        await http.get(url(fake_webhook, "/messages/1")),
    ):
        assert (response.status_code, response.json()["code"]) == (404, 10015)


async def test_unknown_message_and_bad_snowflake(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    missing = await http.delete(url(fake_webhook, "/messages/42"))
    assert (missing.status_code, missing.json()) == (
        404,
        {"message": "Unknown Message", "code": 10008},
    )
    bad = await http.post(f"https://discord.test/api/v10/webhooks/abc/{fake_webhook.token}")
    assert (bad.status_code, bad.json()["code"]) == (400, 50035)
    assert bad.json()["errors"]["webhook_id"]["_errors"][0]["code"] == "NUMBER_TYPE_COERCE"


def error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def max_length(limit: int) -> dict[str, Any]:
    return error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


BAD_FLAGS = (
    "Only SUPPRESS_EMBEDS (4), SUPPRESS_NOTIFICATIONS (4096) and IS_COMPONENTS_V2 (32768) "
    "may be set."
)


FIELD = {"name": "n", "value": "v"}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"content": "x" * 2001}, {"content": max_length(2000)}),
        ({"embeds": [{"title": "t"}] * 11}, {"embeds": max_length(10)}),
        ({"embeds": [{"title": "x" * 257}]}, {"embeds": {"0": {"title": max_length(256)}}}),
        (
            {"embeds": [{"title": "a"}, {"description": "x" * 4097}]},
            {"embeds": {"1": {"description": max_length(4096)}}},
        ),
        ({"embeds": [{"fields": [FIELD] * 26}]}, {"embeds": {"0": {"fields": max_length(25)}}}),
        (
            {"embeds": [{"fields": [FIELD, {"name": "x" * 257, "value": "v"}]}]},
            {"embeds": {"0": {"fields": {"1": {"name": max_length(256)}}}}},
        ),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "x" * 1025}]}]},
            {"embeds": {"0": {"fields": {"0": {"value": max_length(1024)}}}}},
        ),
        (
            {"embeds": [{"footer": {"text": "x" * 2049}}]},
            {"embeds": {"0": {"footer": {"text": max_length(2048)}}}},
        ),
        (
            {"embeds": [{"author": {"name": "x" * 257}}]},
            {"embeds": {"0": {"author": {"name": max_length(256)}}}},
        ),
        (
            {"embeds": [{"description": "x" * 3000}, {"description": "y" * 3001}]},
            {"embeds": error("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")},
        ),
        (
            {"content": "x", "username": "Discord alerts"},
            {"username": error("USERNAME_INVALID_CONTAINS", 'Username cannot contain "discord"')},
        ),
        (
            {"content": "x", "username": "clyde"},
            {"username": error("USERNAME_INVALID_CONTAINS", 'Username cannot contain "clyde"')},
        ),
        (
            {"content": "x", "flags": 2},
            {"flags": error("MESSAGE_FLAGS_INVALID", BAD_FLAGS)},
        ),
        (
            {"content": "x", "allowed_mentions": {"users": ["1"] * 101}},
            {"allowed_mentions": {"users": max_length(100)}},
        ),
        (
            {"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
            {
                "allowed_mentions": error(
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    'parse:["users"] and users: [ids...] are mutually exclusive.',
                )
            },
        ),
        (
            {"content": "x", "thread_name": "t" * 101},
            {"thread_name": error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")},
        ),
        ({"content": "x", "applied_tags": ["1"] * 6}, {"applied_tags": max_length(5)}),
    ],
)
async def test_invalid_form_body(
    fake_discord: FakeDiscord,
    fake_webhook: FakeWebhook,
    http: httpx.AsyncClient,
    body: dict[str, Any],
    errors: dict[str, Any],
) -> None:
    response = await post(http, fake_webhook, body)
    assert response.status_code == 400
    assert response.json() == {"message": "Invalid Form Body", "code": 50035, "errors": errors}
    assert fake_discord.history(fake_webhook.channel_id) == []


@pytest.mark.parametrize(
    "body",
    [
        {"content": "x" * 2000},
        {"embeds": [{"title": "t"}] * 10},
        # 6000 characters once the padding is stripped
        {"embeds": [{"description": "x" * 3000 + " " * 50}, {"description": " \n" + "y" * 3000}]},
        {"content": "x", "flags": 4},
        {"content": "x", "flags": 4096 | 4},
        {"content": "x", "username": "x" * 80},
    ],
)
async def test_valid_bodies_at_the_limits(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await post(http, fake_webhook, body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("body", [{}, {"content": ""}, {"content": None, "embeds": []}])
async def test_empty_message(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await post(http, fake_webhook, body)
    assert response.status_code == 400
    assert response.json() == {"message": "Cannot send an empty message", "code": 50006}


async def test_invalid_json_body(fake_webhook: FakeWebhook, http: httpx.AsyncClient) -> None:
    response = await http.post(
        url(fake_webhook), content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (400, 50109)


async def test_too_many_files(fake_webhook: FakeWebhook, http: httpx.AsyncClient) -> None:
    files = [(f"files[{i}]", (f"{i}.txt", b"x", "text/plain")) for i in range(11)]
    response = await http.post(url(fake_webhook), files=files)
    assert (response.status_code, response.json()["code"]) == (400, 30015)


async def test_file_too_large() -> None:
    fake = FakeDiscord(max_upload_bytes=100)
    hook = fake.create_webhook()
    async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
        ok = await http.post(hook.url, files=[("files[0]", ("a", b"x" * 100, "text/plain"))])
        big = await http.post(hook.url, files=[("files[0]", ("a", b"x" * 101, "text/plain"))])
    assert ok.status_code == 204
    assert big.status_code == 413
    assert big.json() == {"message": "Request entity too large", "code": 40005}


async def test_records_redact_the_token(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    sent = (await post(http, fake_webhook, {"content": "x"})).json()
    await http.get(url(fake_webhook, f"/messages/{sent['id']}"))
    await http.get(url(fake_webhook))
    assert fake_discord.requests
    for record in fake_discord.requests:
        assert fake_webhook.token not in repr(record)
        assert record.path.startswith(f"/api/v10/webhooks/{fake_webhook.id}/***")
    assert fake_webhook.token not in repr(fake_webhook)


# --- Rate limits ------------------------------------------------------------------------------


async def test_webhook_bucket_exactly(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    start = trio.current_time()
    async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
        for remaining in (4, 3, 2, 1, 0):
            response = await post(http, hook, {"content": "x"})
            assert response.status_code == 200
            assert response.headers["x-ratelimit-limit"] == "5"
            assert response.headers["x-ratelimit-remaining"] == str(remaining)
            assert response.headers["x-ratelimit-reset-after"] == "2.000"
            assert float(response.headers["x-ratelimit-reset"]) == pytest.approx(
                fake.epoch_offset + start + 2.0, abs=1e-3
            )
            bucket = response.headers["x-ratelimit-bucket"]

        await trio.sleep(0.5)
        limited = await post(http, hook, {"content": "too soon"})
        assert limited.status_code == 429
        assert limited.json() == {
            "message": "You are being rate limited.",
            "retry_after": 1.5,
            "global": False,
        }
        assert limited.headers["retry-after"] == "2"
        assert limited.headers["x-ratelimit-scope"] == "user"
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert limited.headers["x-ratelimit-reset-after"] == "1.500"
        assert limited.headers["x-ratelimit-bucket"] == bucket
        assert "x-ratelimit-global" not in limited.headers

        await trio.sleep(1.5)
        assert trio.current_time() - start == 2.0
        again = await post(http, hook, {"content": "next window"})
        assert again.status_code == 200
        assert again.headers["x-ratelimit-remaining"] == "4"

    assert [m["content"] for m in fake.history(hook.channel_id)][-1] == "next window"
    assert len(fake.history(hook.channel_id)) == 6
    assert fake.stats().rate_limited == {"user": 1, "shared": 0, "global": 0}


async def test_buckets_are_per_webhook_and_time_scaled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(time_scale=0.1)
    first, second = fake.create_webhook(), fake.create_webhook()
    async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
        for _ in range(5):
            await post(http, first, {"content": "x"})
        limited = await post(http, first, {"content": "x"})
        assert limited.status_code == 429
        assert limited.json()["retry_after"] == 0.2
        assert limited.headers["retry-after"] == "1"
        other = await post(http, second, {"content": "x"})
        assert other.status_code == 200
        assert other.headers["x-ratelimit-bucket"] == limited.headers["x-ratelimit-bucket"]


async def test_hidden_channel_limit(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeDiscord(channel_limit=30)
    first = fake.create_webhook()
    second = fake.create_webhook(first.channel_id)
    start = trio.current_time()
    async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
        for i in range(30):
            response = await post(http, (first, second)[i % 2], {"content": str(i)})
            assert response.status_code == 200
            await trio.sleep(0.5)
        limited = await post(http, first, {"content": "31st"})
        assert limited.status_code == 429
        assert limited.headers["x-ratelimit-scope"] == "shared"
        assert int(limited.headers["x-ratelimit-remaining"]) > 0
        body = limited.json()
        assert body["code"] == 20028
        assert body["global"] is False
        assert 40 <= body["retry_after"] <= 45
        assert limited.headers["retry-after"] in {"41", "42", "43", "44", "45"}
        # The headers describe the webhook bucket only, never the channel limit.
        assert limited.headers["x-ratelimit-limit"] == "5"
        assert "30" not in limited.headers.values()
        assert (await post(http, second, {"content": "still"})).status_code == 429

        await trio.sleep(body["retry_after"])
        assert (await post(http, second, {"content": "after"})).status_code == 200
    assert trio.current_time() - start > 55
    assert len(fake.history(first.channel_id)) == 31
    assert fake.stats().rate_limited == {"user": 0, "shared": 2, "global": 0}


async def test_channel_limit_retry_after_is_seeded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def retry_after(seed: int) -> float:
        fake = FakeDiscord(seed=seed, channel_limit=1, bucket_limit=100)
        hook = fake.create_webhook()
        async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
            await post(http, hook, {"content": "x"})
            value: float = (await post(http, hook, {"content": "x"})).json()["retry_after"]
            return value

    assert await retry_after(1) == await retry_after(1)
    assert await retry_after(1) != await retry_after(2)


async def test_global_limit(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeDiscord(global_limit=3)
    hooks = [fake.create_webhook() for _ in range(4)]
    async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
        for hook in hooks[:3]:
            assert (await post(http, hook, {"content": "x"})).status_code == 200
        await trio.sleep(0.25)
        limited = await post(http, hooks[3], {"content": "x"})
        assert limited.status_code == 429
        assert limited.headers["x-ratelimit-global"] == "true"
        assert limited.headers["x-ratelimit-scope"] == "global"
        assert limited.json() == {
            "message": "You are being rate limited.",
            "retry_after": 0.75,
            "global": True,
        }
        await trio.sleep(0.75)
        assert (await post(http, hooks[3], {"content": "x"})).status_code == 200
    assert fake.stats().rate_limited["global"] == 1


async def test_every_response_carries_rate_limit_headers(
    fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    responses = [
        await post(http, fake_webhook, {"content": "x"}),
        await post(http, fake_webhook, {}),
        await http.get(url(fake_webhook)),
        await http.get(url(fake_webhook, "/messages/1")),
    ]
    for response in responses:
        for name in ("limit", "remaining", "reset", "reset-after", "bucket"):
            assert f"x-ratelimit-{name}" in response.headers


# --- Faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_error_fault_has_html_body_and_is_consumed(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient, status: int
) -> None:
    fake_discord.inject(FaultKind.SERVER_ERROR, status=status)
    failed = await post(http, fake_webhook, {"content": "x"})
    assert failed.status_code == status
    assert failed.headers["content-type"] == "text/html"
    assert failed.text.startswith("<html>")
    assert fake_discord.history(fake_webhook.channel_id) == []
    assert (await post(http, fake_webhook, {"content": "x"})).status_code == 200
    assert [r.fault for r in fake_discord.requests] == [FaultKind.SERVER_ERROR, None]
    assert [r.status for r in fake_discord.requests] == [status, 200]


async def test_stored_server_error_is_ambiguous(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    fake_discord.inject("server_error", status=504, stored=True)
    failed = await post(http, fake_webhook, {"content": "maybe"})
    assert failed.status_code == 504
    assert [m["content"] for m in fake_discord.history(fake_webhook.channel_id)] == ["maybe"]


async def test_fault_count_and_method_filter(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    fake_discord.inject("server_error", count=2, status=503, method="GET")
    assert (await post(http, fake_webhook, {"content": "x"})).status_code == 200
    assert (await http.get(url(fake_webhook))).status_code == 503
    assert (await http.get(url(fake_webhook))).status_code == 503
    assert (await http.get(url(fake_webhook))).status_code == 200
    assert fake_discord.stats().faults == {"server_error": 2}


async def test_rate_limit_fault_without_body(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    fake_discord.inject("rate_limit_no_body", retry_after=3.2)
    response = await post(http, fake_webhook, {"content": "x"})
    assert response.status_code == 429
    assert response.content == b""
    assert response.headers["retry-after"] == "4"
    assert fake_discord.history(fake_webhook.channel_id) == []


async def test_retry_after_in_milliseconds_fault(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    fake_discord.inject("retry_after_ms", retry_after=1.5)
    response = await post(http, fake_webhook, {"content": "x"})
    assert response.status_code == 429
    assert response.json()["retry_after"] == 1500
    assert fake_discord.stats().rate_limited == {"user": 0, "shared": 0, "global": 0}


async def test_invalid_json_fault(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient
) -> None:
    fake_discord.inject("invalid_json")
    response = await post(http, fake_webhook, {"content": "x"})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert len(fake_discord.history(fake_webhook.channel_id)) == 1


@pytest.mark.parametrize("stored", [False, True])
async def test_dropped_connection_is_a_protocol_error(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, http: httpx.AsyncClient, stored: bool
) -> None:
    fake_discord.inject("drop", stored=stored)
    with pytest.raises(httpx.RemoteProtocolError):
        await post(http, fake_webhook, {"content": "x"})
    assert len(fake_discord.history(fake_webhook.channel_id)) == int(stored)
    record = fake_discord.requests[-1]
    assert (record.status, record.fault) == (None, FaultKind.DROP)


async def test_delay_past_the_read_timeout(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.inject("delay", delay=30.0)
    start = trio.current_time()
    async with httpx.AsyncClient(
        transport=fake.httpx_transport(), timeout=httpx.Timeout(10.0)
    ) as http:
        with pytest.raises(httpx.ReadTimeout):
            await post(http, hook, {"content": "late"})
        assert trio.current_time() - start == 10.0
        assert fake.history(hook.channel_id) == []
        assert (fake.requests[-1].status, fake.requests[-1].fault) == (None, FaultKind.DELAY)

        fake.inject("delay", delay=4.0)
        response = await post(http, hook, {"content": "slow"})
        assert response.status_code == 200
        assert trio.current_time() - start == 14.0


async def test_stored_delay_is_an_ambiguous_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.inject("delay", delay=30.0, stored=True)
    async with httpx.AsyncClient(transport=fake.httpx_transport(), timeout=10.0) as http:
        with pytest.raises(httpx.ReadTimeout):
            await post(http, hook, {"content": "stored anyway"})
    assert [m["content"] for m in fake.history(hook.channel_id)] == ["stored anyway"]


async def test_no_timeout_waits_for_the_delay(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.inject("delay", delay=100.0)
    async with httpx.AsyncClient(transport=fake.httpx_transport(), timeout=None) as http:
        assert (await post(http, hook, {"content": "x"})).status_code == 200


async def test_fault_rate_is_seeded(autojump_clock: trio.testing.MockClock) -> None:
    async def run(seed: int) -> list[tuple[int | None, FaultKind | None]]:
        fake = FakeDiscord(seed=seed, bucket_limit=1000)
        hook = fake.create_webhook()
        fake.fault_rate(0.5, kinds=["server_error", "rate_limit_no_body", "drop"])
        async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
            for _ in range(40):
                with contextlib.suppress(httpx.RemoteProtocolError):
                    await post(http, hook, {"content": "x"})
        return [(r.status, r.fault) for r in fake.requests]

    first = await run(7)
    assert first == await run(7)
    kinds = {fault for _, fault in first}
    assert kinds == {None, FaultKind.SERVER_ERROR, FaultKind.RATE_LIMIT_NO_BODY, FaultKind.DROP}
    statuses = {status for status, fault in first if fault is FaultKind.SERVER_ERROR}
    assert statuses <= {500, 502, 503, 504}


def test_inject_rejects_a_non_5xx_server_error() -> None:
    with pytest.raises(ValueError, match="500, 502, 503 or 504"):
        FakeDiscord().inject("server_error", status=418)


async def test_lifespan_is_answered() -> None:
    fake = FakeDiscord()
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Any] = []

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await fake({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_a_non_ascii_filename_round_trips_and_a_broken_one_is_a_400() -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    from trio_webhook import FilePart, Message, WebhookClient

    async with WebhookClient(hook.url, transport=fake.transport()) as client:
        sent = await client.execute(
            Message(content="x", attachments=[FilePart("résumé.txt", data=b"cv")])
        )
    # Was: the fake read the UTF-8 filename as latin-1, then crashed decoding it.
    assert [a["filename"] for a in sent.messages[0].raw["attachments"]] == ["résumé.txt"]
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files[0]"; filename="\xe9.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
    )
    async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
        answer = await http.post(
            hook.url, content=body, headers={"content-type": "multipart/form-data; boundary=b"}
        )
    assert (answer.status_code, answer.json()["code"]) == (400, 50035)
