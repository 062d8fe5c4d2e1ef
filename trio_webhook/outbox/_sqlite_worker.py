"""The SQLite outbox's worker thread: group commit, savepoints, leases, maintenance.

Every database call of a :class:`~trio_webhook.outbox.SQLiteOutbox` is a job: a function
of the connection, queued from trio and run here. The worker takes everything queued
and commits it in one transaction, each job in its own savepoint; between bursts it
renews the leases it holds and compacts the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeVar

import attrs
import outcome
import trio

from trio_webhook.outbox._base import OutboxError, OutboxLeaseHeld, OutboxLeaseLost, pid_alive
from trio_webhook.outbox._sqlite_schema import (
    IDLE_SECONDS,
    MAX_BATCH,
    VACUUM_STEP_PAGES,
    compact,
    connect,
)

__all__ = ["SQLiteWorker"]

logger: Final = logging.getLogger("trio_webhook.outbox")

T = TypeVar("T")


@attrs.define(eq=False)
class _Job(Generic[T]):
    fn: Callable[[sqlite3.Connection], T]
    done: Callable[[outcome.Outcome[T]], None]


class SQLiteWorker:
    """The thread behind a :class:`~trio_webhook.outbox.SQLiteOutbox`, and its leases.

    The outbox's methods build jobs and pass them to :meth:`_call`; everything else
    here runs in the worker thread, which alone touches the connection.
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
            timeout = IDLE_SECONDS if self._dirty else None
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
            while len(batch) < MAX_BATCH:
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
                self._conn = connect(
                    self.path, busy_timeout=self.busy_timeout, synchronous=self.synchronous
                )
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
            compact(conn)
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
                if compact(conn, step=VACUUM_STEP_PAGES):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            logger.warning("outbox %s: maintenance failed: %s", self.path, exc)

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
            dead = host == self._host and pid != self._pid and not pid_alive(pid)
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
