"""SQLiteOutbox: the embedded outbox, one SQLite file in WAL mode behind one worker thread.

Every database call runs in the outbox's own thread, so trio's loop never waits on the
disk. Calls queue up while a transaction runs; the worker then takes everything queued
and commits it in one transaction (group commit): under load a commit carries hundreds
of appends, so appends cost a share of one commit each. Each call runs in a savepoint,
so one failing call (an unreadable file) fails alone.

Resource handling: the thread and the connection are made on first use and end with
:meth:`SQLiteOutbox.aclose`, which also releases this outbox's leases.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

import trio

from trio_webhook._models import Message
from trio_webhook._records import DeadLetter, encode_message, encode_record
from trio_webhook.outbox._base import (
    PendingMessage,
    StoredDeadLetter,
    WebhookSummary,
    check_webhook_id,
)
from trio_webhook.outbox._sqlite_queries import select_dead, select_pending, summarize
from trio_webhook.outbox._sqlite_schema import DEAD, PENDING, REPLAYED
from trio_webhook.outbox._sqlite_worker import SQLiteWorker

__all__ = ["SQLiteOutbox"]


class SQLiteOutbox(SQLiteWorker):
    """An :class:`~trio_webhook.outbox.Outbox` in one SQLite file (WAL mode).

    One object serves every sender of a process; each webhook it delivers is leased to it
    (a row with this object's id, renewed by the worker every ``lease_seconds / 3``). A
    second opener of the same file gets :class:`~trio_webhook.outbox.OutboxLeaseHeld` for
    a webhook leased here, until this outbox closes, its process dies (seen at once on the
    same host) or its lease runs out.

    Args:
        path: The database file (created if missing, with its ``-wal`` and ``-shm``
            files beside it).
        lease_seconds: How long a lease lasts without renewal: how soon another process
            may take over the webhooks of one that hangs or runs on another host.
        synchronous: ``"normal"`` (the default) commits survive the process crashing, not
            the machine losing power; ``"full"`` adds an ``fsync`` to every commit (group
            commit shares it) so they survive that too.
        busy_timeout: Seconds to wait for another process's write to finish.

    Example::

        async with SQLiteOutbox("outbox.db") as outbox:
            [entry] = await outbox.append("123", [Message(content="hi")])
    """

    def __repr__(self) -> str:
        return f"SQLiteOutbox({str(self.path)!r})"

    async def __aenter__(self) -> SQLiteOutbox:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the file, create or check its tables, compact it if much is free."""
        await self._call(lambda conn: None)

    async def aclose(self) -> None:
        """Release this outbox's leases, compact if worthwhile, close the file."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            try:
                await self._submit(self._close_job)
            finally:
                # The worker ends right after answering the close job, even a failed one.
                await trio.to_thread.run_sync(self._thread.join)

    async def claim(self, webhook_id: str) -> None:
        """Take or renew the lease on ``webhook_id``; see :meth:`Outbox.claim`."""
        wid = check_webhook_id(webhook_id)
        await self._call(lambda conn: self._claim(conn, wid))

    async def release(self, webhook_id: str) -> None:
        """Give up the lease on ``webhook_id``; see :meth:`Outbox.release`."""
        wid = check_webhook_id(webhook_id)

        def job(conn: sqlite3.Connection) -> None:
            self._held.pop(wid, None)
            conn.execute(
                "DELETE FROM leases WHERE webhook_id = ? AND owner = ?", (wid, self._owner)
            )

        await self._call(job)

    async def append(
        self,
        webhook_id: str,
        messages: Sequence[Message],
        *,
        cursor: tuple[str, int] | None = None,
    ) -> list[int]:
        """Store ``messages`` in one commit; see :meth:`Outbox.append`."""
        wid = check_webhook_id(webhook_id)
        batch = tuple(messages)

        def job(conn: sqlite3.Connection) -> list[int]:
            self._claim(conn, wid)
            # Encoding here, not on trio's thread: it reads path-backed files and
            # base64-encodes their bytes.
            now = time.time()
            rows = [(wid, PENDING, now, encode_message(m)) for m in batch]
            entries: list[int] = []
            for row in rows:
                cur = conn.execute(
                    "INSERT INTO messages (webhook_id, state, accepted, body) VALUES (?, ?, ?, ?)",
                    row,
                )
                assert cur.lastrowid is not None
                entries.append(cur.lastrowid)
            if cursor is not None:
                conn.execute("INSERT OR REPLACE INTO cursors (key, value) VALUES (?, ?)", cursor)
            return entries

        return await self._call(job)

    async def cursor(self, key: str) -> int:
        """A cursor's value (``0`` when never set); see :meth:`Outbox.cursor`."""

        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT value FROM cursors WHERE key = ?", (key,)).fetchone()
            return int(row[0]) if row is not None else 0

        return await self._call(job)

    async def take(
        self, webhook_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[PendingMessage]:
        """Pending messages of ``webhook_id`` in order; see :meth:`Outbox.take`."""
        wid = check_webhook_id(webhook_id)

        def job(conn: sqlite3.Connection) -> list[PendingMessage]:
            self._claim(conn, wid)
            return select_pending(conn, wid, after, limit)

        return await self._call(job)

    async def last_entry(self, webhook_id: str) -> int:
        """The newest pending entry of ``webhook_id``; see :meth:`Outbox.last_entry`."""
        wid = check_webhook_id(webhook_id)

        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT MAX(entry) FROM messages WHERE webhook_id = ? AND state = ?",
                (wid, PENDING),
            ).fetchone()
            return int(row[0]) if row is not None and row[0] is not None else 0

        return await self._call(job)

    async def mark_in_flight(self, entry: int, request: int) -> None:
        """Record that a request is being sent; see :meth:`Outbox.mark_in_flight`."""

        def job(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT webhook_id FROM messages WHERE entry = ? AND state = ?",
                (entry, PENDING),
            ).fetchone()
            if row is None:
                raise KeyError(f"outbox {self.path}: entry {entry} is not pending")
            self._check_lease(conn, row[0])
            conn.execute("UPDATE messages SET in_flight = ? WHERE entry = ?", (request, entry))

        await self._call(job)

    async def record_delivered(
        self,
        entry: int,
        request: int,
        *,
        discord_id: str | None = None,
        thread_id: str | None = None,
    ) -> None:
        """Record a delivered request; see :meth:`Outbox.record_delivered`."""

        def job(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE messages SET delivered = delivered + 1, in_flight = NULL,"
                " sent = json_insert(coalesce(sent, '[]'), '$[#]', ?),"
                " thread_id = coalesce(?, thread_id)"
                " WHERE entry = ? AND state = ? AND delivered = ?",
                (discord_id, thread_id, entry, PENDING, request),
            )
            if cur.rowcount:
                return
            row = conn.execute(
                "SELECT delivered FROM messages WHERE entry = ? AND state = ?",
                (entry, PENDING),
            ).fetchone()
            if row is None:
                raise KeyError(f"outbox {self.path}: entry {entry} is not pending")
            if request > row[0]:
                raise ValueError(
                    f"outbox {self.path}: entry {entry}: request {request} recorded as "
                    f"delivered, but only requests 0 to {row[0] - 1} are; record them in "
                    f"plan order"
                )
            # request < delivered: a repeat, already recorded.

        await self._call(job)

    async def settle_delivered(self, entry: int) -> None:
        """Forget a delivered message; see :meth:`Outbox.settle_delivered`."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM messages WHERE entry = ? AND state = ?", (entry, PENDING))

        await self._call(job)

    async def settle_dead(self, entry: int, record: DeadLetter) -> None:
        """Keep a dead letter in place of a message; see :meth:`Outbox.settle_dead`."""

        def job(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE messages SET state = ?, record = ?, body = NULL, in_flight = NULL"
                " WHERE entry = ? AND state = ?",
                (DEAD, encode_record(record), entry, PENDING),
            )
            if not cur.rowcount:
                raise KeyError(f"outbox {self.path}: entry {entry} is not pending")

        await self._call(job)

    async def put_dead(self, webhook_id: str, record: DeadLetter) -> int:
        """Store a dead letter of a message never appended; see :meth:`Outbox.put_dead`."""
        wid = check_webhook_id(webhook_id)

        def job(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO messages (webhook_id, state, accepted, record) VALUES (?, ?, ?, ?)",
                (wid, DEAD, time.time(), encode_record(record)),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self._call(job)

    async def pending(self, webhook_id: str | None = None) -> list[PendingMessage]:
        """Pending messages without claiming; see :meth:`Outbox.pending`."""
        wid = None if webhook_id is None else check_webhook_id(webhook_id)
        return await self._call(lambda conn: select_pending(conn, wid, 0, None))

    async def dead_letters(
        self, webhook_id: str | None = None, *, include_replayed: bool = False
    ) -> list[StoredDeadLetter]:
        """Dead letters in order; see :meth:`Outbox.dead_letters`."""
        wid = None if webhook_id is None else check_webhook_id(webhook_id)
        states = (DEAD, REPLAYED) if include_replayed else (DEAD, DEAD)

        def job(conn: sqlite3.Connection) -> list[StoredDeadLetter]:
            return select_dead(conn, wid, states)

        return await self._call(job)

    async def mark_replayed(self, entry: int) -> bool:
        """Mark a dead letter replayed; see :meth:`Outbox.mark_replayed`."""

        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE messages SET state = ?, replayed = ? WHERE entry = ? AND state = ?",
                (REPLAYED, time.time(), entry, DEAD),
            )
            if cur.rowcount:
                return True
            row = conn.execute("SELECT state FROM messages WHERE entry = ?", (entry,)).fetchone()
            if row is None or row[0] != REPLAYED:
                raise KeyError(f"outbox {self.path}: entry {entry} is not a dead letter")
            return False

        return await self._call(job)

    async def summary(self) -> list[WebhookSummary]:
        """Counts per webhook; see :meth:`Outbox.summary`."""

        def job(conn: sqlite3.Connection) -> list[WebhookSummary]:
            return summarize(conn, self._owner)

        return await self._call(job)
