"""The pruned copy of Discord's description cannot drift from the full one.

With the full description (``DISCORD_OPENAPI`` set), ``scripts/prune_openapi.py`` must give
``tests/schemas/discord-webhooks.json`` byte for byte, and both must judge our bodies
(and some that break Discord's limits) alike. Without it, these say so in one line; the
other conformance tests still run, against the copy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from discord_schema import PRUNED, full_path, load_document, validator_for
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook import Message
from trio_webhook._encoding import encode_edit, encode_execute
from trio_webhook._planning import plan_requests
from trio_webhook.testing.strategies import messages

pytestmark = pytest.mark.conformance

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "prune_openapi.py"
EXECUTE = "IncomingWebhookRequestPartial"
EDIT = "IncomingWebhookUpdateRequestPartial"
# Bodies Discord refuses, one limit each: the copy must refuse them too.
BROKEN = [
    {"content": "x" * 2001},
    {"embeds": [{"title": "t"}] * 11},
    {"embeds": [{"title": "t" * 257}]},
    {"embeds": [{"fields": [{"name": "n"}]}]},
    {"embeds": [{"color": 0x1000000}]},
    {"attachments": [{"id": 0, "filename": "a"}]},
    {"attachments": [{"id": "x"}]},
    {"username": ""},
    {"applied_tags": ["1"] * 6},
    {"allowed_mentions": {"parse": ["nobody"]}},
    {"thread_name": "t" * 101},
    {"flags": "4"},
]


def needs_the_full_file() -> Path:
    path = full_path()
    if path is None:
        pytest.skip(
            "DISCORD_OPENAPI is not set: no drift check of tests/schemas/discord-webhooks.json; "
            "the conformance tests use that copy"
        )
    return path


def test_the_copy_is_what_the_script_makes_of_the_full_description() -> None:
    path = needs_the_full_file()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(path), "--check", "--output", str(PRUNED)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_copy_carries_discords_notice_and_its_origin() -> None:
    document = load_document(PRUNED)
    assert document["x-license-notice"][0] == "MIT License"
    assert "Copyright 2023 Discord" in document["x-license-notice"]
    assert document["x-source"]["info.version"] == document["info"]["version"] == "10"
    assert len(document["x-source"].get("commit", "")) == 40 or document["x-source"]["sha256"]
    assert {EXECUTE, EDIT} <= document["components"]["schemas"].keys()
    # Annotations are gone; "description" is left only as an embed's property name.
    text = json.dumps(document)
    assert '"description": "' not in text
    assert '"x-discord' not in text


def test_the_copy_has_the_webhook_paths_and_their_query_parameters() -> None:
    paths = load_document(PRUNED)["paths"]
    execute = paths["/webhooks/{webhook_id}/{webhook_token}"]["post"]
    assert {p["name"] for p in execute["parameters"]} == {"wait", "thread_id", "with_components"}
    message = paths["/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"]
    assert set(message) == {"get", "patch", "delete", "parameters"}
    assert {p["name"] for p in message["patch"]["parameters"]} >= {"thread_id"}


def judged_alike(schema_name: str, instance: Any) -> None:
    full = validator_for(needs_the_full_file(), schema_name).is_valid(instance)
    assert validator_for(PRUNED, schema_name).is_valid(instance) == full, instance


@pytest.mark.parametrize("instance", BROKEN)
def test_the_copy_refuses_what_discord_refuses(instance: dict[str, Any]) -> None:
    assert not validator_for(PRUNED, EXECUTE).is_valid(instance)


@pytest.mark.parametrize("instance", BROKEN)
def test_the_full_description_refuses_them_too(instance: dict[str, Any]) -> None:
    judged_alike(EXECUTE, instance)


@given(
    messages(max_embeds=10, max_files=10),
    st.sampled_from([10 * 1024 * 1024, 256]),
    st.none() | st.lists(st.integers(1, 2**63 - 1).map(str), max_size=3),
)
def test_the_copy_judges_our_bodies_as_the_full_description_does(
    message: Message, budget: int, keep: list[str] | None
) -> None:
    for request in plan_requests(message, max_upload_bytes=budget):
        body = encode_execute(request)
        data = body.json if body.json is not None else body.payload_json
        assert data is not None
        judged_alike(EXECUTE, json.loads(data))
    edit = encode_edit(edit_of(message), keep_attachment_ids=keep)
    data = edit.json if edit.json is not None else edit.payload_json
    assert data is not None
    judged_alike(EDIT, json.loads(data))


def edit_of(message: Message) -> Message:
    # An edit carries at most 10 files and no thread or identity fields.
    return Message(
        content=message.content,
        embeds=message.embeds,
        allowed_mentions=message.allowed_mentions,
        attachments=message.attachments[:7],
    )
