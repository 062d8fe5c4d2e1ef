"""The relay, as a foreign tool meets it: a real relay on loopback, posted to with httpx.

FakeDiscord is served over TLS on loopback as the upstream (``RelayConfig.upstream``),
and each test asserts what the fake received: what was posted, in order, once; what was
refused never reached it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
from click.testing import CliRunner
from redis_server import RedisServer

from trio_webhook import SenderConfig
from trio_webhook.cli._commands import cli
from trio_webhook.relay import RelayConfig, RelayRefused, serve_relay
from trio_webhook.testing import FakeDiscord, FakeDiscordServer, FakeWebhook, serve_fake_discord

pytestmark = pytest.mark.tls

SECRET = "a-shared-secret-of-some-length"


@asynccontextmanager
async def running_relay(
    server: FakeDiscordServer, tmp_path: Path, **changes: Any
) -> AsyncIterator[str]:
    """A relay in this process in front of ``server``; its origin, as ``http://127.0.0.1:P``."""
    sender = changes.pop("sender", SenderConfig(outbox=str(tmp_path / "relay.db")))
    config = RelayConfig(listen="127.0.0.1:0", upstream=server.url, sender=sender, **changes)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        origin = await nursery.start(
            partial(serve_relay, config, stop, ssl_context=server.ssl_context)
        )
        try:
            yield origin
        finally:
            stop.set()


@asynccontextmanager
async def relay_in_front(
    fake: FakeDiscord, tmp_path: Path, **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """``fake`` served over TLS, a relay in front of it, and a client of the relay."""
    async with (
        serve_fake_discord(fake) as server,
        running_relay(server, tmp_path, **changes) as origin,
        httpx.AsyncClient(base_url=origin) as http,
    ):
        yield http


def path_of(hook: FakeWebhook, version: str = "") -> str:
    return f"/api{version}/webhooks/{hook.id}/{hook.token}"


async def wait_for_history(fake: FakeDiscord, hook: FakeWebhook, count: int) -> list[str]:
    """The contents in the hook's channel once it holds ``count`` messages."""
    with trio.fail_after(30):
        while len(fake.history(hook.channel_id)) < count:  # noqa: ASYNC110 -- the fake's state
            await trio.sleep(0.02)
    return [m.get("content", "") for m in fake.history(hook.channel_id)]


# ---------------------------------------------------------------------------- the API


async def test_json_form_and_multipart_posts_are_delivered(tmp_path: Path) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    async with relay_in_front(fake, tmp_path) as http:
        # 204 once committed, as Discord answers without wait; any API version.
        answer = await http.post(path_of(hook), json={"content": "json"})
        assert (answer.status_code, answer.content) == (204, b"")
        answer = await http.post(path_of(hook, "/v9"), data={"content": "form", "tts": "false"})
        assert answer.status_code == 204
        payload = {"content": "multipart", "attachments": [{"id": 0, "description": "the log"}]}
        answer = await http.post(
            path_of(hook, "/v10"),
            files=[
                ("payload_json", (None, json.dumps(payload), "application/json")),
                ("files[0]", ("build.log", b"line 1\n", "text/plain")),
            ],
        )
        assert answer.status_code == 204
        # wait=true: Discord's message, once Discord has it.
        answer = await http.post(path_of(hook), params={"wait": "true"}, json={"content": "w"})
        assert answer.status_code == 200
        sent = answer.json()
        contents = await wait_for_history(fake, hook, 4)
    assert contents == ["json", "form", "multipart", "w"]
    stored = fake.history(hook.channel_id)
    assert sent["id"] == stored[3]["id"]
    attachment = stored[2]["attachments"][0]
    assert (attachment["filename"], attachment["description"]) == ("build.log", "the log")
    assert fake.attachment_data(attachment["id"]) == b"line 1\n"
    assert {r.api_version for r in fake.requests} == {10}


async def test_components_v2_and_polls_posted_to_the_relay_arrive_whole(tmp_path: Path) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    layout = [
        {
            "type": 17,
            "accent_color": 0x2ECC71,
            "components": [
                {"type": 10, "content": "## build 42 passed"},
                {"type": 13, "file": {"url": "attachment://build.log"}},
            ],
        }
    ]
    v2 = {"flags": 1 << 15, "components": layout, "attachments": [{"id": 0}]}
    poll = {"question": {"text": "ship it?"}, "answers": [{"poll_media": {"text": "yes"}}]}
    async with relay_in_front(fake, tmp_path) as http:
        answer = await http.post(
            path_of(hook),
            params={"with_components": "true"},
            files=[
                ("payload_json", (None, json.dumps(v2), "application/json")),
                ("files[0]", ("build.log", b"ok\n", "text/plain")),
            ],
        )
        assert answer.status_code == 204
        answer = await http.post(path_of(hook), json={"poll": poll})
        assert answer.status_code == 204
        await wait_for_history(fake, hook, 2)
    stored, polled = fake.history(hook.channel_id)
    assert stored["flags"] & (1 << 15)
    (container,) = stored["components"]
    assert [c["type"] for c in container["components"]] == [10, 13]
    assert container["components"][0]["content"] == "## build 42 passed"
    assert container["components"][1]["file"]["attachment_id"] == stored["attachments"][0]["id"]
    assert polled["poll"]["question"]["text"] == "ship it?"


async def test_a_file_over_the_senders_request_budget_is_refused_with_413(tmp_path: Path) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    sender = SenderConfig(outbox=str(tmp_path / "relay.db"), max_request_bytes=8)
    async with relay_in_front(fake, tmp_path, sender=sender) as http:
        answer = await http.post(
            path_of(hook),
            files=[
                ("payload_json", (None, json.dumps({"content": "x"}), "application/json")),
                ("files[0]", ("big.bin", b"123456789", "application/octet-stream")),
            ],
        )
    # Refused up front, as Discord would: never accepted and then dead-lettered.
    assert answer.status_code == 413
    assert fake.requests == []


async def test_wait_true_hands_back_discords_error(tmp_path: Path) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    async with relay_in_front(fake, tmp_path) as http:
        fake.delete_webhook(hook)
        answer = await http.post(path_of(hook), params={"wait": "true"}, json={"content": "x"})
    assert answer.status_code == 404
    assert answer.json()["code"] == 10015


async def test_a_bad_body_gets_discords_400_with_the_errors_tree(tmp_path: Path) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    bad = {"content": "x" * 2001, "embeds": [{"title": 7}], "username": "my discord bot"}
    async with relay_in_front(fake, tmp_path) as http:
        types = await http.post(path_of(hook), json=bad)
        limits = await http.post(path_of(hook), json={"embeds": [{"title": "x" * 257}]})
        empty = await http.post(path_of(hook), json={})
        not_json = await http.post(
            path_of(hook), content=b"{nope", headers={"content-type": "application/json"}
        )
        # Keys the library does not carry are dropped, as Discord drops keys it ignores.
        lenient = await http.post(path_of(hook), json={"content": "ok", "nonce": "1"})
        await wait_for_history(fake, hook, 1)
    assert types.status_code == 400
    body = types.json()
    assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
    assert "title" in body["errors"]["embeds"]["0"]
    assert limits.status_code == 400
    title_errors = limits.json()["errors"]["embeds"]["0"]["title"]["_errors"]
    assert title_errors[0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert "256" in title_errors[0]["message"]
    assert (empty.status_code, empty.json()["code"]) == (400, 50006)
    assert (not_json.status_code, not_json.json()["code"]) == (400, 50109)
    assert lenient.status_code == 204
    # Only the lenient one was forwarded.
    assert [r.json for r in fake.requests] == [{"content": "ok"}]


async def test_json_attachments_never_read_the_relays_own_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("the relay's own file")
    fake = FakeDiscord()
    hook = fake.create_webhook()
    payload = {"content": "x", "attachments": [{"path": str(secret_file)}]}
    async with relay_in_front(fake, tmp_path) as http:
        answer = await http.post(path_of(hook), json=payload)
    assert answer.status_code == 400
    assert "attachments" in answer.json()["errors"]
    assert fake.requests == []


# ---------------------------------------------------------------------------- security


async def test_unauthorised_requests_are_refused_and_never_forwarded(tmp_path: Path) -> None:
    fake = FakeDiscord()
    allowed, other = fake.create_webhook(), fake.create_webhook()
    async with relay_in_front(fake, tmp_path, secret=SECRET, allow=[allowed.id]) as http:
        body = {"content": "hi"}
        no_secret = await http.post(path_of(allowed), json=body)
        wrong = await http.post(path_of(allowed), json=body, headers={"authorization": "Bearer x"})
        wrong_key = await http.post(path_of(allowed), json=body, params={"relay_key": "nope"})
        good = {"authorization": f"Bearer {SECRET}"}
        not_allowed = await http.post(path_of(other), json=body, headers=good)
        by_header = await http.post(path_of(allowed), json=body, headers=good)
        by_key = await http.post(path_of(allowed), json=body, params={"relay_key": SECRET})
        await wait_for_history(fake, allowed, 2)
        metrics = (await http.get("/metrics")).text
    assert [a.status_code for a in (no_secret, wrong, wrong_key)] == [401, 401, 401]
    assert not_allowed.status_code == 403
    assert (by_header.status_code, by_key.status_code) == (204, 204)
    assert len(fake.requests) == 2
    assert fake.history(other.channel_id) == []
    assert "trio_webhook_relay_refused_auth_total 4" in metrics
    assert allowed.token not in metrics
    assert SECRET not in metrics


def test_the_relay_refuses_to_start_public_without_protection() -> None:
    assert RelayConfig().refusal() is None
    assert "--public" in (RelayConfig(listen="0.0.0.0:8080").refusal() or "")
    open_proxy = RelayConfig(listen="0.0.0.0:8080", public=True).refusal()
    assert "open proxy" in (open_proxy or "")
    assert RelayConfig(listen="0.0.0.0:8080", public=True, secret=SECRET).refusal() is None
    assert RelayConfig(listen="0.0.0.0:8080", public=True, allow=["123"]).refusal() is None
    with pytest.raises(RelayRefused, match="open proxy"):
        trio.run(serve_relay, RelayConfig(listen="0.0.0.0:0", public=True), trio.Event())
    # The command says so in one line, before it binds anything.
    result = CliRunner().invoke(cli, ["relay", "--listen", "0.0.0.0:8080", "--public"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "open proxy" in lines[0]


def test_a_missing_extra_is_one_line_naming_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("hypercorn", "hypercorn.config", "hypercorn.trio"):
        monkeypatch.setitem(sys.modules, name, None)
    result = CliRunner().invoke(cli, ["relay"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "pip install 'trio-webhook[relay]'" in lines[0]


def test_the_config_reads_toml_and_the_environment(tmp_path: Path) -> None:
    toml = tmp_path / "relay.toml"
    toml.write_text(
        '[relay]\nlisten = "127.0.0.1:9090"\nallow = ["1", "2"]\n'
        '[relay.sender]\noutbox = "box.db"\nmax_attempts = 9\n'
    )
    config = RelayConfig.from_toml(toml)
    assert (config.listen, config.allow) == ("127.0.0.1:9090", ("1", "2"))
    assert (config.sender.outbox, config.sender.max_attempts) == (str(tmp_path / "box.db"), 9)
    env = {"TRIO_WEBHOOK_RELAY_SECRET": SECRET, "TRIO_WEBHOOK_RELAY_PUBLIC": "1"}
    config = RelayConfig.from_env(env, base=config)
    assert (config.secret, config.public) == (SECRET, True)
    assert SECRET not in repr(config)


# ---------------------------------------------------------------------------- delivery


async def test_pacing_under_the_bucket_and_the_hidden_channel_limit(tmp_path: Path) -> None:
    # Discord's windows at a twentieth: 5 a 0.1 s per webhook, 30 a 3 s per channel.
    fake = FakeDiscord(channel_limit=30, time_scale=0.05)
    hook = fake.create_webhook()
    sibling = fake.create_webhook(hook.channel_id)
    count = 45
    async with relay_in_front(fake, tmp_path) as http:
        answers = [
            await http.post(path_of(hook if i % 2 else sibling), json={"content": f"m{i}"})
            for i in range(count)
        ]
        contents = await wait_for_history(fake, hook, count)
    assert {a.status_code for a in answers} == {204}  # no 429 ever reaches the poster
    assert sorted(contents, key=lambda c: int(c[1:])) == [f"m{i}" for i in range(count)]
    for parity in (0, 1):  # each webhook's messages in the order posted
        own = [c for c in contents if int(c[1:]) % 2 == parity]
        assert own == sorted(own, key=lambda c: int(c[1:]))
    # The shared tracker learns the channel's limit from its first 429, for both webhooks.
    assert fake.stats().rate_limited.get("shared", 0) <= 2
    assert fake.stats().rate_limited.get("user", 0) == 0


async def test_an_outage_loses_nothing(tmp_path: Path) -> None:
    fake = FakeDiscord(seed=5, time_scale=0.05)
    hooks = [fake.create_webhook() for _ in range(3)]
    # Retries at the fake's scale too: a 30 s outage is 1.5 s here.
    sender = SenderConfig(
        outbox=str(tmp_path / "relay.db"), backoff_base=0.02, backoff_cap=0.5, max_attempts=30
    )
    async with relay_in_front(fake, tmp_path, sender=sender) as http:
        fake.fault_rate(1.0, ["server_error"])
        answers = [
            await http.post(path_of(hooks[i % 3]), json={"content": f"m{i}"}) for i in range(30)
        ]
        await trio.sleep(1.5)
        fake.fault_rate(0)
        shown = [await wait_for_history(fake, hook, 10) for hook in hooks]
        metrics = (await http.get("/metrics")).text
    assert {a.status_code for a in answers} == {204}
    for n, contents in enumerate(shown):
        assert contents == [f"m{i}" for i in range(n, 30, 3)]
    assert fake.stats().faults.get("server_error", 0) > 3
    assert "# TYPE trio_webhook_relay_dead_letters_total counter" in metrics
    assert 'dead_letters_total{webhook_id="' not in metrics  # none


async def test_a_full_queue_answers_503_with_retry_after_and_holds_no_poster(
    tmp_path: Path,
) -> None:
    # A long outage: a webhook's queue fills to its high-water mark, and the next post is
    # answered at once with 503 and Retry-After rather than held until there is room.
    fake = FakeDiscord(seed=5, time_scale=0.05)
    hook = fake.create_webhook()
    sender = SenderConfig(
        outbox=str(tmp_path / "relay.db"),
        queue_cap=1,
        high_water=4,
        backoff_base=0.02,
        backoff_cap=0.2,
        max_attempts=100,
    )
    async with relay_in_front(fake, tmp_path, sender=sender) as http:
        fake.fault_rate(1.0, ["server_error"])
        answers = []
        with trio.fail_after(10):  # none of them waits on the outage
            for i in range(12):
                answers.append(await http.post(path_of(hook), json={"content": f"m{i}"}))
        fake.fault_rate(0)
        accepted = [f"m{i}" for i, a in enumerate(answers) if a.status_code == 204]
        contents = await wait_for_history(fake, hook, len(accepted))
    refused = [a for a in answers if a.status_code != 204]
    assert refused, [a.status_code for a in answers]
    assert {a.status_code for a in refused} == {503}
    assert {a.headers["retry-after"] for a in refused} == {"5"}
    assert "full" in refused[0].json()["message"]
    # Every post answered 204 arrives once, in order; a refused one never does.
    assert 4 <= len(accepted) <= 7
    assert contents == accepted


async def test_with_redis_for_the_outbox_and_the_limits(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    fake = FakeDiscord(seed=17, time_scale=0.05)
    hook = fake.create_webhook()
    url = redis_server.url.rsplit("/", 1)[0] + "/7"  # a database of its own
    sender = SenderConfig(outbox=url, rate_limit_store=url)
    async with relay_in_front(fake, tmp_path, sender=sender) as http:
        answers = [await http.post(path_of(hook), json={"content": f"m{i}"}) for i in range(8)]
        contents = await wait_for_history(fake, hook, 8)
    assert {a.status_code for a in answers} == {204}
    assert contents == [f"m{i}" for i in range(8)]


# ---------------------------------------------------------------------------- a crash


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _start_relay_process(toml: Path, port: int, env: dict[str, str]) -> trio.Process:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trio_webhook", "relay", "--config", str(toml)],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
    )
    # Ready once its health check answers (the outbox open, the server bound).
    async with httpx.AsyncClient() as http:
        with trio.fail_after(30):
            while True:
                try:
                    health = await http.get(f"http://127.0.0.1:{port}/healthz")
                except httpx.TransportError:
                    await trio.sleep(0.05)
                else:
                    assert health.json() == {"status": "ok"}
                    return process


async def test_a_sigkilled_relay_delivers_its_backlog_after_a_restart(tmp_path: Path) -> None:
    fake = FakeDiscord(time_scale=0.05)
    hook = fake.create_webhook()
    async with serve_fake_discord(fake) as server:
        ca = tmp_path / "ca.pem"
        server.ca.cert_pem.write_to_path(str(ca))
        port = _free_port()
        toml = tmp_path / "relay.toml"
        toml.write_text(
            f'[relay]\nlisten = "127.0.0.1:{port}"\nupstream = "{server.url}"\n'
            f'ca_file = "{ca}"\n[relay.sender]\noutbox = "relay.db"\n'
        )
        # The restart is told the URL, so it delivers the backlog at once: the outbox
        # keeps webhook ids, never tokens.
        env = {"TRIO_WEBHOOK_RELAY_WEBHOOKS": server.webhook_url(hook)}
        fake.fault_rate(1.0, ["server_error"])  # nothing gets through before the kill
        process = await _start_relay_process(toml, port, {})
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            answers = [await http.post(path_of(hook), json={"content": f"m{i}"}) for i in range(10)]
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert fake.history(hook.channel_id) == []
        fake.fault_rate(0)
        process = await _start_relay_process(toml, port, env)
        try:
            contents = await wait_for_history(fake, hook, 10)
        finally:
            process.send_signal(signal.SIGTERM)
            with trio.fail_after(30):
                await process.wait()
        assert process.stderr is not None
        logs = (await process.stderr.receive_some(1 << 20)).decode()
    assert {a.status_code for a in answers} == {204}
    assert contents == [f"m{i}" for i in range(10)]
    assert process.returncode == 0, logs
    assert hook.token not in logs


async def test_shutdown_keeps_what_is_left_and_the_next_post_delivers_it(tmp_path: Path) -> None:
    fake = FakeDiscord(time_scale=0.05)
    hook = fake.create_webhook()
    outbox = str(tmp_path / "relay.db")
    impatient = SenderConfig(
        outbox=outbox, drain_timeout=0.2, backoff_base=0.05, backoff_cap=0.2, max_attempts=50
    )
    async with serve_fake_discord(fake) as server:
        fake.fault_rate(1.0, ["server_error"])
        async with (
            running_relay(server, tmp_path, sender=impatient) as origin,
            httpx.AsyncClient(base_url=origin) as http,
        ):
            for i in range(5):
                assert (
                    await http.post(path_of(hook), json={"content": f"m{i}"})
                ).status_code == 204
            metrics = (await http.get("/metrics")).text
            assert f'trio_webhook_relay_queue_depth{{webhook_id="{hook.id}"}} 5' in metrics
            assert f'oldest_pending_seconds{{webhook_id="{hook.id}"}}' in metrics
            assert hook.token not in metrics
        # Stopped during the outage: the drain deadline passed, the five stay pending.
        fake.fault_rate(0)
        assert fake.history(hook.channel_id) == []
        async with (
            running_relay(
                server, tmp_path, sender=attrs.evolve(impatient, drain_timeout=5.0)
            ) as origin,
            httpx.AsyncClient(base_url=origin) as http,
        ):
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            # Its token arrives with the next post: the backlog goes first, in order.
            assert (await http.post(path_of(hook), json={"content": "m5"})).status_code == 204
            contents = await wait_for_history(fake, hook, 6)
    assert contents == [f"m{i}" for i in range(6)]
