from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from python_multipart.multipart import MultipartParser, parse_options_header

from trio_webhook import (
    AllowedMentions,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
)
from trio_webhook._attachments import _sanitize, sanitize_filename
from trio_webhook._encoding import (
    EncodedBody,
    _message_payload,
    dumps,
    encode_edit,
    encode_execute,
    plain_payload,
)
from trio_webhook._models import PlannedRequest
from trio_webhook._planning import plan_requests
from trio_webhook.components import (
    ActionRow,
    Button,
    Container,
    Emoji,
    FileComponent,
    MediaGallery,
    MediaGalleryItem,
    MessageFlags,
    Section,
    Separator,
    SeparatorSpacing,
    TextDisplay,
    Thumbnail,
)
from trio_webhook.polls import Poll, PollAnswer, PollLayout
from trio_webhook.testing.strategies import messages

GOLDEN = Path(__file__).parent / "golden"

# --- sanitize_filename --------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("report.csv", "report.csv"),
        ("my report.csv", "my_report.csv"),
        ('a"\r\nX: y.png', "aX:_y.png"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("C:\\Users\\me\\pic.png", "C:_Users_me_pic.png"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("it's.txt", "its.txt"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        (".hidden", "file.hidden"),
        (".png", "file.png"),
        ("", "file"),
        ('"\r\n', "file"),
        ("résumé 📄.pdf", "résumé_📄.pdf"),
    ],
)
def test_sanitize_filename(given_name: str, expected: str) -> None:
    assert sanitize_filename(given_name) == expected


@given(st.text())
def test_sanitized_names_are_safe_in_a_header(name: str) -> None:
    safe = sanitize_filename(name)
    assert safe
    assert not set(safe) & set("\"'\\/\r\n\x00")
    assert all(ch.isprintable() and not ch.isspace() for ch in safe)
    assert sanitize_filename(safe) == safe


@given(st.from_regex(r"[\w.-]{1,40}", fullmatch=True) | st.text(max_size=40))
def test_names_left_as_they_are_are_those_the_full_rules_leave(name: str) -> None:
    # The shortcut for plain names must never differ from the full rules.
    assert sanitize_filename(name) == _sanitize(name)


def test_sanitize_keeps_the_extension() -> None:
    assert sanitize_filename("a b/c.tar.gz").endswith(".tar.gz")


# --- encode_execute -----------------------------------------------------------------


def planned(**kwargs: Any) -> PlannedRequest:
    return PlannedRequest(index=0, **kwargs)


def test_without_files_the_body_is_json() -> None:
    body = encode_execute(planned(content="hi", thread_id="123"))
    assert body == EncodedBody(json=b'{"content":"hi"}')
    assert not body.is_multipart


def test_json_is_compact_utf8_not_ascii_escaped() -> None:
    body = encode_execute(planned(content="é ✓ 語"))
    assert body.json == '{"content":"é ✓ 語"}'.encode()


def test_files_give_payload_json_and_numbered_parts() -> None:
    files = [
        FilePart("log.txt", data=b"log", description="the log"),
        FilePart("pic.png", data=b"\x89PNG", spoiler=True),
    ]
    body = encode_execute(planned(content="c", files=files))
    assert body.json is None
    assert body.is_multipart
    assert body.payload_json is not None
    payload = json.loads(body.payload_json)
    assert payload["attachments"] == [
        {"id": "0", "filename": "log.txt", "description": "the log"},
        {"id": "1", "filename": "SPOILER_pic.png"},
    ]
    assert [(f.field, f.filename, f.data, f.content_type) for f in body.files] == [
        ("files[0]", "log.txt", b"log", "text/plain"),
        ("files[1]", "SPOILER_pic.png", b"\x89PNG", "image/png"),
    ]


def test_path_backed_files_are_read_when_encoded(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(b"{}")
    body = encode_execute(planned(files=[FilePart.from_path(path)]))
    assert body.files[0].data == b"{}"
    assert body.files[0].content_type == "application/json"


def test_references_are_rewritten_to_uploaded_names() -> None:
    embed = Embed(
        image=EmbedMedia("attachment://my pic.png"),
        thumbnail=EmbedMedia("attachment://b.png"),
        author=EmbedAuthor("me", icon_url="attachment://b.png"),
        footer=EmbedFooter("f", icon_url="https://example.com/x.png"),
    )
    files = [FilePart("my pic.png", data=b"a"), FilePart("b.png", data=b"b", spoiler=True)]
    body = encode_execute(planned(embeds=[embed], files=files))
    assert body.payload_json is not None
    (out,) = json.loads(body.payload_json)["embeds"]
    assert out["image"] == {"url": "attachment://my_pic.png"}
    assert out["thumbnail"] == {"url": "attachment://SPOILER_b.png"}
    assert out["author"]["icon_url"] == "attachment://SPOILER_b.png"
    assert out["footer"]["icon_url"] == "https://example.com/x.png"


def test_thread_id_is_not_in_the_body() -> None:
    body = encode_execute(planned(content="x", thread_id="42", thread_name=None))
    assert body.json is not None
    assert "thread_id" not in json.loads(body.json)


# --- encode_edit --------------------------------------------------------------------


def test_edit_sends_only_editable_fields() -> None:
    message = Message(
        content="edited",
        username="ignored",
        embeds=[Embed(title="t")],
        allowed_mentions=AllowedMentions.none(),
        flags=4,
        thread_name="ignored",
    )
    body = encode_edit(message, keep_attachment_ids=None)
    assert body.json is not None
    assert json.loads(body.json) == {
        "content": "edited",
        "embeds": [{"title": "t"}],
        "allowed_mentions": {"parse": []},
        "flags": 4,
    }


def test_edit_keeping_attachments_lists_them_then_new_files() -> None:
    message = Message(attachments=[FilePart("new.txt", data=b"n", description="fresh")])
    body = encode_edit(message, keep_attachment_ids=["1111", "2222"])
    assert body.payload_json is not None
    assert json.loads(body.payload_json) == {
        "attachments": [
            {"id": "1111"},
            {"id": "2222"},
            {"id": "0", "filename": "new.txt", "description": "fresh"},
        ]
    }
    assert [f.field for f in body.files] == ["files[0]"]


def test_edit_with_empty_keep_list_removes_all_attachments() -> None:
    body = encode_edit(Message(content="x"), keep_attachment_ids=[])
    assert body.json == b'{"content":"x","attachments":[]}'


def test_edit_without_keep_list_leaves_attachments_alone() -> None:
    body = encode_edit(Message(content="x"), keep_attachment_ids=None)
    assert body.json == b'{"content":"x"}'
    with_file = encode_edit(
        Message(attachments=[FilePart("a.txt", data=b"a")]), keep_attachment_ids=None
    )
    assert with_file.payload_json == b"{}"
    assert len(with_file.files) == 1


# --- golden files -------------------------------------------------------------------

STAMP = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

GOLDEN_MESSAGES: dict[str, Message] = {
    "plain_content": Message(content="Build 42 passed ✓ — naïve café"),
    "embeds_every_part": Message(
        username="CI",
        avatar_url="https://example.com/avatar.png",
        embeds=[
            Embed(
                title="build 42 passed",
                description="All **312** tests green.",
                url="https://ci.example.com/builds/42",
                timestamp=STAMP,
                color=0x2ECC71,
                footer=EmbedFooter("main @ 1a2b3c", icon_url="https://example.com/git.png"),
                image=EmbedMedia("https://example.com/graph.png"),
                thumbnail=EmbedMedia("https://example.com/badge.png"),
                author=EmbedAuthor(
                    "ci-bot",
                    url="https://example.com/ci-bot",
                    icon_url="https://example.com/bot.png",
                ),
                fields=[
                    EmbedField("duration", "3m12s", inline=True),
                    EmbedField("coverage", "94%", inline=False),
                    EmbedField("notes", "none"),
                ],
            ),
            Embed(description="second embed", color=0),
        ],
    ),
    "files_with_references": Message(
        content="nightly report",
        embeds=[
            Embed(
                title="coverage",
                image=EmbedMedia("attachment://coverage graph.png"),
                footer=EmbedFooter("generated", icon_url="attachment://logo.png"),
            )
        ],
        attachments=[
            FilePart("coverage graph.png", data=b"\x89PNG-graph", description="line coverage"),
            FilePart("logo.png", data=b"\x89PNG-logo", spoiler=True),
            FilePart("report.csv", data=b"a,b\n1,2\n", description="raw numbers"),
        ],
    ),
    "forum_post_mentions": Message(
        content="<@111> deploy finished, <@&222> please verify",
        tts=False,
        thread_name="Deploy 2026-01-02",
        applied_tags=[333, 444],
        allowed_mentions=AllowedMentions(parse=["users"], roles=[222], replied_user=False),
        flags=4096,
    ),
    # Components V2: the flag is added, attachment:// names are the uploaded ones.
    "components_v2": Message(
        components=[
            Container(
                [
                    TextDisplay("## build 42 passed"),
                    Section(
                        [TextDisplay("312 tests, 3m12s"), TextDisplay("-# main @ 1a2b3c")],
                        accessory=Thumbnail("attachment://badge.png", description="badge"),
                    ),
                    Separator(divider=True, spacing=SeparatorSpacing.LARGE),
                    MediaGallery([MediaGalleryItem("https://example.com/graph.png")]),
                    FileComponent("attachment://build log.txt", spoiler=True),
                ],
                accent_color=0x2ECC71,
            ),
            ActionRow([Button("Open the run", url="https://ci.example.com/builds/42")]),
        ],
        attachments=[
            FilePart("badge.png", data=b"\x89PNG-badge"),
            FilePart("build log.txt", data=b"ok\n", spoiler=True),
        ],
        flags=MessageFlags.SUPPRESS_NOTIFICATIONS,
    ),
    "action_row_links": Message(
        content="deployed v1.2.3",
        components=[
            ActionRow(
                [
                    Button("Changelog", url="https://example.com/changelog", emoji=Emoji("📜")),
                    Button("Dashboard", url="https://example.com/dash", disabled=False),
                ]
            )
        ],
    ),
    "poll": Message(
        poll=Poll(
            "Deploy on Friday?",
            ["yes", PollAnswer("no", emoji=Emoji("🙅")), PollAnswer("ask", emoji=Emoji(id=42))],
            duration=4,
            allow_multiselect=False,
            layout_type=PollLayout.DEFAULT,
        )
    ),
}


def test_golden_components_v2_uploads_every_file_it_shows() -> None:
    (only,) = plan_requests(GOLDEN_MESSAGES["components_v2"])
    assert only.with_components
    assert [f.filename for f in encode_execute(only).files] == [
        "badge.png",
        "SPOILER_build_log.txt",
    ]


def golden_bytes(name: str, message: Message) -> bytes:
    (only,) = plan_requests(message)
    body = encode_execute(only)
    data = body.json if body.json is not None else body.payload_json
    assert data is not None
    return data


@pytest.mark.parametrize("name", sorted(GOLDEN_MESSAGES))
def test_golden_json(name: str) -> None:
    actual = golden_bytes(name, GOLDEN_MESSAGES[name])
    path = GOLDEN / f"{name}.json"
    if os.environ.get("TRIO_WEBHOOK_UPDATE_GOLDEN"):
        path.write_bytes(actual + b"\n")
    assert path.read_bytes() == actual + b"\n", f"{path.name} drifted; check it by eye"


def test_golden_multipart_parts() -> None:
    (only,) = plan_requests(GOLDEN_MESSAGES["files_with_references"])
    body = encode_execute(only)
    assert [(f.field, f.filename, f.content_type) for f in body.files] == [
        ("files[0]", "coverage_graph.png", "image/png"),
        ("files[1]", "SPOILER_logo.png", "image/png"),
        ("files[2]", "report.csv", "text/csv"),
    ]


# --- multipart round trip -----------------------------------------------------------


@attrs.define
class Part:
    headers: dict[str, str] = attrs.field(factory=dict)
    data: bytearray = attrs.field(factory=bytearray)


def parse_multipart(body: EncodedBody) -> list[Part]:
    """Encode as the transport does, then parse back with python-multipart."""
    assert body.payload_json is not None
    request = httpx.Request(
        "POST",
        "https://x/api",
        files=[
            ("payload_json", (None, body.payload_json, "application/json")),
            *[(f.field, (f.filename, f.data, f.content_type)) for f in body.files],
        ],
    )
    raw = request.read()
    ctype, params = parse_options_header(request.headers["content-type"])
    assert ctype == b"multipart/form-data"
    parts: list[Part] = []
    field: list[bytes] = []
    value: list[bytes] = []

    def on_part_begin() -> None:
        parts.append(Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.append(data[start:end])

    def on_header_end() -> None:
        # Latin-1 keeps the raw bytes; filenames are UTF-8 inside them.
        name = b"".join(field).decode("latin-1").lower()
        parts[-1].headers[name] = b"".join(value).decode("latin-1")
        field.clear()
        value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data += data[start:end]

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    assert parser.write(raw) == len(raw)
    parser.finalize()
    return parts


def disposition(part: Part) -> dict[str, str]:
    kind, params = parse_options_header(part.headers["content-disposition"])
    assert kind == b"form-data"
    return {k.decode(): v.decode("utf-8") for k, v in params.items()}


def check_round_trip(body: EncodedBody) -> dict[str, Any]:
    parts = parse_multipart(body)
    assert len(parts) == 1 + len(body.files)
    first, *file_parts = parts
    assert disposition(first) == {"name": "payload_json"}
    assert first.headers["content-type"] == "application/json"
    assert bytes(first.data) == body.payload_json
    payload: dict[str, Any] = json.loads(first.data)
    new = [a for a in payload["attachments"] if "filename" in a]
    assert len(new) == len(file_parts)
    for n, (part, sent, meta) in enumerate(zip(file_parts, body.files, new, strict=True)):
        assert disposition(part) == {"name": f"files[{n}]", "filename": sent.filename}
        assert part.headers["content-type"] == sent.content_type
        assert bytes(part.data) == sent.data
        assert meta["id"] == str(n)
        assert meta["filename"] == sent.filename
    return payload


def test_round_trip_of_the_golden_files_message() -> None:
    (only,) = plan_requests(GOLDEN_MESSAGES["files_with_references"])
    payload = check_round_trip(encode_execute(only))
    assert [a.get("description") for a in payload["attachments"]] == [
        "line coverage",
        None,
        "raw numbers",
    ]


def test_hostile_filenames_come_out_safe() -> None:
    files = [
        FilePart('a"\r\nX: y.png', data=b"one"),
        FilePart("../../etc/passwd", data=b"two"),
        FilePart("C:\\evil\\x.txt", data=b"three"),
    ]
    body = encode_execute(planned(content="c", files=files))
    parts = parse_multipart(body)
    assert [disposition(p).get("filename") for p in parts[1:]] == [
        "aX:_y.png",
        "_.._etc_passwd",
        "C:_evil_x.txt",
    ]
    # No injected header survived.
    assert all(set(p.headers) == {"content-disposition", "content-type"} for p in parts)
    assert [bytes(p.data) for p in parts[1:]] == [b"one", b"two", b"three"]


def test_round_trip_of_an_edit() -> None:
    body = encode_edit(
        Message(attachments=[FilePart("n.txt", data=b"n")]), keep_attachment_ids=["99"]
    )
    payload = check_round_trip(body)
    assert payload["attachments"][0] == {"id": "99"}


@given(messages(max_embeds=12, max_files=12))
def test_every_planned_multipart_body_round_trips(message: Message) -> None:
    for request in plan_requests(message):
        body = encode_execute(request)
        if body.is_multipart:
            check_round_trip(body)
        else:
            assert body.json is not None
            assert "attachments" not in json.loads(body.json)


@given(messages(max_embeds=12, max_files=0))
def test_the_plain_path_writes_what_the_general_path_writes(message: Message) -> None:
    # Content and embeds only: encode_execute builds the JSON field by field, and it must
    # be the same bytes as through a Message and the converter (key order included).
    for request in plan_requests(message):
        if request.files:  # the strategy draws a few files even so
            continue
        body = encode_execute(request)
        assert body.json == dumps(plain_payload(request))
        assert body.json == dumps(_message_payload(request, {}))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_JSON_VALUES)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    # dumps keeps json's C encoder between calls; the bytes must be json.dumps's own.
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert dumps(value) == expected


def test_the_plain_path_takes_flags_as_an_int() -> None:
    [request] = plan_requests(
        Message(content="hi", flags=MessageFlags.SUPPRESS_EMBEDS, applied_tags=None)
    )
    assert encode_execute(request).json == b'{"content":"hi","flags":4}'
