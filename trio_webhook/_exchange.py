"""One request to a webhook, through the rate limiter and the retry policy.

The loop here is the I/O shell around the sans-IO core: the tracker says how long to wait,
the transport sends, :func:`~trio_webhook._outcome.interpret` says what the answer means,
and the policy says whether to try again. Nothing in this module decides anything by
itself. :class:`Exchange` is the base of :class:`~trio_webhook.WebhookClient`, which adds
the operations (execute, the message and webhook calls) on top of it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from trio_webhook._encoding import EncodedBody
from trio_webhook._errors import DeliveryFailed, DiscordHTTPError, TransportError
from trio_webhook._outcome import (
    CHANNEL,
    ERROR_EXCERPT,
    Outcome,
    RateLimitedOutcome,
    Success,
    Transient,
    interpret,
)
from trio_webhook._precise_wait import sleep_precisely
from trio_webhook._retry import GiveUp, RetryPolicy, RetryState
from trio_webhook._url import WebhookURL, redact
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._keys import route_key
from trio_webhook.transport._base import Transport
from trio_webhook.transport._values import HTTPRequest, HTTPResponse, top_level_fields

if TYPE_CHECKING:
    from trio_webhook._progress import PlanProgress

__all__ = ["ClientCounters", "Exchange", "answer_fields", "response_json"]

logger: Final = logging.getLogger("trio_webhook")


@attrs.define
class ClientCounters:
    """What the client did, counted as it happens (read through a sender's ``stats()``)."""

    requests: int = 0
    retries: int = 0
    ambiguous_retries: int = 0
    rate_limited: dict[str, int] = attrs.Factory(dict)
    waits: int = 0
    wait_seconds: float = 0.0


def response_json(response: HTTPResponse, route: str) -> Mapping[str, Any]:
    """The JSON object of a 2xx answer that must carry one.

    Raises:
        TransportError: ``protocol`` (ambiguous) when the body is not a JSON object.
    """
    data = response.parsed
    if data is None:
        raise TransportError(
            "protocol", f"answer {response.status} is not JSON", ambiguous=True, route=route
        )
    if not isinstance(data, dict):
        raise TransportError(
            "protocol",
            f"answer {response.status} is not a JSON object",
            ambiguous=True,
            route=route,
        )
    return data


def answer_fields(response: HTTPResponse, route: str, keys: Collection[str]) -> Mapping[str, Any]:
    """The members ``keys`` of a 2xx answer that must be a JSON object, read as far as they are.

    What :func:`response_json` checks, for the part of the answer read
    (:func:`~trio_webhook.transport._values.top_level_fields`); no keys reads only that
    it opens an object.

    Raises:
        TransportError: ``protocol`` (ambiguous) when the body is not a JSON object.
    """
    found = top_level_fields(response.body, keys)
    if found is not None:
        return found
    data = response_json(response, route)  # raises, saying what the body is not
    return {key: data[key] for key in keys if key in data}


class Exchange:
    """The state a client shares between its calls, and the loop that sends one request.

    Subclasses set every attribute in their ``__init__``
    (:class:`~trio_webhook.WebhookClient` documents them).
    """

    _url: WebhookURL
    _rng: random.Random
    _retry: RetryPolicy
    _tracker: RateLimitTracker
    _transport: Transport
    _dead: DiscordHTTPError | None
    # (method, template) -> (path with the template as it is, route): the same two strings
    # for every message a client sends.
    _fixed: dict[tuple[str, str], tuple[str, str]]
    counters: ClientCounters

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._url.redacted}>"

    @property
    def url(self) -> WebhookURL:
        """The parsed webhook URL (its ``str`` and ``repr`` are redacted)."""
        return self._url

    @property
    def dead(self) -> DiscordHTTPError | None:
        """The error that showed this webhook is gone (401 or 404), or ``None``."""
        return self._dead

    @property
    def tracker(self) -> RateLimitTracker:
        """The rate-limit tracker this client paces itself with."""
        return self._tracker

    @property
    def shares_connections(self) -> bool:
        """Whether its transport is shared (closing the client then closes no connection)."""
        return getattr(self._transport, "shared", False) is True

    async def aclose(self) -> None:
        """Close the transport's connections."""
        await self._transport.aclose()

    def _request(
        self,
        method: str,
        template: str,
        message_id: int | str | None = None,
        *,
        body: EncodedBody | None = None,
        query: Sequence[tuple[str, str]] = (),
        thread_id: int | str | None = None,
    ) -> HTTPRequest:
        fixed = self._fixed.get((method, template))
        if fixed is None:
            fixed = self._fixed[(method, template)] = (
                self._url.path(template),
                route_key(method, self._url.webhook_id, self._url.token, template),
            )
        path, route = fixed
        if message_id is not None:
            path = self._url.path(template.replace("{message_id}", str(message_id)))
        params = list(query)
        if thread_id is not None:
            params.append(("thread_id", str(thread_id)))
        return HTTPRequest(
            method=method,
            path=path,
            route=route,
            query=tuple(params),
            json=None if body is None else body.json,
            payload_json=None if body is None else body.payload_json,
            files=() if body is None else body.files,
        )

    async def _wait_for_slot(self, route: str) -> float:
        """Wait until the tracker reserves a slot on ``route``; when the request leaves.

        That is the clock reading the slot was granted at, for a synchronous store (the
        request goes out at once); an asynchronous store's reply took a round trip, so
        the clock is read again.
        """
        tracker = self._tracker
        while True:
            now = trio.current_time()
            if tracker.is_async:
                if (delay := await tracker.aacquire(route, now=now)) <= 0:
                    return trio.current_time()
            elif (delay := tracker.acquire(route, now=now)) <= 0:
                return now
            self.counters.waits += 1
            self.counters.wait_seconds += delay
            logger.debug(
                "rate limit: waiting %.3f s on %s",
                delay,
                route,
                extra={"webhook_id": self._url.webhook_id, "wait": delay},
            )
            # Ends at the reset, not up to a millisecond after (trio's timer rounds up).
            await sleep_precisely(delay)

    async def send_with_retry(
        self, request: HTTPRequest, progress: PlanProgress | None = None
    ) -> HTTPResponse:
        """:meth:`send_answered`, for the answer alone."""
        answer, _ = await self.send_answered(request, progress)
        return answer

    async def send_answered(
        self,
        request: HTTPRequest,
        progress: PlanProgress | None = None,
        *,
        read: frozenset[str] = CHANNEL,
    ) -> tuple[HTTPResponse, Outcome]:
        """Send ``request`` through the limiter, retrying as the policy allows.

        Each answer is interpreted once: the tracker, retries and errors read that outcome.

        Args:
            request: The request.
            progress: Where to record whether the request may already be posted
                (``maybe_posted``), for a caller that must tell ``shutdown`` from
                ``ambiguous`` when it is interrupted.
            read: The members of a message answer the caller needs, read as the answer
                is interpreted (``Outcome.members``), so that it is walked once.

        Returns:
            The successful (2xx) answer, and what it means.

        Raises:
            DiscordHTTPError: A permanent error (a dead webhook is remembered).
            DeliveryFailed: Retries exhausted, or an ambiguous fault not retried.
            TransportError: A permanent transport failure (TLS, oversized answer).
            InvalidRequestBudgetExceeded: The tracker stopped sending, so that Discord's
                edge does not ban this IP; nothing was sent.
        """
        # Made at the first failure: most requests succeed at once.
        state: RetryState | None = None
        while True:
            if self._dead is not None:
                raise self._dead
            sent_at = await self._wait_for_slot(request.route)
            self.counters.requests += 1
            if progress is not None:
                progress.maybe_posted = True
            answer = await self._send_reserved(request)
            outcome = interpret(answer, request.route, read=read)
            if self._tracker.is_async:
                await self._observe_shared(request.route, outcome, sent_at)
            else:
                self._observe(request.route, outcome, sent_at)
            verdict = outcome.verdict
            if isinstance(verdict, Success):
                assert isinstance(answer, HTTPResponse)
                return answer, outcome
            self._count_and_log(verdict, answer, outcome, request.route)
            if state is None:
                state = RetryState(self._retry)
            step = state.after(verdict, self._rng)
            if progress is not None:
                ambiguous = isinstance(verdict, Transient) and verdict.ambiguous
                progress.maybe_posted = state.maybe_posted or ambiguous
            if isinstance(step, GiveUp):
                raise self._give_up(step, outcome, answer, state.attempts + 1)
            state = step
            self._count_retry(verdict, request.route, state, answer)
            await trio.sleep(state.delay or 0.0)

    def _observe(self, route: str, outcome: Outcome, sent_at: float) -> None:
        """Teach the tracker what the answer said (and release the slot).

        ``sent_at`` dates the answer's reset back towards when Discord handled it. Not a
        coroutine: a synchronous store's observation awaits nothing.
        """
        self._tracker.observe(
            route,
            outcome.rate_limit,
            now=trio.current_time(),
            channel_id=outcome.channel_id,
            sent_at=sent_at,
        )

    async def _observe_shared(self, route: str, outcome: Outcome, sent_at: float) -> None:
        """:meth:`_observe` through an asynchronous store.

        Shielded (the store bounds its own calls): what the answer taught, and the
        slot's release, are shared with every other process.
        """
        with trio.CancelScope(shield=True):
            await self._tracker.aobserve(
                route,
                outcome.rate_limit,
                now=trio.current_time(),
                channel_id=outcome.channel_id,
                sent_at=sent_at,
            )

    def _count_retry(
        self,
        verdict: object,
        route: str,
        state: RetryState,
        answer: HTTPResponse | TransportError,
    ) -> None:
        self.counters.retries += 1
        if isinstance(verdict, Transient) and verdict.ambiguous:
            self.counters.ambiguous_retries += 1
        logger.info(
            "retrying %s in %.3f s (attempt %d): %s",
            route,
            state.delay,
            state.attempts,
            _describe(answer),
            extra={"webhook_id": self._url.webhook_id, "attempt": state.attempts},
        )

    async def _send_reserved(self, request: HTTPRequest) -> HTTPResponse | TransportError:
        """Send on the slot ``_wait_for_slot`` reserved; a transport error is returned."""
        try:
            return await self._transport.send(request)
        except TransportError as exc:
            return exc
        except BaseException:
            # A cancellation (or a bug below) leaves no answer to observe: give the slot
            # back now, or the next request on this route waits out the reservation's
            # expiry (30 s) for an answer that never comes.
            if self._tracker.is_async:
                with trio.move_on_after(1.0, shield=True):
                    await self._tracker.arelease(request.route, now=trio.current_time())
            else:
                self._tracker.release(request.route, now=trio.current_time())
            raise

    def _count_and_log(
        self,
        verdict: object,
        answer: HTTPResponse | TransportError,
        outcome: Outcome,
        route: str,
    ) -> None:
        if isinstance(verdict, RateLimitedOutcome):
            # A 429 always has its parsed info (only transport errors lack one).
            assert outcome.rate_limit is not None
            scope = outcome.rate_limit.counted_scope
            self.counters.rate_limited[scope] = self.counters.rate_limited.get(scope, 0) + 1
        elif (
            isinstance(answer, HTTPResponse)
            and 400 <= answer.status < 500
            and logger.isEnabledFor(logging.WARNING)
        ):
            # What Discord said is the one clue to a 4xx: keep its start (token-free).
            excerpt = redact(answer.body[:ERROR_EXCERPT].decode("utf-8", "replace"))
            code = getattr(outcome.error, "code", 0)
            logger.warning(
                "Discord answered %d on %s: %s",
                answer.status,
                route,
                excerpt,
                extra={
                    "webhook_id": self._url.webhook_id,
                    "status": answer.status,
                    "code": code,
                    "body": excerpt,
                },
            )

    def _mark_dead(self, error: DiscordHTTPError) -> None:
        self._dead = error
        logger.warning(
            "webhook %s is dead (%s): no more requests will be sent to it",
            self._url.webhook_id,
            error,
            extra={"webhook_id": self._url.webhook_id},
        )

    def _give_up(
        self,
        decision: GiveUp,
        outcome: Outcome,
        answer: HTTPResponse | TransportError,
        attempt: int,
    ) -> Exception:
        error = outcome.error
        assert error is not None  # only a success has none, and a success is returned
        if outcome.dead_webhook and isinstance(error, DiscordHTTPError):
            self._mark_dead(error)
        if decision.reason in ("permanent", "dead_webhook"):
            return error
        status = answer.status if isinstance(answer, HTTPResponse) else None
        failure = DeliveryFailed(decision.reason, attempts=attempt, status=status, error=str(error))
        failure.__cause__ = error
        return failure


def _describe(outcome: HTTPResponse | TransportError) -> str:
    if isinstance(outcome, TransportError):
        return str(outcome)
    return f"status {outcome.status}"
