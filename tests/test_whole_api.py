"""The whole public API under arbitrary input, faults and cancellations.

The property: for any value of any message field, any sequence of ``send_nowait`` and
``send`` (some cancelled), injected faults, clock advances and an outer cancellation at
any time,

- every message is either refused before it is queued (``TypeError``/``ValueError`` when
  it is made, ``ValidationError`` from ``send_nowait``/``send``) or accepted, and every
  accepted message ends delivered or dead-lettered (its receipt is done, and ``stats()``
  balances with nothing in flight);
- the sender never dies: leaving the block raises nothing of its own;
- no body that fails Discord's OpenAPI description is ever sent.

Each example is one ``trio.run`` on a fresh ``MockClock(autojump_threshold=0)``. CI runs
3,000 examples (``HYPOTHESIS_PROFILE=ci``); a developer run, a few hundred.
"""

from __future__ import annotations

import os
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_conformance import EXECUTE, assert_conforms

from trio_webhook import (
    AllowedMentions,
    DeliveryFailed,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
    Receipt,
    SenderConfig,
    ValidationError,
    open_webhook_sender,
)
from trio_webhook.testing import FakeDiscord
from trio_webhook.testing.strategies import messages

pytestmark = pytest.mark.conformance

EXAMPLES = 3_000 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 300

# Any value a caller might pass for a field: right types, wrong types, text that cannot
# be encoded (lone surrogates), bytes, huge numbers, containers.
wild: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.sampled_from(["bad \ud800", "\udfff", "x" * 2001, " ", "discord", "attachment://a.png"]),
    st.binary(max_size=4),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.one_of(st.integers(0, 2**63), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _wild_instance(cls: type) -> st.SearchStrategy[Any]:
    """``cls`` built with a random subset of its fields set to wild values."""
    names = [a.name for a in attrs.fields(cls) if a.init]
    return st.dictionaries(st.sampled_from(names), wild, max_size=3).map(
        lambda kwargs: (cls, kwargs)
    )


_parts = st.one_of(
    _wild_instance(Embed),
    _wild_instance(EmbedField),
    _wild_instance(EmbedFooter),
    _wild_instance(EmbedAuthor),
    _wild_instance(EmbedMedia),
    _wild_instance(AllowedMentions),
    _wild_instance(FilePart),
)


@st.composite
def wild_messages(draw: st.DrawFn) -> Any:
    """A factory of a valid message with one field or part made wild (it may raise)."""
    base = draw(messages(max_embeds=3, max_files=2))
    kind = draw(st.sampled_from(["field", "embed", "embed_part", "attachment", "mentions"]))
    if kind == "field":
        name = draw(st.sampled_from([a.name for a in attrs.fields(Message) if a.init]))
        value = draw(wild)
        return lambda: attrs.evolve(base, **{name: value})
    cls, kwargs = draw(_parts)

    def build() -> Message:
        part = cls(**kwargs)
        if kind == "attachment":
            return attrs.evolve(base, attachments=(part,))
        if kind == "mentions":
            return attrs.evolve(base, allowed_mentions=part)
        if kind == "embed_part":
            return attrs.evolve(base, embeds=(Embed(title="t", fields=[part]),))
        return attrs.evolve(base, embeds=(part,))

    return build


@attrs.frozen
class SendNowait:
    build: Any


@attrs.frozen
class Send:
    build: Any
    cancel_after: float | None


@attrs.frozen
class Inject:
    kind: str
    status: int = 500
    stored: bool = False
    delay: float = 30.0


@attrs.frozen
class Advance:
    seconds: float


def _valid(message: Message) -> Any:
    return lambda: message


message_factories = st.one_of(
    messages(max_embeds=4, max_files=2).map(_valid),
    wild_messages(),
)
faults = st.one_of(
    st.builds(
        Inject, st.just("server_error"), st.sampled_from([500, 502, 503, 504]), st.booleans()
    ),
    st.builds(Inject, st.just("drop"), stored=st.booleans()),
    st.builds(Inject, st.just("delay"), stored=st.booleans(), delay=st.sampled_from([0.5, 12.0])),
    st.builds(Inject, st.sampled_from(["rate_limit_no_body", "retry_after_ms", "invalid_json"])),
)
actions = st.lists(
    st.one_of(
        st.builds(SendNowait, message_factories),
        st.builds(Send, message_factories, st.none() | st.sampled_from([0.0, 0.5, 5.0])),
        faults,
        st.builds(Advance, st.sampled_from([0.0, 0.5, 2.0, 15.0])),
    ),
    max_size=12,
)


async def reason_of(receipt: Receipt) -> str:
    try:
        await receipt.wait()
    except DeliveryFailed as failure:
        return failure.reason
    return "delivered"


async def scenario(steps: list[Any], cancel_at: float | None) -> None:
    fake = FakeDiscord(seed=0)
    hook = fake.create_webhook()
    config = SenderConfig(seed=0, drain_timeout=120.0, queue_cap=4, max_buffered=50)
    receipts: list[Receipt] = []
    refused = 0

    def make(build: Any) -> Message | None:
        nonlocal refused
        try:
            message = build()
        except (TypeError, ValueError):
            refused += 1
            return None
        assert isinstance(message, Message)
        return message

    with trio.CancelScope() as outer:
        if cancel_at is not None:
            outer.deadline = trio.current_time() + cancel_at
        async with open_webhook_sender(
            hook.url, config=config, transport=fake.transport()
        ) as sender:
            for step in steps:
                if isinstance(step, SendNowait | Send) and (message := make(step.build)):
                    try:
                        if isinstance(step, SendNowait):
                            receipts.append(sender.send_nowait(message))
                        else:
                            timeout = step.cancel_after
                            with trio.move_on_after(timeout if timeout is not None else 1e9):
                                receipts.append(await sender.send(message))
                    except ValidationError:
                        refused += 1
                elif isinstance(step, Inject):
                    fake.inject(
                        step.kind, 1, status=step.status, stored=step.stored, delay=step.delay
                    )
                elif isinstance(step, Advance):
                    await trio.sleep(step.seconds)

    # Every accepted message ended one way or the other, and the books balance.
    assert all(r.done for r in receipts)
    stats = sender.stats()
    assert stats.enqueued == len(receipts) == stats.delivered + stats.dead
    assert stats.in_flight == 0
    reasons = {await reason_of(r) for r in receipts}
    # Never "internal": that is a bug the last line of defence caught.
    assert reasons <= {
        "delivered",
        "permanent",
        "exhausted",
        "ambiguous",
        "shutdown",
        "invalid",
        "dead_webhook",
        "invalid_budget",
    }
    # Nothing invalid reached Discord.
    for request in fake.requests:
        if request.method == "POST" and request.json is not None:
            assert_conforms(EXECUTE, request.json)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(actions, st.none() | st.sampled_from([0.0, 1.0, 30.0]))
def test_any_input_any_fault_any_cancellation_loses_nothing(
    steps: list[Any], cancel_at: float | None
) -> None:
    trio.run(scenario, steps, cancel_at, clock=trio.testing.MockClock(autojump_threshold=0))
