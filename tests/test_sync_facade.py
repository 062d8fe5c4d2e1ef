"""trio_webhook.sync: blocking senders and clients over the facade's background trio loop.

These tests are plain (sync) functions: the facade runs its own trio loop in a thread,
so they run on the real clock, through FakeDiscord's in-process transport or served on
loopback. Each keeps its waits short.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import trio

import trio_webhook.sync
from trio_webhook import DeliveryFailed, Embed, FilePart, Message, SenderConfig, ValidationError
from trio_webhook.deadletter import MemorySink
from trio_webhook.errors import WebhookNotFound
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.testing import FakeDiscord, FakeDiscordServer, FakeWebhook

pytest_plugins = ["facade_fixtures"]

ROOT = Path(__file__).resolve().parent.parent


def run_script(script: str, url: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a new interpreter that imports this checkout.

    The script finds ``url`` and ``sender``, a sync sender to it, already made.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    opening = (
        "import os, sys, trio_webhook.sync\nfrom trio_webhook import Message\n"
        f"url = {url!r}\nsender = trio_webhook.sync.open_webhook_sender(url)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", opening + script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def unpaced() -> RateLimitTracker:
    # Without the global pacing (50 a second), 800 messages would take 16 s of real time.
    return RateLimitTracker(pacing=GlobalPacing(limit=0))


def contents(fake: FakeDiscord, hook: FakeWebhook) -> list[str]:
    return [m["content"] for m in fake.history(hook.channel_id)]


def test_send_nowait_send_and_stats(fake: FakeDiscord, hook: FakeWebhook) -> None:
    with trio_webhook.sync.open_webhook_sender(hook.url, transport=fake.transport()) as sender:
        receipt = sender.send_nowait(Message(content="queued"))
        delivery = sender.send(Message(content="waited for"))
        assert receipt.wait(timeout=5).id is not None
        assert receipt.done
        stats = sender.stats()
    assert delivery.id == fake.history(hook.channel_id)[1]["id"]
    assert contents(fake, hook) == ["queued", "waited for"]
    assert (stats.enqueued, stats.delivered, stats.dead) == (2, 2, 0)
    assert hook.token not in repr(sender)


def test_sixteen_threads_each_delivered_once_in_its_own_order(
    fake: FakeDiscord, hook: FakeWebhook
) -> None:
    threads, per_thread = 16, 50
    start = threading.Barrier(threads)
    failures: list[BaseException] = []
    sender = trio_webhook.sync.open_webhook_sender(
        hook.url, SenderConfig(queue_cap=1000), tracker=unpaced(), transport=fake.transport()
    )
    receipts: list[trio_webhook.sync.SyncReceipt] = []

    def produce(t: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                if n % 10 == 9:
                    sender.send(Message(content=f"{t}:{n}"))  # some wait, most do not
                else:
                    receipts.append(sender.send_nowait(Message(content=f"{t}:{n}")))
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    sender.close()
    assert not failures
    assert all(r.done for r in receipts)
    seen = contents(fake, hook)
    assert sorted(seen) == sorted(f"{t}:{n}" for t in range(threads) for n in range(per_thread))
    for t in range(threads):
        mine = [int(c.split(":")[1]) for c in seen if c.startswith(f"{t}:")]
        assert mine == list(range(per_thread))
    stats = sender.stats()
    assert (stats.enqueued, stats.delivered, stats.dead) == (800, 800, 0)


def test_senders_and_clients_of_one_webhook_share_the_rate_limit(fresh_trackers: None) -> None:
    # A bucket of 5 requests a 0.2 s window: two senders and a client sending at once stay
    # inside it only if they pace with one tracker.
    fake = FakeDiscord(seed=2, bucket_limit=5, time_scale=0.1)
    hook = fake.create_webhook()
    transport = fake.transport
    with (
        trio_webhook.sync.open_webhook_sender(hook.url, transport=transport()) as a,
        trio_webhook.sync.open_webhook_sender(hook.url, transport=transport()) as b,
        trio_webhook.sync.SyncWebhookClient(hook.url, transport=transport()) as client,
    ):
        receipts = [s.send_nowait(Message(content=f"{n}")) for n in range(6) for s in (a, b)]
        for n in range(3):
            client.execute(Message(content=f"client {n}"))
        for receipt in receipts:
            receipt.wait(timeout=10)
    assert len(contents(fake, hook)) == 15
    assert sum(fake.stats().rate_limited.values()) == 0


def test_errors_raised_in_the_loop_come_out_as_themselves(
    fake: FakeDiscord, hook: FakeWebhook
) -> None:
    sink = MemorySink()
    config = SenderConfig(dead_letter=sink, max_attempts=1)
    with trio_webhook.sync.open_webhook_sender(hook.url, config, transport=fake.transport()) as s:
        with pytest.raises(ValidationError, match="257 characters"):
            s.send_nowait(Message(embeds=[Embed(title="x" * 257)]))
        fake.inject("server_error", status=503)
        with pytest.raises(DeliveryFailed) as failed:
            s.send(Message(content="refused"))
        assert (failed.value.reason, failed.value.status) == ("exhausted", 503)
    assert [r.message.content for r in sink.records] == ["refused"]
    with pytest.raises(ValueError, match="rate_limit_store"):
        trio_webhook.sync.open_webhook_sender(
            hook.url, SenderConfig(rate_limit_store="redis://127.0.0.1:1"), tracker=unpaced()
        )
    fake.delete_webhook(hook)
    with pytest.raises(WebhookNotFound) as gone:
        trio_webhook.sync.send(hook.url, content="hi", transport=fake.transport())
    assert hook.token not in str(gone.value)


def test_the_one_liner_sends_content_embeds_and_files(
    fake: FakeDiscord, hook: FakeWebhook, tmp_path: Path
) -> None:
    log = tmp_path / "build.log"
    log.write_text("all green\n")
    delivery = trio_webhook.sync.send(
        hook.url,
        content="build 42",
        embeds=[Embed(title="passed")],
        files=[log, FilePart("notes.txt", data=b"notes")],
        username="ci",
        transport=fake.transport(),
    )
    (posted,) = fake.history(hook.channel_id)
    assert delivery.id == posted["id"]
    assert (posted["content"], posted["embeds"][0]["title"]) == ("build 42", "passed")
    assert [a["filename"] for a in posted["attachments"]] == ["build.log", "notes.txt"]
    assert posted["author"]["username"] == "ci"


def test_the_one_liner_splits_long_content_as_its_config_says(
    fake: FakeDiscord, hook: FakeWebhook
) -> None:
    text = "word " * 500  # 2500 characters
    delivery = trio_webhook.sync.send(hook.url, content=text, transport=fake.transport())
    assert len(delivery.messages) == 2
    whole = SenderConfig(split_content=False)
    with pytest.raises(ValidationError, match="2500 characters"):
        trio_webhook.sync.send(hook.url, content=text, config=whole, transport=fake.transport())
    assert len(contents(fake, hook)) == 2


def test_the_client_reads_back_edits_and_deletes(fake: FakeDiscord, hook: FakeWebhook) -> None:
    with trio_webhook.sync.SyncWebhookClient(hook.url, transport=fake.transport()) as client:
        sent = client.execute(Message(content="hello"))
        assert sent.id is not None
        client.edit_message(sent.id, Message(content="hello, edited"))
        assert client.get_message(sent.id).raw["content"] == "hello, edited"
        assert client.fetch_webhook().id == hook.id
        assert "token" not in client.fetch_webhook().raw
        client.delete_message(sent.id)
    assert contents(fake, hook) == []


def test_the_client_modifies_and_deletes_the_webhook(fake: FakeDiscord, hook: FakeWebhook) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    with trio_webhook.sync.SyncWebhookClient(hook.url, transport=fake.transport()) as client:
        renamed = client.modify_webhook(name="deploys", avatar=png)
        assert renamed.name == "deploys"
        assert renamed.avatar is not None
        assert client.modify_webhook(avatar=None).avatar is None
        assert client.fetch_webhook().name == "deploys"  # a key left out is left
        client.delete_webhook()
        with pytest.raises(WebhookNotFound):
            client.fetch_webhook()
    # Deleted on the fake; the fetch after it raised without a request.
    assert (fake.requests[-1].method, fake.requests[-1].status) == ("DELETE", 204)


def test_close_drains_within_the_drain_timeout(fake: FakeDiscord, hook: FakeWebhook) -> None:
    fake.inject("delay", delay=30)
    sink = MemorySink()
    config = SenderConfig(drain_timeout=0.5, dead_letter=sink)
    sender = trio_webhook.sync.open_webhook_sender(hook.url, config, transport=fake.transport())
    stuck = sender.send_nowait(Message(content="stuck"))
    behind = sender.send_nowait(Message(content="behind"))
    with pytest.raises(TimeoutError, match="stays queued"):
        stuck.wait(timeout=0.1)
    started = time.monotonic()
    sender.close()
    assert time.monotonic() - started < 5
    assert [r.reason for r in sink.records] == ["ambiguous", "shutdown"]
    with pytest.raises(DeliveryFailed):
        behind.wait()
    sender.close()  # closing twice is harmless


@pytest.mark.parametrize("loop", ["trio", "asyncio"])
def test_calling_it_inside_an_event_loop_names_the_facade_to_use(
    loop: str, fake: FakeDiscord, hook: FakeWebhook
) -> None:
    async def inside() -> None:
        trio_webhook.sync.send(hook.url, content="hi", transport=fake.transport())

    expected = "trio_webhook.asyncio.open_webhook_sender" if loop == "asyncio" else "WebhookClient"
    with pytest.raises(RuntimeError, match=expected):
        trio.run(inside) if loop == "trio" else asyncio.run(inside())
    assert fake.requests == []


def test_interpreter_exit_drains_what_was_never_closed(
    fake: FakeDiscord, hook: FakeWebhook, served: FakeDiscordServer
) -> None:
    script = """
for n in range(20):
    sender.send_nowait(Message(content=f"m{n}"))
print("queued", flush=True)
"""
    done = run_script(script, served.webhook_url(hook))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "queued\n"
    assert contents(fake, hook) == [f"m{n}" for n in range(20)]


def test_a_forked_child_gets_a_loop_of_its_own(
    fake: FakeDiscord, hook: FakeWebhook, served: FakeDiscordServer
) -> None:
    # A preforking server: the parent sent (its loop runs, a sender is open), then forks.
    script = """
sender.send(Message(content="parent"))
pid = os.fork()
if pid == 0:
    trio_webhook.sync.send(url, content="child")
    sys.exit(0)
_, status = os.waitpid(pid, 0)
sender.send(Message(content="parent again"))
sender.close()
print(os.waitstatus_to_exitcode(status))
"""
    done = run_script(script, served.webhook_url(hook))
    assert (done.returncode, done.stdout) == (0, "0\n"), done.stderr
    assert contents(fake, hook) == ["parent", "child", "parent again"]
