"""What the Redis store keeps, pure: each state's text, one read's view, one write's plan.

Redis is a versioned register (see :mod:`._redis`): this module turns the read script's
reply into states, builds the memory store the rules run on, and says what the
compare-and-set script must write back. No I/O here.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

import attrs

from trio_webhook.ratelimit._budget import InvalidRequestBudget
from trio_webhook.ratelimit._memory import MemoryStore, _Route
from trio_webhook.ratelimit._records import BucketState, GlobalState, LearnedLimit

__all__ = [
    "CHANNEL_PREFIX",
    "FRESH",
    "View",
    "bucket_horizon",
    "dump_bucket",
    "dump_global",
    "lasting",
    "load_bucket",
    "load_global",
    "parse_view",
    "plan_commit",
    "scratch_store",
]

CHANNEL_PREFIX: Final = "channel:"

# Lists, not dicts: every operation encodes and decodes a few states.


# Lists, not dicts: every operation encodes and decodes a few states.


def dump_bucket(state: BucketState) -> str:
    """A bucket's state as the text Redis keeps."""
    learned = state.learned
    return json.dumps(
        [
            state.limit,
            state.remaining,
            state.reset_at,
            state.reset_jitter,
            state.window,
            state.blocked_until,
            state.rolled_at,
            state.in_flight,
            list(state.grants),
            None
            if learned is None
            else [
                learned.limit,
                learned.window,
                learned.learned_at,
                learned.expires_at,
                learned.scope,
                learned.counted,
            ],
            state.last_used,
            state.channel_synced,
            state.reset_measured,
            state.contended,
        ],
        separators=(",", ":"),
    )


def load_bucket(key: str, text: str) -> BucketState:
    """The bucket ``key`` back from its text."""
    fields = json.loads(text)
    # A state written before `contended` existed has one field less.
    contended = bool(fields[13]) if len(fields) > 13 else False
    (
        limit,
        remaining,
        reset_at,
        reset_jitter,
        window,
        blocked_until,
        rolled_at,
        in_flight,
        grants,
        learned,
        last_used,
        channel_synced,
        reset_measured,
    ) = fields[:13]
    state = BucketState(
        key,
        limit=limit,
        remaining=remaining,
        reset_at=reset_at,
        reset_jitter=reset_jitter,
        window=window,
        blocked_until=blocked_until,
        rolled_at=rolled_at,
        in_flight=tuple(in_flight),
        last_used=last_used,
        channel_synced=channel_synced,
        reset_measured=reset_measured,
        contended=contended,
    )
    state.grants.extend(grants)
    if learned is not None:
        state.learned = LearnedLimit(*learned)
    return state


def dump_global(state: GlobalState) -> str:
    """The global gate's state as the text Redis keeps."""
    return json.dumps(
        [
            state.blocked_until,
            list(state.grants),
            state.edge_ban_until,
            list(state.invalid.slots),
            state.invalid.total,
            state.last_grant,
            state.promised,
        ],
        separators=(",", ":"),
    )


def load_global(text: str) -> GlobalState:
    """The global gate back from its text (a fresh one from ``""``)."""
    if not text:
        return GlobalState()
    fields = json.loads(text)
    blocked_until, grants, edge_ban_until, slots, total, last_grant = fields[:6]
    state = GlobalState(
        blocked_until=blocked_until,
        grants=deque(grants),
        edge_ban_until=edge_ban_until,
        last_grant=last_grant,
        # The global pace's promised openings (absent from a state written before them).
        promised=list(fields[6]) if len(fields) > 6 else [],
    )
    state.invalid.slots.extend(slots)
    state.invalid.total = total
    return state


def bucket_horizon(state: BucketState) -> float:
    """When nothing in ``state`` matters any more: its key must not expire before."""
    horizon = max(state.blocked_until, state.reset_at or 0.0, max(state.in_flight, default=0.0))
    if state.learned is not None:
        horizon = max(horizon, state.learned.expires_at)
    return horizon


def lasting(state: BucketState) -> tuple[float | None, int, bool]:
    """What a waiting reservation may change that depends on when it was computed."""
    return state.rolled_at, len(state.in_flight), state.learned is None


FRESH: Final = (None, 0, True)


@attrs.define
class View:
    """What the read script returned: Redis's time, and each state with its version."""

    now: float
    versions: dict[str, str]  # Redis key -> version
    raw: dict[str, str]  # Redis key -> the state's text ("" when missing)
    glob: GlobalState
    route: _Route | None
    buckets: dict[str, BucketState]


def parse_view(
    reply: Sequence[Any], global_key: str, route_key: str, prefix: str, now: float | None
) -> View:
    """The read script's reply as states (``now`` None: Redis's clock in the reply)."""
    if now is None:
        now = int(reply[0]) + int(reply[1]) / 1_000_000
    versions = {global_key: str(reply[2]), route_key: str(reply[4])}
    raw = {global_key: str(reply[3]), route_key: str(reply[5])}
    route = None
    if raw[route_key]:
        bucket, _, channel = raw[route_key].partition("\n")
        route = _Route(bucket, channel or None, now)
    buckets: dict[str, BucketState] = {}
    for i in range(6, len(reply), 3):
        name, version, text = str(reply[i]), str(reply[i + 1]), str(reply[i + 2])
        versions[prefix + name] = version
        raw[prefix + name] = text
        if text:
            buckets[name] = load_bucket(name, text)
    return View(now, versions, raw, load_global(raw[global_key]), route, buckets)


def scratch_store(view: View, route: str) -> MemoryStore:
    """A memory store holding the states just read, to run the rules on them."""
    # The memory store's code, run on the states just read: the rules stay in one place.
    store = MemoryStore(idle_ttl=math.inf, sweep_interval=math.inf)
    store._last_sweep = view.now
    store._global = view.glob
    store._buckets = view.buckets
    if view.route is not None:
        store._routes[route] = view.route
    return store


@attrs.define
class _Writes:
    """The compare-and-set script's arguments, one key at a time."""

    view: View
    idle_ttl: float
    keys: list[str] = attrs.field(factory=list)
    args: list[str | int] = attrs.field(factory=list)

    def put(self, key: str, op: str, text: str, horizon: float) -> None:
        self.keys.append(key)
        ttl = max(self.idle_ttl, horizon - self.view.now) + 1.0
        text = text if op == "w" else ""
        self.args.extend((self.view.versions.get(key, "0"), op, text, math.ceil(ttl * 1000)))


def plan_commit(
    view: View,
    scratch: MemoryStore,
    route: str,
    budget: InvalidRequestBudget,
    keys: tuple[str, str, str],
    *,
    idle_ttl: float,
    check_all: bool,
) -> tuple[list[str], list[str | int]]:
    """What to write back after the rules ran on ``scratch``: the script's keys and args.

    ``keys`` are the global key, the route key and the state prefix; each written key
    lives ``idle_ttl`` past its horizon.
    """
    global_key, route_key, prefix = keys
    writes = _Writes(view, idle_ttl)
    # The global key and the route key come first, where the script expects them;
    # an update checks only what it changes (so it never contends with reservations
    # elsewhere), a reservation everything it read (its grant depends on all of it).
    unchanged = "c" if check_all else "s"
    before = view.raw[global_key]
    text, horizon = _global_text(view.now, scratch._global, budget, before)
    writes.put(global_key, "w" if text != before else unchanged, text, horizon)
    entry = scratch._routes[route]
    route_text = f"{entry.bucket}\n{entry.channel or ''}"
    states = scratch._buckets
    route_horizon = max(
        (bucket_horizon(states[k]) for k in (entry.bucket, entry.channel) if k in states),
        default=0.0,
    )
    changed = route_text != view.raw[route_key]
    writes.put(route_key, "w" if changed else unchanged, route_text, route_horizon)
    for name, state in states.items():
        key = prefix + name
        text = dump_bucket(state)
        if text != view.raw.get(key, ""):
            writes.put(key, "w", text, bucket_horizon(state))
        elif check_all:
            writes.put(key, "c", "", 0.0)
    for key, before in view.raw.items():
        name = key[len(prefix) :]
        if key.startswith(prefix) and before and name not in states:
            writes.put(key, "d", "", 0.0)
    return writes.keys, writes.args


def _global_text(
    now: float, glob: GlobalState, budget: InvalidRequestBudget, before: str
) -> tuple[str, float]:
    # The global state's new text (``before`` when only an unread field changed) and
    # its horizon.
    text = dump_global(glob)
    horizon = max(glob.blocked_until, glob.edge_ban_until)
    if glob.invalid.total:
        horizon = max(horizon, now + budget.window + budget.granularity)
    if text != before and budget.spacing(glob.invalid.count(now, budget)) == 0.0:
        # The time of the last grant is read only to space grants near the
        # invalid-request limit. Far from it, writing it on every grant would make
        # every grant of every process contend on this one key for nothing.
        granted_at = glob.last_grant
        glob.last_grant = load_global(before).last_grant
        if dump_global(glob) == before:
            text = before
        glob.last_grant = granted_at
    return text, horizon
