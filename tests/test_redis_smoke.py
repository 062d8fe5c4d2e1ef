import coredis
from redis_server import RedisServer


async def test_redis_answers(redis_server: RedisServer) -> None:
    async with coredis.Redis(host="127.0.0.1", port=redis_server.port) as client:
        assert await client.ping() in (b"PONG", "PONG", True)
