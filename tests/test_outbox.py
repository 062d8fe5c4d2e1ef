"""The outbox storage layer: SQLiteOutbox on real files, real threads and real processes.

The contract tests (order, marks, settling, dead letters, keys, cancellation) run on both
implementations: a SQLite file, and a RedisOutbox on the real redis-server fixture.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio
import trio.lowlevel

from trio_webhook import Embed, FilePart, Message
from trio_webhook.deadletter import DeadLetter
from trio_webhook.outbox import (
    Outbox,
    OutboxError,
    OutboxLeaseHeld,
    RedisOutbox,
    SQLiteOutbox,
    open_outbox,
)

HOOK = "111111111111111111"
OTHER = "222222222222222222"
ROOT = Path(__file__).resolve().parent.parent


def _contents(messages: list[Message]) -> list[str | None]:
    return [m.content for m in messages]


# A factory of outboxes: the same name gives the same storage (a reopen), each call a
# new object (as another process would have).
MakeOutbox = Callable[..., SQLiteOutbox | RedisOutbox]


@pytest.fixture(params=["sqlite", "redis"])
def make_outbox(request: pytest.FixtureRequest, tmp_path: Path) -> MakeOutbox:
    if request.param == "sqlite":

        def sqlite(name: str = "o") -> SQLiteOutbox | RedisOutbox:
            return SQLiteOutbox(tmp_path / f"{name}.db")

        return sqlite
    url = request.getfixturevalue("redis_server").url
    run = uuid.uuid4().hex[:12]

    def redis(name: str = "o") -> SQLiteOutbox | RedisOutbox:
        return RedisOutbox(url, prefix=f"test-{run}-{name}")

    return redis


# -- order, progress, settling ---------------------------------------------------------------


async def test_order_is_kept_per_webhook_across_batches_and_webhooks(
    make_outbox: MakeOutbox,
) -> None:
    async with make_outbox() as outbox:
        await outbox.append(HOOK, [Message(content="a1"), Message(content="a2")])
        await outbox.append(OTHER, [Message(content="b1")])
        await outbox.append(HOOK, [Message(content="a3")])
        async with trio.open_nursery() as nursery:
            # Concurrent calls land in one group commit; each call's batch stays in order.
            for i in range(50):
                nursery.start_soon(outbox.append, OTHER, [Message(content=f"b{i + 2}")])
                await trio.lowlevel.checkpoint()
        hook = await outbox.take(HOOK)
        other = await outbox.take(OTHER)
    assert _contents([p.message for p in hook]) == ["a1", "a2", "a3"]
    assert _contents([p.message for p in other]) == [f"b{i + 1}" for i in range(51)]
    assert [p.entry for p in other] == sorted(p.entry for p in other)


async def test_take_pages_with_after_and_limit(make_outbox: MakeOutbox) -> None:
    async with make_outbox() as outbox:
        entries = await outbox.append(HOOK, [Message(content=str(i)) for i in range(10)])
        first = await outbox.take(HOOK, limit=4)
        rest = await outbox.take(HOOK, after=first[-1].entry)
    assert [p.entry for p in first] == entries[:4]
    assert [p.entry for p in rest] == entries[4:]


async def test_delivered_requests_and_in_flight_marks_survive_reopen(
    make_outbox: MakeOutbox,
) -> None:
    post = Message(embeds=[Embed(title=str(i)) for i in range(12)], thread_name="post")
    async with make_outbox() as outbox:
        [entry, quiet, never] = await outbox.append(
            HOOK, [post, Message(content="no wait"), Message(content="never sent")]
        )
        await outbox.mark_in_flight(entry, 0)
        await outbox.record_delivered(entry, 0, discord_id="900", thread_id="555")
        await outbox.mark_in_flight(entry, 1)  # the crash comes while this one is out
        await outbox.mark_in_flight(quiet, 0)
        await outbox.record_delivered(quiet, 0)  # wait=False: no id
        await outbox.record_delivered(quiet, 0)  # a repeat changes nothing

    async with make_outbox() as reopened:
        by_entry = {p.entry: p for p in await reopened.take(HOOK)}
    resumed = by_entry[entry]
    assert resumed.message == post
    assert (resumed.delivered_requests, resumed.sent_ids, resumed.thread_id) == (1, ("900",), "555")
    assert resumed.in_flight == 1
    assert resumed.maybe_posted
    assert (by_entry[quiet].delivered_requests, by_entry[quiet].sent_ids) == (1, (None,))
    assert not by_entry[quiet].maybe_posted
    assert (by_entry[never].delivered_requests, by_entry[never].in_flight) == (0, None)


async def test_recording_a_request_out_of_order_is_refused(make_outbox: MakeOutbox) -> None:
    async with make_outbox() as outbox:
        [entry] = await outbox.append(HOOK, [Message(content="x")])
        with pytest.raises(ValueError, match=r"entry \d+: request 2 recorded as delivered"):
            await outbox.record_delivered(entry, 2)
        with pytest.raises(KeyError):
            await outbox.record_delivered(entry + 100, 0)


async def test_settle_delivered_deletes_the_message(make_outbox: MakeOutbox) -> None:
    async with make_outbox() as outbox:
        [done, left] = await outbox.append(HOOK, [Message(content="x"), Message(content="y")])
        await outbox.settle_delivered(done)
        with pytest.raises(KeyError, match="not pending"):
            await outbox.mark_in_flight(done, 0)
    async with make_outbox() as reopened:
        assert [p.entry for p in await reopened.pending()] == [left]
        [summary] = await reopened.summary()
    assert (summary.pending, summary.dead, summary.replayed) == (1, 0, 0)


async def test_file_bytes_are_stored_with_the_message(
    tmp_path: Path, make_outbox: MakeOutbox
) -> None:
    source = tmp_path / "log.txt"
    source.write_bytes(b"\x00build log\xff" * 100)
    async with make_outbox() as outbox:
        await outbox.append(HOOK, [Message(attachments=[FilePart.from_path(source)])])
        source.unlink()  # gone after acceptance: the outbox kept the bytes
        [pending] = await outbox.pending(HOOK)
    assert pending.message.attachments[0].read() == b"\x00build log\xff" * 100
    assert pending.message.attachments[0].filename == "log.txt"


async def test_an_unreadable_file_fails_its_own_append_only(
    tmp_path: Path, make_outbox: MakeOutbox
) -> None:
    async with make_outbox() as outbox:
        (tmp_path / "gone.txt").write_text("x")
        missing = FilePart.from_path(tmp_path / "gone.txt")
        (tmp_path / "gone.txt").unlink()
        results: dict[str, object] = {}

        async def append(name: str, message: Message) -> None:
            try:
                results[name] = await outbox.append(HOOK, [message])
            except OSError as exc:
                results[name] = exc

        async with trio.open_nursery() as nursery:  # both calls in one group commit
            nursery.start_soon(append, "bad", Message(attachments=[missing]))
            nursery.start_soon(append, "good", Message(content="fine"))
        assert isinstance(results["bad"], OSError)
        assert _contents([p.message for p in await outbox.pending()]) == ["fine"]


# -- dead letters ----------------------------------------------------------------------------


async def test_dead_letters_are_listed_and_replaying_twice_finds_nothing(
    make_outbox: MakeOutbox,
) -> None:
    async with make_outbox() as outbox:
        [entry, _] = await outbox.append(HOOK, [Message(content="bad"), Message(content="ok")])
        record = DeadLetter(
            reason="permanent",
            message=Message(content="bad"),
            status=400,
            webhook_id=HOOK,
            error="POST https://discord.com/api/v10/webhooks/1/secret-token failed",
        )
        await outbox.settle_dead(entry, record)
        never = await outbox.put_dead(OTHER, DeadLetter(reason="invalid", message=Message()))
    async with make_outbox() as reopened:
        dead = await reopened.dead_letters()
        assert [(d.entry, d.webhook_id) for d in dead] == [(entry, HOOK), (never, OTHER)]
        assert dead[0].record.status == 400
        assert dead[0].replayed is None
        assert "secret-token" not in dead[0].record.error
        assert _contents([p.message for p in await reopened.pending()]) == ["ok"]

        assert await reopened.mark_replayed(entry) is True
        assert await reopened.mark_replayed(entry) is False  # a second replay posts nothing
        assert [d.entry for d in await reopened.dead_letters(HOOK)] == []
        [kept] = await reopened.dead_letters(HOOK, include_replayed=True)
        assert kept.replayed is not None
        summaries = {s.webhook_id: s for s in await reopened.summary()}
        assert (summaries[HOOK].dead, summaries[HOOK].replayed) == (0, 1)
        assert summaries[OTHER].dead == 1
        with pytest.raises(KeyError, match="not a dead letter"):
            await reopened.mark_replayed(entry + 100)


# -- keys, selection, lifecycle --------------------------------------------------------------


async def test_a_webhook_is_keyed_by_its_id_and_a_token_never_reaches_an_error(
    make_outbox: MakeOutbox,
) -> None:
    async with make_outbox() as outbox:
        url = "https://discord.com/api/webhooks/123/very-secret-token"
        with pytest.raises(ValueError, match="numeric id") as info:
            await outbox.append(url, [Message(content="x")])
        assert "secret" not in str(info.value)
        with pytest.raises(ValueError, match="'12a'"):
            await outbox.take("12a")


async def test_open_outbox_selects_by_target(tmp_path: Path) -> None:
    assert open_outbox(None) is None
    made = open_outbox(tmp_path / "o.db")
    assert isinstance(made, SQLiteOutbox)
    assert isinstance(made, Outbox)
    assert made.path == tmp_path / "o.db"
    assert open_outbox(made) is made
    assert isinstance(open_outbox(str(tmp_path / "p.db")), SQLiteOutbox)
    redis = open_outbox("redis://:secret@127.0.0.1:6379/2")
    assert isinstance(redis, RedisOutbox)
    assert isinstance(redis, Outbox)
    assert "secret" not in repr(redis)
    assert redis.display == "redis://127.0.0.1:6379/2"
    with pytest.raises(ValueError, match="outbox path is empty"):
        open_outbox(" ")
    with pytest.raises(TypeError, match="got int"):
        open_outbox(3)  # type: ignore[arg-type]
    assert not (tmp_path / "o.db").exists()  # opened on first use, not before


async def test_a_cancelled_append_still_commits_what_it_handed_over(
    make_outbox: MakeOutbox,
) -> None:
    async with make_outbox() as outbox:
        with trio.CancelScope() as scope:
            scope.cancel()
            entries = await outbox.append(HOOK, [Message(content="kept")])
        assert entries
        assert _contents([p.message for p in await outbox.pending()]) == ["kept"]


async def test_a_closed_outbox_refuses_calls_and_closing_twice_is_fine(
    make_outbox: MakeOutbox,
) -> None:
    outbox = make_outbox()
    await outbox.append(HOOK, [Message(content="x")])
    await outbox.aclose()
    await outbox.aclose()
    with pytest.raises(OutboxError, match=r"(o\.db|:\d+/0) is closed"):
        await outbox.pending()
    await make_outbox("never-opened").aclose()


async def test_a_file_that_is_not_an_outbox_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database" * 100)
    outbox = SQLiteOutbox(path)
    with pytest.raises(OutboxError, match=r"notes\.db: not a usable outbox file"):
        await outbox.open()
    await outbox.aclose()


# -- compaction ------------------------------------------------------------------------------


def _file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def test_the_file_does_not_grow_over_10000_append_settle_cycles(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    message = Message(content="x" * 200, attachments=[FilePart("a.bin", data=os.urandom(2048))])
    sizes: list[int] = []
    async with SQLiteOutbox(path) as outbox:
        for cycle in range(10_000):
            [entry] = await outbox.append(HOOK, [message])
            await outbox.settle_delivered(entry)
            if cycle % 2_000 == 1_999:
                sizes.append(_file_bytes(path))
    closed = _file_bytes(path)
    # 10,000 messages of ~3 KiB are ~30 MB; deleted rows' pages are reused instead.
    assert max(sizes) < 6 * 1024 * 1024, sizes  # the database plus a WAL capped near 4 MiB
    assert sizes[-1] <= sizes[0] + 64 * 1024, sizes
    assert closed < 256 * 1024, closed  # closing checkpoints and truncates the WAL


async def test_space_of_a_settled_backlog_is_given_back(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    blob = os.urandom(8192)
    async with SQLiteOutbox(path) as outbox:
        entries = await outbox.append(
            HOOK, [Message(attachments=[FilePart("b.bin", data=blob)]) for _ in range(1000)]
        )
    full = path.stat().st_size
    assert full > 8 * 1024 * 1024
    async with SQLiteOutbox(path) as outbox:
        for entry in entries:
            await outbox.settle_delivered(entry)
    assert path.stat().st_size < full // 4, (full, path.stat().st_size)


# -- several processes -----------------------------------------------------------------------


@contextlib.contextmanager
def _child(script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A Python process running ``script``; killed (if still running) and reaped on exit."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        try:
            yield child
        finally:
            child.kill()


_HOLDER = """
    import sys, trio
    from trio_webhook import Message
    from trio_webhook.outbox import SQLiteOutbox, OutboxLeaseLost

    async def main():
        outbox = SQLiteOutbox(sys.argv[1], lease_seconds=float(sys.argv[3]))
        [entry] = await outbox.append(sys.argv[2], [Message(content="mine")])
        await outbox.take(sys.argv[2])
        print("claimed", flush=True)
        command = await trio.to_thread.run_sync(sys.stdin.readline)
        if command.strip() == "send":
            try:
                await outbox.mark_in_flight(entry, 0)
                print("sent", flush=True)
            except OutboxLeaseLost as exc:
                print("lost:", exc, flush=True)
        await outbox.aclose()
        print("closed", flush=True)

    trio.run(main)
"""


def _expect(child: subprocess.Popen[str], prefix: str) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith(prefix), line
    return line


async def test_a_second_process_is_refused_while_the_first_delivers(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with _child(_HOLDER, str(path), HOOK, "30") as child:
        _expect(child, "claimed")
        async with SQLiteOutbox(path) as outbox:
            with pytest.raises(OutboxLeaseHeld) as info:
                await outbox.take(HOOK)
            assert str(path) in str(info.value)
            assert HOOK in str(info.value)
            assert f"process {child.pid}" in str(info.value)
            with pytest.raises(OutboxLeaseHeld):
                await outbox.append(HOOK, [Message(content="also mine?")])
            # Another webhook in the same file is free, and listing never needs a lease.
            await outbox.append(OTHER, [Message(content="other")])
            assert _contents([p.message for p in await outbox.pending(HOOK)]) == ["mine"]

            assert child.stdin is not None
            child.stdin.write("quit\n")
            child.stdin.flush()
            _expect(child, "closed")  # closing released the lease
            assert _contents([p.message for p in await outbox.take(HOOK)]) == ["mine"]


async def test_a_killed_holder_is_taken_over_at_once(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with _child(_HOLDER, str(path), HOOK, "30") as child:
        _expect(child, "claimed")
        child.kill()
        child.wait()  # reaped: a zombie would still look alive
    async with SQLiteOutbox(path) as outbox:
        # Its lease runs 30 s more, but its process is gone (same host): no wait.
        assert _contents([p.message for p in await outbox.take(HOOK)]) == ["mine"]


async def test_a_stalled_holder_loses_its_lease_and_does_not_send(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with _child(_HOLDER, str(path), HOOK, "1.0") as child:
        _expect(child, "claimed")
        async with SQLiteOutbox(path) as outbox:
            with pytest.raises(OutboxLeaseHeld):
                await outbox.take(HOOK)
            child.send_signal(signal.SIGSTOP)
            await trio.sleep(1.5)  # its lease runs out: it cannot renew while stopped
            [taken] = await outbox.take(HOOK)
            child.send_signal(signal.SIGCONT)
            assert child.stdin is not None
            child.stdin.write("send\n")
            child.stdin.flush()
            line = _expect(child, "lost:")
            assert HOOK in line
            assert "must not send" in line
            await outbox.mark_in_flight(taken.entry, 0)  # the new holder sends it


_APPENDER = """
    import random, sys, trio
    from trio_webhook import Message
    from trio_webhook.outbox import SQLiteOutbox

    async def main():
        rng = random.Random(int(sys.argv[3]))
        outbox = SQLiteOutbox(sys.argv[1])
        n = 0
        while True:
            size = rng.randint(1, 5)
            await outbox.append(sys.argv[2], [Message(content=str(n + i)) for i in range(size)])
            n += size
            print(n, flush=True)  # after the call returned: these are committed

    trio.run(main)
"""


@pytest.mark.parametrize("seed", range(5))
async def test_a_sigkill_loses_no_append_that_returned(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "o.db"
    rng = random.Random(seed)
    with _child(_APPENDER, str(path), HOOK, str(seed)) as child:
        assert child.stdout is not None
        returned = int(child.stdout.readline())  # it runs: at least one append returned
        await trio.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        # Everything it printed before the kill: the appends that returned.
        for line in child.stdout:
            returned = int(line)
        child.wait()
    async with SQLiteOutbox(path) as outbox:
        stored = [int(p.message.content or "") for p in await outbox.take(HOOK)]
    # Nothing lost, in order; an append that committed but was not printed may be there too.
    assert stored == list(range(len(stored)))
    assert len(stored) >= returned > 0


def test_processes_share_the_file_without_corrupting_it(tmp_path: Path) -> None:
    # Writers on different webhooks, in separate processes, interleave on one file.
    path = tmp_path / "o.db"
    with contextlib.ExitStack() as stack:
        children = [
            stack.enter_context(_child(_APPENDER, str(path), h, "7")) for h in (HOOK, OTHER)
        ]
        for child in children:
            assert child.stdout is not None
            child.stdout.readline()
        time.sleep(0.3)
        for child in children:
            child.kill()
            child.wait()

    async def check() -> None:
        async with SQLiteOutbox(path) as outbox:
            for hook in (HOOK, OTHER):
                stored = [int(p.message.content or "") for p in await outbox.take(hook)]
                assert stored == list(range(len(stored)))
                assert stored

    trio.run(check)
