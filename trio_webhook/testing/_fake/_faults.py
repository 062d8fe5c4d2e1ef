"""Injected failures: what can go wrong, which request it hits, and the answer it gives.

A scripted fault (``FakeDiscord.inject``) applies to the next requests that match it; a
random one (``FakeDiscord.fault_rate``) is drawn from the fake's seeded rng, so a run can
be replayed.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Iterable
from typing import Final

import attrs
import trio

from trio_webhook.testing._fake._http import Answer, Dropped, Response, json_response

__all__ = ["Fault", "FaultKind", "Faults", "answer_with"]

_SERVER_ERRORS: Final = (500, 502, 503, 504)


class FaultKind(enum.StrEnum):
    """The failures the fake can inject instead of (or on top of) a normal answer."""

    SERVER_ERROR = "server_error"
    """A 5xx (``status``) with an HTML body, as Discord's edge sends."""
    RATE_LIMIT_NO_BODY = "rate_limit_no_body"
    """A 429 with a ``Retry-After`` header and an empty body: an IP-wide ban by Discord's
    edge (Cloudflare), which the library meets by pausing every route for at least 60 s."""
    RETRY_AFTER_MS = "retry_after_ms"
    """A 429 whose JSON ``retry_after`` is in milliseconds, as old API versions sent it."""
    DELAY = "delay"
    """Sleep ``delay`` seconds (on trio's clock) before answering normally."""
    DROP = "drop"
    """Start a response, send part of the body, then drop the connection."""
    INVALID_JSON = "invalid_json"
    """Handle the request normally, then answer 200 with a body that is not JSON."""


@attrs.frozen
class Fault:
    """One injected fault and its options.

    Attributes:
        kind: What goes wrong.
        status: The status of a ``SERVER_ERROR`` (500, 502, 503 or 504).
        stored: For ``SERVER_ERROR``, ``DROP`` and ``DELAY``: handle the request (store the
            message) before the fault replaces or delays the answer. This is the ambiguous
            failure: the message exists although the client saw an error.
        delay: Seconds a ``DELAY`` waits.
        retry_after: Seconds announced by the 429 faults.
        method: Only requests with this method match (``None``: any).
        webhook_id: Only requests to this webhook match (``None``: any).
    """

    kind: FaultKind = attrs.field(converter=FaultKind)
    status: int = 500
    stored: bool = False
    delay: float = 30.0
    retry_after: float = 1.5
    method: str | None = None
    webhook_id: str | None = None

    def matches(self, method: str, webhook_id: str) -> bool:
        """Whether this fault applies to a request with this method and webhook id."""
        return (self.method is None or self.method.upper() == method) and (
            self.webhook_id is None or self.webhook_id == webhook_id
        )


@attrs.define
class _ScriptedFault:
    fault: Fault
    remaining: int


@attrs.define
class Faults:
    """The faults queued and the random fault rate; picks the fault of each request.

    Attributes:
        rng: The fake's seeded rng (random faults draw from it).
        counts: Faults applied, by kind.
    """

    rng: random.Random
    counts: dict[str, int] = attrs.Factory(dict)
    _script: list[_ScriptedFault] = attrs.Factory(list)
    _probability: float = 0.0
    _kinds: tuple[FaultKind, ...] = ()

    def queue(self, fault: Fault, count: int) -> None:
        """Queue ``fault`` for the next ``count`` requests that match it.

        Raises:
            ValueError: A ``SERVER_ERROR`` whose status is not 500, 502, 503 or 504.
        """
        if fault.kind is FaultKind.SERVER_ERROR and fault.status not in _SERVER_ERRORS:
            raise ValueError(f"a server error is 500, 502, 503 or 504, not {fault.status}")
        self._script.append(_ScriptedFault(fault, count))

    def set_rate(self, probability: float, kinds: Iterable[FaultKind | str]) -> None:
        """Draw a random fault of ``kinds`` for each request with ``probability``.

        Raises:
            ValueError: ``probability`` is outside 0 to 1.
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, not {probability}")
        self._probability = probability
        self._kinds = tuple(FaultKind(k) for k in kinds)

    def next(self, method: str, webhook_id: str) -> Fault | None:
        """The fault for a request (the first scripted match, else a random draw), counted."""
        for entry in self._script:
            if entry.fault.matches(method, webhook_id):
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._script.remove(entry)
                return self._count(entry.fault)
        if self._probability and self.rng.random() < self._probability:
            kind = self.rng.choice(self._kinds)
            return self._count(Fault(kind, status=self.rng.choice(_SERVER_ERRORS)))
        return None

    def _count(self, fault: Fault) -> Fault:
        self.counts[fault.kind.value] = self.counts.get(fault.kind.value, 0) + 1
        return fault


async def answer_with(
    fault: Fault | None, handle: Callable[[float], Response], now: float
) -> Answer:
    """Answer a request under ``fault``: ``handle(now)`` answers it normally.

    ``handle`` runs at most once: before a stored fault replaces or delays its answer,
    after the wait of an unstored delay (with the time then), or not at all.
    """
    if fault is None:
        return handle(now)
    kind = fault.kind
    if kind is FaultKind.DELAY:
        if fault.stored:
            response = handle(now)
            await trio.sleep(fault.delay)
            return response
        await trio.sleep(fault.delay)
        return handle(trio.current_time())
    retry_after = (("retry-after", str(math.ceil(fault.retry_after))),)
    if kind is FaultKind.RATE_LIMIT_NO_BODY:
        return Response(429, retry_after)
    if kind is FaultKind.RETRY_AFTER_MS:
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(fault.retry_after * 1000),
            "global": False,
        }
        return json_response(429, body, retry_after)
    if kind is FaultKind.INVALID_JSON:
        handle(now)
        return Response(200, (("content-type", "application/json"),), b'{"id": "12')
    if fault.stored:
        handle(now)
    if kind is FaultKind.DROP:
        return Dropped()
    return _server_error(fault.status)


def _server_error(status: int) -> Response:
    html = (
        f"<html><head><title>{status} Server Error</title></head>"
        f"<body><center><h1>{status} Server Error</h1></center>"
        "<hr><center>cloudflare</center></body></html>"
    ).encode()
    return Response(status, (("content-type", "text/html"),), html)
