"""Compare the rate-limit strategies against a simulated Discord (pure, no network).

A discrete-event simulation: senders with an endless backlog run the same loop as the
library's shell (acquire / send / observe / classify / decide), against a model of
Discord's webhook limits:

- (a) the documented bucket: 5 requests per 2 s per webhook (a fixed window that starts
  with the first request after the last one ended);
- (b) the same plus the unannounced per-channel limit of 30 messages per 60 s (sliding),
  answered with a 429 of scope ``shared`` while ``Remaining`` is still above 0, and a
  ``Retry-After`` of 40 to 48 s;
- (c) three senders on one webhook: separate trackers (as separate processes), and
  trackers sharing one store.

Run: ``python benchmarks/bench_strategies.py [--seconds 600] [--seed 1]``
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from trio_webhook._outcome import Success, classify
from trio_webhook._retry import GiveUp, RetryPolicy
from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    MemoryStore,
    ProactiveStrategy,
    RateLimitTracker,
    ReactiveStrategy,
    Strategy,
)
from trio_webhook.ratelimit._headers import parse_rate_limit
from trio_webhook.ratelimit._keys import route_key
from trio_webhook.transport._values import HTTPResponse

BUCKET_LIMIT = 5
BUCKET_WINDOW = 2.0
CHANNEL_LIMIT = 30
CHANNEL_WINDOW = 60.0
CHANNEL_ID = "555"


@attrs.define
class Discord:
    """The simulated server: one webhook bucket, optionally the hidden channel limit."""

    hidden_channel_limit: bool
    window_end: float = 0.0
    used: int = 0
    channel_log: deque[float] = attrs.Factory(deque)
    accepted: int = 0
    rejected: int = 0

    def handle(self, now: float) -> HTTPResponse:
        if now >= self.window_end:
            self.window_end = now + BUCKET_WINDOW
            self.used = 0
        reset_after = self.window_end - now
        headers = {
            "X-RateLimit-Limit": str(BUCKET_LIMIT),
            "X-RateLimit-Bucket": "b0a5e",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        if self.used >= BUCKET_LIMIT:
            self.rejected += 1
            headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user"}
            headers["Retry-After"] = str(math.ceil(reset_after))
            body = {"message": "rate limited", "retry_after": round(reset_after, 3)}
            return HTTPResponse(429, headers, json.dumps(body | {"global": False}).encode())
        if self.hidden_channel_limit:
            while self.channel_log and self.channel_log[0] <= now - CHANNEL_WINDOW:
                self.channel_log.popleft()
            if len(self.channel_log) >= CHANNEL_LIMIT:
                self.rejected += 1
                retry = self.channel_log[0] + CHANNEL_WINDOW - now
                headers |= {
                    "X-RateLimit-Remaining": str(BUCKET_LIMIT - self.used),
                    "X-RateLimit-Scope": "shared",
                    "Retry-After": str(math.ceil(retry)),
                }
                body = {"message": "rate limited", "retry_after": round(retry, 3), "code": 20028}
                return HTTPResponse(429, headers, json.dumps(body | {"global": False}).encode())
            self.channel_log.append(now)
        self.used += 1
        self.accepted += 1
        headers["X-RateLimit-Remaining"] = str(BUCKET_LIMIT - self.used)
        body_ok = {"id": str(self.accepted), "channel_id": CHANNEL_ID}
        return HTTPResponse(200, headers, json.dumps(body_ok).encode())


@attrs.define
class Sim:
    rng: random.Random
    now: float = 0.0
    _queue: list[tuple[float, int, Callable[[], None]]] = attrs.Factory(list)
    _seq: itertools.count[int] = attrs.Factory(itertools.count)

    def at(self, when: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), fn))

    def latency(self) -> float:
        # One way: 10 ms to a nearby edge, plus up to 5 ms of noise.
        return 0.010 + self.rng.uniform(0.0, 0.005)

    def run(self, until: float) -> None:
        while self._queue and self._queue[0][0] <= until:
            self.now, _, fn = heapq.heappop(self._queue)
            fn()


@attrs.define
class Sender:
    sim: Sim
    server: Discord
    tracker: RateLimitTracker
    policy: RetryPolicy
    rng: random.Random
    route: str = route_key("POST", "1001", "token", "")
    delivered: int = 0
    given_up: int = 0
    rate_limited: int = 0
    added: list[float] = attrs.Factory(list)
    _ready: float = 0.0
    _attempt: int = 0
    _prev: float | None = None
    _granted_at: float = 0.0

    def start(self) -> None:
        self._ready = self.sim.now
        self._attempt = 0
        self._prev = None
        self.try_send()

    def try_send(self) -> None:
        delay = self.tracker.acquire(self.route, self.sim.now)
        if delay > 0:
            self.sim.at(self.sim.now + delay, self.try_send)
            return
        self._attempt += 1
        self._granted_at = self.sim.now
        self.sim.at(self.sim.now + self.sim.latency(), self.arrive)

    def arrive(self) -> None:
        response = self.server.handle(self.sim.now)
        self.sim.at(self.sim.now + self.sim.latency(), lambda: self.answer(response))

    def answer(self, response: HTTPResponse) -> None:
        channel = CHANNEL_ID if response.status == 200 else None
        self.tracker.observe(
            self.route,
            parse_rate_limit(response),
            self.sim.now,
            channel_id=channel,
            sent_at=self._granted_at,  # as the client's shell does
        )
        verdict = classify(response)
        if isinstance(verdict, Success):
            self.delivered += 1
            self.added.append(self._granted_at - self._ready)
            self.start()
            return
        self.rate_limited += response.status == 429
        decision = self.policy.decide(verdict, self._attempt, self._prev, self.rng)
        if isinstance(decision, GiveUp):
            self.given_up += 1
            self.start()
            return
        self._prev = decision.delay
        self.sim.at(self.sim.now + decision.delay, self.try_send)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_case(
    make_strategy: Callable[[], Strategy],
    *,
    hidden: bool,
    senders: int,
    shared_store: bool,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    rng = random.Random(seed)
    sim = Sim(rng=random.Random(seed + 1))
    server = Discord(hidden_channel_limit=hidden)
    store = MemoryStore()
    group = []
    for i in range(senders):
        tracker = RateLimitTracker(
            strategy=make_strategy(),
            store=store if shared_store else MemoryStore(),
            rng=random.Random(rng.random()),
        )
        sender = Sender(sim, server, tracker, RetryPolicy(), random.Random(seed * 100 + i))
        group.append(sender)
        # Separate processes do not start in the same microsecond.
        sim.at(i * 0.003, sender.start)
    sim.run(seconds)
    delivered = sum(s.delivered for s in group)
    if hidden:
        maximum = CHANNEL_LIMIT * math.ceil(seconds / CHANNEL_WINDOW)
    else:
        maximum = BUCKET_LIMIT * math.ceil(seconds / BUCKET_WINDOW)
    added = [a for s in group for a in s.added]
    return {
        "429s": server.rejected,
        "delivered": delivered,
        "utilisation": delivered / maximum,
        "p50": _percentile(added, 0.50),
        "p99": _percentile(added, 0.99),
        "given_up": sum(s.given_up for s in group),
    }


STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "reactive": ReactiveStrategy,
    "proactive": ProactiveStrategy,
    "adaptive": AdaptiveStrategy,
}

CASES: list[tuple[str, dict[str, Any]]] = [
    ("(a) 5 / 2 s bucket", {"hidden": False, "senders": 1, "shared_store": False}),
    ("(b) + hidden 30 / 60 s channel", {"hidden": True, "senders": 1, "shared_store": False}),
    ("(c) 3 senders, separate stores", {"hidden": False, "senders": 3, "shared_store": False}),
    ("(c) 3 senders, one shared store", {"hidden": False, "senders": 3, "shared_store": True}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"simulated {args.seconds:.0f} s, seed {args.seed}, one-way latency 10-15 ms\n")
    print("| case | strategy | 429s | delivered | utilisation | p50 added | p99 added |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for case, options in CASES:
        for name, make in STRATEGIES.items():
            r = run_case(make, seconds=args.seconds, seed=args.seed, **options)
            print(
                f"| {case} | {name} | {r['429s']} | {r['delivered']} | "
                f"{r['utilisation']:.1%} | {r['p50'] * 1000:.0f} ms | {r['p99'] * 1000:.0f} ms |"
            )


if __name__ == "__main__":
    main()
