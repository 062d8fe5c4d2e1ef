"""What a producer holds: the :class:`Receipt` of a message and the :class:`SenderStats`.

Pure values and a promise: no I/O. The sender resolves or fails each receipt once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import final

import attrs
import trio

from trio_webhook._client import PlanProgress
from trio_webhook._durable import DurableItem
from trio_webhook._errors import DeliveryFailed
from trio_webhook._models import Delivery

__all__ = ["Item", "Receipt", "SenderStats"]


@final
class Receipt:
    """The promise of one message's outcome, returned by ``send_nowait`` and ``send``.

    Costs nothing until awaited: the event a waiter parks on is made on first use.

    Example::

        receipt = sender.send_nowait(Message(content="hi"))
        delivery = await receipt.wait()   # or DeliveryFailed
        print(delivery.id)
    """

    __slots__ = ("_delivery", "_error", "_waiters")

    def __init__(self) -> None:
        self._delivery: Delivery | None = None
        self._error: DeliveryFailed | None = None
        # The tasks waiting, parked by hand: a trio.Event (and its ParkingLot) a
        # message cost more than the wait itself.
        self._waiters: list[trio.lowlevel.Task] | None = None

    def __repr__(self) -> str:
        state = "pending"
        if self._delivery is not None:
            state = f"delivered id={self._delivery.id}"
        elif self._error is not None:
            state = f"failed ({self._error.reason})"
        return f"<Receipt {state}>"

    @property
    def done(self) -> bool:
        """Whether the message was delivered or dead-lettered."""
        return self._delivery is not None or self._error is not None

    async def wait(self) -> Delivery:
        """Wait until the message is delivered and return what Discord answered.

        Raises:
            DeliveryFailed: The message was dead-lettered; ``reason`` says why.

        Cancellation: cancelling the wait leaves the message queued; only the waiter
        stops waiting.
        """
        if not self.done:
            task = trio.lowlevel.current_task()
            waiters = self._waiters
            if waiters is None:
                waiters = self._waiters = []
            waiters.append(task)

            def abort(_: object) -> trio.lowlevel.Abort:
                waiters.remove(task)
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        if self._error is not None:
            raise self._error
        assert self._delivery is not None
        return self._delivery

    def _resolve(self, delivery: Delivery) -> None:
        self._delivery = delivery
        self._wake()

    def _fail(self, error: DeliveryFailed) -> None:
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = None
            for task in waiters:
                trio.lowlevel.reschedule(task)


@attrs.define(eq=False)
class Item(DurableItem):
    """A queued message, its receipt, and (recovered from an outbox) where to resume."""

    receipt: Receipt = attrs.field(factory=Receipt)
    # Where to resume: a message an earlier process left half delivered in the outbox.
    resume: PlanProgress | None = None


@attrs.frozen
class SenderStats:
    """A snapshot of a sender's counters (``sender.stats()``).

    ``enqueued == delivered + dead + in_flight`` holds in every snapshot.

    Attributes:
        enqueued: Messages accepted by ``send_nowait``/``send``.
        delivered: Messages whose every request Discord accepted.
        dead: Messages dead-lettered.
        in_flight: Messages buffered, queued or being sent.
        requests: HTTP requests made (retries included).
        retries: Requests repeated after a fault or a 429.
        ambiguous_retries: Retries after a fault that may have posted the message already
            (a read timeout, 500, 504): each may have made a duplicate.
        rate_limited: 429s received, by scope (``user``, ``shared``, ``global``).
        waits: Times the limiter made a request wait.
        wait_seconds: Total time spent waiting on the limiter.
        shed_attachments: Files dropped from buffered messages above the high-water mark.
        shed_messages: Messages that lost their files so.
        buffered: Messages in the buffer, behind the ``queue_cap`` next in line.
        kept: Messages left pending in the outbox at shutdown (not delivered in time, not
            dead): the next sender on the outbox delivers them. Their receipts fail
            with reason ``kept``.
        recovered: Messages another process committed to the outbox, delivered (or
            dead-lettered) by this one: what an earlier process left pending (first), or,
            on a shared outbox (``share_outbox``), what an appender commits now; counted
            in ``enqueued``.
        recovered_ambiguous: Of those, how many had a request in flight at the crash:
            retried (each may show twice on Discord) or, with ``retry_ambiguous=False``,
            dead-lettered ``ambiguous``.
        outbox_errors: Messages the outbox could not commit (delivered from memory only).
        invalid_requests: Answers the client's tracker counts towards Discord's
            invalid-request limit (401, 403, 429 not ``shared``) in the last 10 minutes;
            shared by every sender of the tracker. Near 10,000 the tracker slows down, at
            95 % it stops (reason ``invalid_budget``).
        edge_bans: IP-wide bans by Discord's edge the tracker saw (each paused every
            route of the tracker).
    """

    enqueued: int
    delivered: int
    dead: int
    in_flight: int
    requests: int
    retries: int
    ambiguous_retries: int
    rate_limited: Mapping[str, int]
    waits: int
    wait_seconds: float
    shed_attachments: int
    shed_messages: int
    buffered: int
    invalid_requests: int = 0
    edge_bans: int = 0
    kept: int = 0
    recovered: int = 0
    recovered_ambiguous: int = 0
    outbox_errors: int = 0
