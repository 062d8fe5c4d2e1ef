"""HttpxTransport: what reaches the wire, and how every failure is mapped.

Most answers come from FakeDiscord. A few answers Discord's edge can give but the fake
does not (redirects, 403 bans, oversized or undecodable bodies) come from ``Edge``: a tiny
ASGI app in front of the fake that answers what it is told and records the raw headers.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import AsyncIterator, MutableMapping
from typing import Any, cast

import attrs
import httpx
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook import DiscordHTTPError, FilePart, Message, TransportError
from trio_webhook._client import WebhookClient
from trio_webhook._outcome import Permanent, classify
from trio_webhook._version import __version__
from trio_webhook.errors import Forbidden, PayloadTooLarge
from trio_webhook.testing import FakeDiscord, FakeWebhook, FaultKind
from trio_webhook.transport import DEFAULT_USER_AGENT, HttpxTransport
from trio_webhook.transport._multipart import multipart_body
from trio_webhook.transport._values import (
    HTTPRequest,
    HTTPResponse,
    MultipartFile,
    parse_json,
    top_level_fields,
)


@attrs.frozen
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@attrs.define
class Edge:
    """Answers from ``script`` first, then passes requests on to the fake."""

    fake: FakeDiscord
    script: list[Answer] = attrs.Factory(list)
    seen: list[dict[str, str]] = attrs.Factory(list)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.seen.append({**headers, ":path": scope["path"]})
            if self.script:
                answer = self.script.pop(0)
                while (await receive()).get("more_body", False):
                    pass
                raw = [(k.encode(), v.encode()) for k, v in answer.headers]
                await send({"type": "http.response.start", "status": answer.status, "headers": raw})
                await send({"type": "http.response.body", "body": answer.body})
                return
        await self.fake(scope, receive, send)

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=cast(Any, self))


@pytest.fixture
def edge(fake_discord: FakeDiscord) -> Edge:
    return Edge(fake_discord)


def client_for(
    hook: FakeWebhook, transport: httpx.AsyncBaseTransport, **kwargs: Any
) -> WebhookClient:
    # An httpx-level server (an ASGI app, or the fake's) behind our httpx transport.
    base = hook.url.split("/api/")[0]
    wrapped = HttpxTransport(f"{base}/api/v10", httpx_transport=transport, **kwargs)
    return WebhookClient(hook.url, transport=wrapped, rng=random.Random(0))


@pytest.fixture
async def transport(fake_discord: FakeDiscord) -> AsyncIterator[HttpxTransport]:
    async with HttpxTransport(
        "https://discord.test/api/v10", httpx_transport=fake_discord.httpx_transport()
    ) as t:
        yield t


def execute_request(hook: FakeWebhook, body: bytes = b'{"content":"hi"}') -> HTTPRequest:
    return HTTPRequest(
        method="POST",
        path=f"/webhooks/{hook.id}/{hook.token}",
        route=f"POST /webhooks/{hook.id}/***",
        query=(("wait", "true"),),
        json=body,
    )


# --- What goes on the wire ------------------------------------------------------------------


async def test_user_agent_has_discords_required_form(edge: Edge, fake_webhook: FakeWebhook) -> None:
    async with client_for(fake_webhook, edge.transport()) as client:
        await client.execute(Message(content="ua"))
    agent = edge.seen[0]["user-agent"]
    match = re.fullmatch(r"DiscordBot \((https://[^,\s]+), ([^)\s]+)\)( .*)?", agent)
    assert match is not None, agent
    assert match[2] == __version__
    assert agent == DEFAULT_USER_AGENT


async def test_build_request_targets_v10_with_user_agent_and_multipart_parts(
    fake_webhook: FakeWebhook,
) -> None:
    transport = HttpxTransport("https://discord.test/api/v10/")
    request = attrs.evolve(
        execute_request(fake_webhook),
        json=None,
        payload_json=b'{"attachments":[{"id":"0","filename":"a.txt"}]}',
        files=(MultipartFile("files[0]", "a.txt", b"abc", "text/plain"),),
    )
    built = transport.build_request(request)
    assert str(built.url) == (
        f"https://discord.test/api/v10/webhooks/{fake_webhook.id}/{fake_webhook.token}?wait=true"
    )
    assert built.headers["user-agent"] == DEFAULT_USER_AGENT
    assert built.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = await built.aread()
    assert b'name="payload_json"\r\nContent-Type: application/json' in body
    assert b'name="files[0]"; filename="a.txt"' in body


def httpx_reference(request: HTTPRequest, boundary: bytes) -> tuple[str, bytes]:
    """What httpx's own encoder writes for ``request`` (the reference we match)."""
    files: list[tuple[str, tuple[str | None, bytes, str]]] = []
    if request.payload_json is not None:
        files.append(("payload_json", (None, request.payload_json, "application/json")))
    files.extend((f.field, (f.filename, f.data, f.content_type)) for f in request.files)
    content_type = f"multipart/form-data; boundary={boundary.decode()}"
    built = httpx.Request(
        "POST", "https://discord.invalid/", files=files, headers={"Content-Type": content_type}
    )
    return built.headers["content-type"], built.read()


def test_multipart_body_is_httpx_encoding_without_copying_files(
    fake_webhook: FakeWebhook,
) -> None:
    data = b"\x00\x01" * 1000
    request = attrs.evolve(
        execute_request(fake_webhook),
        json=None,
        payload_json=b'{"attachments":[{"id":"0","filename":"a.bin"}]}',
        files=(MultipartFile("files[0]", "a.bin", data, "application/octet-stream"),),
    )
    content_type, chunks = multipart_body(request, boundary=b"b0undary")
    assert any(chunk is data for chunk in chunks)  # the caller's bytes, not a copy
    assert (content_type, b"".join(chunks)) == httpx_reference(request, b"b0undary")
    random_type, _ = multipart_body(request)
    assert random_type.startswith("multipart/form-data; boundary=")


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=20)), min_size=1, max_size=3
    ),
    st.none() | st.binary(max_size=30),
)
def test_multipart_body_matches_httpx_for_any_filename(
    files: list[tuple[str, bytes]], payload: bytes | None
) -> None:
    request = HTTPRequest(
        "POST",
        "/webhooks/1/t",
        "POST /webhooks/1/***",
        payload_json=payload,
        files=tuple(
            MultipartFile(f"files[{i}]", name, data, "text/plain")
            for i, (name, data) in enumerate(files)
        ),
    )
    content_type, chunks = multipart_body(request, boundary=b"fixed")
    assert (content_type, b"".join(chunks)) == httpx_reference(request, b"fixed")


async def test_json_body_is_sent_as_application_json(
    transport: HttpxTransport, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    response = await transport.send(execute_request(fake_webhook))
    assert response.status == 200
    assert response.headers["x-ratelimit-limit"] == "5"  # header names are lower-cased
    assert fake_discord.requests[0].json == {"content": "hi"}


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        HttpxTransport("https://discord.test/api/v10", connect_timeout=0)
    with pytest.raises(ValueError, match="positive"):
        HttpxTransport("https://discord.test/api/v10", total_timeout=-1)


# --- Answers that are not a plain success ------------------------------------------------------


async def test_redirects_are_not_followed_and_are_permanent(
    edge: Edge, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    location = fake_webhook.url.replace("/api/", "/api/v10/")
    edge.script.append(Answer(301, (("location", location),), b"moved"))
    async with client_for(fake_webhook, edge.transport()) as client:
        with pytest.raises(DiscordHTTPError) as info:
            await client.execute(Message(content="x"))
    assert info.value.status == 301
    assert len(edge.seen) == 1
    assert fake_discord.requests == []  # the redirect target was never called
    assert client.dead is None


async def test_a_redirect_reaches_the_caller_of_send_as_is(
    edge: Edge, fake_webhook: FakeWebhook
) -> None:
    edge.script.append(Answer(307, (("location", "https://elsewhere.test/"),)))
    async with HttpxTransport(
        "https://discord.test/api/v10", httpx_transport=edge.transport()
    ) as t:
        response = await t.send(execute_request(fake_webhook))
    assert response.status == 307
    assert response.headers["location"] == "https://elsewhere.test/"
    assert isinstance(classify(response), Permanent)


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (
            Answer(
                403,
                (("content-type", "application/json"),),
                b'{"message": "Missing Permissions", "code": 50013}',
            ),
            50013,
        ),
        (Answer(403, (("content-type", "text/html"),), b"<html>error 1015: banned</html>"), 0),
    ],
)
async def test_403_is_forbidden_permanent_and_leaves_the_webhook_alive(
    edge: Edge, fake_discord: FakeDiscord, fake_webhook: FakeWebhook, answer: Answer, code: int
) -> None:
    edge.script.append(answer)
    async with client_for(fake_webhook, edge.transport()) as client:
        with pytest.raises(Forbidden) as info:
            await client.execute(Message(content="x"))
        assert info.value.code == code
        assert info.value.text  # Discord's message, or an excerpt of the HTML
        assert client.dead is None
        assert len(edge.seen) == 1
        assert (await client.execute(Message(content="later"))).id is not None


async def test_413_from_discord_is_payload_too_large(fake_webhook: FakeWebhook) -> None:
    fake = FakeDiscord(max_upload_bytes=10)
    hook = fake.create_webhook()
    async with client_for(hook, fake.httpx_transport()) as client:
        with pytest.raises(PayloadTooLarge) as info:
            await client.execute(Message(attachments=[FilePart("big.bin", data=b"x" * 11)]))
    assert (info.value.status, info.value.code) == (413, 40005)
    assert len(fake.requests) == 1


async def test_a_body_past_the_bound_is_too_large_and_not_retried(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    async with client_for(
        fake_webhook, fake_discord.httpx_transport(), max_response_bytes=100
    ) as client:
        with pytest.raises(TransportError) as info:
            await client.execute(Message(content="x"))
    assert info.value.kind == "too_large"
    assert "100 bytes" in str(info.value)
    assert len(fake_discord.requests) == 1


async def test_the_default_bound_is_one_mebibyte(edge: Edge, fake_webhook: FakeWebhook) -> None:
    edge.script.append(Answer(200, (), b"x" * (1024 * 1024)))
    edge.script.append(Answer(200, (), b"x" * (1024 * 1024 + 1)))
    async with HttpxTransport(
        "https://discord.test/api/v10", httpx_transport=edge.transport()
    ) as t:
        assert len((await t.send(execute_request(fake_webhook))).body) == 1024 * 1024
        with pytest.raises(TransportError) as info:
            await t.send(execute_request(fake_webhook))
    assert info.value.kind == "too_large"


async def test_dropped_connection_is_an_ambiguous_protocol_error(
    transport: HttpxTransport, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.inject(FaultKind.DROP)
    with pytest.raises(TransportError) as info:
        await transport.send(execute_request(fake_webhook))
    assert info.value.kind == "protocol"
    assert info.value.ambiguous
    assert info.value.route == f"POST /webhooks/{fake_webhook.id}/***"


async def test_bodies_are_read_raw_so_a_corrupt_encoding_cannot_escape_as_httpx_errors(
    edge: Edge, fake_webhook: FakeWebhook
) -> None:
    # The transport asks for no compression; a server that compresses anyway is not
    # decoded, and its answer is not JSON: a clear, ambiguous protocol error.
    edge.script.append(Answer(200, (("content-encoding", "gzip"),), b"not gzip at all"))
    edge.script.append(Answer(200, (("content-encoding", "gzip"),), gzip.compress(b'{"id":"1"}')))
    async with client_for(fake_webhook, edge.transport()) as client:
        for _ in range(2):
            with pytest.raises(TransportError) as info:
                await client.execute(Message(content="x"))
            assert info.value.kind == "protocol"
            assert info.value.ambiguous
    assert all(seen["accept-encoding"] == "identity" for seen in edge.seen)
    assert len(edge.seen) == 2


async def test_slow_answer_is_an_ambiguous_read_timeout(
    autojump_clock: trio.testing.MockClock, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.inject(FaultKind.DELAY, delay=30.0)
    async with HttpxTransport(
        "https://discord.test/api/v10",
        httpx_transport=fake_discord.httpx_transport(),
        total_timeout=4.0,
    ) as t:
        with pytest.raises(TransportError) as info:
            await t.send(execute_request(fake_webhook))
    assert info.value.kind == "read_timeout"
    assert info.value.ambiguous
    assert trio.current_time() == 4.0


async def test_connection_refused_is_a_safe_connect_error() -> None:
    # A port nothing listens on: bind one, then close it.
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with HttpxTransport(f"http://127.0.0.1:{port}/api/v10") as t:
        with pytest.raises(TransportError) as info:
            await t.send(
                HTTPRequest(method="GET", path="/webhooks/1/tok", route="GET /webhooks/1/***")
            )
    assert info.value.kind == "connect"
    assert not info.value.ambiguous


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON, st.booleans())
def test_an_answer_is_read_as_utf8_json_with_or_without_a_byte_order_mark(
    value: Any, bom: bool
) -> None:
    body = (b"\xef\xbb\xbf" if bom else b"") + json.dumps(value, ensure_ascii=False).encode()
    assert HTTPResponse(200, {}, body).parsed == value


@given(st.binary(max_size=64))
def test_any_body_parses_as_utf8_sig_json_would_or_is_none(body: bytes) -> None:
    try:
        expected = json.loads(body.decode("utf-8-sig"))
    except ValueError:
        expected = None
    assert repr(parse_json(body)) == repr(expected)  # repr: "NaN" parses to a nan


_KEYS = st.sampled_from(["id", "channel_id", "type", "author", "embeds", "x"])


@given(
    st.dictionaries(_KEYS | st.text(max_size=3), _JSON, max_size=6),
    st.sets(_KEYS, max_size=3),
    st.sampled_from([None, 2]),
    st.booleans(),
)
def test_the_members_read_of_an_answer_are_json_loads_members(
    obj: dict[str, Any], keys: set[str], indent: int | None, bom: bool
) -> None:
    # Only as far as the keys, but the same values json.loads reads, whatever the spacing.
    body = (b"\xef\xbb\xbf" if bom else b"") + json.dumps(obj, indent=indent).encode()
    assert top_level_fields(body, keys) == {k: obj[k] for k in keys if k in obj}


@given(st.binary(max_size=80) | _JSON.map(lambda v: json.dumps(v).encode()), st.sets(_KEYS))
def test_a_body_that_is_no_closed_object_reads_as_none_and_nothing_raises(
    body: bytes, keys: set[str]
) -> None:
    found = top_level_fields(body, keys)
    stripped = body.strip(b" \t\n\r")
    if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
        assert found is None
    whole = parse_json(body)
    if isinstance(whole, dict) and not _repeats_a_key(body):
        assert found == {k: whole[k] for k in keys if k in whole}


def _repeats_a_key(body: bytes) -> bool:
    # Where an object repeats a key, json.loads keeps the last and the walk the first.
    repeats = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeats
        repeats = repeats or len({k for k, _ in items}) < len(items)
        return dict(items)

    json.loads(body.decode("utf-8-sig"), object_pairs_hook=pairs)
    return repeats


# Keys and strings that look like a wanted member's "key": without being one.
_TRICKY_TEXT = st.sampled_from(
    ['"channel_id":', '\\"channel_id\\":', "{", "}", "[", "\\", '\\"', '"id": 1', ""]
)
_TRICKY_KEYS = _KEYS | st.sampled_from(['a"channel_id', 'channel_id"', "\\", '\\"id', "{"])
_TRICKY_JSON = st.recursive(
    st.none() | st.integers() | _TRICKY_TEXT | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY_KEYS, inner, max_size=3),
    max_leaves=6,
)


@given(
    st.dictionaries(_TRICKY_KEYS, _TRICKY_JSON, max_size=6),
    st.sets(_KEYS, max_size=3),
    st.sampled_from([(",", ":"), (", ", ": "), (",", " : ")]),
)
def test_members_found_before_any_nesting_are_the_top_level_ones(
    obj: dict[str, Any], keys: set[str], separators: tuple[str, str]
) -> None:
    """The shortcut by ``"key":`` never takes a nested or quoted look-alike for the member."""
    body = json.dumps(obj, separators=separators).encode()
    assert top_level_fields(body, keys) == {k: obj[k] for k in keys if k in obj}


def test_an_escaped_quote_before_a_key_name_is_no_member() -> None:
    lookalike = json.dumps({'a"channel_id': "x", "channel_id": "7"}).encode()
    assert lookalike.startswith(b'{"a\\"channel_id": "x"')
    assert top_level_fields(lookalike, {"channel_id"}) == {"channel_id": "7"}
    assert top_level_fields(b'{"a\\"channel_id": "x"}', {"channel_id"}) == {}
    quoted = json.dumps({"content": '"channel_id": "9"', "channel_id": "7"}).encode()
    assert top_level_fields(quoted, {"channel_id"}) == {"channel_id": "7"}


def test_a_deep_answer_gives_its_leading_plain_members_only() -> None:
    deep = b"[" * 100 + b"]" * 100
    body = b'{"channel_id": "7", "id": "1", "embeds": ' + deep + b"}"
    assert top_level_fields(body, {"channel_id", "id"}) == {"channel_id": "7", "id": "1"}
    assert top_level_fields(body, {"channel_id", "embeds"}) is None  # too deep to walk
    nested_first = b'{"embeds": [' + deep + b'], "channel_id": "7"}'
    assert top_level_fields(nested_first, {"channel_id"}) is None


def test_a_cut_or_broken_answer_is_not_taken_for_a_message() -> None:
    assert top_level_fields(b'{"id": "12', {"id"}) is None
    assert top_level_fields(b'{"id" "1"}', {"id"}) is None
    assert top_level_fields(b"<html>{}</html>", {"id"}) is None
    assert top_level_fields(b'["id"]', ()) is None
    assert top_level_fields(b"{" * 100 + b"}" * 100, {"id"}) is None  # too deep to read
    assert top_level_fields(b' {"a": [1, {"id": 2}], "id" : "9"} ', {"id"}) == {"id": "9"}
