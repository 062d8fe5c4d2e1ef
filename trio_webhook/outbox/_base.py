"""The outbox seam: what a sender stores so that a crash loses nothing it accepted.

An outbox keeps every accepted message until it is settled (delivered: the row goes; or
dead-lettered: the row stays as a dead letter). A webhook is keyed by its id, never its
token: the sender knows the URL, the outbox never sees it.

One process at a time delivers a webhook's messages: it holds that webhook's *lease*
(:meth:`Outbox.claim`). Operations that lead to a post (:meth:`Outbox.take`,
:meth:`Outbox.mark_in_flight`) claim or check it, so two processes sharing a file cannot
both post the same message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final, Protocol, TypeAlias, runtime_checkable

import attrs

from trio_webhook._errors import WebhookError
from trio_webhook._models import Message
from trio_webhook._records import DeadLetter

__all__ = [
    "Outbox",
    "OutboxError",
    "OutboxLeaseHeld",
    "OutboxLeaseLost",
    "OutboxTarget",
    "PendingMessage",
    "StoredDeadLetter",
    "WebhookSummary",
    "check_webhook_id",
    "pid_alive",
]

_SNOWFLAKE: Final = re.compile(r"[0-9]{1,20}")


class OutboxError(WebhookError):
    """The outbox cannot do what was asked (its file, its lease or its contents)."""


class OutboxLeaseHeld(OutboxError):
    """Another live outbox (another process, or another object in this one) holds the lease.

    Attributes:
        path: The outbox file.
        webhook_id: The webhook whose lease is held.
        holder: Who holds it (process id and host), for the message.
        expires_in: Seconds until the holder's lease runs out unless it renews it.
    """

    def __init__(self, path: str, webhook_id: str, holder: str, expires_in: float) -> None:
        self.path = path
        self.webhook_id = webhook_id
        self.holder = holder
        self.expires_in = expires_in
        super().__init__(
            f"outbox {path}: webhook {webhook_id} is being delivered by {holder} (its lease "
            f"runs {expires_in:.1f} s more unless renewed); two processes must not deliver the "
            f"same webhook: stop the other one, or give this one another outbox file"
        )


class OutboxLeaseLost(OutboxError):
    """This outbox's lease on a webhook ran out and another outbox took it over.

    Raised before a request is sent (:meth:`Outbox.mark_in_flight`), so the message is
    not posted twice: the new holder delivers it.
    """


def check_webhook_id(webhook_id: str) -> str:
    """``webhook_id`` if it is a webhook's numeric id.

    Raises:
        ValueError: It is not 1 to 20 digits. The value is shown only when it is short and
            has no ``/`` (a URL or token must never reach an error message).
    """
    if isinstance(webhook_id, str) and _SNOWFLAKE.fullmatch(webhook_id):
        return webhook_id
    shown = (
        repr(webhook_id)
        if isinstance(webhook_id, str) and len(webhook_id) <= 24 and "/" not in webhook_id
        else f"a {type(webhook_id).__name__} of {len(str(webhook_id))} characters (not shown)"
    )
    raise ValueError(
        f"webhook_id must be the webhook's numeric id (1 to 20 digits, never the URL or "
        f"token), got {shown}"
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a lease holder that is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists; it belongs to someone else
    return True


@attrs.frozen(kw_only=True)
class PendingMessage:
    """An accepted message not yet settled, as the outbox holds it.

    Attributes:
        entry: The outbox's id for it; ids grow with acceptance, so they give the order.
        webhook_id: The webhook it goes to.
        message: The message (file bytes included).
        accepted: When it was appended (wall clock, UTC).
        delivered_requests: How many of its planned requests (in plan order) were
            delivered: a restart skips them, as ``replay`` does with a dead letter.
        sent_ids: Discord's message id for each delivered request (``None`` for one sent
            without ``wait``), in plan order.
        thread_id: The forum thread its first request created, where the rest goes.
        in_flight: The request marked in flight and not recorded delivered since, or
            ``None``. After a crash that request may or may not be on Discord.
    """

    entry: int
    webhook_id: str
    message: Message
    accepted: datetime
    delivered_requests: int = 0
    sent_ids: tuple[str | None, ...] = ()
    thread_id: str | None = None
    in_flight: int | None = None

    @property
    def maybe_posted(self) -> bool:
        """Whether the next request may already be on Discord (it was in flight)."""
        return self.in_flight is not None


@attrs.frozen(kw_only=True)
class StoredDeadLetter:
    """A dead letter kept in the outbox.

    Attributes:
        entry: Its outbox id (the id it had while pending, when it was one).
        webhook_id: The webhook it was for.
        record: The record, as a JSONL sink would write it.
        replayed: When a replay delivered it, or ``None`` while it waits for one.
    """

    entry: int
    webhook_id: str
    record: DeadLetter
    replayed: datetime | None = None


@attrs.frozen(kw_only=True)
class WebhookSummary:
    """What an outbox holds for one webhook.

    Attributes:
        webhook_id: The webhook.
        pending: Messages accepted and not settled.
        maybe_posted: Pending messages whose next request was in flight.
        dead: Dead letters not replayed.
        replayed: Dead letters replayed.
        oldest_pending: When the oldest pending message was accepted, or ``None``.
        holder: Who holds the webhook's lease (process id and host), or ``None``.
    """

    webhook_id: str
    pending: int
    maybe_posted: int
    dead: int
    replayed: int
    oldest_pending: datetime | None
    holder: str | None


@runtime_checkable
class Outbox(Protocol):
    """Durable storage for accepted messages, shared by every sender of a process.

    Every method is a coroutine that returns once its change is committed. Cancelling a
    call that was already handed to storage does not undo it: the call finishes, and the
    caller is cancelled right after.
    """

    async def open(self) -> None:
        """Open the storage (idempotent; every other method opens it too)."""

    async def aclose(self) -> None:
        """Release this outbox's leases and close it (idempotent)."""

    async def claim(self, webhook_id: str) -> None:
        """Take (or renew) the lease on ``webhook_id`` for this outbox.

        Raises:
            OutboxLeaseHeld: Another live outbox holds it.
        """

    async def release(self, webhook_id: str) -> None:
        """Give up the lease on ``webhook_id`` (a sender closed; the outbox stays open)."""

    async def append(
        self,
        webhook_id: str,
        messages: Sequence[Message],
        *,
        cursor: tuple[str, int] | None = None,
    ) -> list[int]:
        """Store ``messages`` (in order, in one commit) and return their entry ids.

        ``cursor`` (a key and a value) is set in the same commit: a producer that reads
        its input in order (``trio-webhook send-batch --outbox``) records how far it got,
        and resumes there after a crash without appending anything twice.

        Claims the lease on ``webhook_id``.

        Raises:
            OutboxLeaseHeld: Another live outbox delivers this webhook.
            OSError: A path-backed file of a message cannot be read (nothing is stored).
        """

    async def cursor(self, key: str) -> int:
        """The value last set for ``key`` by :meth:`append` (``0`` when never set)."""

    async def take(
        self, webhook_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[PendingMessage]:
        """The pending messages of ``webhook_id`` with entry above ``after``, in order.

        Claims the lease on ``webhook_id``: the caller is the one process delivering them.

        Raises:
            OutboxLeaseHeld: Another live outbox delivers this webhook.
        """

    async def last_entry(self, webhook_id: str) -> int:
        """The newest pending entry of ``webhook_id`` (``0`` when none), without claiming.

        A sender opening on an outbox delivers the entries up to this one first: what an
        earlier process accepted comes before what this one accepts.
        """

    async def mark_in_flight(self, entry: int, request: int) -> None:
        """Record that request ``request`` (0-based, plan order) of ``entry`` is being sent.

        Call it before the request goes out, so a restart can tell a request that may be
        on Discord from one never sent.

        Raises:
            OutboxLeaseLost: Another outbox took the webhook over: do not send.
            KeyError: ``entry`` is not pending.
        """

    async def record_delivered(
        self,
        entry: int,
        request: int,
        *,
        discord_id: str | None = None,
        thread_id: str | None = None,
    ) -> None:
        """Record that request ``request`` of ``entry`` was delivered.

        Args:
            entry: The message.
            request: The request's index; requests are recorded in plan order (a repeat of
                one already recorded is ignored).
            discord_id: The message id Discord returned (``wait=true``).
            thread_id: The forum thread the request created (a post's first request).

        Raises:
            KeyError: ``entry`` is not pending.
            ValueError: ``request`` skips a request not yet recorded.
        """

    async def settle_delivered(self, entry: int) -> None:
        """The whole message was delivered: forget it (its row is deleted)."""

    async def settle_dead(self, entry: int, record: DeadLetter) -> None:
        """The message was dead-lettered: keep ``record`` in its place.

        Raises:
            KeyError: ``entry`` is not pending.
        """

    async def put_dead(self, webhook_id: str, record: DeadLetter) -> int:
        """Store a dead letter of a message that was never appended; return its entry."""

    async def pending(self, webhook_id: str | None = None) -> list[PendingMessage]:
        """Pending messages (of one webhook, or all) in order, without claiming anything."""

    async def dead_letters(
        self, webhook_id: str | None = None, *, include_replayed: bool = False
    ) -> list[StoredDeadLetter]:
        """Dead letters (of one webhook, or all) in order; replayed ones only if asked."""

    async def mark_replayed(self, entry: int) -> bool:
        """Mark a dead letter replayed; ``False`` if it already was (do not post it again).

        Raises:
            KeyError: ``entry`` is not a dead letter.
        """

    async def summary(self) -> list[WebhookSummary]:
        """Counts per webhook, ordered by webhook id."""


OutboxTarget: TypeAlias = "str | os.PathLike[str] | Outbox | None"
"""What ``open_outbox`` (and ``SenderConfig(outbox=...)``) takes: a path, an object, or None."""
