"""The limiter's fast path decides as the strategies would, without asking them.

``reserve_slot`` grants at once when ``fast_open`` finds the bucket known and open and no
429 blocks it, for the built-in strategies (``OPEN_DELAY_IS_BLOCK``) without calling
their ``delay``: that rests on each of them waiting, on such a bucket, exactly until its
``blocked_until``. These tests hold every built-in strategy to that, over any state
``fast_open`` passes, and check that a strategy of the user's is still asked.
"""

from __future__ import annotations

import copy

import attrs
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    ProactiveStrategy,
    ReactiveStrategy,
    Strategy,
)
from trio_webhook.ratelimit._gates import fast_open
from trio_webhook.ratelimit._records import (
    BucketState,
    GlobalPacing,
    GlobalState,
    LearnedLimit,
)
from trio_webhook.ratelimit._state import reserve_slot
from trio_webhook.ratelimit._strategies import OPEN_DELAY_IS_BLOCK

NOW = 100.0
times = st.floats(min_value=90.0, max_value=110.0)
learned = st.builds(
    LearnedLimit,
    limit=st.integers(1, 5),
    window=st.floats(0.1, 10.0),
    learned_at=times,
    expires_at=times,
)


@st.composite
def bucket_states(draw: st.DrawFn, key: str) -> BucketState:
    """Any state: mostly one that passes ``fast_open``, the rest anything near it."""
    ahead = st.floats(min_value=NOW, max_value=110.0, exclude_min=True)
    open_ = draw(st.booleans() | st.just(True))
    channel = key.startswith("channel:")
    return BucketState(
        key,
        limit=draw(st.none() | st.integers(1, 5)),
        remaining=draw(st.integers(1, 5) if open_ else st.none() | st.integers(-1, 5)),
        reset_at=None if open_ and channel else draw(ahead if open_ else st.none() | times),
        reset_jitter=draw(st.sampled_from([0.0, 0.01, 0.3])),
        window=draw(st.none() | st.floats(0.1, 10.0)),
        blocked_until=draw(st.sampled_from([0.0, NOW - 0.25, NOW, NOW + 0.25, NOW + 1.0])),
        in_flight=()
        if open_ and channel
        else tuple(sorted(draw(st.lists(ahead if open_ else times, max_size=3)))),
        grants=sorted(draw(st.lists(times, max_size=6))),
        learned=None if open_ else draw(st.none() | learned),
    )


def _built(kind: type[Strategy]) -> st.SearchStrategy[Strategy]:
    return st.builds(kind, reset_jitter=st.floats(0.0, 0.5))


skipped = st.sampled_from([ReactiveStrategy, AdaptiveStrategy]).flatmap(_built)


# A skipped strategy, a bucket and maybe a channel: what reserve_slot is given.
any_states = given(
    strategy=skipped,
    bucket=bucket_states("bucket:h:webhooks/1"),
    channel=st.none() | bucket_states("channel:2"),
)


def test_the_default_strategies_are_the_ones_skipped() -> None:
    """Proactive spaces the window's last requests: it must be asked."""
    assert {ReactiveStrategy, AdaptiveStrategy} == OPEN_DELAY_IS_BLOCK
    assert ProactiveStrategy not in OPEN_DELAY_IS_BLOCK


def test_proactive_would_wait_on_an_open_bucket() -> None:
    """Why it is asked: one slot left, and it spaces that slot towards the reset."""
    bucket = BucketState(
        "bucket:h:webhooks/1", limit=5, remaining=1, reset_at=NOW + 1.0, grants=[NOW]
    )
    assert fast_open(bucket, None, GlobalState(), NOW, GlobalPacing(limit=0))
    assert ProactiveStrategy().delay(bucket, NOW) == 0.5


@any_states
def test_on_an_open_bucket_a_built_in_strategy_waits_for_the_429_alone(
    strategy: Strategy, bucket: BucketState, channel: BucketState | None
) -> None:
    if not fast_open(bucket, channel, GlobalState(), NOW, GlobalPacing(limit=0)):
        return
    assert strategy.delay(bucket, NOW) == max(0.0, bucket.blocked_until - NOW)
    if channel is not None:
        assert strategy.delay(channel, NOW) == max(0.0, channel.blocked_until - NOW)


@any_states
def test_the_fast_path_grants_what_asking_the_strategy_grants(
    strategy: Strategy, bucket: BucketState, channel: BucketState | None
) -> None:
    """Against the same strategy asked every time (a subclass: not skipped)."""
    asked = copy.deepcopy((bucket, channel))
    subclass = type("Asked", (type(strategy),), {})
    slow = subclass(reset_jitter=strategy.reset_jitter)
    assert type(slow) not in OPEN_DELAY_IS_BLOCK
    fast_glob, slow_glob = GlobalState(), GlobalState()
    fast = reserve_slot(
        bucket,
        channel,
        fast_glob,
        NOW,
        strategy=strategy,
        pacing=GlobalPacing(limit=0),
        reservation_ttl=30.0,
    )
    other = reserve_slot(
        asked[0],
        asked[1],
        slow_glob,
        NOW,
        strategy=slow,
        pacing=GlobalPacing(limit=0),
        reservation_ttl=30.0,
    )
    assert (fast.delay, fast.reason) == (other.delay, other.reason)
    assert attrs.asdict(bucket) == attrs.asdict(asked[0])
    if channel is not None:
        assert asked[1] is not None
        assert attrs.asdict(channel) == attrs.asdict(asked[1])


@attrs.frozen
class _Holding:
    """A user's strategy: never lets a request through."""

    reset_jitter: float = 0.0
    reset_jitter_share: float = 0.0

    def delay(self, state: BucketState, now: float) -> float:
        return 7.0

    def learn(self, state: BucketState, info: object, now: float) -> None:
        pass


def test_a_users_strategy_is_asked_on_an_open_bucket() -> None:
    bucket = BucketState("bucket:h:webhooks/1", limit=5, remaining=4, reset_at=NOW + 1.0)
    assert fast_open(bucket, None, GlobalState(), NOW, GlobalPacing(limit=0))
    reservation = reserve_slot(
        bucket,
        None,
        GlobalState(),
        NOW,
        strategy=_Holding(),
        pacing=GlobalPacing(limit=0),
        reservation_ttl=30.0,
    )
    assert (reservation.delay, reservation.reason) == (7.0, "bucket")
    assert bucket.remaining == 4  # nothing reserved
