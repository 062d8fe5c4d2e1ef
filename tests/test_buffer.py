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


def buf(high_water: int = 3, max_buffered: int = 10, ready_cap: int = 1) -> PressureBuffer[Item]:
    return PressureBuffer[Item](high_water, max_buffered, ready_cap=ready_cap)


def front_taken(b: PressureBuffer[Item]) -> Item:
    """Push a file-less entry that fills the front (ready_cap 1), so later ones are buffered."""
    b.push_nowait(item(-1, files=0))
    return b._ready[0]


async def test_push_below_high_water_keeps_everything() -> None:
    b = buf()
    for n in range(4):
        assert b.push_nowait(item(n)) is None
    assert (len(b), b.queued) == (3, 4)  # one next in line, three buffered
    assert all(e.message.attachments for e in b.drain_nowait())


async def test_the_front_is_never_shed() -> None:
    b = buf(high_water=1, ready_cap=2)
    for n in range(5):
        b.push_nowait(item(n))
    # 0 and 1 are next in line; of the buffered 2, 3, 4 only the newest keeps its file.
    entries = b.drain_nowait()
    assert [bool(e.message.attachments) for e in entries] == [True, True, False, False, True]


async def test_shedding_strips_oldest_first_and_keeps_text() -> None:
    b = buf(high_water=3)
    front_taken(b)
    for n in range(3):
        assert b.push_nowait(item(n, files=2)) is None
    assert b.push_nowait(item(3, files=2)) == Shed(1, 2, ("f0-0.txt", "f0-1.txt"))
    assert b.push_nowait(item(4)) == Shed(1, 2, ("f1-0.txt", "f1-1.txt"))
    entries = b.drain_nowait()[1:]
    assert [e.payload for e in entries] == [0, 1, 2, 3, 4]
    assert [bool(e.message.attachments) for e in entries] == [False, False, True, True, True]
    for e in entries:  # content and embeds are never dropped
        assert e.message.content == f"m{e.payload}"
        assert e.message.embeds == (Embed(title=f"e{e.payload}"),)
    stats = b.statistics()
    assert (stats.shed_messages, stats.shed_attachments) == (2, 4)


async def test_shedding_skips_messages_without_attachments() -> None:
    b = buf(high_water=3)
    front_taken(b)
    b.push_nowait(item(0, files=0))
    b.push_nowait(item(1, files=0))
    b.push_nowait(item(2))
    b.push_nowait(item(3))
    # Over the mark: the oldest message that still has files is 2, not 0.
    entries = b.drain_nowait()[1:]
    assert [len(e.message.attachments) for e in entries] == [0, 0, 0, 1]


async def test_nothing_to_shed_returns_none() -> None:
    b = buf(high_water=1)
    front_taken(b)
    b.push_nowait(item(0, files=0))
    assert b.push_nowait(item(1, files=0)) is None
    assert b.statistics().shed_messages == 0


async def test_shedding_entry_is_the_callers_object() -> None:
    b = buf(high_water=1)
    front_taken(b)
    first = item(0)
    b.push_nowait(first)
    b.push_nowait(item(1))
    assert first.message.attachments == ()  # replaced in place, on the caller's item


async def test_queue_full_past_hard_cap() -> None:
    b = buf(high_water=2, max_buffered=4)
    for n in range(5):
        b.push_nowait(item(n))
    with pytest.raises(QueueFull, match="max_buffered=4"):
        b.push_nowait(item(99))
    assert (len(b), b.queued) == (4, 5)  # the cap counts the buffered, not the front
    assert [e.payload for e in b.drain_nowait()] == [0, 1, 2, 3, 4]


async def test_closed_buffer_refuses_pushes() -> None:
    b = buf()
    b.close()
    assert b.closed
    with pytest.raises(SenderClosed):
        b.push_nowait(item(0))
    with pytest.raises(SenderClosed):
        await b.push(item(0))


async def test_take_keeps_order_and_ends_once_closed_and_empty() -> None:
    b = buf(high_water=50, max_buffered=100, ready_cap=3)
    for n in range(20):
        b.push_nowait(item(n))
    b.close()
    got = []
    while True:
        try:
            got.append((await b.take()).payload)
        except trio.EndOfChannel:
            break
    assert got == list(range(20))
    with pytest.raises(trio.EndOfChannel):
        b.take_nowait()


async def test_take_refills_the_front_from_the_buffer() -> None:
    b = buf(high_water=1, ready_cap=2)
    for n in range(3):
        b.push_nowait(item(n))
    assert (len(b), b.queued) == (1, 3)
    assert b.take_nowait().payload == 0
    # 2 moved up to the front: no longer buffered, so never shed, however many follow.
    assert (len(b), b.queued) == (0, 2)
    for n in range(3, 6):
        b.push_nowait(item(n))
    entries = [b.take_nowait() for _ in range(5)]
    assert [e.payload for e in entries] == [1, 2, 3, 4, 5]
    assert [bool(e.message.attachments) for e in entries] == [True, True, False, False, True]
    with pytest.raises(trio.WouldBlock):
        b.take_nowait()


async def test_take_waits_for_a_push(autojump_clock: trio.testing.MockClock) -> None:
    b = buf()
    got: list[tuple[int, float]] = []

    async def consumer() -> None:
        entry = await b.take()
        got.append((entry.payload, trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.sleep(10)
        b.push_nowait(item(7))
    assert got == [(7, 10.0)]


async def test_take_waiter_sees_close(autojump_clock: trio.testing.MockClock) -> None:
    b = buf()

    async def consumer() -> None:
        with pytest.raises(trio.EndOfChannel):
            await b.take()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.sleep(1)
        b.close()


async def test_a_second_waiting_consumer_is_refused() -> None:
    # One consumer a buffer (a sender's task): a second take while one waits is a bug.
    b = buf()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(b.take)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(RuntimeError, match="another task is already waiting"):
            await b.take()
        b.push_nowait(item(1))
    assert b.queued == 0


async def test_cancelled_take_takes_nothing(autojump_clock: trio.testing.MockClock) -> None:
    b = buf()
    with trio.move_on_after(3):
        await b.take()
    b.push_nowait(item(0))
    with trio.CancelScope() as scope:
        scope.cancel()
        await b.take()  # cancelled before it takes: checked first, even with one there
    assert b.queued == 1
    assert b.take_nowait().payload == 0


async def test_push_waits_for_room(autojump_clock: trio.testing.MockClock) -> None:
    b = buf(high_water=3, max_buffered=10)
    for n in range(4):  # one next in line, three buffered: at the mark
        b.push_nowait(item(n))
    pushed_at: list[float] = []
    got: list[Item] = []

    async def producer() -> None:
        await b.push(item(4))
        pushed_at.append(trio.current_time())

    async def consumer() -> None:
        await trio.sleep(5)
        while len(got) < 5:
            got.append(await b.take())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer)
        nursery.start_soon(consumer)
    assert [e.payload for e in got] == [0, 1, 2, 3, 4]
    assert all(e.message.attachments for e in got)  # push never sheds
    assert pushed_at == [5.0]  # woken by the first take, which freed a place


async def test_push_cancelled_while_waiting_adds_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    b = buf(high_water=1, max_buffered=10)
    b.push_nowait(item(0))
    b.push_nowait(item(1))
    with trio.move_on_after(3):
        await b.push(item(2))
    assert (len(b), b.queued) == (1, 2)


async def test_push_waiter_sees_close() -> None:
    b = buf(high_water=1, max_buffered=10)
    b.push_nowait(item(0))
    b.push_nowait(item(1))
    async with trio.open_nursery() as nursery:

        async def waiter() -> None:
            with pytest.raises(SenderClosed):
                await b.push(item(2))

        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        b.close()


async def test_drain_takes_all_and_resets() -> None:
    b = buf(high_water=2)
    front_taken(b)
    for n in range(4):
        b.push_nowait(item(n))
    assert [e.payload for e in b.drain_nowait()] == [-1, 0, 1, 2, 3]
    assert (len(b), b.queued) == (0, 0)
    assert b.drain_nowait() == []
    # Shedding after a drain still finds the oldest with files.
    front_taken(b)
    for n in range(4, 7):
        b.push_nowait(item(n))
    assert [bool(e.message.attachments) for e in b.drain_nowait()[1:]] == [False, True, True]


async def test_statistics_snapshot() -> None:
    b = PressureBuffer[Item].from_config(SenderConfig(queue_cap=2))
    for n in range(3):
        b.push_nowait(item(n))
    stats = b.statistics()
    assert (stats.buffered, stats.high_water, stats.max_buffered) == (1, 4, 10_000)
    assert b.ready_cap == 2
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.buffered = 3  # type: ignore[misc]


def test_bad_bounds() -> None:
    with pytest.raises(ValueError, match="high_water"):
        PressureBuffer[Item](0, 10)
    with pytest.raises(ValueError, match=r"max_buffered \(2\) must be >= high_water \(3\)"):
        PressureBuffer[Item](3, 2)
    with pytest.raises(ValueError, match="ready_cap"):
        PressureBuffer[Item](3, 10, ready_cap=0)


@given(
    ops=st.lists(st.tuples(st.sampled_from(["push", "take"]), st.integers(0, 2)), max_size=80),
    high_water=st.integers(1, 6),
    ready_cap=st.integers(1, 4),
)
def test_shedding_invariants(ops: list[tuple[str, int]], high_water: int, ready_cap: int) -> None:
    """Order kept, nothing lost, oldest shed first, at most high_water buffered hold files.

    And the front is full whenever anything is buffered behind it (the oldest entry is
    always the next one taken), and never loses a file.
    """

    async def body() -> None:
        b = PressureBuffer[Item](high_water, 10_000, ready_cap=ready_cap)
        out: list[Item] = []
        had_files: set[int] = set()
        # Whether each entry still had files when it reached the front.
        reached_front: dict[int, bool] = {}
        pushed = 0
        for op, files in ops:
            if op == "push":
                payload = pushed
                pushed += 1
                b.push_nowait(item(payload, files=files))
                if files:
                    had_files.add(payload)
            elif b.queued:
                out.append(b.take_nowait())
            assert sum(1 for e in b._deque if e.message.attachments) <= high_water
            assert not b._deque or len(b._ready) == ready_cap
            for e in b._ready:
                reached_front.setdefault(e.payload, bool(e.message.attachments))
        buffered = list(b._deque)
        rest = b.drain_nowait()
        everything = out + rest
        assert [e.payload for e in everything] == list(range(len(everything)))
        stripped = [
            e.payload for e in everything if e.payload in had_files and not e.message.attachments
        ]
        assert len(stripped) == b.statistics().shed_messages
        # What reached the front with its files kept them to the end.
        assert all(e.message.attachments for e in everything if reached_front.get(e.payload))
        # Among what is still buffered, every stripped message is older than every one
        # that kept its files.
        flags = [bool(e.message.attachments) for e in buffered if e.payload in had_files]
        assert flags == sorted(flags)

    trio.run(body)
