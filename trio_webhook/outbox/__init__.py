"""Durable outboxes: accepted messages survive a crash until they are delivered.

Example::

    from trio_webhook.outbox import SQLiteOutbox, open_outbox

    outbox = open_outbox("outbox.db")        # a SQLiteOutbox, opened on first use
    outbox = open_outbox("redis://127.0.0.1:6379/0")   # a RedisOutbox, for workers
    async with SQLiteOutbox("outbox.db") as outbox:
        for summary in await outbox.summary():
            print(summary.webhook_id, summary.pending, summary.dead)
"""

from __future__ import annotations

import os

from trio_webhook.outbox._base import (
    Outbox,
    OutboxError,
    OutboxLeaseHeld,
    OutboxLeaseLost,
    OutboxTarget,
    PendingMessage,
    StoredDeadLetter,
    WebhookSummary,
)
from trio_webhook.outbox._redis import RedisOutbox
from trio_webhook.outbox._redis_conn import is_redis_url
from trio_webhook.outbox._redis_sync import enqueue
from trio_webhook.outbox._shared import Outcome, SharedOutbox
from trio_webhook.outbox._sqlite import SQLiteOutbox

__all__ = [
    "Outbox",
    "OutboxError",
    "OutboxLeaseHeld",
    "OutboxLeaseLost",
    "OutboxTarget",
    "Outcome",
    "PendingMessage",
    "RedisOutbox",
    "SQLiteOutbox",
    "SharedOutbox",
    "StoredDeadLetter",
    "WebhookSummary",
    "enqueue",
    "open_outbox",
]


def open_outbox(target: str | os.PathLike[str] | Outbox | None) -> Outbox | None:
    """The outbox for a configuration value.

    Args:
        target: A path (a :class:`SQLiteOutbox` on that file, opened on first use), a
            ``redis://`` URL (a :class:`RedisOutbox` with the default prefix), an
            object with the :class:`Outbox` methods (used as is), or ``None`` (no outbox:
            messages live in memory only, as without this package).

    Returns:
        The outbox, or ``None``. The caller owns one made from a path and must ``aclose``
        it; an object passed in stays its owner's.

    Raises:
        ValueError: ``target`` is an empty path.
        TypeError: ``target`` is none of these.
    """
    if target is None:
        return None
    if is_redis_url(target):
        assert isinstance(target, str)
        return RedisOutbox(target)
    if isinstance(target, str | os.PathLike):
        if not os.fspath(target).strip():
            raise ValueError("outbox path is empty; give a file path, an Outbox, or None")
        return SQLiteOutbox(target)
    if isinstance(target, Outbox):
        return target
    raise TypeError(f"outbox must be a path, an Outbox or None; got {type(target).__name__}")
