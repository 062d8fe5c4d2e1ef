"""Sharing one outbox between processes: appending without the lease, learning outcomes.

A webhook is still delivered by one process at a time (the lease holder). A
:class:`SharedOutbox` also lets the others *append* to it: their messages join the
webhook's order in the outbox, the holder picks them up, and writes each one's
:class:`Outcome` where its appender waits for it. Only
:class:`~trio_webhook.outbox.RedisOutbox` implements it (``docs/many-processes.md``
says why the SQLite outbox does not).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from trio_webhook._models import Message
from trio_webhook._records import DeadLetter
from trio_webhook.outbox._base import Outbox

__all__ = ["Outcome", "SharedOutbox"]


@attrs.frozen(kw_only=True)
class Outcome:
    """How the lease holder settled a message another process appended.

    Attributes:
        delivered: Delivered (else dead-lettered).
        sent: Discord's message for each request the holder sent with ``wait=true``
            (its JSON, in plan order); empty when not waited for or not known.
        reason: The dead letter's reason (``""`` when delivered).
        attempts: Its attempts.
        status: Its last HTTP status, or ``None``.
        error: Its error text (token-free, as the record's).
        body: Discord's error body as the record kept it (JSON text, or ``""``).
    """

    delivered: bool
    sent: tuple[Mapping[str, Any], ...] = ()
    reason: str = ""
    attempts: int = 0
    status: int | None = None
    error: str = ""
    body: str = ""

    @classmethod
    def of_delivery(cls, sent: Sequence[Mapping[str, Any]]) -> Outcome:
        """The outcome of a delivered message, with Discord's answers."""
        return cls(delivered=True, sent=tuple(sent))

    @classmethod
    def of_record(cls, record: DeadLetter) -> Outcome:
        """The outcome of a dead letter (the record without its message)."""
        return cls(
            delivered=False,
            reason=record.reason,
            attempts=record.attempts,
            status=record.status,
            error=record.error,
            body=record.body,
        )

    def to_json(self) -> str:
        """Compact JSON text, as the outbox stores it."""
        if self.delivered:
            return json.dumps({"ok": 1, "sent": list(self.sent)}, separators=(",", ":"))
        fields = attrs.asdict(self, filter=lambda a, _: a.name not in ("delivered", "sent"))
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        """The outcome stored as :meth:`to_json` wrote it."""
        data = json.loads(text)
        if data.get("ok"):
            return cls.of_delivery([dict(m) for m in data.get("sent", ())])
        status = data.get("status")
        return cls(
            delivered=False,
            reason=str(data.get("reason", "")),
            attempts=int(data.get("attempts", 0)),
            status=int(status) if status is not None else None,
            error=str(data.get("error", "")),
            body=str(data.get("body", "")),
        )


@runtime_checkable
class SharedOutbox(Outbox, Protocol):
    """An :class:`~trio_webhook.outbox.Outbox` that processes without the lease append to.

    The holder's order is the outbox's commit order, whoever appended; each message an
    appender committed gets an :class:`Outcome` when the holder settles it.
    """

    def holds(self, webhook_id: str) -> bool:
        """Whether this outbox believes it holds the lease on ``webhook_id``."""

    async def append_unleased(self, webhook_id: str, messages: Sequence[Message]) -> list[int]:
        """Store ``messages`` (in order, one commit) without claiming the lease.

        Their outcomes are kept for :meth:`wait_outcome` when the holder settles them.
        """

    async def settle_delivered(self, entry: int, *, sent: Sequence[Mapping[str, Any]] = ()) -> None:
        """Forget a delivered message; ``sent`` (Discord's answers) go to its appender."""

    async def outcome(self, entry: int) -> Outcome | None:
        """How ``entry`` was settled (read once: it is forgotten), or ``None`` if pending."""

    async def wait_outcome(self, entry: int, block: float) -> Outcome | None:
        """:meth:`outcome`, after Redis blocks up to ``block`` seconds for it to settle."""

    async def wait_appended(self, webhook_id: str, after: int, block: float) -> int:
        """Wait up to ``block`` seconds for an entry above ``after``; the newest seen.

        Returns ``after`` when none came (the caller decides what a quiet period means).
        """
