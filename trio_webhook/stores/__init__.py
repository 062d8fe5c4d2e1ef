"""Where the rate limiter keeps bucket state: in memory, or shared through Redis.

The protocols and the stores live in :mod:`trio_webhook.ratelimit`; this namespace names
them together.
"""

from trio_webhook.ratelimit import (
    AsyncRateLimitStore,
    MemoryStore,
    RateLimitStore,
    RedisRateLimitStore,
)

__all__ = ["AsyncRateLimitStore", "MemoryStore", "RateLimitStore", "RedisRateLimitStore"]
