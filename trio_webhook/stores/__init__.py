"""Where the rate limiter keeps bucket state: in memory, or shared through Redis.

The protocol and the memory store live in :mod:`trio_webhook.ratelimit`; this namespace
names them where the shared (Redis) stores will be.
"""

from trio_webhook.ratelimit import MemoryStore, RateLimitStore

__all__ = ["MemoryStore", "RateLimitStore"]
