"""How far a plan got, and who hears of each of its requests: values, no trio.

:class:`PlanProgress` is written by :meth:`WebhookClient.execute_plan
<trio_webhook.WebhookClient.execute_plan>` and by one exchange
(:meth:`~trio_webhook._exchange.Exchange.send_answered`), and read by the sender, the
receipts and replay; :class:`Journal` is what the outbox hears. They live apart from
the client so that the exchange below it can name them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from trio_webhook._received import Answer

__all__ = ["Journal", "PlanProgress"]


class Journal(Protocol):
    """Hears of each request of a plan: before it goes out, and once delivered."""

    async def sending(self, request: int) -> None:
        """Request ``request`` (0-based, plan order) is about to be sent."""

    async def delivered(
        self, request: int, *, discord_id: str | None, thread_id: str | None
    ) -> None:
        """Request ``request`` was delivered (``discord_id`` when waited for)."""


@attrs.define
class PlanProgress:
    """How far a plan got: readable after :meth:`~trio_webhook.WebhookClient.execute_plan` raises.

    Attributes:
        delivered: Requests of the plan delivered, in plan order (a resumed plan starts
            after them).
        answers: What Discord returned for each delivered request sent with ``wait``:
            the answer's JSON text (a message object), or the object parsed;
            :meth:`~trio_webhook.Delivery.from_answers` reads them when asked.
        thread_id: The forum thread the plan's first request created (``thread_name``),
            where the rest of the plan goes.
    """

    delivered: int = 0
    answers: list[Answer] = attrs.field(factory=list)
    thread_id: str | None = None
    maybe_posted: bool = False
    """Whether the request after ``delivered`` may already be posted: it is on its way
    (handed to the transport, no answer yet), or an earlier attempt of it ended in an
    ambiguous fault. A message interrupted then is ``ambiguous``, never ``shutdown``."""
