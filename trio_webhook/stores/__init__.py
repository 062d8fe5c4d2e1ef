"""Where the rate limiter keeps bucket state: in memory, or shared through Redis."""
