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

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast
from urllib.parse import urlsplit

import trio

import trio_webhook.outbox._redis_scripts as scripts
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
    pid_alive,
)

__all__ = ["RedisOutbox", "is_redis_url", "redis_display"]

logger: Final = logging.getLogger("trio_webhook.outbox")

_SCRIPTS: Final = {
    name: getattr(scripts, name)
    for name in scripts.__all__
    if name != "GROUP"  # the consumer group's name, not a script
}


def is_redis_url(target: object) -> bool:
    """Whether ``target`` is a ``redis://`` (or ``rediss://``, ``unix://``) URL."""
    return isinstance(target, str) and target.startswith(("redis://", "rediss://", "unix://"))


def redis_display(url: str) -> str:
    """``url`` without its user name and password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _utc(text: str) -> datetime:
    return datetime.fromtimestamp(float(text), UTC)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


def _holder(owner: str) -> str:
    _, _, rest = owner.partition(" ")
    pid, _, host = rest.partition(" ")
    return f"process {pid} on {host}"


class RedisOutbox:
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

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "trio-webhook",
        lease_seconds: float = 30.0,
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
    ) -> None:
        if not is_redis_url(url):
            raise ValueError(
                f"RedisOutbox url must start with redis://, rediss:// or unix://, got "
                f"{redis_display(url) if isinstance(url, str) else type(url).__name__!r}"
            )
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"prefix must be a non-empty string without spaces, got {prefix!r}")
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be > 0, got {lease_seconds!r}")
        if not connect_timeout > 0:
            raise ValueError(f"connect_timeout must be > 0, got {connect_timeout!r}")
        if not command_timeout > 0:
            raise ValueError(f"command_timeout must be > 0, got {command_timeout!r}")
        self.url: Final = url
        self.display: Final = redis_display(url)
        self.prefix: Final = prefix
        self.lease_seconds: Final = float(lease_seconds)
        self.connect_timeout: Final = float(connect_timeout)
        self.command_timeout: Final = float(command_timeout)
        self._pid: Final = os.getpid()
        self._host: Final = socket.gethostname()
        # The lease's value and the consumer's name: unique per object, and it says who.
        self.owner: Final = f"{uuid.uuid4().hex} {self._pid} {self._host}"
        self._ms: Final = str(int(self.lease_seconds * 1000))
        self._held: set[str] = set()
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._opening: trio.Event | None = None
        self._open_error: BaseException | None = None
        self._stop = trio.Event()
        self._stopped = trio.Event()
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisOutbox({self.display!r}, prefix={self.prefix!r})"

    async def __aenter__(self) -> RedisOutbox:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (idempotent; every other method connects too).

        Raises:
            OutboxError: Redis does not answer within ``connect_timeout``, or refuses.
        """
        if self._closed:
            raise OutboxError(f"outbox {self.display} is closed")
        if self._opening is None:
            self._opening = trio.Event()
            trio.lowlevel.spawn_system_task(self._serve, name=f"trio-webhook {self!r}")
        await self._opening.wait()
        if self._open_error is not None:
            raise OutboxError(
                f"outbox {self.display}: cannot connect: {type(self._open_error).__name__}: "
                f"{self._open_error}"
            ) from self._open_error

    async def _serve(self) -> None:
        # A system task: an exception escaping it would crash the whole run, so every
        # failure is kept for open() to raise, or logged.
        import coredis  # the `redis` extra; imported only when an outbox is used

        assert self._opening is not None
        try:
            client = coredis.Redis.from_url(
                self.url, decode_responses=True, connect_timeout=self.connect_timeout
            )
            async with client:
                with trio.fail_after(self.connect_timeout):
                    await client.ping()
                self._scripts = {n: client.register_script(s) for n, s in _SCRIPTS.items()}
                self._client = client
                self._opening.set()
                await self._renew_until_stopped()
        except Exception as exc:
            if not self._opening.is_set():
                self._open_error = exc
            else:
                logger.error("outbox %s: the connection task failed: %r", self.display, exc)
        finally:
            self._client = None
            self._opening.set()
            self._stopped.set()

    async def _renew_until_stopped(self) -> None:
        while True:
            with trio.move_on_after(self.lease_seconds / 3):
                await self._stop.wait()
                return
            if not self._held:
                continue
            held = sorted(self._held)
            try:
                kept = await self._run("RENEW", self.owner, self._ms, *held)
            except OutboxError as exc:
                logger.warning("outbox %s: could not renew leases: %s", self.display, exc)
                continue
            for wid, ok in zip(held, kept, strict=True):
                if not ok and wid in self._held:
                    self._held.discard(wid)
                    logger.warning(
                        "outbox %s: lost the lease on webhook %s to another outbox",
                        self.display,
                        wid,
                    )

    async def aclose(self) -> None:
        """Release this outbox's leases and disconnect (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._opening is None:
            return
        with trio.CancelScope(shield=True):
            await self._opening.wait()
            if self._client is not None:
                for wid in sorted(self._held):
                    try:
                        await self._run("RELEASE", wid, self.owner)
                    except OutboxError as exc:
                        logger.warning("outbox %s: %s", self.display, exc)
                self._held.clear()
            self._stop.set()
            await self._stopped.wait()

    # -- calls ---------------------------------------------------------------------------

    async def _connected(self) -> Any:
        if self._client is None:
            if self._closed:
                raise OutboxError(f"outbox {self.display} is closed")
            await self.open()
            if self._client is None:
                raise OutboxError(f"outbox {self.display}: its connection ended; reopen it")
        return self._client

    async def _run(self, name: str, *args: str | int) -> Any:
        """Run script ``name`` with the prefix and ``args``; Redis errors become OutboxError."""
        from coredis.exceptions import RedisError

        await self._connected()
        result: Any = None
        try:
            # Shielded, with a deadline: once sent, the script runs in Redis whatever the
            # caller does, so the caller waits for its answer instead of guessing.
            with trio.move_on_after(self.command_timeout, shield=True) as scope:
                result = await self._scripts[name](keys=[], args=[self.prefix, *map(str, args)])
        except (RedisError, OSError) as exc:
            raise OutboxError(f"outbox {self.display}: {type(exc).__name__}: {exc}") from exc
        if scope.cancelled_caught:
            raise OutboxError(
                f"outbox {self.display}: no answer within command_timeout "
                f"({self.command_timeout:g} s); the call may or may not have been applied"
            )
        return result

    def _lease_args(self, wid: str, steal: str = "") -> tuple[str, str, str, str]:
        return (wid, self.owner, self._ms, steal)

    async def _with_lease(self, name: str, wid: str, *args: str | int) -> list[Any]:
        """Run a script that claims the lease first; a dead holder is taken over at once."""
        steal = ""
        for _ in range(2):
            reply = cast("list[Any]", await self._run(name, *self._lease_args(wid, steal), *args))
            if reply[0] != "busy":
                if reply[0] == "taken":
                    self._took(wid, reply, stolen=bool(steal))
                self._held.add(wid)
                return reply
            holder, pttl = str(reply[1]), int(reply[2])
            _, pid, host = [*holder.split(" "), "", ""][:3]
            dead = host == self._host and pid.isdigit() and int(pid) != self._pid
            if steal or not dead or pid_alive(int(pid)):
                self._held.discard(wid)
                here = pid == str(self._pid) and host == self._host
                raise OutboxLeaseHeld(
                    f"{self.display} (prefix {self.prefix})",
                    wid,
                    _holder(holder)
                    + (" (another outbox object in this process; share one)" if here else ""),
                    max(pttl, 0) / 1000,
                )
            steal = holder
        raise AssertionError("unreachable")  # pragma: no cover

    def _took(self, wid: str, reply: Sequence[Any], *, stolen: bool) -> None:
        previous, adopted = str(reply[1]), int(reply[2])
        if previous:
            logger.warning(
                "outbox %s: taking over webhook %s from %s (%s); the %d message(s) it had "
                "read and not settled are delivered first",
                self.display,
                wid,
                _holder(previous),
                "it is gone" if stolen else "its lease ran out",
                adopted,
                extra={"webhook_id": wid},
            )

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
        batch = tuple(messages)
        if any(m.attachments for m in batch):
            # Path-backed files are read while encoding: off trio's thread.
            bodies = await trio.to_thread.run_sync(lambda: [encode_message(m) for m in batch])
        else:
            bodies = [encode_message(m) for m in batch]
        key, value = cursor if cursor is not None else ("", 0)
        reply = await self._with_lease("APPEND", wid, key, value, *bodies)
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

    async def settle_delivered(self, entry: int) -> None:
        """Forget a delivered message (XACK, XDEL); see :meth:`Outbox.settle_delivered`."""
        await self._run("SETTLE", int(entry))

    async def settle_dead(self, entry: int, record: DeadLetter) -> None:
        """Move a message to the dead-letter stream; see :meth:`Outbox.settle_dead`."""
        if not await self._run("SETTLE_DEAD", int(entry), encode_record(record)):
            raise KeyError(f"outbox {self.display}: entry {entry} is not pending")

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
                shown = _holder(str(holder)) + (" (this outbox)" if holder == self.owner else "")
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
