"""Where the rate limiter keeps bucket state: in memory, or shared through Redis."""

from trio_webhook.stores._base import RateLimitStore
from trio_webhook.stores._memory import MemoryStore

__all__ = ["MemoryStore", "RateLimitStore"]
