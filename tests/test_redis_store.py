"""The rate-limit store contract, on both stores; and what only the Redis store promises.

The contract tests run once on :class:`MemoryStore` and once on
:class:`RedisRateLimitStore` against the session's real redis-server, through the
tracker's async methods (which drive a synchronous store too). The Redis store runs
them with ``clock="caller"``, so both see the same simulated times; a hypothesis
property then drives both with the same random operations and asserts every answer is
the same. The Redis-only tests (concurrency, Redis's own clock, keys, failures) run on
the real clock, as STACK-NOTES says: a reply from another process looks idle to
``MockClock``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import random
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import coredis
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from redis_server import RedisServer, start_redis

from trio_webhook import Message, SenderConfig, open_webhook_sender
from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    MemoryStore,
    RateLimitInfo,
    RateLimitTracker,
)
from trio_webhook.ratelimit._keys import route_key
from trio_webhook.ratelimit._records import GlobalPacing, Jitter
from trio_webhook.stores import RedisRateLimitStore
from trio_webhook.testing import FakeDiscord

NO_PACING = GlobalPacing(limit=0)
ROUTE = route_key("POST", "1", "secret-token", "")
EDIT = route_key("PATCH", "1", "secret-token", "/messages/{message_id}")
OTHER = route_key("POST", "2", "other-token", "")


def ok(remaining: int = 4, *, bucket: str = "h", reset_after: float = 2.0) -> RateLimitInfo:
    return RateLimitInfo(
        status=200, limit=5, remaining=remaining, reset_after=reset_after, bucket=bucket
    )


def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["memory", "redis"])
async def tracker(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> AsyncIterator[RateLimitTracker]:
    """A tracker on each store; the Redis one on the caller's (simulated) clock."""
    if request.param == "memory":
        yield RateLimitTracker(store=MemoryStore(), rng=random.Random(0), pacing=NO_PACING)
        return
    store = RedisRateLimitStore(redis_server.url, prefix=prefix(), clock="caller", call_timeout=5.0)
    async with store:
        yield RateLimitTracker(store=store, rng=random.Random(0), pacing=NO_PACING)
        assert store.outages == 0  # every answer came from Redis, not the fallback


# --------------------------------------------------------------------------- the contract


async def test_a_reservation_then_an_answer_resolves_the_bucket(tracker: RateLimitTracker) -> None:
    assert (await tracker.areserve(ROUTE, 0.0)).delay == 0.0
    await tracker.aobserve(ROUTE, ok(), 0.05)
    snapshot = await tracker.abucket(ROUTE)
    assert snapshot is not None
    assert snapshot.key == "bucket:h:webhooks/1"
    assert (snapshot.limit, snapshot.remaining, snapshot.in_flight) == (5, 4, 0)
    await tracker.aclear()
    assert await tracker.abucket(ROUTE) is None


async def test_the_last_slot_is_taken_once_and_the_rest_wait_for_the_reset(
    tracker: RateLimitTracker,
) -> None:
    assert await tracker.aacquire(ROUTE, 0.0) == 0.0
    await tracker.aobserve(ROUTE, ok(remaining=2, reset_after=2.0), 0.1)
    grants = [await tracker.aacquire(ROUTE, 0.2) for _ in range(4)]
    assert grants[:2] == [0.0, 0.0]
    assert all(1.8 <= wait <= 1.9 + 0.01 for wait in grants[2:])  # the reset, plus jitter
    assert await tracker.aacquire(ROUTE, 2.2) == 0.0  # a new window


async def test_placeholder_hands_its_reservations_to_the_discovered_bucket(
    tracker: RateLimitTracker,
) -> None:
    assert await tracker.aacquire(ROUTE, 0.0) == 0.0
    assert await tracker.aacquire(EDIT, 0.0) == 0.0
    await tracker.aobserve(ROUTE, ok(bucket="same"), 0.05)
    await tracker.aobserve(EDIT, ok(bucket="same"), 0.06)
    first = await tracker.abucket(ROUTE)
    assert first is not None
    assert first == await tracker.abucket(EDIT)
    assert first.in_flight == 0


async def test_a_transport_failure_gives_the_slot_back(tracker: RateLimitTracker) -> None:
    assert await tracker.aacquire(ROUTE, 0.0) == 0.0
    await tracker.aobserve(ROUTE, ok(remaining=1), 0.05)
    assert await tracker.aacquire(ROUTE, 0.1) == 0.0
    assert await tracker.aacquire(ROUTE, 0.1) > 0.0  # exhausted
    await tracker.arelease(ROUTE, 0.15)
    assert await tracker.aacquire(ROUTE, 0.2) == 0.0


async def test_a_global_429_blocks_every_route(tracker: RateLimitTracker) -> None:
    assert await tracker.aacquire(ROUTE, 0.0) == 0.0
    glob = RateLimitInfo(status=429, is_global=True, scope="global", retry_after=3.0)
    await tracker.aobserve(ROUTE, glob, 0.1)
    reservation = await tracker.areserve(OTHER, 0.2)
    assert reservation.reason == "global"
    assert 2.9 <= reservation.delay <= 3.0 + 0.25


async def test_a_shared_429_paces_every_webhook_of_the_channel(tracker: RateLimitTracker) -> None:
    # Two webhooks of one channel; the channel lets 3 through, then answers 429 shared.
    now = 0.0
    for route in (ROUTE, OTHER, ROUTE):
        assert await tracker.aacquire(route, now) == 0.0
        await tracker.aobserve(route, ok(bucket=route[-5:]), now + 0.01, channel_id="c")
        now += 0.02
    assert await tracker.aacquire(OTHER, now) == 0.0
    shared = RateLimitInfo(status=429, scope="shared", retry_after=4.0, remaining=3)
    await tracker.aobserve(OTHER, shared, now + 0.01, channel_id="c")
    # The other webhook waits too: the channel's block and learned limit are shared.
    reservation = await tracker.areserve(ROUTE, now + 0.05)
    assert reservation.reason == "channel"
    assert reservation.delay >= 3.9


async def test_an_edge_ban_starts_one_episode_and_pauses_everything(
    tracker: RateLimitTracker,
) -> None:
    assert await tracker.aacquire(ROUTE, 0.0) == 0.0
    assert await tracker.aacquire(OTHER, 0.0) == 0.0
    ban = RateLimitInfo(status=429, retry_after=5.0, edge_ban=True, edge_ban_cause="HTML")
    await tracker.aobserve(ROUTE, ban, 0.1)
    await tracker.aobserve(OTHER, ban, 0.2)
    assert tracker.metrics(0.3).edge_bans == 1
    reservation = await tracker.areserve(OTHER, 0.3)
    assert reservation.reason == "edge_ban"
    assert math.isclose(reservation.delay, 60.0 - 0.2, abs_tol=0.01)  # the floor


async def test_invalid_answers_are_counted_once_each(tracker: RateLimitTracker) -> None:
    for i in range(3):
        assert await tracker.aacquire(OTHER, i * 0.1) == 0.0
        await tracker.aobserve(OTHER, RateLimitInfo(status=401), i * 0.1 + 0.01)
    await tracker.areserve(ROUTE, 0.5)
    assert tracker.metrics(0.5).invalid_requests == 3


# --------------------------------------------------------------------------- one rule set

_INFOS = st.one_of(
    st.none(),
    st.builds(
        RateLimitInfo,
        status=st.just(200),
        limit=st.just(5),
        remaining=st.integers(0, 5),
        reset_after=st.sampled_from([0.5, 1.0, 2.0]),
        bucket=st.sampled_from(["a", "b"]),
    ),
    st.builds(
        RateLimitInfo,
        status=st.just(429),
        scope=st.sampled_from(["user", "shared"]),
        remaining=st.sampled_from([None, 0, 2]),
        retry_after=st.sampled_from([None, 0.5, 3.0]),
    ),
    st.builds(
        RateLimitInfo, status=st.just(429), is_global=st.just(True), retry_after=st.just(1.0)
    ),
    st.builds(RateLimitInfo, status=st.just(429), edge_ban=st.just(True), retry_after=st.just(2.0)),
    st.builds(RateLimitInfo, status=st.sampled_from([401, 403, 500])),
)
_ROUTES = [route_key("POST", str(i), "t", "") for i in range(3)] + [EDIT]
_OPS = st.lists(
    st.tuples(
        st.sampled_from(_ROUTES),
        st.floats(0.0, 1.5),
        st.one_of(st.just("reserve"), _INFOS),
        st.sampled_from([None, "c1", "c2"]),
    ),
    min_size=1,
    max_size=30,
)


@given(ops=_OPS, pacing=st.sampled_from([NO_PACING, GlobalPacing(limit=3, period=1.0)]))
def test_both_stores_give_the_same_answer_to_every_operation(
    redis_server: RedisServer,
    ops: list[tuple[str, float, object, str | None]],
    pacing: GlobalPacing,
) -> None:
    """The Redis store runs the memory store's rules: same inputs, same answers."""
    strategy = AdaptiveStrategy()

    async def body() -> None:
        memory = MemoryStore()
        redis = RedisRateLimitStore(
            redis_server.url, prefix=prefix(), clock="caller", call_timeout=5.0
        )
        async with redis:
            now = 0.0
            for n, (route, step, op, channel) in enumerate(ops):
                now += step
                if op == "reserve":
                    mine = memory.reserve(
                        route, now, strategy=strategy, pacing=pacing, reservation_ttl=30.0
                    )
                    theirs = await redis.reserve(
                        route, now, strategy=strategy, pacing=pacing, reservation_ttl=30.0
                    )
                    assert mine == theirs, n
                else:
                    assert op is None or isinstance(op, RateLimitInfo)
                    jitter = Jitter(reset=0.003 * n, rate_limited=0.01 * n)
                    seen = memory.update(
                        route, op, now, strategy=strategy, channel_id=channel, jitter=jitter
                    )
                    heard = await redis.update(
                        route, op, now, strategy=strategy, channel_id=channel, jitter=jitter
                    )
                    assert seen == heard, n
                budget = RateLimitTracker().budget
                assert memory.global_snapshot(now, budget) == redis.global_snapshot(now, budget)
            for route in _ROUTES:
                bucket, shared = memory.snapshot(route), await redis.snapshot(route)
                if bucket is not None and shared is not None:
                    assert bucket == shared, route
            assert redis.outages == 0

    trio.run(body)


# --------------------------------------------------------------------------- Redis only


@given(
    limit=st.integers(2, 12),
    clients=st.integers(1, 4),
    tasks=st.integers(1, 40),
)
def test_concurrent_callers_never_get_more_than_the_limit(
    redis_server: RedisServer, limit: int, clients: int, tasks: int
) -> None:
    """Tasks on several coredis clients race for one bucket: exactly its slots are taken."""
    namespace = prefix()

    async def body() -> None:
        async with contextlib.AsyncExitStack() as stack:
            stores = [
                await stack.enter_async_context(
                    RedisRateLimitStore(redis_server.url, prefix=namespace, call_timeout=5.0)
                )
                for _ in range(clients)
            ]
            trackers = [RateLimitTracker(store=s, pacing=NO_PACING) for s in stores]
            # The probe, answered: `limit` per window, a window far longer than the run.
            assert await trackers[0].aacquire(ROUTE, 0.0) == 0.0
            info = RateLimitInfo(
                status=200, limit=limit, remaining=limit - 1, reset_after=60.0, bucket="h"
            )
            await trackers[0].aobserve(ROUTE, info, 0.0)
            granted = 0

            async def caller(i: int) -> None:
                nonlocal granted
                if await trackers[i % clients].aacquire(ROUTE, 0.0) == 0.0:
                    granted += 1

            async with trio.open_nursery() as nursery:
                for i in range(tasks):
                    nursery.start_soon(caller, i)
            assert granted == min(tasks, limit - 1)  # never more, and none lost
            assert all(s.outages == 0 for s in stores)

    trio.run(body)


async def test_time_comes_from_redis_not_from_the_caller(redis_server: RedisServer) -> None:
    async with RedisRateLimitStore(redis_server.url, prefix=prefix(), call_timeout=5.0) as store:
        tracker = RateLimitTracker(store=store, pacing=NO_PACING)
        assert await tracker.aacquire(ROUTE, 0.0) == 0.0
        await tracker.aobserve(ROUTE, ok(remaining=0, reset_after=30.0), 0.0)
        # A caller whose clock jumped 1000 s ahead still waits for Redis's reset.
        wait = await tracker.aacquire(ROUTE, 1000.0)
        assert 29.0 < wait <= 30.1


async def test_keys_are_namespaced_token_free_and_expire(redis_server: RedisServer) -> None:
    namespace = prefix()
    async with RedisRateLimitStore(
        redis_server.url, prefix=namespace, idle_ttl=20.0, call_timeout=5.0
    ) as store:
        tracker = RateLimitTracker(store=store, pacing=NO_PACING)
        assert await tracker.aacquire(ROUTE, 0.0) == 0.0
        await tracker.aobserve(ROUTE, ok(), 0.0, channel_id="c9")
        assert await tracker.aacquire(OTHER, 0.0) == 0.0
        shared = RateLimitInfo(status=429, scope="shared", retry_after=45.0)
        await tracker.aobserve(OTHER, shared, 0.0, channel_id="c9")
    async with coredis.Redis.from_url(redis_server.url, decode_responses=True) as client:
        keys = [k async for k in client.scan_iter(match=f"{namespace}:*")]
        assert len(keys) >= 5  # global, two routes, two buckets, the channel
        for key in keys:
            assert key.startswith(namespace + ":")
            values = " ".join(str(v) for v in (await client.hgetall(key)).values())
            assert "token" not in key + values
            ttl = await client.pttl(key)
            assert ttl > 0, key
            if key.endswith(":state:channel:c9"):
                # Learned from a 429: kept while the evidence lasts, past idle_ttl.
                assert ttl > 21_000
            elif ":route:" in key or ":global:" in key:
                continue
            elif key.endswith(":state:bucket:h:webhooks/1"):
                assert ttl <= 21_000  # idle_ttl + 1 s


async def test_grants_far_from_the_invalid_limit_leave_the_global_key_alone(
    redis_server: RedisServer,
) -> None:
    """Without global pacing, grants of different webhooks never contend on one key."""
    namespace = prefix()
    async with RedisRateLimitStore(redis_server.url, prefix=namespace, call_timeout=5.0) as store:
        tracker = RateLimitTracker(store=store, pacing=NO_PACING)
        assert await tracker.aacquire(ROUTE, 0.0) == 0.0
        async with coredis.Redis.from_url(redis_server.url, decode_responses=True) as client:
            version = await client.hget(f"{namespace}:global:default", "v")
            for i in range(5):
                assert await tracker.aacquire(route_key("POST", str(10 + i), "t", ""), 0.0) == 0.0
            assert await client.hget(f"{namespace}:global:default", "v") == version


# coredis 6.9 drops a lost connection's anyio memory streams without closing them; their
# ResourceWarning surfaces as an unraisable exception, which the suite turns into an error.
_COREDIS_LEAKS_STREAMS = pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*MemoryObject:pytest.PytestUnraisableExceptionWarning"
)


async def _kill(server: RedisServer) -> None:
    server.process.kill()
    await trio.to_thread.run_sync(server.process.wait)


@_COREDIS_LEAKS_STREAMS
async def test_a_dead_redis_falls_back_to_memory_and_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_redis(tmp_path)
    restarted: trio.Process | None = None
    try:
        async with RedisRateLimitStore(
            server.url, prefix=prefix(), probe_interval=1.0, call_timeout=1.0
        ) as store:
            tracker = RateLimitTracker(store=store, pacing=NO_PACING)
            assert await tracker.aacquire(ROUTE, 0.0) == 0.0
            await tracker.aobserve(ROUTE, ok(), 0.0)
            assert store.available
            await _kill(server)
            caplog.set_level(logging.INFO, logger="trio_webhook")
            # The memory store answers at once, and the outage is logged once.
            for i in range(4):
                now = i * 0.2  # within the first probe interval
                assert await tracker.aacquire(OTHER, now) == 0.0
                await tracker.aobserve(OTHER, ok(bucket="o"), now + 0.01)
            assert not _available(store)
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1, warnings
            assert "falls back" not in warnings[0].getMessage()
            assert "memory" in warnings[0].getMessage()
            argv = [str(a) for a in server.process.args]  # type: ignore[union-attr]
            restarted = await trio.lowlevel.open_process(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            await _wait_for_redis(server.url)
            # Not probed again before the interval is over ...
            await tracker.aacquire(OTHER, 0.9)
            assert not _available(store)
            # ... and back on Redis once it is.
            with trio.fail_after(5):
                while not _available(store):
                    await tracker.aacquire(OTHER, 1.1)
                    await trio.sleep(0.05)
            assert store.outages == 1
            assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
            assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        server.process.kill()
        server.process.wait()
        if restarted is not None:
            restarted.kill()
            await restarted.wait()
        gc.collect()  # the leaked streams warn here, under this test's filter


def _available(store: RedisRateLimitStore) -> bool:
    # A function, not the property: mypy would keep the property narrowed after an assert.
    return store.available


@_COREDIS_LEAKS_STREAMS
async def test_a_store_opened_while_redis_is_down_starts_on_its_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once it is closed
    caplog.set_level(logging.WARNING, logger="trio_webhook")
    async with RedisRateLimitStore(f"redis://127.0.0.1:{port}/0", prefix=prefix()) as store:
        tracker = RateLimitTracker(store=store, pacing=NO_PACING)
        assert not _available(store)
        for i in range(3):
            assert await tracker.aacquire(route_key("POST", str(i), "t", ""), 0.0) == 0.0
    assert len(caplog.records) == 1
    gc.collect()


async def _wait_for_redis(url: str) -> None:
    with trio.fail_after(10):
        while True:
            try:
                async with coredis.Redis.from_url(url) as client:
                    await client.ping()
                    return
            except (coredis.exceptions.RedisError, ExceptionGroup) as exc:
                # A refused connection may come out of coredis's pool wrapped in a group
                # (when the server is still starting); anything else is a real failure.
                if isinstance(exc, ExceptionGroup):
                    _, rest = exc.split((coredis.exceptions.RedisError, OSError))
                    if rest is not None:
                        raise
                await trio.sleep(0.02)


@_COREDIS_LEAKS_STREAMS
async def test_redis_killed_mid_run_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_redis(tmp_path)
    fake = FakeDiscord(time_scale=0.02)
    hook = fake.create_webhook()
    delivered: list[int] = []
    caplog.set_level(logging.WARNING, logger="trio_webhook")
    try:
        async with RedisRateLimitStore(server.url, prefix=prefix()) as store:
            tracker = RateLimitTracker(store=store, pacing=NO_PACING)
            async with open_webhook_sender(
                hook.url, transport=fake.transport(), tracker=tracker
            ) as sender:
                receipts = [sender.send_nowait(Message(content=f"m{i}")) for i in range(60)]
                for i, receipt in enumerate(receipts):
                    await receipt.wait()
                    delivered.append(i)
                    if i == 20:
                        await _kill(server)
            assert store.outages == 1
    finally:
        server.process.kill()
        server.process.wait()
        gc.collect()  # the leaked streams warn here, under this test's filter
    assert delivered == list(range(60))
    assert [m["content"] for m in fake.history(hook.channel_id)] == [f"m{i}" for i in range(60)]
    stats = sender.stats()
    assert (stats.delivered, stats.dead) == (60, 0)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "Redis" in warnings[0].getMessage()


async def test_senders_of_one_process_share_the_store_of_a_url(redis_server: RedisServer) -> None:
    fake = FakeDiscord()
    a, b = fake.create_webhook(), fake.create_webhook()
    config = SenderConfig(rate_limit_store=redis_server.url)
    transport = fake.transport()
    async with (
        open_webhook_sender(a.url, config=config, transport=transport) as first,
        open_webhook_sender(b.url, config=config, transport=transport) as second,
    ):
        store = first._client.tracker.store
        assert isinstance(store, RedisRateLimitStore)
        assert second._client.tracker.store is store
        await (await first.send(Message(content="a"))).wait()
        await (await second.send(Message(content="b"))).wait()
        assert store.available
        assert await first._client.tracker.abucket(route_key("POST", a.id, "", "")) is not None
    assert store._read is None  # closed with the last sender


async def test_the_config_store_and_a_tracker_of_ones_own_do_not_mix(
    redis_server: RedisServer,
) -> None:
    config = SenderConfig(rate_limit_store=redis_server.url)
    with pytest.raises(ValueError, match="rate_limit_store"):
        async with open_webhook_sender(
            "https://discord.test/api/webhooks/1/t", config=config, tracker=RateLimitTracker()
        ):
            pass


def test_the_sync_methods_refuse_an_async_store() -> None:
    tracker = RateLimitTracker(store=RedisRateLimitStore("redis://127.0.0.1:1/0"))
    assert tracker.is_async
    with pytest.raises(TypeError, match="areserve"):
        tracker.acquire(ROUTE, 0.0)


def test_a_store_repr_and_config_never_show_a_password() -> None:
    url = "redis://user:hunter2@127.0.0.1:6379/0"
    assert "hunter2" not in repr(RedisRateLimitStore(url))
    assert "hunter2" not in repr(SenderConfig(rate_limit_store=url))
