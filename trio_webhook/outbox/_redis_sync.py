"""``enqueue``: hand a message to the workers from any program, without trio.

A web app, a cron script or a thread calls :func:`enqueue`; it checks the message
against Discord's limits, encodes it as :class:`~trio_webhook.outbox.RedisOutbox` does
and runs the same append script, over a plain socket with a few lines of the Redis
protocol (RESP2). No trio, no coredis, no running sender. The webhook's token never
reaches Redis: only its id does, and the workers hold the URLs.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Sequence
from typing import Final
from urllib.parse import unquote, urlsplit

import trio_webhook.outbox._redis_scripts as scripts
from trio_webhook._limit_values import DEFAULT_MAX_UPLOAD_BYTES
from trio_webhook._limits import check
from trio_webhook._models import Message
from trio_webhook._records import encode_message
from trio_webhook._url import parse_webhook_url
from trio_webhook.outbox._base import OutboxError
from trio_webhook.outbox._redis_conn import is_redis_url, redis_display

__all__ = ["enqueue"]

_APPEND_SHA: Final = hashlib.sha1(scripts.APPEND.encode()).hexdigest()


class _RespError(Exception):
    """An error reply from Redis."""


class _Connection:
    """One Redis connection speaking RESP2: commands out, replies in. Not thread-safe."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._display = redis_display(url)
        try:
            if parts.scheme == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(parts.path)
            else:
                sock = socket.create_connection(
                    (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout
                )
                if parts.scheme == "rediss":
                    context = ssl.create_default_context()
                    sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        except OSError as exc:
            raise OutboxError(f"outbox {self._display}: cannot connect: {exc}") from exc
        self._sock = sock
        self._file = sock.makefile("rb")
        if parts.password is not None:
            user = unquote(parts.username) if parts.username else None
            password = unquote(parts.password)
            self.call("AUTH", *([user, password] if user else [password]))
        db = parts.path.strip("/") if parts.scheme != "unix" else ""
        if db and db != "0":
            self.call("SELECT", db)

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def call(self, *args: str | bytes) -> object:
        out = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg if isinstance(arg, bytes) else arg.encode()
            out += [f"${len(data)}\r\n".encode(), data, b"\r\n"]
        try:
            self._sock.sendall(b"".join(out))
            return self._read()
        except OSError as exc:
            raise OutboxError(f"outbox {self._display}: {type(exc).__name__}: {exc}") from exc

    def _read(self) -> object:
        line = self._file.readline()
        if not line.endswith(b"\r\n"):
            raise OSError("connection closed by Redis")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise _RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._file.read(size + 2)
            return data[:-2].decode()
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise OSError(f"unexpected reply from Redis: {line[:20]!r}")


def enqueue(
    redis_url: str,
    webhook_url: str,
    message: Message | Sequence[Message],
    *,
    prefix: str = "trio-webhook",
    timeout: float = 5.0,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
) -> list[int]:
    """Append ``message`` (or several, in order) to the Redis outbox for the workers.

    Blocking, thread-safe (each call has its own connection), and free of trio: for web
    apps, cron scripts and threads. The message is checked against Discord's limits
    first, so what the workers get can be delivered. Only the webhook's id is stored;
    a worker serving ``webhook_url`` delivers it (see ``trio-webhook worker``).

    Args:
        redis_url: The Redis server, as for :class:`~trio_webhook.outbox.RedisOutbox`.
        webhook_url: The webhook the message goes to (its token is never stored).
        message: A message, or a sequence of messages stored in one atomic step.
        prefix: The outbox's key prefix (the workers' ``prefix``).
        timeout: Seconds allowed to connect, and for each reply.
        max_upload_bytes: The largest file allowed (as the workers' configuration).

    Returns:
        The entry of each message, in order.

    Raises:
        ValidationError: A message breaks Discord's limits (nothing is stored).
        InvalidWebhookURL: ``webhook_url`` is not a webhook URL.
        OutboxError: Redis is unreachable or refused the call (nothing, or all, stored).
        OSError: A path-backed file of a message cannot be read (nothing is stored).

    Example::

        from trio_webhook import Message
        from trio_webhook.outbox import enqueue

        enqueue("redis://127.0.0.1:6379/0", WEBHOOK_URL, Message(content="deployed"))
    """
    if not is_redis_url(redis_url):
        raise ValueError("redis_url must start with redis://, rediss:// or unix://")
    webhook_id = parse_webhook_url(webhook_url).webhook_id
    batch = [message] if isinstance(message, Message) else list(message)
    for item in batch:
        check(item, max_upload_bytes=max_upload_bytes)
    bodies = [encode_message(item) for item in batch]
    if not bodies:
        return []
    # ARGV as RedisOutbox.append, without an owner: a producer takes no lease.
    reply = _append(redis_url, timeout, [prefix, webhook_id, "", "0", "", "", "0", *bodies])
    if not isinstance(reply, list) or reply[:1] != ["ok"]:
        raise OutboxError(f"outbox {redis_display(redis_url)}: unexpected reply {reply!r}")
    return [int(str(e)) for e in reply[1:]]


def _append(redis_url: str, timeout: float, args: list[str]) -> object:
    """Run the append script on a connection of its own (loading it if Redis lacks it)."""
    conn = _Connection(redis_url, timeout)
    try:
        try:
            return conn.call("EVALSHA", _APPEND_SHA, "0", *args)
        except _RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return conn.call("EVAL", scripts.APPEND, "0", *args)
    except _RespError as exc:
        raise OutboxError(f"outbox {redis_display(redis_url)}: Redis refused: {exc}") from exc
    finally:
        conn.close()
