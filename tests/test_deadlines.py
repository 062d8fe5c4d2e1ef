"""The transport's request deadlines, kept by one task a pool instead of a cancel scope each.

The keeper must expire exactly the deadlines that pass while their request is in flight,
abort the stream a request waits on then (and only that one), forget the ones that end
in time, and wake early for a shorter timeout begun while it sleeps on a longer one.
"""

from __future__ import annotations

from collections import deque

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from test_h11transport import execute_request, serve, transport_for

from trio_webhook import TransportError
from trio_webhook.testing import FakeDiscord, FakeWebhook, FaultKind
from trio_webhook.transport._deadlines import DeadlineKeeper, DeadlinePassed


class _Stream:
    def __init__(self) -> None:
        self.aborted = 0

    def abort(self) -> None:
        self.aborted += 1


# (start offset, timeout, runs for): a request begun at the offset, ended after it ran.
_requests = st.lists(
    st.tuples(
        st.integers(0, 20).map(lambda n: n / 4),
        st.sampled_from([1.0, 2.5, 10.0]),
        st.integers(0, 60).map(lambda n: n / 4),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(requests=_requests)
def test_exactly_the_deadlines_passed_in_flight_expire(
    requests: list[tuple[float, float, float]],
) -> None:
    # Times are quarters of a second and no request ends exactly at its deadline, so the
    # order of two things due at one instant never decides the outcome.
    requests = [(s, t, r) for s, t, r in requests if r != t]
    outcomes: list[tuple[bool, int]] = [(False, 0)] * len(requests)

    async def one(
        keeper: DeadlineKeeper, index: int, start: float, limit: float, runs: float
    ) -> None:
        await trio.sleep(start)
        deadline = keeper.begin(limit)
        stream = _Stream()
        deadline.stream = stream
        await trio.sleep(runs)
        keeper.end(deadline)
        outcomes[index] = (deadline.expired, stream.aborted)

    async def main() -> None:
        keeper = DeadlineKeeper()
        async with trio.open_nursery() as nursery:
            for index, (start, timeout, runs) in enumerate(requests):
                nursery.start_soon(one, keeper, index, start, timeout, runs)
        assert keeper.in_flight == 0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    for (_start, timeout, runs), (expired, aborted) in zip(requests, outcomes, strict=True):
        assert expired == (runs > timeout)
        assert aborted == (1 if runs > timeout else 0)


async def test_a_shorter_timeout_begun_while_the_keeper_sleeps_wakes_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keeper = DeadlineKeeper()
    long = keeper.begin(30.0)
    await trio.sleep(1.0)  # the keeper sleeps until 30 s
    short = keeper.begin(2.0)
    short.stream = stream = _Stream()
    await trio.sleep(2.5)
    assert short.expired
    assert stream.aborted == 1
    assert not long.expired
    with pytest.raises(DeadlinePassed):
        short.check()
    long.check()  # not passed: no error
    keeper.end(long)
    keeper.end(short)


async def test_a_slow_answer_on_a_reused_connection_is_a_read_timeout_not_a_resend(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    # The keeper closes the kept-alive connection under the waiting read: that must read
    # as the deadline (ambiguous: the server has the request), never as a stale
    # connection to send the request again on.
    async with serve(fake_discord) as server, transport_for(server, total_timeout=0.3) as t:
        await t.send(execute_request(fake_webhook))
        fake_discord.inject(FaultKind.DELAY, delay=30.0)
        with pytest.raises(TransportError) as info:
            await t.send(execute_request(fake_webhook))
        assert t.connections_opened == 1
        assert t._pool.deadlines_in_flight == 0
        assert (await t.send(execute_request(fake_webhook))).status == 200
    assert info.value.kind == "read_timeout"
    assert info.value.ambiguous
    assert len(fake_discord.requests) == 3


async def test_two_timeouts_on_one_shared_pool_each_hold(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    async with serve(fake_discord) as server:
        patient = transport_for(server, total_timeout=30.0, shared=True)
        hasty = transport_for(server, total_timeout=0.3, shared=True)
        fake_discord.inject(FaultKind.DELAY, count=2, delay=1.0)
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                answers: list[int] = []

                async def patient_send() -> None:
                    answers.append((await patient.send(execute_request(fake_webhook))).status)

                nursery.start_soon(patient_send)
                await trio.sleep(0.05)
                started = trio.current_time()
                with pytest.raises(TransportError) as info:
                    await hasty.send(execute_request(fake_webhook))
                assert trio.current_time() - started < 0.9  # not held to the 30 s sleep
        assert answers == [200]
    assert info.value.kind == "read_timeout"


async def test_a_request_waiting_for_a_slot_past_its_deadline_is_a_pool_timeout(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    # The one connection is busy with a slow answer; the next request waits for its slot
    # with no cancel scope of its own: the keeper takes it out of the queue and wakes it.
    fake_discord.inject(FaultKind.DELAY, delay=1.0)
    async with (
        serve(fake_discord) as server,
        transport_for(server, total_timeout=3.0, max_connections=1) as slow,
    ):
        hasty = transport_for(server, total_timeout=0.3, max_connections=1)
        hasty._own_pool = slow._own_pool  # one pool, two deadlines
        async with trio.open_nursery() as nursery:
            nursery.start_soon(slow.send, execute_request(fake_webhook))
            await trio.sleep(0.05)
            with pytest.raises(TransportError) as info:
                await hasty.send(execute_request(fake_webhook))
            assert slow._pool.deadlines_in_flight == 1  # the slow one, still waiting
        assert (await slow.send(execute_request(fake_webhook))).status == 200  # slot back
    assert info.value.kind == "pool_timeout"
    assert not info.value.ambiguous


async def test_a_cancelled_wait_for_a_slot_gives_up_its_place(
    fake_discord: FakeDiscord, fake_webhook: FakeWebhook
) -> None:
    fake_discord.inject(FaultKind.DELAY, delay=0.5)
    async with serve(fake_discord) as server, transport_for(server, max_connections=1) as t:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(t.send, execute_request(fake_webhook))
            await trio.sleep(0.05)
            with trio.move_on_after(0.1):
                await t.send(execute_request(fake_webhook))
        assert t._pool._waiting == deque()
        assert (await t.send(execute_request(fake_webhook))).status == 200
    assert len(fake_discord.requests) == 2
