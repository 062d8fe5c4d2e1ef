"""Random interleavings of sends, injected faults and clock advances against two senders.

Each hypothesis example is one ``trio.run`` on a fresh ``MockClock(autojump_threshold=0)``
(see STACK-NOTES: a function-scoped clock fixture would be shared across examples), with
two webhooks of one FakeDiscord, each behind its own sender.

Invariants, after every step and at the end:

- ``stats()``: ``enqueued == delivered + dead + in_flight``, and ``delivered + dead`` is
  the number of resolved receipts.
- Per webhook, the parts (requests) of the messages appear in the channel in enqueue
  order.
- No part is shown twice, except after an *ambiguous* fault: a 500, 504, dropped
  connection or timeout after which the fake had stored the message. A retry then posts
  it again (executing a webhook is not idempotent; the design retries ambiguous faults by
  default and counts them), so the duplicates of a webhook are at most its
  ``stats().ambiguous_retries``.
- Every message delivered shows all its embeds; every receipt is resolved at the end.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_webhook import (
    DeliveryFailed,
    Embed,
    Message,
    Receipt,
    SenderConfig,
    WebhookSender,
    open_webhook_sender,
)
from trio_webhook.testing import FakeDiscord, FakeWebhook


@attrs.frozen
class Send:
    hook: int
    embeds: int


@attrs.frozen
class Inject:
    hook: int
    kind: str
    status: int = 500
    stored: bool = False
    delay: float = 30.0


@attrs.frozen
class Advance:
    seconds: float


Action = Send | Inject | Advance

hooks = st.integers(0, 1)
sends = st.builds(Send, hooks, st.integers(1, 15))  # one or two requests a message
# Faults and whether the fake stores the message before failing. Only faults that can
# happen after Discord acted (500, 504, drop, read timeout) are ever stored: a 502/503
# comes from the edge, and a 429 is refused before anything is stored.
faults = st.one_of(
    st.builds(Inject, hooks, st.just("server_error"), st.sampled_from([500, 504]), st.booleans()),
    st.builds(Inject, hooks, st.just("server_error"), st.sampled_from([502, 503])),
    st.builds(Inject, hooks, st.just("drop"), stored=st.booleans()),
    # 12 s is past the 10-s request timeout: a timeout, ambiguous when stored.
    st.builds(Inject, hooks, st.just("delay"), stored=st.booleans(), delay=st.just(12.0)),
    st.builds(Inject, hooks, st.just("delay"), delay=st.sampled_from([0.5, 3.0])),
    st.builds(Inject, hooks, st.sampled_from(["rate_limit_no_body", "retry_after_ms"])),
)
advances = st.builds(Advance, st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 15.0]))
actions = st.lists(st.one_of(sends, sends, faults, advances), max_size=25)


@attrs.define
class Tracked:
    hook: FakeWebhook
    sender: WebhookSender
    receipts: list[Receipt] = attrs.Factory(list)
    titles: list[list[str]] = attrs.Factory(list)  # per message, its embeds' titles


def check_stats(t: Tracked) -> None:
    s = t.sender.stats()
    assert s.in_flight >= 0
    assert s.enqueued == s.delivered + s.dead + s.in_flight == len(t.receipts)
    assert s.delivered + s.dead == sum(r.done for r in t.receipts)


def titles_of(i: int, n: int) -> list[str]:
    return [f"{i}.{j}" for j in range(n)]


async def outcome(receipt: Receipt) -> Literal["delivered", "dead"]:
    try:
        await receipt.wait()
    except DeliveryFailed:
        return "dead"
    return "delivered"


async def scenario(steps: list[Action]) -> None:
    fake = FakeDiscord(seed=0)
    web = [fake.create_webhook(), fake.create_webhook()]
    config = SenderConfig(seed=0, drain_timeout=100_000)
    async with (
        open_webhook_sender(web[0].url, transport=fake.transport(), config=config) as s0,
        open_webhook_sender(web[1].url, transport=fake.transport(), config=config) as s1,
    ):
        tracked = [Tracked(web[0], s0), Tracked(web[1], s1)]
        for step in steps:
            if isinstance(step, Send):
                t = tracked[step.hook]
                i = len(t.receipts)
                titles = titles_of(i, step.embeds)
                t.receipts.append(
                    t.sender.send_nowait(Message(embeds=[Embed(title=x) for x in titles]))
                )
                t.titles.append(titles)
            elif isinstance(step, Inject):
                options: dict[str, Any] = {"status": step.status, "stored": step.stored}
                fake.inject(step.kind, 1, delay=step.delay, webhook=web[step.hook], **options)
            else:
                await trio.sleep(step.seconds)
            for t in tracked:
                check_stats(t)

    for t in tracked:
        check_stats(t)
        assert all(r.done for r in t.receipts)
        stats = t.sender.stats()
        assert stats.in_flight == 0
        shown = [m["embeds"][0]["title"] for m in fake.history(t.hook.channel_id)]
        # Per-webhook order: the first showing of each part is in enqueue order.
        first_seen: list[str] = []
        for title in shown:
            if title not in first_seen:
                first_seen.append(title)
        # A part (request) holds up to 10 embeds; it is known by its first embed's title.
        order = [first for titles in t.titles for first in titles[::10]]
        assert first_seen == [p for p in order if p in first_seen]
        # Duplicates only after ambiguous faults, at most one per ambiguous retry.
        assert len(shown) - len(first_seen) <= stats.ambiguous_retries
        # Every delivered message shows all its embeds.
        all_titles = {e["title"] for m in fake.history(t.hook.channel_id) for e in m["embeds"]}
        for receipt, titles in zip(t.receipts, t.titles, strict=True):
            if await outcome(receipt) == "delivered":
                assert set(titles) <= all_titles


@settings(deadline=None)
@given(actions)
def test_random_interleavings_keep_the_sender_invariants(steps: list[Action]) -> None:
    trio.run(scenario, steps, clock=trio.testing.MockClock(autojump_threshold=0))
