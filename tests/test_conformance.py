"""Our JSON against Discord's official OpenAPI description.

By default against the pruned copy in ``tests/schemas/``; ``DISCORD_OPENAPI`` names the
full description instead (see ``discord_schema.py``). Never skipped: set but missing
is a failure, so CI cannot pass without actually checking.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from discord_schema import document_path, load_document, validator
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook import AllowedMentions, Embed, EmbedField, FilePart, Message
from trio_webhook._encoding import EncodedBody, encode_edit, encode_execute
from trio_webhook._planning import plan_requests
from trio_webhook.messages import MessageEdit
from trio_webhook.testing.strategies import action_rows, components_v2, message_edits, messages

pytestmark = pytest.mark.conformance

EXECUTE = "IncomingWebhookRequestPartial"
EDIT = "IncomingWebhookUpdateRequestPartial"


def body_json(body: EncodedBody) -> Any:
    data = body.json if body.json is not None else body.payload_json
    assert data is not None
    return json.loads(data)


def assert_conforms(schema_name: str, instance: Any) -> None:
    errors = sorted(
        validator(schema_name).iter_errors(instance), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
    )


def test_document_has_the_schemas_we_validate_against() -> None:
    schemas = load_document(document_path())["components"]["schemas"]
    assert EXECUTE in schemas
    assert EDIT in schemas


def test_validator_rejects_what_discord_rejects() -> None:
    # Guards against a registry that silently resolves nothing.
    execute = validator(EXECUTE)
    assert not execute.is_valid({"content": "x" * 2001})
    assert not execute.is_valid({"embeds": [{"title": "t"}] * 11})
    assert not execute.is_valid({"embeds": [{"fields": [{"name": "n"}]}]})
    assert not execute.is_valid({"attachments": [{"id": 0, "filename": "a"}]})


@given(messages(), st.sampled_from([10 * 1024 * 1024, 256]))
def test_every_execute_body_conforms(message: Message, budget: int) -> None:
    for request in plan_requests(message, max_upload_bytes=budget):
        assert_conforms(EXECUTE, body_json(encode_execute(request)))


@given(
    messages(max_embeds=10, max_files=10),
    st.none() | st.lists(st.integers(1, 2**63 - 1).map(str), max_size=5),
)
def test_every_edit_body_conforms(message: Message, keep: list[str] | None) -> None:
    edit = Message(
        content=message.content,
        embeds=message.embeds,
        allowed_mentions=message.allowed_mentions,
        flags=message.flags,
        attachments=message.attachments[: 10 - len(keep or ())],
    )
    assert_conforms(EDIT, body_json(encode_edit(edit, keep_attachment_ids=keep)))


@given(st.one_of(components_v2(), st.lists(action_rows(interactive=True), min_size=1, max_size=5)))
def test_every_edit_body_with_components_conforms(components: Any) -> None:
    edit = Message(components=components, application_owned=True)
    assert_conforms(EDIT, body_json(encode_edit(edit, keep_attachment_ids=None)))


@given(message_edits())
def test_every_message_edit_body_conforms(edit: MessageEdit) -> None:
    # Kept, re-described and spoilered attachments, new files, cleared fields.
    assert_conforms(EDIT, body_json(encode_edit(edit)))


def test_hand_written_edge_cases_conform() -> None:
    message = Message(
        content="",
        embeds=[Embed(fields=[EmbedField("n" * 256, "v" * 1024, inline=True)], color=0xFFFFFF)],
        allowed_mentions=AllowedMentions(parse=[], users=[], roles=["1"]),
        attachments=[FilePart("a b.png", data=b"x", description="")],
        thread_name="t" * 100,
        applied_tags=["1", "2", "3", "4", "5"],
        flags=4100,
    )
    for request in plan_requests(message):
        assert_conforms(EXECUTE, body_json(encode_execute(request)))
