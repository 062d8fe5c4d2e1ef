"""RedisOutbox: the outbox on Redis Streams, for workers on several machines.

Each webhook is a partition: its own stream of pending messages (``XADD``), its own
consumer group, and a lease (a key with an owner and an expiry) that says which outbox
delivers it, so only one does at a time and order holds. A worker reads with
``XREADGROUP``, and settling a message removes it with ``XACK`` and ``XDEL`` in the same
script. A worker that dies loses its lease when the lease runs out (at once when it ran
on this host and its process is gone); the next holder adopts the entries it had read
(``XAUTOCLAIM``) and delivers them first, in order. Every operation is one Lua script
(:mod:`trio_webhook.outbox._redis_scripts` lists the keys), so it is atomic.

Entries: a counter (``INCR``) over the whole outbox gives each message its entry, and
its stream id is ``ENTRY-0``: ids grow with acceptance, as the protocol wants, and an
entry needs no index to find its stream position. A hash per entry keeps its marks (the
request in flight, the requests delivered with Discord's ids, the thread).

Resource handling: the Redis connection pool (coredis, native on trio) lives in a trio
system task made on first use, which also renews this outbox's leases every third of
``lease_seconds``; :meth:`RedisOutbox.aclose` releases the leases and ends it. Any task
of the run may call the outbox meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import trio

from trio_webhook._models import Message
from trio_webhook._records import (
    DeadLetter,
    decode_message,
    decode_record,
    encode_message,
    encode_record,
)
from trio_webhook.outbox._base import (
    OutboxLeaseLost,
    PendingMessage,
    StoredDeadLetter,
    WebhookSummary,
    check_webhook_id,
)
from trio_webhook.outbox._redis_conn import BLOCK_LIMIT, RedisConnection, describe_holder
from trio_webhook.outbox._shared import Outcome

__all__ = ["RedisOutbox"]


def _utc(text: str) -> datetime:
    return datetime.fromtimestamp(float(text), UTC)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


async def _encoded(messages: Sequence[Message]) -> list[str]:
    batch = tuple(messages)
    if any(m.attachments for m in batch):
        # Path-backed files are read while encoding: off trio's thread.
        return await trio.to_thread.run_sync(lambda: [encode_message(m) for m in batch])
    return [encode_message(m) for m in batch]


class RedisOutbox(RedisConnection):
    """An :class:`~trio_webhook.outbox.Outbox` on Redis Streams, shared across machines.

    One object is one consumer: give every sender of a process the same one (the
    workers of :func:`trio_webhook._worker.run_worker` do). A webhook is delivered by the one
    outbox holding its lease; another gets
    :class:`~trio_webhook.outbox.OutboxLeaseHeld` until the holder releases it, closes,
    runs past ``lease_seconds`` without renewing (a hung or dead process on another
    machine), or is seen dead (a process of this host that is gone: taken over at once).

    Args:
        url: The Redis server, ``redis://[[user]:password@]host[:port][/db]``
            (``rediss://`` for TLS). Credentials are never shown in messages.
        prefix: The first part of every key, so several outboxes share a server.
        lease_seconds: How long a lease lasts without renewal: how soon another worker
            takes over the webhooks of one that hangs or dies on another machine.
        connect_timeout: Seconds allowed to connect to Redis.
        command_timeout: Seconds allowed for one call's answer. A call handed to Redis
            finishes even if its caller is cancelled (within this time), as the
            protocol asks: the caller learns what was committed.

    Example::

        async with RedisOutbox("redis://127.0.0.1:6379/0") as outbox:
            [entry] = await outbox.append("123", [Message(content="hi")])
    """

    def __repr__(self) -> str:
        return f"RedisOutbox({self.display!r}, prefix={self.prefix!r})"

    async def __aenter__(self) -> RedisOutbox:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the Outbox protocol -------------------------------------------------------------

    async def claim(self, webhook_id: str) -> None:
        """Take or renew the lease on ``webhook_id``; see :meth:`Outbox.claim`."""
        await self._with_lease("CLAIM", check_webhook_id(webhook_id))

    async def release(self, webhook_id: str) -> None:
        """Give up the lease on ``webhook_id``; see :meth:`Outbox.release`."""
        wid = check_webhook_id(webhook_id)
        self._held.discard(wid)
        await self._run("RELEASE", wid, self.owner)

    def holds(self, webhook_id: str) -> bool:
        """Whether this outbox believes it holds the lease on ``webhook_id``."""
        return webhook_id in self._held

    async def append(
        self,
        webhook_id: str,
        messages: Sequence[Message],
        *,
        cursor: tuple[str, int] | None = None,
    ) -> list[int]:
        """Store ``messages`` in one script; see :meth:`Outbox.append`."""
        wid = check_webhook_id(webhook_id)
        bodies = await _encoded(messages)
        key, value = cursor if cursor is not None else ("", 0)
        reply = await self._with_lease("APPEND", wid, key, value, *bodies)
        return [int(e) for e in reply[1:]]

    async def append_unleased(self, webhook_id: str, messages: Sequence[Message]) -> list[int]:
        """Store ``messages`` without the lease; see :meth:`SharedOutbox.append_unleased`."""
        wid = check_webhook_id(webhook_id)
        bodies = await _encoded(messages)
        # The owner '-': no lease is claimed, and each entry's outcome is kept for us.
        reply = await self._run("APPEND", wid, "-", self._ms, "", "", 0, *bodies)
        return [int(e) for e in reply[1:]]

    async def cursor(self, key: str) -> int:
        """A cursor's value (``0`` when never set); see :meth:`Outbox.cursor`."""
        value = await self._run("CURSOR", key)
        return int(value) if value else 0

    async def take(
        self, webhook_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[PendingMessage]:
        """Pending messages of ``webhook_id`` in order; see :meth:`Outbox.take`."""
        wid = check_webhook_id(webhook_id)
        if limit is not None and limit < 1:
            return []
        reply = await self._with_lease("TAKE", wid, int(after), limit or 0)
        return [self._pending(wid, item) for item in reply[1:]]

    async def last_entry(self, webhook_id: str) -> int:
        """The newest pending entry of ``webhook_id``; see :meth:`Outbox.last_entry`."""
        wid = check_webhook_id(webhook_id)
        return int(await self._run("LAST", wid))

    async def mark_in_flight(self, entry: int, request: int) -> None:
        """Record that a request is being sent; see :meth:`Outbox.mark_in_flight`."""
        reply = await self._run("MARK", int(entry), self.owner, self._ms, int(request))
        if reply[0] == "missing":
            raise KeyError(f"outbox {self.display}: entry {entry} is not pending")
        if reply[0] == "lost":
            wid = str(reply[1])
            self._held.discard(wid)
            raise OutboxLeaseLost(
                f"outbox {self.display}: the lease on webhook {wid} passed to another "
                f"outbox (this one stalled past {self.lease_seconds:g} s); it delivers the "
                f"message now, so this one must not send it"
            )

    async def record_delivered(
        self,
        entry: int,
        request: int,
        *,
        discord_id: str | None = None,
        thread_id: str | None = None,
    ) -> None:
        """Record a delivered request; see :meth:`Outbox.record_delivered`."""
        sent = "-" if discord_id is None else f"={discord_id}"
        reply = await self._run("RECORD", int(entry), int(request), sent, thread_id or "")
        if reply[0] == "missing":
            raise KeyError(f"outbox {self.display}: entry {entry} is not pending")
        if reply[0] == "skip":
            delivered = int(reply[1])
            raise ValueError(
                f"outbox {self.display}: entry {entry}: request {request} recorded as "
                f"delivered, but only requests 0 to {delivered - 1} are; record them in "
                f"plan order"
            )

    async def settle_delivered(self, entry: int, *, sent: Sequence[Mapping[str, Any]] = ()) -> None:
        """Forget a delivered message (XACK, XDEL); see :meth:`Outbox.settle_delivered`.

        ``sent`` (Discord's answers) is kept for the message's appender, if it had one.
        """
        await self._run("SETTLE", int(entry), Outcome.of_delivery(sent).to_json())

    async def settle_dead(self, entry: int, record: DeadLetter) -> None:
        """Move a message to the dead-letter stream; see :meth:`Outbox.settle_dead`."""
        outcome = Outcome.of_record(record).to_json()
        if not await self._run("SETTLE_DEAD", int(entry), encode_record(record), outcome):
            raise KeyError(f"outbox {self.display}: entry {entry} is not pending")

    async def outcome(self, entry: int) -> Outcome | None:
        """How ``entry`` was settled, or ``None``; see :meth:`SharedOutbox.outcome`."""
        reply = await self._run("OUTCOME", int(entry))
        if reply[0] == "pending":
            return None
        if reply[0] == "done":
            return Outcome.from_json(str(reply[1]))
        if reply[0] == "dead":
            error = "dead-lettered by the outbox's holder (see its dead letters)"
            return Outcome(delivered=False, reason="permanent", error=error)
        return Outcome(delivered=True)  # settled before anyone kept its answers

    async def wait_outcome(self, entry: int, block: float) -> Outcome | None:
        """:meth:`outcome` after up to ``block`` s; see :meth:`SharedOutbox.wait_outcome`."""
        found = await self.outcome(entry)
        if found is not None:
            return found
        client = await self._connected()
        # BLPOP on the entry's wake list: the holder pushes to it as it settles the entry.
        wake = f"{self.prefix}:wake:{int(entry)}"
        await self._blocking(client.blpop([wake], timeout=min(block, BLOCK_LIMIT)))
        return await self.outcome(entry)

    async def wait_appended(self, webhook_id: str, after: int, block: float) -> int:
        """The newest entry above ``after`` once one comes; see :meth:`SharedOutbox`."""
        stream = f"{self.prefix}:stream:{check_webhook_id(webhook_id)}"
        client = await self._connected()
        ms = max(1, int(min(block, BLOCK_LIMIT) * 1000))
        found = await self._blocking(
            client.xread({stream: f"{int(after)}-0"}, count=1000, block=ms)
        )
        newest = after
        for entries in (found or {}).values():
            for item in entries:
                newest = max(newest, int(str(item.identifier).partition("-")[0]))
        return newest

    async def put_dead(self, webhook_id: str, record: DeadLetter) -> int:
        """Store a dead letter of a message never appended; see :meth:`Outbox.put_dead`."""
        wid = check_webhook_id(webhook_id)
        return int(await self._run("PUT_DEAD", wid, encode_record(record)))

    async def _webhooks(self, webhook_id: str | None) -> list[str]:
        if webhook_id is not None:
            return [check_webhook_id(webhook_id)]
        return sorted(str(w) for w in await self._run("WEBHOOKS"))

    async def pending(self, webhook_id: str | None = None) -> list[PendingMessage]:
        """Pending messages without claiming; see :meth:`Outbox.pending`."""
        found: list[PendingMessage] = []
        for wid in await self._webhooks(webhook_id):
            found.extend(self._pending(wid, item) for item in await self._run("PENDING", wid))
        return sorted(found, key=lambda p: p.entry)

    async def dead_letters(
        self, webhook_id: str | None = None, *, include_replayed: bool = False
    ) -> list[StoredDeadLetter]:
        """Dead letters in order, from each webhook's dead-letter stream."""
        found: list[StoredDeadLetter] = []
        for wid in await self._webhooks(webhook_id):
            for entry, record, state, replayed in await self._run("DEAD_LIST", wid):
                if state == "r" and not include_replayed:
                    continue
                found.append(
                    StoredDeadLetter(
                        entry=int(entry),
                        webhook_id=wid,
                        record=decode_record(record),
                        replayed=_utc(replayed) if state == "r" and replayed else None,
                    )
                )
        return sorted(found, key=lambda d: d.entry)

    async def mark_replayed(self, entry: int) -> bool:
        """Mark a dead letter replayed; see :meth:`Outbox.mark_replayed`."""
        result = int(await self._run("REPLAYED", int(entry)))
        if result < 0:
            raise KeyError(f"outbox {self.display}: entry {entry} is not a dead letter")
        return result == 1

    async def summary(self) -> list[WebhookSummary]:
        """Counts per webhook; see :meth:`Outbox.summary`."""
        summaries = []
        for wid in await self._webhooks(None):
            pending, maybe, dead, replayed, oldest, holder, pttl = await self._run("SUMMARY", wid)
            shown = None
            if holder and int(pttl) != -2:
                shown = describe_holder(str(holder)) + (
                    " (this outbox)" if holder == self.owner else ""
                )
            summaries.append(
                WebhookSummary(
                    webhook_id=wid,
                    pending=int(pending),
                    maybe_posted=int(maybe),
                    dead=int(dead),
                    replayed=int(replayed),
                    oldest_pending=_utc(oldest) if oldest else None,
                    holder=shown,
                )
            )
        return summaries

    async def ready(self, webhook_ids: Sequence[str]) -> list[str]:
        """Which of ``webhook_ids`` have pending messages (how workers discover work)."""
        if not webhook_ids:
            return []
        wids = [check_webhook_id(w) for w in webhook_ids]
        return [str(w) for w in await self._run("READY", *wids)]

    # -- decoding ------------------------------------------------------------------------

    def _pending(self, wid: str, item: Sequence[Any]) -> PendingMessage:
        entry, fields, flat = int(item[0]), _pairs(item[1]), _pairs(item[2])
        delivered = int(flat.get("n", "0"))
        sent = tuple(
            None if flat.get(f"i{i}", "-") == "-" else flat[f"i{i}"][1:] for i in range(delivered)
        )
        in_flight = flat.get("f")
        return PendingMessage(
            entry=entry,
            webhook_id=wid,
            message=decode_message(fields["m"]),
            accepted=_utc(fields["t"]),
            delivered_requests=delivered,
            sent_ids=sent,
            thread_id=flat.get("th"),
            in_flight=int(in_flight) if in_flight is not None else None,
        )
