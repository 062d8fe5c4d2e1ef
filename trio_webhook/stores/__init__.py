"""Where the rate limiter keeps bucket state: in memory, or shared through Redis.

The protocols and the memory store live in :mod:`trio_webhook.ratelimit` (the pure core);
the Redis store, which does I/O, lives here (``_redis``, with its Lua scripts in ``_lua``).
"""

from trio_webhook.ratelimit import AsyncRateLimitStore, MemoryStore, RateLimitStore
from trio_webhook.stores._redis import RedisRateLimitStore

__all__ = ["AsyncRateLimitStore", "MemoryStore", "RateLimitStore", "RedisRateLimitStore"]
