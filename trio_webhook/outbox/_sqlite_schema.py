"""The SQLite outbox's file: its schema, how it is opened and migrated, and compaction.

Everything here runs in the outbox's worker thread (:mod:`._sqlite_worker`).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from trio_webhook.outbox._base import OutboxError

__all__ = [
    "DEAD",
    "IDLE_SECONDS",
    "MAX_BATCH",
    "PENDING",
    "REPLAYED",
    "SCHEMA_VERSION",
    "VACUUM_STEP_PAGES",
    "compact",
    "connect",
    "utc",
]

SCHEMA_VERSION: Final = 1
PENDING: Final = 0
DEAD: Final = 1
REPLAYED: Final = 2
# One transaction takes at most this many calls, so a flood of appends still gets its
# answers in bounded slices instead of one huge commit.
MAX_BATCH: Final = 1024
# Compaction: free pages are reused by new rows, so the file stops growing at its
# high-water mark; when the free list passes this share of the file (and this many
# pages), an idle moment or an open gives the pages back (incremental vacuum).
_VACUUM_SHARE: Final = 0.25
_VACUUM_MIN_PAGES: Final = 256
VACUUM_STEP_PAGES: Final = 2048
IDLE_SECONDS: Final = 1.0
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


def connect(path: Path, *, busy_timeout: float, synchronous: str) -> sqlite3.Connection:
    """Open ``path``, set it up (WAL, synchronous), create or check the schema, compact it."""
    try:
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=True
        )
    except sqlite3.Error as exc:
        raise OutboxError(f"outbox {path}: cannot open: {exc}") from exc
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise OutboxError(
                f"outbox {path}: schema version {version} is newer than this "
                f"trio-webhook's ({SCHEMA_VERSION}); upgrade trio-webhook"
            )
        # auto_vacuum takes effect only before the first table exists.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OutboxError(
                f"outbox {path}: cannot use WAL mode (got {mode!r}); put the file "
                f"on a local file system"
            )
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
        conn.execute("BEGIN IMMEDIATE")
        for statement in filter(str.strip, _SCHEMA.split(";")):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
        compact(conn)
    except sqlite3.OperationalError as exc:  # locked, read-only, disk full, ...
        conn.close()
        raise OutboxError(f"outbox {path}: cannot open: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise OutboxError(f"outbox {path}: not a usable outbox file: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def compact(conn: sqlite3.Connection, *, step: int | None = None) -> bool:
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


def utc(ts: float) -> datetime:
    """A stored timestamp (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)
