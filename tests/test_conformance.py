"""Our JSON against Discord's official OpenAPI description (path in DISCORD_OPENAPI).

Unset variable: skipped. Set but the file is missing: failed, so CI cannot pass
without actually checking.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from trio_webhook import AllowedMentions, Embed, EmbedField, FilePart, Message
from trio_webhook._encoding import EncodedBody, encode_edit, encode_execute
from trio_webhook._planning import plan_requests
from trio_webhook.testing.strategies import messages

pytestmark = pytest.mark.conformance

DOCUMENT_URI = "urn:discord-openapi"
EXECUTE = "IncomingWebhookRequestPartial"
EDIT = "IncomingWebhookUpdateRequestPartial"


@functools.cache
def load_document(path: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return document


def openapi_path() -> str:
    path = os.environ.get("DISCORD_OPENAPI")
    if not path:
        pytest.skip("DISCORD_OPENAPI is not set")
    if not Path(path).is_file():
        pytest.fail(f"DISCORD_OPENAPI={path!r} is set but no such file exists")
    return path


@functools.cache
def validator_for(path: str, schema_name: str) -> Draft202012Validator:
    document = load_document(path)
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry)


def body_json(body: EncodedBody) -> Any:
    data = body.json if body.json is not None else body.payload_json
    assert data is not None
    return json.loads(data)


def assert_conforms(schema_name: str, instance: Any) -> None:
    validator = validator_for(openapi_path(), schema_name)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
    )


def test_document_has_the_schemas_we_validate_against() -> None:
    schemas = load_document(openapi_path())["components"]["schemas"]
    assert EXECUTE in schemas
    assert EDIT in schemas


def test_validator_rejects_what_discord_rejects() -> None:
    # Guards against a registry that silently resolves nothing.
    validator = validator_for(openapi_path(), EXECUTE)
    assert not validator.is_valid({"content": "x" * 2001})
    assert not validator.is_valid({"embeds": [{"title": "t"}] * 11})
    assert not validator.is_valid({"embeds": [{"fields": [{"name": "n"}]}]})
    assert not validator.is_valid({"attachments": [{"id": 0, "filename": "a"}]})


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
