"""A second Ctrl-C: the drain is cut short and what is left is recorded at once."""

from __future__ import annotations

import trio
import trio.testing

from trio_webhook import DeliveryFailed, Message, SenderConfig, open_webhook_sender
from trio_webhook.deadletter import MemorySink
from trio_webhook.testing import FakeDiscord


async def test_stop_draining_dead_letters_what_is_left_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(bucket_limit=1, bucket_window=10.0)  # one message per 10 s
    hook = fake.create_webhook()
    sink = MemorySink()
    config = SenderConfig(dead_letter=sink, drain_timeout=30.0)
    start = trio.current_time()
    async with (
        trio.open_nursery() as nursery,
        open_webhook_sender(hook.url, config=config, transport=fake.transport()) as s,
    ):
        receipts = [s.send_nowait(Message(content=f"m{n}")) for n in range(10)]

        async def second_ctrl_c() -> None:
            await trio.sleep(5.0)  # well inside the 30 s drain
            s.stop_draining()

        nursery.start_soon(second_ctrl_c)
    assert trio.current_time() - start < 6.0  # not the 30 s deadline
    assert all(r.done for r in receipts)
    assert len(fake.history(hook.channel_id)) == 1
    assert len(sink.records) == 9
    assert {record.reason for record in sink.records} == {"shutdown"}
    reasons = []
    for receipt in receipts[1:]:
        try:
            await receipt.wait()
        except DeliveryFailed as exc:
            reasons.append(exc.reason)
    assert reasons == ["shutdown"] * 9


async def test_stop_draining_before_leaving_ends_the_drain_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(bucket_limit=1, bucket_window=10.0)
    hook = fake.create_webhook()
    sink = MemorySink()
    config = SenderConfig(dead_letter=sink, drain_timeout=30.0)
    start = trio.current_time()
    async with open_webhook_sender(hook.url, config=config, transport=fake.transport()) as s:
        for n in range(5):
            s.send_nowait(Message(content=f"m{n}"))
        await trio.sleep(0.1)
        s.stop_draining()
    assert trio.current_time() - start < 1.0
    assert len(sink.records) + len(fake.history(hook.channel_id)) == 5
