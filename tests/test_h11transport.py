"""H11Transport over real sockets: FakeDiscord served by hypercorn on 127.0.0.1.

TLS through trustme certificates (``serve_fake_discord``). These tests assert outcomes
(statuses, kinds, what the server saw), never durations. Every test runs on both codecs
(the autouse ``codec`` fixture makes ``H11Transport`` here build with each).
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import sys
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, cast

import attrs
import pytest
import trio

from trio_webhook import FilePart, Message, TransportError
from trio_webhook._client import WebhookClient
from trio_webhook.testing import (
    FakeDiscord,
    FakeDiscordServer,
    FakeWebhook,
    FaultKind,
    serve_fake_discord,
)
from trio_webhook.transport import DEFAULT_USER_AGENT
from trio_webhook.transport._h11 import H11Transport
from trio_webhook.transport._values import HTTPRequest, MultipartFile
from trio_webhook.transport._wire import Codec

pytestmark = pytest.mark.tls

_H11Transport = H11Transport


@pytest.fixture(autouse=True, params=["lean", "h11"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Codec:
    codec: Codec = request.param
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "H11Transport", functools.partial(_H11Transport, codec=codec))
    return codec


@attrs.define
class Recorder:
    """An ASGI app in front of the fake: records each request's client port and headers.

    With ``close`` set, every answer carries ``Connection: close``.
    """

    fake: FakeDiscord
    close: bool = False
    ports: list[int] = attrs.Factory(list)
    headers: list[dict[str, str]] = attrs.Factory(list)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.fake(scope, receive, send)
            return
        self.ports.append(scope["client"][1])
        self.headers.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})

        async def send_closing(message: Any) -> None:
            if self.close and message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"connection", b"close")]}
            await send(message)

        await self.fake(scope, receive, send_closing)


@asynccontextmanager
async def serve(app: Any, *, tls: bool = True, port: int = 0) -> AsyncIterator[FakeDiscordServer]:
    async with serve_fake_discord(cast(FakeDiscord, app), tls=tls, port=port) as server:
        yield server


def transport_for(server: FakeDiscordServer, **kwargs: Any) -> H11Transport:
    kwargs.setdefault("ssl_context", server.ssl_context)
    return H11Transport(server.url + "/api/v10", **kwargs)


def execute_request(hook: FakeWebhook, body: bytes = b'{"content":"hi"}') -> HTTPRequest:
    return HTTPRequest(
        method="POST",
        path=f"/webhooks/{hook.id}/{hook.token}",
        route=f"POST /webhooks/{hook.id}/***",
        query=(("wait", "true"),),
        json=body,
    )


def assert_no_token(exc: BaseException, hook: FakeWebhook) -> None:
    assert hook.token not in str(exc)
    assert hook.token not in repr(exc)
    assert hook.token not in repr(vars(exc))


# --- answers ----------------------------------------------------------------------------------


async def test_json_post_over_tls_with_discords_headers(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    recorder = Recorder(fake_discord)
    async with serve(recorder) as server, transport_for(server) as transport:
        response = await transport.send(execute_request(fake_webhook))
    assert response.status == 200
    assert response.parsed["content"] == "hi"
    assert response.headers["x-ratelimit-limit"] == "5"
    assert response.headers["content-type"] == "application/json"
    [seen] = recorder.headers
    assert seen["user-agent"] == DEFAULT_USER_AGENT
    assert seen["accept-encoding"] == "identity"
    assert seen["content-type"] == "application/json"
    assert seen["host"] == server.url.removeprefix("https://")
    [request] = fake_discord.requests
    assert (request.method, request.api_version, dict(request.query)) == (
        "POST",
        10,
        {"wait": "true"},
    )
    assert request.json == {"content": "hi"}


async def test_multipart_files_arrive_intact(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    big = bytes(range(256)) * 1024  # 256 KiB: written in slices
    request = attrs.evolve(
        execute_request(fake_webhook),
        json=None,
        payload_json=b'{"content":"files","attachments":[{"id":"0"},{"id":"1"}]}',
        files=(
            MultipartFile("files[0]", "a.txt", b"alpha", "text/plain"),
            MultipartFile("files[1]", "big.bin", big, "application/octet-stream"),
        ),
    )
    recorder = Recorder(fake_discord)
    async with serve(recorder) as server, transport_for(server) as transport:
        response = await transport.send(request)
    assert response.status == 200, response.body
    attachments = response.parsed["attachments"]
    assert [a["filename"] for a in attachments] == ["a.txt", "big.bin"]
    assert fake_discord.attachment_data(attachments[0]["id"]) == b"alpha"
    assert fake_discord.attachment_data(attachments[1]["id"]) == big
    assert recorder.headers[0]["content-type"].startswith("multipart/form-data; boundary=")
    assert fake_discord.requests[0].json["content"] == "files"


async def test_a_429_comes_back_with_its_headers(fake_webhook: FakeWebhook) -> None:
    fake = FakeDiscord(seed=0, bucket_limit=1)
    hook = fake.create_webhook()
    async with serve(fake) as server, transport_for(server) as transport:
        assert (await transport.send(execute_request(hook))).status == 200
        limited = await transport.send(execute_request(hook))
    assert limited.status == 429
    assert float(limited.headers["retry-after"]) > 0
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert "x-ratelimit-bucket" in limited.headers
    assert limited.parsed["retry_after"] > 0


async def test_get_patch_delete_through_the_client(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    async with serve(fake_discord) as server:
        url = server.webhook_url(fake_webhook)
        transport = transport_for(server)
        async with WebhookClient(url, transport=transport, rng=random.Random(0)) as client:
            files = [FilePart("a.txt", data=b"alpha")]
            sent = (await client.execute(Message(content="one", attachments=files))).messages[0]
            edited = await client.edit_message(sent.id, Message(content="two"))
            assert edited.raw["content"] == "two"
            assert (await client.get_message(sent.id)).raw["content"] == "two"
            await client.delete_message(sent.id)
    assert [r.method for r in fake_discord.requests] == ["POST", "PATCH", "GET", "DELETE"]
    assert [r.status for r in fake_discord.requests] == [200, 200, 200, 204]
    assert fake_discord.history(fake_webhook.channel_id) == []


async def test_a_body_past_the_bound_is_too_large(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    async with serve(fake_discord) as server, transport_for(server, max_response_bytes=100) as t:
        with pytest.raises(TransportError) as info:
            await t.send(execute_request(fake_webhook))
        # The oversized answer's connection is dropped; the next request is served.
        assert (await t.send(execute_request(fake_webhook, b"{}"))).status == 400
    assert info.value.kind == "too_large"
    assert info.value.ambiguous
    assert "100 bytes" in str(info.value)
    assert_no_token(info.value, fake_webhook)


async def test_a_redirect_is_returned_not_followed(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    async def redirect(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await fake_discord(scope, receive, send)
            return
        headers = [(b"location", b"https://127.0.0.1:1/elsewhere")]
        await send({"type": "http.response.start", "status": 307, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async with serve(redirect) as server, transport_for(server) as transport:
        response = await transport.send(execute_request(fake_webhook))
    assert response.status == 307
    assert response.headers["location"] == "https://127.0.0.1:1/elsewhere"


async def test_a_chunked_answer_in_pieces_is_read_whole(fake_webhook: FakeWebhook) -> None:
    # No Content-Length and several body messages: hypercorn sends it chunked.
    async def chunks(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"application/json"), (b"x-ratelimit-limit", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for piece in (b'{"id": "1", ', b'"content": ', b'"in pieces"}'):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    fake = FakeDiscord(seed=0)
    async with serve(_Lifespan(fake, chunks)) as server, transport_for(server) as transport:
        for _ in range(2):  # twice: the connection is left fit for the next request
            response = await transport.send(execute_request(fake_webhook))
            assert response.parsed == {"id": "1", "content": "in pieces"}
            assert response.headers["transfer-encoding"] == "chunked"
            assert "content-length" not in response.headers


@attrs.define
class _Lifespan:
    """An ASGI app: lifespan through the fake (hypercorn needs it), HTTP through ``app``."""

    fake: FakeDiscord
    app: Any

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await (self.fake if scope["type"] == "lifespan" else self.app)(scope, receive, send)


# --- connections ------------------------------------------------------------------------------


async def test_connections_are_kept_alive_and_reused(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    recorder = Recorder(fake_discord)
    async with serve(recorder) as server, transport_for(server) as transport:
        for _ in range(5):
            assert (await transport.send(execute_request(fake_webhook))).status in (200, 429)
    assert len(recorder.ports) == 5
    assert len(set(recorder.ports)) == 1


async def test_concurrent_requests_use_several_connections(
    fake_discord: FakeDiscord,
) -> None:
    hooks = [fake_discord.create_webhook() for _ in range(4)]
    recorder = Recorder(fake_discord)
    statuses: list[int] = []
    async with serve(recorder) as server, transport_for(server) as transport:

        async def one(hook: FakeWebhook) -> None:
            for _ in range(3):
                statuses.append((await transport.send(execute_request(hook))).status)

        async with trio.open_nursery() as nursery:
            for hook in hooks:
                nursery.start_soon(one, hook)
    assert statuses == [200] * 12
    assert 1 < len(set(recorder.ports)) <= 4


async def test_connection_close_from_the_server_is_honoured(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    recorder = Recorder(fake_discord, close=True)
    async with serve(recorder) as server, transport_for(server) as transport:
        for _ in range(3):
            assert (await transport.send(execute_request(fake_webhook))).status == 200
    assert len(set(recorder.ports)) == 3


async def test_a_connection_the_server_closed_while_idle_is_replaced(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    # The server goes away between two requests and comes back on the same port (with a
    # new CA, trusted by the same context): the pooled connection is dead, and the next
    # request goes out once, on a fresh connection, without an error.
    context = ssl.create_default_context()
    recorder = Recorder(fake_discord)
    async with serve(recorder) as first:
        first.ca.configure_trust(context)
        port = int(first.url.rsplit(":", 1)[1])
        transport = H11Transport(first.url + "/api/v10", ssl_context=context)
        assert (await transport.send(execute_request(fake_webhook))).status == 200
    async with serve(recorder, port=port) as second:
        second.ca.configure_trust(context)
        async with transport:
            assert (await transport.send(execute_request(fake_webhook))).status == 200
    assert len(fake_discord.history(fake_webhook.channel_id)) == 2
    assert len(recorder.ports) == 2
    assert recorder.ports[0] != recorder.ports[1]


async def _answer_once_then_close(
    stream: trio.SocketStream, answered: list[int], closed: trio.Event
) -> None:
    """Read one request, answer it keeping the connection alive, then close it anyway."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive_some(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += await stream.receive_some(65536)
    answered.append(len(answered))
    reply = b'{"id":"%d"}' % len(answered)
    await stream.send_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(reply), reply)
    )
    # As a server whose keep-alive timeout fires right after the answer.
    await stream.aclose()
    closed.set()


async def test_a_request_on_a_connection_closed_just_after_its_answer_goes_out_again(
    fake_webhook: FakeWebhook,
) -> None:
    # A connection idle for less than POLL_AFTER_IDLE is reused without a readability
    # poll. The server closed this one after answering: the next request's answer ends
    # before its first byte, and the request goes out once more, on a fresh connection,
    # without an error.
    answered: list[int] = []
    closed = [trio.Event(), trio.Event()]
    async with trio.open_nursery() as nursery:
        [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listener.socket.getsockname()[1]

        async def serve_two() -> None:
            async with listener:
                for event in closed:
                    stream = await listener.accept()
                    nursery.start_soon(_answer_once_then_close, stream, answered, event)

        nursery.start_soon(serve_two)
        async with H11Transport(f"http://127.0.0.1:{port}/api/v10") as transport:
            first = await transport.send(execute_request(fake_webhook))
            await closed[0].wait()
            second = await transport.send(execute_request(fake_webhook))
    assert (first.status, first.parsed, second.status, second.parsed) == (
        200,
        {"id": "1"},
        200,
        {"id": "2"},
    )
    assert answered == [0, 1]


async def test_a_cancelled_request_leaves_the_transport_usable(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.inject(FaultKind.DELAY, delay=30.0)
    async with serve(fake_discord) as server, transport_for(server) as transport:
        with trio.move_on_after(0.2) as scope:
            await transport.send(execute_request(fake_webhook))
        assert scope.cancelled_caught
        assert (await transport.send(execute_request(fake_webhook))).status == 200


@pytest.mark.parametrize("tls", [True, False])
async def test_a_request_cancelled_before_it_starts_is_never_sent(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook, tls: bool
) -> None:
    # On a kept-alive connection the write never has to wait, so only the checkpoint at
    # the start stops it: a sender cancelled at shutdown must not post one more message.
    async with serve(fake_discord, tls=tls) as server, transport_for(server) as transport:
        assert (await transport.send(execute_request(fake_webhook))).status == 200
        with trio.CancelScope() as scope:
            scope.cancel()
            await transport.send(execute_request(fake_webhook))
        assert scope.cancelled_caught
        assert (await transport.send(execute_request(fake_webhook))).status == 200
    assert len(fake_discord.requests) == 2


async def test_plain_http_to_loopback(fake_discord: FakeDiscord, fake_webhook: FakeWebhook) -> None:
    async with serve(fake_discord, tls=False) as server:
        assert server.url.startswith("http://127.0.0.1:")
        async with H11Transport(server.url + "/api/v10") as transport:
            assert (await transport.send(execute_request(fake_webhook))).status == 200


# --- failures ---------------------------------------------------------------------------------


async def test_connection_refused_is_a_safe_connect_error(fake_webhook: FakeWebhook) -> None:
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with H11Transport(f"http://127.0.0.1:{port}/api/v10") as transport:
        with pytest.raises(TransportError) as info:
            await transport.send(execute_request(fake_webhook))
    assert info.value.kind == "connect"
    assert not info.value.ambiguous
    assert info.value.route == f"POST /webhooks/{fake_webhook.id}/***"
    assert_no_token(info.value, fake_webhook)


async def test_a_handshake_that_never_completes_is_a_connect_timeout(
    fake_webhook: FakeWebhook,
) -> None:
    # A listener that never accepts: TCP connects (the kernel's backlog), TLS never starts.
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    try:
        transport = H11Transport(f"https://127.0.0.1:{port}/api/v10", connect_timeout=0.2)
        async with transport:
            with pytest.raises(TransportError) as info:
                await transport.send(execute_request(fake_webhook))
    finally:
        for listener in listeners:
            await listener.aclose()
    assert info.value.kind == "connect_timeout"
    assert not info.value.ambiguous
    assert_no_token(info.value, fake_webhook)


async def test_a_slow_answer_is_an_ambiguous_read_timeout(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.inject(FaultKind.DELAY, delay=30.0)
    async with serve(fake_discord) as server, transport_for(server, total_timeout=0.3) as t:
        with pytest.raises(TransportError) as info:
            await t.send(execute_request(fake_webhook))
    assert info.value.kind == "read_timeout"
    assert info.value.ambiguous
    assert_no_token(info.value, fake_webhook)


async def test_a_dropped_answer_is_an_ambiguous_protocol_error(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.inject(FaultKind.DROP)
    async with serve(fake_discord) as server, transport_for(server) as transport:
        with pytest.raises(TransportError) as info:
            await transport.send(execute_request(fake_webhook))
        assert (await transport.send(execute_request(fake_webhook))).status == 200
    assert info.value.kind == "protocol"
    assert info.value.ambiguous
    assert_no_token(info.value, fake_webhook)


async def test_without_the_ca_the_certificate_is_refused(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    async with serve(fake_discord) as server, H11Transport(server.url + "/api/v10") as t:
        with pytest.raises(TransportError) as info:
            await t.send(execute_request(fake_webhook))
    assert info.value.kind == "tls"
    assert not info.value.ambiguous
    assert "certificate" in str(info.value)
    assert fake_discord.requests == []
    assert_no_token(info.value, fake_webhook)


async def test_no_token_in_any_log_record(
    caplog: pytest.LogCaptureFixture, fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_discord.inject(FaultKind.DROP)
    async with serve(fake_discord) as server, transport_for(server) as transport:
        with pytest.raises(TransportError):
            await transport.send(execute_request(fake_webhook))
        assert (await transport.send(execute_request(fake_webhook))).status == 200
    assert all(fake_webhook.token not in record.getMessage() for record in caplog.records)


async def test_a_closed_transport_refuses_to_send(fake_webhook: FakeWebhook) -> None:
    transport = H11Transport("http://127.0.0.1:9/api/v10")
    await transport.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await transport.send(execute_request(fake_webhook))


@pytest.mark.parametrize(
    "api_base",
    [
        "http://discord.com/api/v10",
        "ftp://127.0.0.1/api/v10",
        "https:///api/v10",
        "https://user:pw@discord.com/api/v10",
    ],
)
def test_only_https_or_loopback_http(api_base: str) -> None:
    with pytest.raises(ValueError, match=r"api_base|loopback"):
        H11Transport(api_base)


def test_the_lean_codec_is_the_default_and_h11_the_fallback(codec: Codec) -> None:
    assert _H11Transport("https://discord.com/api/v10").codec == "lean"
    assert H11Transport("https://discord.com/api/v10").codec == codec
    with pytest.raises(ValueError, match="codec must be 'lean' or 'h11'"):
        _H11Transport("https://discord.com/api/v10", codec=cast(Codec, "http2"))


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        H11Transport("https://discord.com/api/v10", connect_timeout=0)
    with pytest.raises(ValueError, match="positive"):
        H11Transport("https://discord.com/api/v10", total_timeout=-1)
    with pytest.raises(ValueError, match="max_connections"):
        H11Transport("https://discord.com/api/v10", max_connections=0)
