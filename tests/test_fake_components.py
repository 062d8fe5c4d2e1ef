"""FakeDiscord and components, Components V2 and polls: what Discord drops, refuses, stores.

And end to end: a Components V2 message, a message with link buttons and a poll sent
through ``open_webhook_sender`` arrive as Discord would store them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from trio_webhook import FilePart, Message, SenderConfig, WebhookClient, open_webhook_sender
from trio_webhook.components import (
    ActionRow,
    Button,
    Container,
    FileComponent,
    MediaGallery,
    MediaGalleryItem,
    Section,
    TextDisplay,
)
from trio_webhook.polls import Emoji, Poll, PollAnswer
from trio_webhook.testing import FakeDiscord, FakeWebhook

TEXT = {"type": 10, "content": "hello"}
LINK_ROW = {
    "type": 1,
    "components": [{"type": 2, "style": 5, "label": "d", "url": "https://e.com"}],
}
CLICK_ROW = {"type": 1, "components": [{"type": 2, "style": 1, "label": "go", "custom_id": "go"}]}


USER_1 = {"id": "1", "type": "user"}


def select_row(kind: int, default_values: list[dict[str, str]]) -> dict[str, Any]:
    select = {"type": kind, "custom_id": "pick", "default_values": default_values}
    return {"type": 1, "components": [select]}


@pytest.fixture
async def http(fake_discord: FakeDiscord) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url="https://discord.test/api/v10/webhooks/",
        params={"wait": "true"},
        transport=fake_discord.httpx_transport(),
    ) as client:
        yield client


async def post(
    http: httpx.AsyncClient, hook: FakeWebhook, body: Any, **params: str
) -> httpx.Response:
    return await http.post(f"{hook.id}/{hook.token}", params=params, json=body)


async def test_components_are_dropped_unless_asked_for(
    http: httpx.AsyncClient, fake_webhook: FakeWebhook
) -> None:
    dropped = await post(http, fake_webhook, {"content": "x", "components": [LINK_ROW]})
    assert dropped.status_code == 200
    assert dropped.json()["components"] == []
    kept = await post(
        http, fake_webhook, {"content": "x", "components": [LINK_ROW]}, with_components="true"
    )
    assert kept.json()["components"][0]["components"][0]["url"] == "https://e.com"
    # Only components, and Discord ignores them: the message is empty.
    empty = await post(http, fake_webhook, {"components": [LINK_ROW]})
    assert (empty.status_code, empty.json()["code"]) == (400, 50006)


async def test_interactive_components_need_an_application_owned_webhook(
    http: httpx.AsyncClient, fake_discord: FakeDiscord
) -> None:
    channel_hook = fake_discord.create_webhook()
    refused = await post(
        http, channel_hook, {"content": "x", "components": [CLICK_ROW]}, with_components="true"
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == 50035
    assert "_errors" in refused.json()["errors"]["components"]["0"]["components"]["0"]
    owned = fake_discord.create_webhook(application_owned=True)
    accepted = await post(http, owned, {"content": "x", "components": [CLICK_ROW]})
    assert accepted.status_code == 200
    assert accepted.json()["components"][0]["components"][0]["custom_id"] == "go"
    assert owned.application_id is not None
    assert channel_hook.application_id is None


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        (
            {"flags": 32768, "content": "x", "components": [TEXT]},
            ["content"],
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
        ),
        (
            {"flags": 32768, "embeds": [{"title": "t"}], "components": [TEXT]},
            ["embeds"],
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
        ),
        (
            {
                "flags": 32768,
                "components": [TEXT],
                "poll": {"question": {"text": "q"}, "answers": [{"poll_media": {"text": "a"}}]},
            },
            ["poll"],
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
        ),
        (
            {"flags": 32768, "components": [{"type": 17, "components": [TEXT] * 40}]},
            ["components"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {
                "flags": 32768,
                "components": [
                    {"type": 10, "content": "x" * 2000},
                    {"type": 10, "content": "x" * 2001},
                ],
            },
            ["components"],
            "COMPONENT_TEXT_LENGTH_EXCEEDED",
        ),
        (
            {"flags": 32768, "components": [{"type": 12, "items": []}]},
            ["components", "0", "items"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        ({"components": [TEXT]}, ["components", "0", "type"], "UNION_TYPE_CHOICES"),
        (
            {"flags": 32768, "components": [{**TEXT, "id": 7}, {**TEXT, "id": 7}]},
            ["components", "1", "id"],
            "COMPONENT_ID_DUPLICATED",
        ),
        (
            {"flags": 32768, "components": [{**TEXT, "id": 2**31}]},
            ["components", "0", "id"],
            "NUMBER_TYPE_MAX",
        ),
        (
            {"components": [select_row(5, [USER_1, {"id": "2", "type": "user"}])]},
            ["components", "0", "components", "0", "default_values"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            {"components": [select_row(6, [USER_1])]},
            ["components", "0", "components", "0", "default_values", "0", "type"],
            "ENUM_TYPE_COERCE",
        ),
        ({"components": [LINK_ROW] * 6}, ["components"], "BASE_TYPE_MAX_LENGTH"),
        (
            {
                "flags": 32768,
                "components": [{"type": 13, "file": {"url": "attachment://nope.txt"}}],
            },
            ["components", "0", "file", "url"],
            "UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND",
        ),
        (
            {"poll": {"question": {"text": "q" * 301}, "answers": [{"poll_media": {"text": "a"}}]}},
            ["poll", "question", "text"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            {"poll": {"question": {"text": "q"}, "answers": [{"poll_media": {"text": "a" * 56}}]}},
            ["poll", "answers", "0", "poll_media", "text"],
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            {
                "poll": {
                    "question": {"text": "q"},
                    "answers": [{"poll_media": {"text": "a"}}],
                    "duration": 769,
                }
            },
            ["poll", "duration"],
            "NUMBER_TYPE_MAX",
        ),
    ],
)
async def test_discord_refuses_with_its_errors_tree(
    http: httpx.AsyncClient, fake_webhook: FakeWebhook, body: Any, path: list[str], code: str
) -> None:
    response = await post(http, fake_webhook, body, with_components="true")
    assert response.status_code == 400
    assert response.json()["code"] == 50035
    node = response.json()["errors"]
    for key in path:
        node = node[key]
    assert node["_errors"][0]["code"] == code


async def test_components_without_an_id_are_numbered_around_the_ids_given(
    http: httpx.AsyncClient, fake_webhook: FakeWebhook
) -> None:
    # docs: ids are "generated sequentially if left empty" and won't reuse an id given
    # to another component; 0 "will be treated as empty and replaced by the API".
    given = [TEXT, {**TEXT, "id": 1}, {**TEXT, "id": 0}, {**TEXT, "id": 3}, TEXT]
    body = {"flags": 32768, "components": given}
    response = await post(http, fake_webhook, body, with_components="true")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["components"]] == [2, 1, 4, 3, 5]


async def test_a_poll_is_stored_in_discords_response_shape(
    http: httpx.AsyncClient, fake_webhook: FakeWebhook
) -> None:
    body = {
        "poll": {
            "question": {"text": "Lunch?"},
            "answers": [{"poll_media": {"text": "pizza", "emoji": {"name": "🍕"}}}],
            "duration": 2,
        }
    }
    stored = (await post(http, fake_webhook, body)).json()
    poll = stored["poll"]
    assert poll["question"] == {"text": "Lunch?"}
    assert poll["answers"] == [
        {"answer_id": 1, "poll_media": {"text": "pizza", "emoji": {"name": "🍕"}}}
    ]
    assert poll["allow_multiselect"] is False
    assert poll["layout_type"] == 1
    assert poll["results"] == {"is_finalized": False, "answer_counts": []}
    assert poll["expiry"] > stored["timestamp"]


# --- end to end, through the sender ---------------------------------------------------------


def open_sender(fake: FakeDiscord, hook: FakeWebhook) -> Any:
    return open_webhook_sender(hook.url, transport=fake.transport(), config=SenderConfig(seed=0))


async def test_a_components_v2_message_and_a_poll_arrive_as_discord_stores_them(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    report = Message(
        components=[
            TextDisplay("# nightly"),
            Container(
                [
                    Section(
                        [TextDisplay("coverage 94%")], accessory=Button("runs", url="https://e.com")
                    ),
                    MediaGallery(
                        [
                            MediaGalleryItem("attachment://chart.png"),
                            MediaGalleryItem("https://e.com/x.png"),
                        ]
                    ),
                    FileComponent("attachment://build log.txt", spoiler=True),
                ],
                accent_color=0xE67E22,
            ),
        ],
        attachments=[
            FilePart("chart.png", data=b"\x89PNG"),
            FilePart("build log.txt", data=b"ok", spoiler=True),
        ],
    )
    vote = Message(
        content="vote",
        poll=Poll("Deploy?", ["yes", PollAnswer("no", emoji=Emoji("🙅"))], duration=4),
    )
    async with open_sender(fake, hook) as sender:
        sent = [await (await sender.send(m)).wait() for m in (report, vote)]
    assert all(len(d.messages) == 1 for d in sent)
    cv2, poll = fake.history(hook.channel_id)
    assert cv2["flags"] == 32768
    assert cv2["content"] == ""
    chart, log = cv2["attachments"]
    assert [chart["filename"], log["filename"]] == ["chart.png", "SPOILER_build_log.txt"]
    heading, container = cv2["components"]
    assert heading == {"type": 10, "content": "# nightly", "id": 1}
    assert container["accent_color"] == 0xE67E22
    section, gallery, file = container["components"]
    assert section["accessory"]["url"] == "https://e.com"
    shown, web = gallery["items"]
    assert shown["media"]["url"] == chart["url"]
    assert shown["media"]["attachment_id"] == chart["id"]
    assert web["media"]["url"] == "https://e.com/x.png"
    assert file["file"]["url"] == log["url"]
    assert file["spoiler"] is True
    # Every component has an id, numbered in order as Discord does.
    assert [container["id"], section["id"], gallery["id"], file["id"]] == [2, 3, 6, 7]
    assert poll["content"] == "vote"
    assert [a["poll_media"]["text"] for a in poll["poll"]["answers"]] == ["yes", "no"]
    assert [r.query.get("with_components") for r in fake.requests] == ["true", None]


async def test_the_client_asks_for_components_on_execute_and_edit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    async with WebhookClient(hook.url, transport=fake.transport()) as client:
        delivery = await client.execute(
            Message(content="x", components=[ActionRow([Button("a", url="https://a.com")])])
        )
        assert delivery.messages[0].raw["components"] != []
        assert delivery.id is not None
        edited = await client.edit_message(
            delivery.id, Message(components=[ActionRow([Button("b", url="https://b.com")])])
        )
    assert edited.raw["components"][0]["components"][0]["url"] == "https://b.com"
    assert [r.query.get("with_components") for r in fake.requests] == ["true", "true"]
