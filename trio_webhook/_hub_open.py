"""Opening a hub: :func:`open_webhook_hub`, its shared parts and its checks.

The hub itself (its lanes, its producer's side) is :mod:`._hub`; this module builds
what the lanes share (the tracker and its store, the outbox, the sink) for the life of
the block, and drains every lane on leaving it.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import attrs
import trio

from trio_webhook._client_setup import strategy_for
from trio_webhook._config import DEFAULT_CONFIG, SenderConfig
from trio_webhook._draining import _raise_single
from trio_webhook._durable import shared_outbox
from trio_webhook._hub import HubParts, WebhookHub
from trio_webhook._sinks import make_sink
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.stores._redis import open_rate_limit_store
from trio_webhook.transport._base import Transport

__all__ = ["DEFAULT_IDLE_TIMEOUT", "DEFAULT_MAX_BUFFERED_TOTAL", "open_webhook_hub"]

DEFAULT_IDLE_TIMEOUT: Final = 60.0
"""Seconds a lane stays open with nothing to do (a lane costs about 20 KiB open)."""
DEFAULT_MAX_BUFFERED_TOTAL: Final = 50_000
"""Messages accepted and not yet settled, over every lane (about 1 KiB each, files aside)."""


@asynccontextmanager
async def open_webhook_hub(
    *,
    config: SenderConfig | None = None,
    tracker: RateLimitTracker | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_buffered_total: int = DEFAULT_MAX_BUFFERED_TOTAL,
) -> AsyncIterator[WebhookHub]:
    """Open a hub: send to any number of webhooks through one object.

    Each webhook gets a lane, a :func:`~trio_webhook.open_webhook_sender` sender made
    from ``config``, when its first message comes; the lane closes after
    ``idle_timeout`` seconds with no new message and nothing left to deliver, and
    reopens on the next. Receipts, retries, dead letters and stats are a sender's; the
    lanes share one rate-limit tracker, one transport and one dead-letter sink.

    Args:
        config: Every lane's settings (``queue_cap``, ``max_buffered``, timeouts, retry,
            dead-letter target, ``outbox``, ...). With an ``outbox`` every lane
            commits to the one outbox (per webhook, as a sender does), and a lane
            delivers what an earlier run left pending for its webhook first.
        tracker: The tracker every lane shares (by default one of ``config``'s strategy,
            with ``config.rate_limit_store`` if set).
        ssl_context: Trust for the server's certificate, for the default transport.
        transport: How every lane reaches Discord (closed when the hub closes); by
            default the process's shared connection pool.
        idle_timeout: Seconds a lane stays open with nothing to do.
        max_buffered_total: Messages accepted and not yet delivered or dead-lettered
            over every webhook; past it ``send_nowait`` raises ``QueueFull`` and
            ``send`` waits.

    Example::

        async with open_webhook_hub() as hub:
            for user in users:
                hub.send_nowait(user.webhook_url, Message(content="build 42 passed"))

    Raises:
        ValueError: ``idle_timeout`` or ``max_buffered_total`` is not positive,
            or ``config.rate_limit_store`` is given with ``tracker``.

    Resource handling:
        The lanes live in a nursery owned by the block. Leaving it (normally, by an
        exception or by cancellation) drains every lane at once within
        ``config.drain_timeout``, shielded, and dead-letters what is left as
        ``shutdown``, as a sender does.
    """
    config = config if config is not None else DEFAULT_CONFIG
    _check_hub(config, tracker, idle_timeout, max_buffered_total)
    limits = (idle_timeout, max_buffered_total)
    async with _running_hub(config, tracker, transport, ssl_context, limits) as hub:
        yield hub


@asynccontextmanager
async def _running_hub(
    config: SenderConfig,
    tracker: RateLimitTracker | None,
    transport: Transport | None,
    ssl_context: ssl.SSLContext | None,
    limits: tuple[float, int],
) -> AsyncIterator[WebhookHub]:
    """The hub, its tracker and store, its nursery of lanes; on leaving, every lane drains."""
    # One sink for every lane (a JSONL file is appended to by one writer, not 10,000).
    sink = make_sink(config.dead_letter, include_attachments=config.dead_letter_attachments)
    lane_config = attrs.evolve(
        config, dead_letter=sink, dead_letter_attachments=True, rate_limit_store=None, outbox=None
    )
    async with (
        open_rate_limit_store(config.rate_limit_store) as store,
        shared_outbox(config.outbox) as outbox,
    ):
        if tracker is None:
            tracker = RateLimitTracker(
                strategy=strategy_for(config), rng=random.Random(config.seed)
            )
        if store is not None:
            tracker.use_store(store)
        try:
            async with trio.open_nursery() as nursery:
                parts = HubParts(lane_config, tracker, transport, ssl_context, *limits, outbox)
                hub = WebhookHub(nursery, parts)
                try:
                    yield hub
                finally:
                    hub._begin_close()
        except BaseExceptionGroup as group:
            # The lanes never raise (a message's failure is its own): the group holds
            # the caller's exception, handed back as itself, as a sender does.
            _raise_single(group)
        finally:
            if transport is not None:
                with trio.move_on_after(1.0, shield=True):
                    await transport.aclose()


def _check_hub(
    config: SenderConfig,
    tracker: RateLimitTracker | None,
    idle_timeout: float,
    max_buffered_total: int,
) -> None:
    if not idle_timeout > 0:
        raise ValueError(f"open_webhook_hub: idle_timeout must be positive (got {idle_timeout})")
    if max_buffered_total < 1:
        raise ValueError(
            f"open_webhook_hub: max_buffered_total must be at least 1 (got {max_buffered_total})"
        )
    if config.rate_limit_store is not None and tracker is not None:
        raise ValueError(
            "open_webhook_hub: config.rate_limit_store is for the tracker made here; "
            "give your tracker= its store (RateLimitTracker(store=...))"
        )
