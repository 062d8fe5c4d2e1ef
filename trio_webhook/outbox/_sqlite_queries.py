"""The SQLite outbox's reads: pending messages (recovery), dead letters, the summary.

Functions of a connection, run as jobs in the worker thread.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from trio_webhook._records import decode_message, decode_record
from trio_webhook.outbox._base import PendingMessage, StoredDeadLetter, WebhookSummary
from trio_webhook.outbox._sqlite_schema import DEAD, PENDING, REPLAYED, utc

__all__ = ["select_dead", "select_pending", "summarize"]


def _of_webhook(sql: str, args: tuple[Any, ...], wid: str | None) -> tuple[str, tuple[Any, ...]]:
    if wid is None:
        return sql, args
    return sql + " AND webhook_id = ?", (*args, wid)


def select_pending(
    conn: sqlite3.Connection, wid: str | None, after: int, limit: int | None
) -> list[PendingMessage]:
    """Pending messages (of webhook ``wid``, or all) after ``after``, oldest first."""
    sql = (
        "SELECT entry, webhook_id, body, accepted, delivered, sent, thread_id, in_flight"
        " FROM messages WHERE state = ? AND entry > ?"
    )
    sql, args = _of_webhook(sql, (PENDING, after), wid)
    sql += " ORDER BY entry"
    if limit is not None:
        sql += " LIMIT ?"
        args += (limit,)
    return [
        PendingMessage(
            entry=entry,
            webhook_id=hook,
            message=decode_message(body),
            accepted=utc(accepted),
            delivered_requests=delivered,
            sent_ids=tuple(json.loads(sent)) if sent else (),
            thread_id=thread_id,
            in_flight=in_flight,
        )
        for entry, hook, body, accepted, delivered, sent, thread_id, in_flight in conn.execute(
            sql, args
        )
    ]


def select_dead(
    conn: sqlite3.Connection, wid: str | None, states: tuple[int, int]
) -> list[StoredDeadLetter]:
    """The dead letters in ``states`` (of webhook ``wid``, or all), oldest first."""
    sql = "SELECT entry, webhook_id, record, replayed FROM messages WHERE state IN (?, ?)"
    sql, args = _of_webhook(sql, states, wid)
    return [
        StoredDeadLetter(
            entry=entry,
            webhook_id=hook,
            record=decode_record(record),
            replayed=None if replayed is None else utc(replayed),
        )
        for entry, hook, record, replayed in conn.execute(sql + " ORDER BY entry", args)
    ]


def summarize(conn: sqlite3.Connection, owner: str) -> list[WebhookSummary]:
    """Counts per webhook, and who holds its lease (``owner`` is this outbox)."""
    holders = {
        hook: f"process {pid} on {host}" + (" (this outbox)" if owner == owner else "")
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
        (PENDING, PENDING, DEAD, REPLAYED, PENDING),
    ).fetchall()
    return [
        WebhookSummary(
            webhook_id=hook,
            pending=pending,
            maybe_posted=maybe,
            dead=dead,
            replayed=replayed,
            oldest_pending=None if oldest is None else utc(oldest),
            holder=holders.get(hook),
        )
        for hook, pending, maybe, dead, replayed, oldest in rows
    ]
