"""The Redis outbox's connection: the system task, script calls, leases and their renewal.

:class:`RedisConnection` is the half of :class:`~trio_webhook.outbox.RedisOutbox` that
talks to Redis: it connects in a trio system task (which also renews the leases), runs
one Lua script a call (:meth:`RedisConnection._run`, shielded and bounded), and claims a
lease on the way (:meth:`RedisConnection._with_lease`), taking over a dead holder's.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any, Final, cast
from urllib.parse import urlsplit

import trio

import trio_webhook.outbox._redis_scripts as scripts
import trio_webhook.outbox._redis_shared_scripts as shared_scripts
from trio_webhook._extras import require
from trio_webhook.outbox._base import OutboxError, OutboxLeaseHeld, pid_alive

__all__ = ["BLOCK_LIMIT", "RedisConnection", "describe_holder", "is_redis_url", "redis_display"]

logger: Final = logging.getLogger("trio_webhook.outbox")

# The longest a blocking read of a shared outbox may ask Redis to block, in seconds.
BLOCK_LIMIT: Final = 5.0

_SCRIPTS: Final = {
    **{
        name: getattr(scripts, name)
        for name in scripts.__all__
        if name != "GROUP"  # the consumer group's name, not a script
    },
    "OUTCOME": shared_scripts.OUTCOME,
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


def describe_holder(owner: str) -> str:
    """A lease owner (``"<id> <pid> <host>"``) as words for messages."""
    _, _, rest = owner.partition(" ")
    pid, _, host = rest.partition(" ")
    return f"process {pid} on {host}"


class RedisConnection:
    """Connecting, calling scripts and holding leases: the base of the Redis outbox.

    Its arguments are :class:`~trio_webhook.outbox.RedisOutbox`'s.
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

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (idempotent; every other method connects too).

        Raises:
            OutboxError: Redis does not answer within ``connect_timeout``, or refuses.
        """
        if self._closed:
            raise OutboxError(f"outbox {self.display} is closed")
        if self._opening is None:
            require("coredis", extra="redis", needed_by="a redis:// outbox")
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

    async def _blocking(self, request: Awaitable[Any]) -> Any:
        """Await a blocking read (``BLPOP``, ``XREAD BLOCK``); Redis errors become OutboxError.

        Not shielded, unlike :meth:`_run`: a read changes nothing, so a cancelled one may
        simply stop (coredis drops its connection). Bounded by ``command_timeout`` beyond
        the read's own block time, which callers keep short.
        """
        from coredis.exceptions import RedisError

        try:
            with trio.fail_after(self.command_timeout + BLOCK_LIMIT):
                return await request
        except (RedisError, OSError, trio.TooSlowError) as exc:
            raise OutboxError(f"outbox {self.display}: {type(exc).__name__}: {exc}") from exc

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
                    describe_holder(holder)
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
                describe_holder(previous),
                "it is gone" if stolen else "its lease ran out",
                adopted,
                extra={"webhook_id": wid},
            )
