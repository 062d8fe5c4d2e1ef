"""A client from a sender's settings (retry policy, strategy, tracker), and its close.

Shared by the sender, the hub, the worker, the facades and replay, so that one setting
means one client everywhere.
"""

from __future__ import annotations

import functools
import random
import ssl
from types import TracebackType
from typing import Final

import trio

from trio_webhook._client import WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._retry import RetryPolicy
from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    ProactiveStrategy,
    RateLimitTracker,
    ReactiveStrategy,
    Strategy,
)
from trio_webhook.transport._base import Transport
from trio_webhook.transport._dryrun import DryRunTransport

__all__ = ["client_from_config", "close_client", "closing_client", "strategy_for"]

_UNSEEDED: Final = random.Random()


# Strategies and retry policies are frozen: the senders of one setting share one, so a
# thousand senders hold no copies for the garbage collector to walk (issue 16).
_REACTIVE: Final = ReactiveStrategy()
_ADAPTIVE: Final = AdaptiveStrategy()


def strategy_for(config: SenderConfig) -> Strategy:
    """The rate-limit strategy ``config`` names (one shared instance per setting)."""
    if config.strategy == "reactive":
        return _REACTIVE
    if config.strategy == "proactive":
        return _proactive(config.proactive_threshold)
    return _ADAPTIVE


@functools.lru_cache(maxsize=16)
def _proactive(threshold: int) -> ProactiveStrategy:
    return ProactiveStrategy(threshold=threshold)


@functools.lru_cache(maxsize=16)
def _retry_policy(base: float, cap: float, max_attempts: int, retry_ambiguous: bool) -> RetryPolicy:
    return RetryPolicy(
        base=base, cap=cap, max_attempts=max_attempts, retry_ambiguous=retry_ambiguous
    )


def client_from_config(
    url: str,
    config: SenderConfig,
    *,
    tracker: RateLimitTracker | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
) -> WebhookClient:
    """A :class:`WebhookClient` with ``config``'s timeouts, retry policy and strategy."""
    # Seeding a generator from the OS costs ~10 µs a sender; an unseeded config wants no
    # reproducible draws, so its clients share one (trio runs them on one thread).
    rng = random.Random(config.seed) if config.seed is not None else _UNSEEDED
    return WebhookClient(
        url,
        retry=_retry_policy(
            config.backoff_base, config.backoff_cap, config.max_attempts, config.retry_ambiguous
        ),
        tracker=tracker or RateLimitTracker(strategy=strategy_for(config), rng=rng),
        rng=rng,
        connect_timeout=config.connect_timeout,
        total_timeout=config.total_timeout,
        max_response_bytes=config.max_response_bytes,
        max_upload_bytes=config.max_upload_bytes,
        max_request_bytes=config.max_request_bytes,
        ssl_context=ssl_context,
        transport=DryRunTransport() if config.dry_run else transport,
    )


async def close_client(client: WebhookClient) -> None:
    """Close ``client`` within a second, shielded (a caller's cancellation must not skip it).

    A client on the process's shared pool has no connection of its own: that returns at
    once, without entering a scope.
    """
    if client.shares_connections:
        return
    with trio.move_on_after(1.0, shield=True):
        await client.aclose()


class closing_client:
    """``client`` for the ``async with`` block, closed after it (within a second) when ``own``.

    A class, not a generator-based context manager, which would stay alive (a generator,
    its frame, a bound ``__aexit__``, trio's weak reference) as long as a hub's lane.
    """

    __slots__ = ("_client", "_own")

    def __init__(self, client: WebhookClient, *, own: bool) -> None:
        self._client = client
        self._own = own

    async def __aenter__(self) -> WebhookClient:
        return self._client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._own:
            await close_client(self._client)
