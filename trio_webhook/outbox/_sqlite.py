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

import contextlib
import json
import logging
import os
import queue
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeVar

import attrs
import outcome
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
    OutboxError,
    OutboxLeaseHeld,
    OutboxLeaseLost,
    PendingMessage,
    StoredDeadLetter,
    WebhookSummary,
    check_webhook_id,
)

__all__ = ["SQLiteOutbox"]

logger: Final = logging.getLogger("trio_webhook.outbox")

T = TypeVar("T")

SCHEMA_VERSION: Final = 1
_PENDING: Final = 0
_DEAD: Final = 1
_REPLAYED: Final = 2
# One transaction takes at most this many calls, so a flood of appends still gets its
# answers in bounded slices instead of one huge commit.
_MAX_BATCH: Final = 1024
# Compaction: free pages are reused by new rows, so the file stops growing at its
# high-water mark; when the free list passes this share of the file (and this many
# pages), an idle moment or an open gives the pages back (incremental vacuum).
_VACUUM_SHARE: Final = 0.25
_VACUUM_MIN_PAGES: Final = 256
_VACUUM_STEP_PAGES: Final = 2048
_IDLE_SECONDS: Final = 1.0
_WAL_LIMIT_BYTES: Final = 4 * 1024 * 1024

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS messages (
    entry INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    accepted REAL NOT NULL,
    body TEXT,
    delivered INTEGER NOT NULL DEFAULT 0,
    sent TEXT,
    thread_id TEXT,
    in_flight INTEGER,
    record TEXT,
    replayed REAL
);
CREATE INDEX IF NOT EXISTS messages_by_webhook ON messages (webhook_id, state, entry);
CREATE TABLE IF NOT EXISTS cursors (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    webhook_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists; it belongs to someone else
    return True


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@attrs.define(eq=False)
class _Job(Generic[T]):
    fn: Callable[[sqlite3.Connection], T]
    done: Callable[[outcome.Outcome[T]], None]


class SQLiteOutbox:
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

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lease_seconds: float = 30.0,
        synchronous: Literal["normal", "full"] = "normal",
        busy_timeout: float = 5.0,
    ) -> None:
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be > 0, got {lease_seconds!r}")
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', got {synchronous!r}")
        if not busy_timeout >= 0:
            raise ValueError(f"busy_timeout must be >= 0, got {busy_timeout!r}")
        self.path: Final = Path(path)
        self.lease_seconds: Final = float(lease_seconds)
        self.synchronous: Final = synchronous
        self.busy_timeout: Final = float(busy_timeout)
        self._owner: Final = uuid.uuid4().hex
        self._pid: Final = os.getpid()
        self._host: Final = socket.gethostname()
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False  # the worker ended (closed, or died of a bug)
        self._closed = False  # no new calls once aclose began
        # Worker-thread state (only the worker reads or writes these).
        self._conn: sqlite3.Connection | None = None
        self._held: dict[str, float] = {}  # webhook id -> when our lease runs out
        self._next_renewal = 0.0
        self._dirty = False
        self.commits = 0
        """Transactions committed so far (a batch of calls is one): for benchmarks."""

    def __repr__(self) -> str:
        return f"SQLiteOutbox({str(self.path)!r})"

    async def __aenter__(self) -> SQLiteOutbox:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the trio side ------------------------------------------------------------------

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise OutboxError(f"outbox {self.path} is closed")
        return await self._submit(fn)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"trio-webhook outbox {self.path.name}", daemon=True
            )
            self._thread.start()
        token = trio.lowlevel.current_trio_token()
        task = trio.lowlevel.current_task()

        def done(result: outcome.Outcome[T]) -> None:
            # After the run ended nobody is left to tell; the work is done all the same.
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(trio.lowlevel.reschedule, task, result)

        with self._lock:
            # Checked under the lock the worker takes when it stops, so no call is queued
            # after the worker's last look at the queue (it would wait forever).
            if self._stopped:
                raise OutboxError(f"outbox {self.path}: its worker stopped; reopen it")
            self._queue.put(_Job(fn, done))

        def abort(_: object) -> trio.lowlevel.Abort:
            # The call is in the worker's hands: let it finish (and commit) so the
            # caller learns what happened; the cancellation lands right after.
            return trio.lowlevel.Abort.FAILED

        result: T = await trio.lowlevel.wait_task_rescheduled(abort)
        return result

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
            rows = [(wid, _PENDING, now, encode_message(m)) for m in batch]
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
            return self._select_pending(conn, wid, after, limit)

        return await self._call(job)

    async def last_entry(self, webhook_id: str) -> int:
        """The newest pending entry of ``webhook_id``; see :meth:`Outbox.last_entry`."""
        wid = check_webhook_id(webhook_id)

        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT MAX(entry) FROM messages WHERE webhook_id = ? AND state = ?",
                (wid, _PENDING),
            ).fetchone()
            return int(row[0]) if row is not None and row[0] is not None else 0

        return await self._call(job)

    async def mark_in_flight(self, entry: int, request: int) -> None:
        """Record that a request is being sent; see :meth:`Outbox.mark_in_flight`."""

        def job(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT webhook_id FROM messages WHERE entry = ? AND state = ?",
                (entry, _PENDING),
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
                (discord_id, thread_id, entry, _PENDING, request),
            )
            if cur.rowcount:
                return
            row = conn.execute(
                "SELECT delivered FROM messages WHERE entry = ? AND state = ?",
                (entry, _PENDING),
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
            conn.execute("DELETE FROM messages WHERE entry = ? AND state = ?", (entry, _PENDING))

        await self._call(job)

    async def settle_dead(self, entry: int, record: DeadLetter) -> None:
        """Keep a dead letter in place of a message; see :meth:`Outbox.settle_dead`."""

        def job(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE messages SET state = ?, record = ?, body = NULL, in_flight = NULL"
                " WHERE entry = ? AND state = ?",
                (_DEAD, encode_record(record), entry, _PENDING),
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
                (wid, _DEAD, time.time(), encode_record(record)),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self._call(job)

    async def pending(self, webhook_id: str | None = None) -> list[PendingMessage]:
        """Pending messages without claiming; see :meth:`Outbox.pending`."""
        wid = None if webhook_id is None else check_webhook_id(webhook_id)
        return await self._call(lambda conn: self._select_pending(conn, wid, 0, None))

    async def dead_letters(
        self, webhook_id: str | None = None, *, include_replayed: bool = False
    ) -> list[StoredDeadLetter]:
        """Dead letters in order; see :meth:`Outbox.dead_letters`."""
        wid = None if webhook_id is None else check_webhook_id(webhook_id)
        states = (_DEAD, _REPLAYED) if include_replayed else (_DEAD, _DEAD)

        def job(conn: sqlite3.Connection) -> list[StoredDeadLetter]:
            sql = "SELECT entry, webhook_id, record, replayed FROM messages WHERE state IN (?, ?)"
            args: tuple[Any, ...] = states
            if wid is not None:
                sql += " AND webhook_id = ?"
                args += (wid,)
            return [
                StoredDeadLetter(
                    entry=entry,
                    webhook_id=hook,
                    record=decode_record(record),
                    replayed=None if replayed is None else _utc(replayed),
                )
                for entry, hook, record, replayed in conn.execute(sql + " ORDER BY entry", args)
            ]

        return await self._call(job)

    async def mark_replayed(self, entry: int) -> bool:
        """Mark a dead letter replayed; see :meth:`Outbox.mark_replayed`."""

        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE messages SET state = ?, replayed = ? WHERE entry = ? AND state = ?",
                (_REPLAYED, time.time(), entry, _DEAD),
            )
            if cur.rowcount:
                return True
            row = conn.execute("SELECT state FROM messages WHERE entry = ?", (entry,)).fetchone()
            if row is None or row[0] != _REPLAYED:
                raise KeyError(f"outbox {self.path}: entry {entry} is not a dead letter")
            return False

        return await self._call(job)

    async def summary(self) -> list[WebhookSummary]:
        """Counts per webhook; see :meth:`Outbox.summary`."""

        def job(conn: sqlite3.Connection) -> list[WebhookSummary]:
            holders = {
                hook: f"process {pid} on {host}"
                + (" (this outbox)" if owner == self._owner else "")
                for hook, owner, pid, host, expires in conn.execute(
                    "SELECT webhook_id, owner, pid, host, expires FROM leases"
                )
                if expires > time.time()
            }
            rows = conn.execute(
                "SELECT webhook_id,"
                " sum(state = ?), sum(state = ? AND in_flight IS NOT NULL),"
                " sum(state = ?), sum(state = ?), min(CASE WHEN state = ? THEN accepted END)"
                " FROM messages GROUP BY webhook_id ORDER BY webhook_id",
                (_PENDING, _PENDING, _DEAD, _REPLAYED, _PENDING),
            ).fetchall()
            return [
                WebhookSummary(
                    webhook_id=hook,
                    pending=pending,
                    maybe_posted=maybe,
                    dead=dead,
                    replayed=replayed,
                    oldest_pending=None if oldest is None else _utc(oldest),
                    holder=holders.get(hook),
                )
                for hook, pending, maybe, dead, replayed, oldest in rows
            ]

        return await self._call(job)

    # -- the worker thread --------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=True
            )
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: cannot open: {exc}") from exc
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(
                    f"outbox {self.path}: schema version {version} is newer than this "
                    f"trio-webhook's ({SCHEMA_VERSION}); upgrade trio-webhook"
                )
            # auto_vacuum takes effect only before the first table exists.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(
                    f"outbox {self.path}: cannot use WAL mode (got {mode!r}); put the file "
                    f"on a local file system"
                )
            conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
            conn.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
            self._compact(conn)
        except sqlite3.OperationalError as exc:  # locked, read-only, disk full, ...
            conn.close()
            raise OutboxError(f"outbox {self.path}: cannot open: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise OutboxError(f"outbox {self.path}: not a usable outbox file: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:
            logger.exception("outbox %s: the worker thread failed", self.path)
            raise
        finally:
            with self._lock:
                self._stopped = True
            self._fail_leftovers()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _loop(self) -> None:
        while True:
            timeout = _IDLE_SECONDS if self._dirty else None
            if self._held:
                timeout = max(0.0, min(timeout or 1e9, self._next_renewal - time.time()))
            try:
                job = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._maintain()
                continue
            if job is None:
                return
            batch = [job]
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            if self._run_batch(batch):
                return
            if self._held and time.time() >= self._next_renewal:
                self._maintain()

    def _run_batch(self, batch: list[_Job[Any]]) -> bool:
        results: list[outcome.Outcome[Any]] = []
        # Bound methods compare equal when they wrap the same function of the same object.
        closing = any(job.fn == self._close_job for job in batch)
        if closing and self._conn is None:
            # Closing a file that never opened (or failed to): nothing to release.
            for job in batch:
                job.done(
                    outcome.Value(None)
                    if job.fn == self._close_job
                    else outcome.Error(OutboxError(f"outbox {self.path} is closed"))
                )
            return True
        try:
            if self._conn is None:
                self._conn = self._connect()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for job in batch:
                    conn.execute("SAVEPOINT call")
                    result = outcome.capture(job.fn, conn)
                    if isinstance(result, outcome.Error):
                        conn.execute("ROLLBACK TO call")
                    conn.execute("RELEASE call")
                    results.append(result)
                conn.execute("COMMIT")
                self.commits += 1
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, OutboxError)
                else OutboxError(f"outbox {self.path}: {type(exc).__name__}: {exc}")
            )
            if error is not exc:
                error.__cause__ = exc
            results = [outcome.Error(error) for _ in batch]
        self._dirty = True
        if closing and self._conn is not None:
            self._finish_close(self._conn)
        for job, result in zip(batch, results, strict=True):
            job.done(result)
        return closing

    def _fail_leftovers(self) -> None:
        # Calls that raced aclose (queued behind the close job) get an answer, not a hang.
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.done(outcome.Error(OutboxError(f"outbox {self.path} is closed")))

    def _close_job(self, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM leases WHERE owner = ?", (self._owner,))
        self._held.clear()

    def _finish_close(self, conn: sqlite3.Connection) -> None:
        try:
            self._compact(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            logger.warning("outbox %s: compaction on close failed: %s", self.path, exc)
        finally:
            conn.close()
            self._conn = None

    def _maintain(self) -> None:
        """Renew leases when due; compact after a burst of work, once idle."""
        conn = self._conn
        if conn is None:
            return
        try:
            if self._held and time.time() >= self._next_renewal:
                self._renew(conn)
            if self._dirty:
                self._dirty = False
                if self._compact(conn, step=_VACUUM_STEP_PAGES):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            logger.warning("outbox %s: maintenance failed: %s", self.path, exc)

    def _compact(self, conn: sqlite3.Connection, *, step: int | None = None) -> bool:
        """Give free pages back to the file system when they are a good share of it.

        ``step`` bounds the pages freed at once (an idle moment); ``None`` frees all
        (opening and closing, when nobody waits on the worker).
        """
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        total = conn.execute("PRAGMA page_count").fetchone()[0]
        if free < _VACUUM_MIN_PAGES or free < _VACUUM_SHARE * total:
            return False
        # executescript steps the pragma to its end; execute() frees one page and stops.
        conn.executescript(f"PRAGMA incremental_vacuum({step or 0});")
        return True

    def _renew(self, conn: sqlite3.Connection) -> None:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for wid in list(self._held):
                cur = conn.execute(
                    "UPDATE leases SET expires = ? WHERE webhook_id = ? AND owner = ?",
                    (now + self.lease_seconds, wid, self._owner),
                )
                if cur.rowcount:
                    self._held[wid] = now + self.lease_seconds
                else:
                    del self._held[wid]
                    logger.warning(
                        "outbox %s: lost the lease on webhook %s to another outbox",
                        self.path,
                        wid,
                    )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._next_renewal = now + self.lease_seconds / 3

    def _claim(self, conn: sqlite3.Connection, wid: str) -> None:
        now = time.time()
        # Ours with most of its time left: nobody else can have taken it (a lease is
        # only taken over once it ran out or its process died, and ours is alive).
        if self._held.get(wid, 0.0) - now > self.lease_seconds / 2:
            return
        row = conn.execute(
            "SELECT owner, pid, host, expires FROM leases WHERE webhook_id = ?", (wid,)
        ).fetchone()
        if row is not None and row[0] != self._owner:
            _, pid, host, expires = row
            dead = host == self._host and pid != self._pid and not _pid_alive(pid)
            if expires > now and not dead:
                holder = f"process {pid} on {host}" + (
                    " (another outbox object in this process; share one)"
                    if pid == self._pid and host == self._host
                    else ""
                )
                raise OutboxLeaseHeld(str(self.path), wid, holder, expires - now)
            logger.warning(
                "outbox %s: taking over webhook %s from process %d on %s (%s)",
                self.path,
                wid,
                pid,
                host,
                "it is gone" if dead else "its lease ran out",
            )
        conn.execute(
            "INSERT OR REPLACE INTO leases (webhook_id, owner, pid, host, expires)"
            " VALUES (?, ?, ?, ?, ?)",
            (wid, self._owner, self._pid, self._host, now + self.lease_seconds),
        )
        if not self._held:
            self._next_renewal = now + self.lease_seconds / 3
        self._held[wid] = now + self.lease_seconds

    def _check_lease(self, conn: sqlite3.Connection, wid: str) -> None:
        if self._held.get(wid, 0.0) - time.time() > self.lease_seconds / 2:
            return
        row = conn.execute("SELECT owner FROM leases WHERE webhook_id = ?", (wid,)).fetchone()
        if row is None or row[0] != self._owner:
            self._held.pop(wid, None)
            raise OutboxLeaseLost(
                f"outbox {self.path}: the lease on webhook {wid} passed to another outbox "
                f"(this one stalled past {self.lease_seconds:g} s); it delivers the message "
                f"now, so this one must not send it"
            )
        self._claim(conn, wid)

    def _select_pending(
        self, conn: sqlite3.Connection, wid: str | None, after: int, limit: int | None
    ) -> list[PendingMessage]:
        sql = (
            "SELECT entry, webhook_id, body, accepted, delivered, sent, thread_id, in_flight"
            " FROM messages WHERE state = ? AND entry > ?"
        )
        args: tuple[Any, ...] = (_PENDING, after)
        if wid is not None:
            sql += " AND webhook_id = ?"
            args += (wid,)
        sql += " ORDER BY entry"
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        return [
            PendingMessage(
                entry=entry,
                webhook_id=hook,
                message=decode_message(body),
                accepted=_utc(accepted),
                delivered_requests=delivered,
                sent_ids=tuple(json.loads(sent)) if sent else (),
                thread_id=thread_id,
                in_flight=in_flight,
            )
            for entry, hook, body, accepted, delivered, sent, thread_id, in_flight in conn.execute(
                sql, args
            )
        ]
