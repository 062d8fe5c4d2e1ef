"""Workers: deliver what producers put in a Redis outbox, on as many machines as you like.

A producer (a web app, a cron job, :func:`trio_webhook.outbox.enqueue`) appends to the
outbox; each webhook with pending messages is in the outbox's *ready* set. A worker is
given the webhook URLs it serves, and loops:

- discovery: which of its webhooks are ready (every ``poll_interval``);
- for each ready one nobody holds, take its lease (``OutboxLeaseHeld``: another worker
  has it, skip it) and start a *partition* task for it;
- a partition opens a sender on the outbox (the ordinary sender, journal and all) that
  delivers everything pending, in order; then looks again; once the webhook has been
  idle for ``idle_timeout`` it gives the lease back and closes its connections.

All senders of a worker share one :class:`~trio_webhook.RateLimitTracker` (the global
limit and a channel's hidden limit are per process), and one
:class:`~trio_webhook.outbox.RedisOutbox` (one consumer, one set of leases).

Why URLs are given to workers: a webhook URL carries its token, a password, and tokens
never go to Redis (keys and values name a webhook by its id only). So a producer stores
the id, and a worker must be told the URLs it may deliver to (``--webhook URL``, a file,
or ``TRIO_WEBHOOK_WORKER_WEBHOOKS``). A webhook with work that no worker serves stays
pending, and ``trio-webhook outbox`` shows it.
"""

from __future__ import annotations

import os
import random
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Final

import trio

from trio_webhook._client_setup import strategy_for
from trio_webhook._config import SenderConfig
from trio_webhook._url import parse_webhook_url
from trio_webhook._worker_loop import Worker, WorkerStats
from trio_webhook.outbox import RedisOutbox
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.transport import Transport

__all__ = ["ENV_WEBHOOKS", "Worker", "WorkerStats", "open_worker", "run_worker", "webhooks_from"]

ENV_WEBHOOKS: Final = "TRIO_WEBHOOK_WORKER_WEBHOOKS"
"""The environment variable that lists a worker's webhook URLs (whitespace-separated)."""


def webhooks_from(urls: Iterable[str] | None) -> dict[str, str]:
    """Webhook id to URL, from ``urls`` or (``None``) ``TRIO_WEBHOOK_WORKER_WEBHOOKS``.

    Raises:
        ValueError: No URL, or two URLs for the same webhook.
        InvalidWebhookURL: One is not a webhook URL (the message never shows a token).
    """
    if urls is None:
        urls = os.environ.get(ENV_WEBHOOKS, "").split()
    found: dict[str, str] = {}
    for url in urls:
        wid = parse_webhook_url(url).webhook_id
        if wid in found and found[wid] != url:
            raise ValueError(f"webhook {wid} is given twice, with different tokens")
        found[wid] = url
    if not found:
        raise ValueError(
            f"a worker needs the URLs of the webhooks it serves (tokens never go to "
            f"Redis): give webhooks=[...], --webhook URL, or set {ENV_WEBHOOKS}"
        )
    return found


@asynccontextmanager
async def open_worker(
    redis_url: str | RedisOutbox,
    *,
    webhooks: Iterable[str] | None = None,
    prefix: str = "trio-webhook",
    tracker: RateLimitTracker | None = None,
    config: SenderConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport_factory: Callable[[], Transport] | None = None,
    lease_seconds: float = 30.0,
    poll_interval: float = 0.5,
    idle_timeout: float = 5.0,
    max_webhooks: int | None = None,
) -> AsyncIterator[Worker]:
    """Run a worker for the life of the block; see :func:`run_worker` for the arguments.

    Resource handling:
        The discovery task and one task per leased webhook live exactly as long as the
        block. Leaving it stops discovery; each sender drains what it had begun within
        ``config.drain_timeout`` (the rest stays pending in Redis for the next worker),
        then the leases are given back and the outbox closed (an outbox passed in stays
        open: its owner closes it).
    """
    urls = webhooks_from(webhooks)
    config = config if config is not None else SenderConfig()
    _check_settings(poll_interval, idle_timeout, max_webhooks)
    rng = random.Random(config.seed)
    tracker = tracker or RateLimitTracker(strategy=strategy_for(config), rng=rng)
    own = not isinstance(redis_url, RedisOutbox)
    outbox = (
        RedisOutbox(redis_url, prefix=prefix, lease_seconds=lease_seconds)
        if not isinstance(redis_url, RedisOutbox)
        else redis_url
    )
    try:
        await outbox.open()
        worker = Worker(
            outbox,
            urls,
            config=config,
            tracker=tracker,
            ssl_context=ssl_context,
            transport_factory=transport_factory,
            poll_interval=poll_interval,
            idle_timeout=idle_timeout,
            max_webhooks=max_webhooks,
            rng=rng,
        )
        async with _discovering(worker):
            yield worker
    finally:
        if own:
            await outbox.aclose()


def _check_settings(poll_interval: float, idle_timeout: float, max_webhooks: int | None) -> None:
    if not poll_interval > 0:
        raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval!r}")
    if not idle_timeout >= 0:
        raise ValueError(f"idle_timeout must be >= 0 seconds, got {idle_timeout!r}")
    if max_webhooks is not None and max_webhooks < 1:
        raise ValueError(f"max_webhooks must be >= 1 or None, got {max_webhooks!r}")


@asynccontextmanager
async def _discovering(worker: Worker) -> AsyncIterator[None]:
    """The worker's discovery task (and its partitions) for the life of the block."""
    async with trio.open_nursery() as nursery:
        discovery = trio.CancelScope()

        async def discover() -> None:
            with discovery:
                await worker._discover(nursery)

        nursery.start_soon(discover)
        try:
            yield
        finally:
            discovery.cancel()
            nursery.cancel_scope.cancel()


async def run_worker(
    redis_url: str | RedisOutbox,
    *,
    webhooks: Iterable[str] | None = None,
    prefix: str = "trio-webhook",
    tracker: RateLimitTracker | None = None,
    config: SenderConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport_factory: Callable[[], Transport] | None = None,
    lease_seconds: float = 30.0,
    poll_interval: float = 0.5,
    idle_timeout: float = 5.0,
    max_webhooks: int | None = None,
    task_status: trio.TaskStatus[Worker] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Deliver the pending messages of ``webhooks`` from a Redis outbox, until cancelled.

    Args:
        redis_url: The Redis server (``redis://host:port/db``), or a
            :class:`~trio_webhook.outbox.RedisOutbox` to use (not closed here).
        webhooks: The URLs it serves (a worker must be told them: tokens never go to Redis);
            ``None`` reads ``TRIO_WEBHOOK_WORKER_WEBHOOKS`` (whitespace-separated).
        prefix: The outbox's key prefix (the producers' ``prefix``).
        tracker: The rate-limit tracker all its senders share (default: ``config``'s strategy).
        config: Timeouts, retry policy, dead letters (``outbox`` is set here).
        ssl_context: Trust for Discord's (or a fake's) certificate.
        transport_factory: Makes each sender's transport, such as ``FakeDiscord.transport``
            (each is closed with its sender's client).
        lease_seconds: How soon another worker takes over the webhooks of one that
            hangs or dies on another machine (on this machine: at once).
        poll_interval: Seconds between looks for work.
        idle_timeout: Seconds without work before a webhook's lease and connections go back.
        max_webhooks: The most webhooks this worker delivers at once (``None``: all).
        task_status: For ``nursery.start``: started once connected, with the :class:`Worker`.

    Raises:
        ValueError: No webhook URL, or a bad setting.
        OutboxError: Redis cannot be reached at the start.

    Cancellation: each sender drains within ``config.drain_timeout``; the rest stays pending.

    Example::

        nursery.start_soon(partial(run_worker, "redis://127.0.0.1:6379/0", webhooks=urls))
    """
    async with open_worker(
        redis_url,
        webhooks=webhooks,
        prefix=prefix,
        tracker=tracker,
        config=config,
        ssl_context=ssl_context,
        transport_factory=transport_factory,
        lease_seconds=lease_seconds,
        poll_interval=poll_interval,
        idle_timeout=idle_timeout,
        max_webhooks=max_webhooks,
    ) as worker:
        task_status.started(worker)
        await trio.sleep_forever()
