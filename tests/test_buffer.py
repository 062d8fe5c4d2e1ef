from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook._buffer import Entry, PressureBuffer, Shed
from trio_webhook._config import SenderConfig
from trio_webhook._errors import QueueFull, SenderClosed
from trio_webhook._models import Embed, FilePart, Message

Item = Entry[int]


def item(n: int, *, files: int = 1) -> Item:
    parts = [FilePart(f"f{n}-{k}.txt", data=b"x" * 8) for k in range(files)]
    msg = Message(content=f"m{n}", embeds=[Embed(title=f"e{n}")], attachments=parts)
    return Entry(msg, n)


def buf(high_water: int = 3, max_buffered: int = 10) -> PressureBuffer[Item]:
    return PressureBuffer[Item](high_water, max_buffered)


async def test_push_below_high_water_keeps_everything() -> None:
    b = buf()
    for n in range(3):
        assert b.push_nowait(item(n)) is None
    assert len(b) == 3
    assert all(e.message.attachments for e in b.drain_nowait())


async def test_shedding_strips_oldest_first_and_keeps_text() -> None:
    sheds: list[Shed] = []
    b = PressureBuffer[Item](3, 10, on_shed=sheds.append)
    for n in range(3):
        b.push_nowait(item(n, files=2))
    shed = b.push_nowait(item(3, files=2))
    assert shed == Shed(1, 2, ("f0-0.txt", "f0-1.txt"))
    assert b.push_nowait(item(4)) == Shed(1, 2, ("f1-0.txt", "f1-1.txt"))
    assert sheds == [
        Shed(1, 2, ("f0-0.txt", "f0-1.txt")),
        Shed(1, 2, ("f1-0.txt", "f1-1.txt")),
    ]
    entries = b.drain_nowait()
    assert [e.payload for e in entries] == [0, 1, 2, 3, 4]
    assert [bool(e.message.attachments) for e in entries] == [False, False, True, True, True]
    for e in entries:  # content and embeds are never dropped
        assert e.message.content == f"m{e.payload}"
        assert e.message.embeds == (Embed(title=f"e{e.payload}"),)
    stats = b.statistics()
    assert (stats.shed_messages, stats.shed_attachments) == (2, 4)


async def test_shedding_skips_messages_without_attachments() -> None:
    b = buf(high_water=3)
    b.push_nowait(item(0, files=0))
    b.push_nowait(item(1, files=0))
    b.push_nowait(item(2))
    b.push_nowait(item(3))
    # Over the mark: the oldest message that still has files is 2, not 0.
    entries = b.drain_nowait()
    assert [len(e.message.attachments) for e in entries] == [0, 0, 0, 1]


async def test_nothing_to_shed_returns_none() -> None:
    b = buf(high_water=1)
    b.push_nowait(item(0, files=0))
    assert b.push_nowait(item(1, files=0)) is None
    assert b.statistics().shed_messages == 0


async def test_shedding_entry_is_the_callers_object() -> None:
    b = buf(high_water=1)
    first = item(0)
    b.push_nowait(first)
    b.push_nowait(item(1))
    assert first.message.attachments == ()  # replaced in place, on the caller's item


async def test_queue_full_past_hard_cap() -> None:
    b = buf(high_water=2, max_buffered=4)
    for n in range(4):
        b.push_nowait(item(n))
    with pytest.raises(QueueFull, match="max_buffered=4"):
        b.push_nowait(item(99))
    assert len(b) == 4
    assert [e.payload for e in b.drain_nowait()] == [0, 1, 2, 3]


async def test_closed_buffer_refuses_pushes() -> None:
    b = buf()
    b.close()
    assert b.closed
    with pytest.raises(SenderClosed):
        b.push_nowait(item(0))
    with pytest.raises(SenderClosed):
        await b.push(item(0))


async def test_mover_keeps_order_and_closes_channel() -> None:
    b = buf(high_water=50, max_buffered=100)
    send, receive = trio.open_memory_channel[Item](2)
    got: list[int] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(b.run_mover, send)
        for n in range(20):
            b.push_nowait(item(n))
        b.close()
        async with receive:
            async for e in receive:
                got.append(e.payload)
    assert got == list(range(20))


async def test_mover_never_holds_lock_across_send() -> None:
    b = buf(high_water=50, max_buffered=100)
    send, receive = trio.open_memory_channel[Item](0)  # nobody receives: send blocks
    async with trio.open_nursery() as nursery:
        await nursery.start(b.run_mover, send)
        b.push_nowait(item(0))
        await trio.testing.wait_all_tasks_blocked()
        assert not b._lock.locked()  # the mover is parked in send, without the lock
        assert len(b) == 0
        b.push_nowait(item(1))  # the lock is free: appended, not staged
        assert b._pending == []
        assert len(b) == 1
        nursery.cancel_scope.cancel()
    receive.close()


async def test_push_while_lock_held_is_staged_in_order() -> None:
    b = buf(high_water=2, max_buffered=5)
    sheds: list[Shed] = []
    b.on_shed = sheds.append
    b.push_nowait(item(0))
    holding = trio.Event()
    release = trio.Event()

    async def hold() -> None:
        async with b._lock:
            holding.set()
            await release.wait()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold)
        await holding.wait()
        # Never blocks, never loses: staged while the lock is held.
        assert b.push_nowait(item(1)) is None
        assert b.push_nowait(item(2)) is None
        assert len(b) == 3
        b.push_nowait(item(3))
        b.push_nowait(item(4))
        with pytest.raises(QueueFull):  # the cap counts staged entries
            b.push_nowait(item(5))
        release.set()
    # The next holder folds the staged entries in, in order, shedding as it goes.
    b.max_buffered = 6
    shed = b.push_nowait(item(5))
    assert shed is not None
    assert shed.filenames == ("f0-0.txt", "f1-0.txt", "f2-0.txt", "f3-0.txt")
    assert sheds == [shed]
    entries = b.drain_nowait()
    assert [e.payload for e in entries] == [0, 1, 2, 3, 4, 5]
    assert [bool(e.message.attachments) for e in entries] == [False] * 4 + [True] * 2


async def test_drain_takes_staged_entries_whole() -> None:
    b = buf(high_water=1, max_buffered=5)
    b.push_nowait(item(0))
    release = trio.Event()

    async def hold(task_status: trio.TaskStatus[None]) -> None:
        async with b._lock:
            task_status.started()
            await release.wait()

    async with trio.open_nursery() as nursery:
        await nursery.start(hold)
        b.push_nowait(item(1))
        b.push_nowait(item(2))
        release.set()
    entries = b.drain_nowait()
    assert [e.payload for e in entries] == [0, 1, 2]
    assert all(e.message.attachments for e in entries)  # leaving whole, for dead letters


async def test_push_waits_for_room(autojump_clock: trio.testing.MockClock) -> None:
    b = buf(high_water=3, max_buffered=10)
    send, receive = trio.open_memory_channel[Item](0)
    for n in range(3):
        b.push_nowait(item(n))
    pushed_at: list[float] = []
    got: list[Item] = []

    async def producer() -> None:
        await b.push(item(3))
        pushed_at.append(trio.current_time())

    async def consumer() -> None:
        await trio.sleep(5)
        async with receive:
            async for e in receive:
                got.append(e)
                if len(got) == 4:
                    return

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(b.run_mover, send)
        nursery.start_soon(producer)
        nursery.start_soon(consumer)
        await trio.testing.wait_all_tasks_blocked()
        # The mover holds entry 0 in a blocked send, so two are buffered: room already.
        await trio.sleep(1)
        b.close()
    assert [e.payload for e in got] == [0, 1, 2, 3]
    assert all(e.message.attachments for e in got)  # push never sheds
    assert pushed_at == [start]


async def test_push_blocks_until_mover_pops(autojump_clock: trio.testing.MockClock) -> None:
    b = buf(high_water=3, max_buffered=10)
    for n in range(3):
        b.push_nowait(item(n))
    done_at: list[float] = []

    async def producer() -> None:
        await b.push(item(3))
        done_at.append(trio.current_time())

    send, receive = trio.open_memory_channel[Item](1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer)
        await trio.sleep(7)
        assert done_at == []  # no mover yet: still waiting, nothing shed
        await nursery.start(b.run_mover, send)
        await trio.testing.wait_all_tasks_blocked()
        assert done_at == [pytest.approx(7.0)]  # woken by the mover's first pop
        nursery.cancel_scope.cancel()
    receive.close()
    assert b.statistics().shed_messages == 0


async def test_push_cancelled_while_waiting_adds_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    b = buf(high_water=1, max_buffered=10)
    b.push_nowait(item(0))
    with trio.move_on_after(3):
        await b.push(item(1))
    assert len(b) == 1


async def test_push_waiter_sees_close() -> None:
    b = buf(high_water=1, max_buffered=10)
    b.push_nowait(item(0))
    async with trio.open_nursery() as nursery:

        async def waiter() -> None:
            with pytest.raises(SenderClosed):
                await b.push(item(1))

        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        b.close()


async def test_cancelled_mover_puts_entry_back() -> None:
    b = buf(high_water=50, max_buffered=100)
    send, receive = trio.open_memory_channel[Item](0)
    async with trio.open_nursery() as nursery:
        await nursery.start(b.run_mover, send)
        for n in range(3):
            b.push_nowait(item(n))
        await trio.testing.wait_all_tasks_blocked()
        assert len(b) == 2  # entry 0 is in the mover's hand
        nursery.cancel_scope.cancel()
    with pytest.raises(trio.EndOfChannel):
        receive.receive_nowait()  # the mover closed its end
    entries = b.drain_nowait()
    assert [e.payload for e in entries] == [0, 1, 2]
    assert all(e.message.attachments for e in entries)


async def test_mover_waits_then_ends_on_close(autojump_clock: trio.testing.MockClock) -> None:
    b = buf()
    send, receive = trio.open_memory_channel[Item](10)
    async with trio.open_nursery() as nursery:
        await nursery.start(b.run_mover, send)
        await trio.sleep(10)
        b.push_nowait(item(0))
        await trio.sleep(1)
        b.close()
    assert receive.receive_nowait().payload == 0
    with pytest.raises(trio.EndOfChannel):
        receive.receive_nowait()


async def test_drain_takes_all_and_resets() -> None:
    b = buf(high_water=2)
    for n in range(4):
        b.push_nowait(item(n))
    assert [e.payload for e in await b.drain()] == [0, 1, 2, 3]
    assert len(b) == 0
    assert b.drain_nowait() == []
    # Shedding after a drain still finds the oldest with files.
    for n in range(4, 7):
        b.push_nowait(item(n))
    assert [bool(e.message.attachments) for e in b.drain_nowait()] == [False, True, True]


async def test_statistics_snapshot() -> None:
    b = PressureBuffer[Item].from_config(SenderConfig(queue_cap=2))
    b.push_nowait(item(0))
    stats = b.statistics()
    assert (stats.buffered, stats.high_water, stats.max_buffered) == (1, 4, 10_000)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.buffered = 3  # type: ignore[misc]


def test_bad_bounds() -> None:
    with pytest.raises(ValueError, match="high_water"):
        PressureBuffer[Item](0, 10)
    with pytest.raises(ValueError, match=r"max_buffered \(2\) must be >= high_water \(3\)"):
        PressureBuffer[Item](3, 2)


@given(
    ops=st.lists(st.tuples(st.sampled_from(["push", "pop"]), st.integers(0, 2)), max_size=80),
    high_water=st.integers(1, 6),
)
def test_shedding_invariants(ops: list[tuple[str, int]], high_water: int) -> None:
    """Order kept, nothing lost, oldest shed first, at most high_water messages hold files."""

    async def body() -> None:
        b = PressureBuffer[Item](high_water, 10_000)
        out: list[Item] = []
        had_files: set[int] = set()
        pushed = 0
        for op, files in ops:
            if op == "push":
                payload = pushed
                pushed += 1
                b.push_nowait(item(payload, files=files))
                if files:
                    had_files.add(payload)
            elif len(b):
                b._lock.acquire_nowait()
                out.append(b._popleft())
                b._lock.release()
            buffered = list(b._deque)
            assert sum(1 for e in buffered if e.message.attachments) <= high_water
        rest = b.drain_nowait()
        everything = out + rest
        assert [e.payload for e in everything] == list(range(len(everything)))
        stripped = [
            e.payload for e in everything if e.payload in had_files and not e.message.attachments
        ]
        assert len(stripped) == b.statistics().shed_messages
        # Among what is still buffered, every stripped message is older than every one
        # that kept its files.
        flags = [bool(e.message.attachments) for e in rest if e.payload in had_files]
        assert flags == sorted(flags)

    trio.run(body)


async def test_mover_folds_staged_entries_and_reports_shedding() -> None:
    sheds: list[Shed] = []
    b = PressureBuffer[Item](1, 10, on_shed=sheds.append)
    release = trio.Event()

    async def hold(task_status: trio.TaskStatus[None]) -> None:
        async with b._lock:
            task_status.started()
            await release.wait()

    send, receive = trio.open_memory_channel[Item](10)
    async with trio.open_nursery() as nursery:
        await nursery.start(hold)
        for n in range(3):
            b.push_nowait(item(n))
        release.set()
        await nursery.start(b.run_mover, send)
        await trio.testing.wait_all_tasks_blocked()
        b.close()
    got = [receive.receive_nowait() for _ in range(3)]
    assert [e.payload for e in got] == [0, 1, 2]
    assert [bool(e.message.attachments) for e in got] == [False, False, True]
    assert sheds == [Shed(2, 2, ("f0-0.txt", "f1-0.txt"))]
