"""The sender hooks the hub and the relay stand on, and the hub with an outbox.

- ``DeliveryFailed.discord_error``: Discord's JSON error straight from the receipt;
- ``send(message, wait_for_room=False)``: ``QueueFull`` where ``send`` would wait;
- the hub with ``config.outbox``: every lane commits to the one outbox, and a lane
  delivers what an earlier run left pending for its webhook first;
- an idle lane is closed within its timeout and nothing keeps it alive.

The outbox tests run on the real clock with a real SQLite file: its worker thread is
outside trio, so the autojump clock would skip time while a commit runs (STACK-NOTES).
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from trio_webhook import (
    DeliveryFailed,
    Message,
    QueueFull,
    Receipt,
    SenderConfig,
    WebhookSender,
    open_webhook_sender,
)
from trio_webhook._hub_lane import Lane
from trio_webhook._records import discord_error_in, discord_error_of
from trio_webhook.errors import DiscordHTTPError
from trio_webhook.hub import open_webhook_hub
from trio_webhook.outbox import SQLiteOutbox
from trio_webhook.testing import FakeDiscord, FakeWebhook


def _config(**changes: Any) -> SenderConfig:
    return SenderConfig(seed=1, **changes)


def _contents(fake: FakeDiscord, hook: FakeWebhook) -> list[str]:
    return [m["content"] for m in fake.history(hook.channel_id)]


# ------------------------------------------------------------------ Discord's error


async def test_a_failed_receipt_carries_discords_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.delete_webhook(hook)
    async with open_webhook_sender(hook.url, config=_config(), transport=fake.transport()) as s:
        receipt = s.send_nowait(Message(content="lost"))
        with pytest.raises(DeliveryFailed) as caught:
            await receipt.wait()
    assert caught.value.status == 404
    assert dict(caught.value.discord_error or {}) == {"code": 10015, "message": "Unknown Webhook"}


async def test_a_failure_without_an_answer_has_no_discord_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.inject("drop", count=10)
    config = _config(max_attempts=2, backoff_base=0.01, backoff_cap=0.01)
    async with open_webhook_sender(hook.url, config=config, transport=fake.transport()) as s:
        with pytest.raises(DeliveryFailed) as caught:
            await s.send_nowait(Message(content="x")).wait()
    assert caught.value.discord_error is None


def test_discords_error_keeps_the_errors_tree_and_never_a_token() -> None:
    leaky = "see https://discord.com/api/webhooks/123/s3cr3t-TOKEN-value"
    tree = {"embeds": {"0": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": leaky}]}}}
    error = DiscordHTTPError(400, 50035, leaky, errors=tree)
    body = discord_error_of(error)
    assert body["code"] == 50035
    assert body["errors"]["embeds"]["0"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert "s3cr3t" not in repr(dict(body))
    assert "/webhooks/123/***" in body["message"]
    with pytest.raises(TypeError):
        body["code"] = 0  # type: ignore[index]


def test_discords_error_from_a_records_body_is_the_one_of_the_answer() -> None:
    # What reaches another process's receipt: the dead letter's body, not the answer.
    leaky = "see https://discord.com/api/webhooks/123/s3cr3t-TOKEN-value"
    tree = {"content": {"_errors": [{"code": "BASE_TYPE_INVALID", "message": leaky}]}}
    kept = json.dumps({"code": 50035, "message": "Invalid Form Body", "errors": tree})
    answer = DiscordHTTPError(400, 50035, "Invalid Form Body", errors=tree)
    assert discord_error_in(kept) == discord_error_of(answer)
    assert "s3cr3t" not in repr(dict(discord_error_in(kept) or {}))
    # No answer, or a tree so large that the record's body was cut: none to give.
    assert discord_error_in("") is None
    assert discord_error_in(kept[: len(kept) // 2] + "…") is None


# ------------------------------------------------------------ send(wait_for_room=False)


async def _fill(sender: WebhookSender) -> tuple[list[Receipt], QueueFull]:
    """Send without waiting until refused: what was accepted, and the refusal."""
    accepted: list[Receipt] = []
    while len(accepted) < 100:
        try:
            message = Message(content=f"m{len(accepted)}")
            accepted.append(await sender.send(message, wait_for_room=False))
        except QueueFull as refusal:
            return accepted, refusal
    pytest.fail("send(wait_for_room=False) never refused")


async def test_send_without_waiting_refuses_at_the_high_water_mark(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Discord is down: nothing settles, the buffer fills to its mark, and the next send
    # is refused at once rather than held (send would wait; send_nowait would shed).
    fake = FakeDiscord()
    hook = fake.create_webhook()
    fake.fault_rate(1.0, ["server_error"])
    config = _config(queue_cap=1, high_water=3, max_attempts=100, backoff_cap=1.0)
    async with open_webhook_sender(hook.url, config=config, transport=fake.transport()) as s:
        accepted, refusal = await _fill(s)
        assert "high_water=3" in str(refusal)
        refused_at = trio.current_time()
        stats = s.stats()
        assert stats.buffered == 3
        assert stats.shed_messages == 0
        # Room again once Discord is back: the next one is accepted.
        fake.fault_rate(0)
        while s.stats().buffered >= 3:  # noqa: ASYNC110 -- the sender's own state
            await trio.sleep(0.1)
        accepted.append(await s.send(Message(content="later"), wait_for_room=False))
        for receipt in accepted:
            await receipt.wait()
    assert refused_at == 0
    shown = _contents(fake, hook)
    assert shown == [f"m{n}" for n in range(len(accepted) - 1)] + ["later"]


async def test_the_hub_refuses_past_its_total_without_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    fake.inject("delay", 10, delay=10)  # nothing settles for 10 s: the hub stays full
    a, b = fake.create_webhook(), fake.create_webhook()
    full_at_two = open_webhook_hub(
        config=_config(), transport=fake.transport(total_timeout=60), max_buffered_total=2
    )
    async with full_at_two as hub:
        await hub.send(a.url, Message(content="a"), wait_for_room=False)
        await hub.send(b.url, Message(content="b"), wait_for_room=False)
        with pytest.raises(QueueFull, match=r"max_buffered_total \(2\)"):
            await hub.send(a.url, Message(content="refused"), wait_for_room=False)
        assert trio.current_time() == 0
    assert sorted(_contents(fake, a) + _contents(fake, b)) == ["a", "b"]


# ----------------------------------------------------------------- the hub's outbox


def _fast_fake() -> tuple[FakeDiscord, list[FakeWebhook]]:
    fake = FakeDiscord(seed=0, bucket_limit=1000, bucket_window=1.0)
    return fake, [fake.create_webhook() for _ in range(3)]


async def test_the_hubs_lanes_commit_to_one_outbox(tmp_path: Path) -> None:
    fake, hooks = _fast_fake()
    path = tmp_path / "hub.db"
    fake.inject("delay", count=3, delay=0.5)  # held while the file is read
    config = _config(outbox=str(path))
    async with open_webhook_hub(config=config, transport=fake.transport()) as hub:
        receipts = [
            await hub.send(h.url, Message(content=f"{i}:{n}"))
            for n in range(4)
            for i, h in enumerate(hooks)
        ]
        async with SQLiteOutbox(path) as look:
            pending = {h.id: len(await look.pending(h.id)) for h in hooks}
        for receipt in receipts:
            await receipt.wait()
        total = hub.stats().total
    # send returned once committed: every message was in the file before it was settled.
    assert sum(pending.values()) >= 9
    assert (total.delivered, total.outbox_errors) == (12, 0)
    for i, hook in enumerate(hooks):
        assert _contents(fake, hook) == [f"{i}:{n}" for n in range(4)]
    async with SQLiteOutbox(path) as look:
        assert await look.pending() == []


async def test_a_lane_delivers_what_an_earlier_hub_left_first(tmp_path: Path) -> None:
    fake, hooks = _fast_fake()
    path = tmp_path / "hub.db"
    fake.fault_rate(1.0, ["server_error"])
    first_config = _config(outbox=str(path), drain_timeout=0.2, backoff_base=0.05)
    async with open_webhook_hub(config=first_config, transport=fake.transport()) as first:
        kept = [
            first.send_nowait(h.url, Message(content=f"old{n}")) for n in range(3) for h in hooks
        ]
    assert first.stats().total.kept == 9
    for receipt in kept:
        with pytest.raises(DeliveryFailed, match="kept"):
            await receipt.wait()

    fake.fault_rate(0)
    config = _config(outbox=str(path))
    async with open_webhook_hub(config=config, transport=fake.transport(), idle_timeout=1) as hub:
        # One webhook by a new message, one by open_lane (no message), one left alone.
        await (await hub.send(hooks[0].url, Message(content="new"))).wait()
        await hub.open_lane(hooks[1].url)
        with trio.fail_after(10):
            while len(fake.history(hooks[1].channel_id)) < 3:  # noqa: ASYNC110 -- the fake's
                await trio.sleep(0.02)
        # Recovered messages count in the hub's total as any other: the lanes go idle.
        with trio.fail_after(10):
            while hub.stats().lanes:  # noqa: ASYNC110 -- the hub's own state
                await trio.sleep(0.05)
        total = hub.stats().total
    assert [c for c in _contents(fake, hooks[0]) if c != "old0"] == ["old1", "old2", "new"]
    assert [c for c in _contents(fake, hooks[1]) if c != "old0"] == ["old1", "old2"]
    assert _contents(fake, hooks[2]) == []
    assert total.recovered == 6
    assert total.enqueued == total.delivered + total.dead + total.in_flight + total.kept
    async with SQLiteOutbox(path) as look:
        assert [p.message.content for p in await look.pending()] == ["old0", "old1", "old2"]


async def test_a_lane_reopened_at_once_keeps_its_lease(tmp_path: Path) -> None:
    # The lane closes idle, and a message comes while it is closing: the new lane waits
    # for the old one to give the lease back before claiming it, then delivers.
    fake, hooks = _fast_fake()
    path = tmp_path / "hub.db"
    config = _config(outbox=str(path))
    async with open_webhook_hub(config=config, transport=fake.transport(), idle_timeout=0.2) as hub:
        for n in range(5):
            await (await hub.send(hooks[0].url, Message(content=f"m{n}"))).wait()
            # Every checkpoint: the next message comes the moment the lane retires,
            # while it still gives its lease back.
            while hub.stats().lanes:
                await trio.lowlevel.checkpoint()
        stats = hub.stats()
    assert _contents(fake, hooks[0]) == [f"m{n}" for n in range(5)]
    assert stats.lanes_opened >= 2
    assert stats.total.outbox_errors == 0
    async with SQLiteOutbox(path) as look:
        assert await look.pending() == []


# --------------------------------------------------------------- idle lanes are freed


async def test_an_idle_lane_is_closed_and_released_within_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord()
    hooks = [fake.create_webhook() for _ in range(3)]

    def lanes_alive() -> int:
        gc.collect()
        return sum(isinstance(o, Lane) for o in gc.get_objects())

    async with open_webhook_hub(
        config=_config(), transport=fake.transport(), idle_timeout=10
    ) as hub:
        receipts = [hub.send_nowait(h.url, Message(content="hi")) for h in hooks]
        sent_at = trio.current_time()
        for receipt in receipts:
            await receipt.wait()
        del receipts
        await trio.sleep_until(sent_at + 9.99)
        assert (hub.stats().lanes, lanes_alive()) == (3, 3)
        await trio.sleep_until(sent_at + 10.01)
        # Closed at the timeout, and nothing (the hub, its nursery, a receipt) keeps it.
        assert (hub.stats().lanes, lanes_alive()) == (0, 0)
        stats = hub.webhook_stats(hooks[0].url)
        assert stats is not None
        assert stats.delivered == 1
