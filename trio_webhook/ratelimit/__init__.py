"""Discord's rate limits, sans-IO: the tracker, its strategies and where it keeps state.

Nothing here sleeps or reads a clock: every operation takes ``now`` and randomness comes
from an injected ``random.Random``. The client drives it (reserve, send, parse the answer
once, observe); see ``docs/ratelimits.md``. The modules behind this face, one role each:
``_headers`` (reading answers), ``_state`` (bucket and global state and every transition),
``_strategies``, ``_budget`` (the invalid-request budget), ``_records`` (the values a store
takes and returns), ``_store`` (the store protocols), ``_memory`` (the memory store) and
``_tracker``. The Redis store, which does I/O, is in :mod:`trio_webhook.stores`.
"""

from trio_webhook.ratelimit._budget import InvalidRequestBudget
from trio_webhook.ratelimit._headers import RateLimitInfo
from trio_webhook.ratelimit._memory import MemoryStore
from trio_webhook.ratelimit._metrics import RateLimitMetrics
from trio_webhook.ratelimit._store import AsyncRateLimitStore, RateLimitStore
from trio_webhook.ratelimit._strategies import (
    AdaptiveStrategy,
    ProactiveStrategy,
    ReactiveStrategy,
    Strategy,
)
from trio_webhook.ratelimit._tracker import RateLimitTracker, RateLimitWait

__all__ = [
    "AdaptiveStrategy",
    "AsyncRateLimitStore",
    "InvalidRequestBudget",
    "MemoryStore",
    "ProactiveStrategy",
    "RateLimitInfo",
    "RateLimitMetrics",
    "RateLimitStore",
    "RateLimitTracker",
    "RateLimitWait",
    "ReactiveStrategy",
    "Strategy",
]
