"""MessageEdit and KeepAttachment: the edit body, its checks, the webhook-update body.

Golden files pin the edit body and the modify-webhook body byte for byte (regenerate
with ``TRIO_WEBHOOK_UPDATE_GOLDEN=1`` and check them by eye).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from trio_webhook import Embed, FilePart, Message, ValidationError
from trio_webhook._encoding import encode_edit
from trio_webhook._limits import validate, validate_edit
from trio_webhook._webhook_update import encode_webhook_update, sniff_image_type
from trio_webhook.components import (
    ActionRow,
    Button,
    MediaGallery,
    MediaGalleryItem,
    MessageFlags,
    TextDisplay,
)
from trio_webhook.messages import UNSET, KeepAttachment, MessageEdit

GOLDEN = Path(__file__).parent / "golden"
# The smallest PNG signature and header; sniffing reads only the first bytes.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def check_golden(name: str, actual: bytes) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("TRIO_WEBHOOK_UPDATE_GOLDEN"):
        path.write_bytes(actual + b"\n")
    assert path.read_bytes() == actual + b"\n", f"{path.name} drifted; check it by eye"


def test_golden_edit_that_keeps_one_file_and_replaces_another() -> None:
    edit = MessageEdit(
        content="build 43 passed",
        embeds=[],
        attachments=[
            KeepAttachment("1111111111111111111", description="the nightly log", spoiler=True),
            FilePart("report.csv", data=b"a,b\n1,2\n", description="new report"),
        ],
    )
    body = encode_edit(edit)
    assert body.payload_json is not None
    check_golden("edit_keep_and_replace", body.payload_json)
    assert [(f.field, f.filename, f.data) for f in body.files] == [
        ("files[0]", "report.csv", b"a,b\n1,2\n")
    ]


def test_golden_modify_webhook_body() -> None:
    body = encode_webhook_update(name="deploy bot", avatar=PNG)
    assert body.json is not None
    check_golden("modify_webhook", body.json)
    avatar = json.loads(body.json)["avatar"]
    assert avatar == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_unset_fields_are_not_sent_and_cleared_ones_are() -> None:
    assert json.loads(encode_edit(MessageEdit()).json or b"") == {}
    cleared = MessageEdit(content=None, embeds=[], components=[], attachments=[], flags=None)
    assert json.loads(encode_edit(cleared).json or b"") == {
        "content": None,
        "embeds": [],
        "flags": None,
        "components": [],
        "attachments": [],
    }


def test_a_message_edit_still_leaves_what_it_does_not_set() -> None:
    # The meaning edit_message(Message) always had: no embeds means "leave them".
    body = encode_edit(Message(content="x"), keep_attachment_ids=None)
    assert json.loads(body.json or b"") == {"content": "x"}
    assert MessageEdit.from_message(Message(content="x")).embeds is UNSET
    kept = MessageEdit.from_message(Message(content="x"), keep_attachments=["5"])
    assert kept.attachments == (KeepAttachment("5"),)


def test_add_files_come_after_the_listed_ones() -> None:
    edit = MessageEdit(
        attachments=[FilePart("a.txt", data=b"a"), KeepAttachment(7)],
        add_files=[FilePart("b.txt", data=b"b")],
    )
    payload = json.loads(encode_edit(edit).payload_json or b"")
    assert payload["attachments"] == [
        {"id": "0", "filename": "a.txt"},
        {"id": "7"},
        {"id": "1", "filename": "b.txt"},
    ]


def test_keep_attachment_ids_with_a_message_edit_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="keep_attachment_ids goes with a Message"):
        encode_edit(MessageEdit(), keep_attachment_ids=["1"])


def test_validate_edit_names_kept_attachments_and_the_count_after_the_edit() -> None:
    edit = MessageEdit(
        attachments=[
            KeepAttachment("12x", description="d" * 1025),
            *(KeepAttachment(str(n)) for n in range(1, 11)),
        ]
    )
    found = {(v.path, v.limit, v.actual) for v in validate_edit(edit)}
    assert ("attachments[0].id", 0, 0) in found
    assert ("attachments[0].description", 1024, 1025) in found
    assert ("attachments", 10, 11) in found


def test_validate_edit_checks_each_new_file_and_the_request_total() -> None:
    edit = MessageEdit(
        attachments=[FilePart("a.bin", data=b"x" * 6), FilePart("b.bin", data=b"x" * 5)]
    )
    assert validate_edit(edit, max_upload_bytes=6, max_request_bytes=20) == []
    per_file = validate_edit(edit, max_upload_bytes=5, max_request_bytes=20)
    assert [(v.path, v.limit, v.actual) for v in per_file] == [("attachments[0]", 5, 6)]
    total = validate_edit(edit, max_upload_bytes=6, max_request_bytes=10)
    assert [(v.path, v.limit, v.actual) for v in total] == [("attachments", 10, 11)]


def test_an_edit_with_embeds_checks_them() -> None:
    violations = validate_edit(MessageEdit(embeds=[Embed(title="t" * 257)]))
    assert [v.path for v in violations] == ["embeds[0].title"]


def test_an_edit_may_set_only_suppress_embeds_and_components_v2() -> None:
    # docs: Webhook, "Edit Webhook Message": flags "SUPPRESS_EMBEDS and IS_COMPONENTS_V2
    # only"; SUPPRESS_NOTIFICATIONS is a property of sending.
    assert validate_edit(MessageEdit(flags=MessageFlags.SUPPRESS_EMBEDS)) == []
    assert validate_edit(MessageEdit(flags=MessageFlags.IS_COMPONENTS_V2)) == []
    for edit in (
        MessageEdit(flags=MessageFlags.SUPPRESS_NOTIFICATIONS),
        Message(content="x", flags=MessageFlags.SUPPRESS_NOTIFICATIONS),
    ):
        (violation,) = validate_edit(edit)
        assert (violation.path, violation.limit, violation.actual) == ("flags", 4 | 32768, 4096)
        assert "SUPPRESS_NOTIFICATIONS" in violation.detail
    # A message may still be sent silently.
    assert validate(Message(content="x", flags=MessageFlags.SUPPRESS_NOTIFICATIONS)) == []


def test_an_edit_carries_components_checked_and_encoded_as_a_message_s() -> None:
    rows = [ActionRow([Button("docs", url="https://example.com")])]
    body = encode_edit(MessageEdit(components=rows))
    assert json.loads(body.json or b"") == {
        "components": [
            {
                "type": 1,
                "components": [
                    {"type": 2, "style": 5, "label": "docs", "url": "https://example.com"}
                ],
            }
        ]
    }
    assert MessageEdit(components=rows).with_components
    assert MessageEdit(components=[]).with_components  # removing them must be heard too
    assert not MessageEdit().with_components
    # V2 components bring their flag, and their attachment:// names are rewritten.
    layout = MessageEdit(
        components=[MediaGallery([MediaGalleryItem("attachment://a b.png")])],
        add_files=[FilePart("a b.png", data=b"x")],
    )
    payload = json.loads(encode_edit(layout).payload_json or b"")
    assert payload["flags"] == MessageFlags.IS_COMPONENTS_V2
    assert payload["components"][0]["items"][0]["media"]["url"] == "attachment://a_b.png"
    # Interactive components need an application-owned webhook; content cannot go with V2.
    interactive = [ActionRow([Button("ok", custom_id="ok")])]
    assert [v.path for v in validate_edit(MessageEdit(components=interactive))] == [
        "components[0].components[0]"
    ]
    assert validate_edit(MessageEdit(components=interactive, application_owned=True)) == []
    v2_with_text = MessageEdit(content="x", components=[TextDisplay("hi")])
    assert [v.path for v in validate_edit(v2_with_text)] == ["content"]


def test_avatar_type_is_sniffed_from_the_bytes_and_checked() -> None:
    assert sniff_image_type(PNG) == "image/png"
    assert sniff_image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_image_type(b"GIF89a...") == "image/gif"
    assert sniff_image_type(b"RIFF....WEBP") is None
    with pytest.raises(ValidationError) as info:
        encode_webhook_update(avatar=b"not an image", name="")
    assert [v.path for v in info.value.violations] == ["name", "avatar"]
    with pytest.raises(ValidationError, match="avatar has 28 bytes, the limit is 10"):
        encode_webhook_update(avatar=PNG + b"xxxx", max_avatar_bytes=10)


def test_avatar_none_removes_it_and_unset_leaves_it(tmp_path: Path) -> None:
    assert json.loads(encode_webhook_update(avatar=None).json or b"") == {"avatar": None}
    assert json.loads(encode_webhook_update(name="n").json or b"") == {"name": "n"}
    path = tmp_path / "avatar.bin"
    path.write_bytes(PNG)
    from_path = json.loads(encode_webhook_update(avatar=path).json or b"")
    assert from_path["avatar"].startswith("data:image/png;base64,")


def test_unset_is_falsy_and_reads_as_unset() -> None:
    assert not UNSET
    assert repr(UNSET) == "UNSET"
    assert repr(MessageEdit(content="x")).startswith("MessageEdit(content='x', embeds=UNSET")
