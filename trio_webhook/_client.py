"""WebhookClient: one-shot calls to a webhook, through the rate limiter and the retry policy.

The loop here is the I/O shell around the sans-IO core: the tracker says how long to wait,
the transport sends, ``classify`` says what the answer means, and the policy says whether
to try again. Nothing in this module decides anything by itself.
"""

from __future__ import annotations

import logging
import random
import ssl
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
import trio

from trio_webhook._encoding import EncodedBody, encode_edit, encode_execute
from trio_webhook._errors import DeliveryFailed, DiscordHTTPError, TransportError, ValidationError
from trio_webhook._limit_values import DEFAULT_MAX_UPLOAD_BYTES
from trio_webhook._limits import validate_edit
from trio_webhook._models import Delivery, Message, PlannedRequest, SentMessage
from trio_webhook._outcome import (
    ERROR_EXCERPT,
    Outcome,
    RateLimitedOutcome,
    Success,
    Transient,
    interpret,
)
from trio_webhook._planning import plan_requests
from trio_webhook._retry import GiveUp, RetryPolicy, RetryState
from trio_webhook._url import WebhookURL, parse_webhook_url, redact
from trio_webhook.ratelimit import AdaptiveStrategy, RateLimitTracker
from trio_webhook.ratelimit._keys import route_key
from trio_webhook.transport._base import Transport
from trio_webhook.transport._default import default_transport
from trio_webhook.transport._values import HTTPRequest, HTTPResponse

__all__ = ["ClientCounters", "Journal", "PlanProgress", "WebhookClient"]

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


def _response_json(response: HTTPResponse, route: str) -> Mapping[str, Any]:
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


class Journal(Protocol):
    """Hears of each request of a plan: before it goes out, and once delivered."""

    async def sending(self, request: int) -> None:
        """Request ``request`` (0-based, plan order) is about to be sent."""

    async def delivered(
        self, request: int, *, discord_id: str | None, thread_id: str | None
    ) -> None:
        """Request ``request`` was delivered (``discord_id`` when waited for)."""


@attrs.define
class PlanProgress:
    """How far a plan got: readable after :meth:`WebhookClient.execute_plan` raises.

    Attributes:
        delivered: Requests of the plan delivered, in plan order (a resumed plan starts
            after them).
        messages: What Discord returned for each delivered request sent with ``wait``.
        thread_id: The forum thread the plan's first request created (``thread_name``),
            where the rest of the plan goes.
    """

    delivered: int = 0
    messages: list[SentMessage] = attrs.field(factory=list)
    thread_id: str | None = None
    maybe_posted: bool = False
    """Whether the request after ``delivered`` may already be posted: it is on its way
    (handed to the transport, no answer yet), or an earlier attempt of it ended in an
    ambiguous fault. A message interrupted then is ``ambiguous``, never ``shutdown``."""


class WebhookClient:
    """One-shot calls to one webhook: execute, get, edit and delete messages.

    Every call waits on the rate limiter, retries what can be retried (decorrelated jitter,
    at most ``retry.max_attempts`` attempts a request), and raises a typed error for what
    cannot. A webhook that answers 401 or 404 is dead: later calls raise at once, without
    touching the network.

    Args:
        url: The webhook URL (see :func:`parse_webhook_url` for the accepted forms).
        retry: The retry policy.
        tracker: The rate-limit tracker. Share one between clients of one process so that
            the global limit (50 requests a second per IP) is paced across them.
        rng: Randomness for jitter (seed it for reproducible tests).
        connect_timeout: Deadline on connecting, seconds.
        total_timeout: Deadline on one whole request, seconds.
        max_upload_bytes: The upload budget of one request (10 MiB unless the server is
            boosted).
        ssl_context: Trust for the server's certificate (verification is never off), for
            the default transport.
        transport: How to reach Discord, such as ``FakeDiscord.transport()`` or
            :class:`~trio_webhook.transport.DryRunTransport`; by default
            :func:`~trio_webhook.transport.default_transport` with the timeouts above
            (a given transport has its own timeouts and response bound).

    Example::

        async with WebhookClient(url) as client:
            sent = await client.execute(Message(content="hello"))
            await client.edit_message(sent.id, Message(content="hello, edited"))

    Resource handling:
        ``async with`` closes the connections on exit.
    """

    def __init__(
        self,
        url: str,
        *,
        retry: RetryPolicy | None = None,
        tracker: RateLimitTracker | None = None,
        rng: random.Random | None = None,
        connect_timeout: float = 2.0,
        total_timeout: float = 10.0,
        max_response_bytes: int = 1024 * 1024,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        ssl_context: ssl.SSLContext | None = None,
        transport: Transport | None = None,
    ) -> None:
        self._url: WebhookURL = parse_webhook_url(url)
        self._rng = rng if rng is not None else random.Random()
        self._retry = retry if retry is not None else RetryPolicy()
        self._tracker = (
            tracker
            if tracker is not None
            else RateLimitTracker(strategy=AdaptiveStrategy(), rng=self._rng)
        )
        self._max_upload_bytes = max_upload_bytes
        self._transport: Transport = (
            transport
            if transport is not None
            else default_transport(
                self._url.api_base,
                connect_timeout=connect_timeout,
                total_timeout=total_timeout,
                max_response_bytes=max_response_bytes,
                ssl_context=ssl_context,
            )
        )
        self._dead: DiscordHTTPError | None = None
        self.counters = ClientCounters()

    def __repr__(self) -> str:
        return f"<WebhookClient {self._url.redacted}>"

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

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport's connections."""
        await self._transport.aclose()

    # -- the public calls --------------------------------------------------------------

    async def execute(
        self,
        message: Message,
        *,
        wait: bool = True,
        thread_id: int | str | None = None,
        split_content: bool = True,
    ) -> Delivery:
        """Send ``message``, split into as many requests as Discord needs, in order.

        Args:
            message: What to send.
            wait: Ask Discord to return each created message (``?wait=true``).
            thread_id: Post into this thread (overrides ``message.thread_id``).
            split_content: Send content over 2000 characters as several messages
                (``False``: raise ``ValidationError`` instead).

        Returns:
            What Discord returned for each request (empty with ``wait=False``).

        Raises:
            ValidationError: The message breaks a limit that splitting cannot fix.
            DiscordHTTPError: A permanent error (a subclass says which).
            DeliveryFailed: Retries ran out, or an ambiguous fault was not retried.
            TransportError: A TLS failure or an oversized answer.

        Error handling:
            Requests delivered before a failure stay delivered; the exception says how far
            it got only through ``DeliveryFailed.attempts``. The sender
            (:func:`open_webhook_sender`) records partial progress in dead letters.
        """
        plan = plan_requests(
            message, max_upload_bytes=self._max_upload_bytes, split_content=split_content
        )
        progress = PlanProgress()
        await self.execute_plan(plan, wait=wait, thread_id=thread_id, progress=progress)
        return Delivery(messages=tuple(progress.messages))

    async def execute_plan(
        self,
        plan: Sequence[PlannedRequest],
        *,
        wait: bool,
        thread_id: int | str | None,
        progress: PlanProgress,
        journal: Journal | None = None,
    ) -> None:
        """Send ``plan[progress.delivered:]`` in order, recording each success in ``progress``.

        ``progress`` is the record of how far it got, readable after an exception; pass
        one with ``delivered`` and ``thread_id`` set to resume a plan (a dead letter's
        ``delivered_requests`` and ``thread_id``). A plan that creates a forum post
        (``thread_name``) sends the rest of its requests into the thread the first one
        created, and keeps that thread's id in ``progress.thread_id``. A ``journal`` (the
        sender's outbox) hears of each request before it goes out and after it is
        delivered.
        """
        thread = None if thread_id is None else str(thread_id)
        for planned in plan[progress.delivered :]:
            index = progress.delivered
            request, must_wait, creates_thread = self._plan_request(
                planned, plan, wait=wait, thread=thread, created=progress.thread_id
            )
            if journal is not None:
                await journal.sending(index)
            response = await self.send_with_retry(request, progress)
            progress.delivered += 1
            progress.maybe_posted = False
            message_id = None
            if must_wait:
                message = SentMessage.from_json(_response_json(response, request.route))
                message_id = message.id
                if creates_thread:
                    progress.thread_id = message.channel_id
                if wait:
                    progress.messages.append(message)
            if journal is not None:
                await journal.delivered(index, discord_id=message_id, thread_id=progress.thread_id)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "delivered request %d of %d to webhook %s: message id %s",
                    progress.delivered,
                    len(plan),
                    self._url.webhook_id,
                    message_id,
                    extra={
                        "webhook_id": self._url.webhook_id,
                        "request": progress.delivered,
                        "requests": len(plan),
                        "message_id": message_id,
                    },
                )

    def _plan_request(
        self,
        planned: PlannedRequest,
        plan: Sequence[PlannedRequest],
        *,
        wait: bool,
        thread: str | None,
        created: str | None,
    ) -> tuple[HTTPRequest, bool, bool]:
        """The HTTP request of one planned request; whether it waits, creates a thread."""
        target = thread or created or planned.thread_id
        if created is not None and planned.thread_name is not None:
            # A resumed forum post whose thread exists: naming it again would ask Discord
            # for a second post.
            planned = attrs.evolve(planned, thread_name=None, applied_tags=None)
        creates_thread = planned.thread_name is not None and len(plan) > 1
        must_wait = wait or creates_thread
        query: list[tuple[str, str]] = [("wait", "true" if must_wait else "false")]
        if target is not None:
            query.append(("thread_id", target))
        if planned.with_components:
            query.append(("with_components", "true"))
        body = encode_execute(attrs.evolve(planned, thread_id=target))
        return self._request("POST", "", body=body, query=query), must_wait, creates_thread

    async def get_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> SentMessage:
        """Fetch a message this webhook sent.

        Raises:
            MessageNotFound: No such message (the webhook is fine).
        """
        request = self._request("GET", "/messages/{message_id}", message_id, thread_id=thread_id)
        response = await self.send_with_retry(request)
        return SentMessage.from_json(_response_json(response, request.route))

    async def edit_message(
        self,
        message_id: int | str,
        message: Message,
        *,
        keep_attachments: Sequence[int | str] | None = None,
        thread_id: int | str | None = None,
    ) -> SentMessage:
        """Edit a message this webhook sent.

        Args:
            message_id: The message to edit.
            message: The new content, embeds, allowed mentions and files to add.
            keep_attachments: Ids of existing attachments to keep (others are removed);
                ``None`` keeps them all.
            thread_id: The thread the message is in.
        """
        violations = validate_edit(message, max_upload_bytes=self._max_upload_bytes)
        if violations:
            raise ValidationError(violations)
        keep = None if keep_attachments is None else [str(i) for i in keep_attachments]
        body = encode_edit(message, keep_attachment_ids=keep)
        query = [("with_components", "true")] if message.components else []
        request = self._request(
            "PATCH",
            "/messages/{message_id}",
            message_id,
            body=body,
            query=query,
            thread_id=thread_id,
        )
        response = await self.send_with_retry(request)
        return SentMessage.from_json(_response_json(response, request.route))

    async def delete_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> None:
        """Delete a message this webhook sent."""
        request = self._request("DELETE", "/messages/{message_id}", message_id, thread_id=thread_id)
        await self.send_with_retry(request)

    async def fetch_webhook(self) -> Mapping[str, Any]:
        """The webhook object (name, channel, guild); ``token`` and ``url`` are removed."""
        request = self._request("GET", "")
        response = await self.send_with_retry(request)
        data = dict(_response_json(response, request.route))
        # Both hold the secret; a caller that needs them already has the URL.
        data.pop("token", None)
        data.pop("url", None)
        return data

    # -- the shell around the sans-IO core ---------------------------------------------

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
        suffix = (
            template if message_id is None else template.replace("{message_id}", str(message_id))
        )
        params = list(query)
        if thread_id is not None:
            params.append(("thread_id", str(thread_id)))
        return HTTPRequest(
            method=method,
            path=self._url.path(suffix),
            route=route_key(method, self._url.webhook_id, self._url.token, template),
            query=tuple(params),
            json=None if body is None else body.json,
            payload_json=None if body is None else body.payload_json,
            files=() if body is None else body.files,
        )

    async def _wait_for_slot(self, route: str) -> None:
        tracker = self._tracker
        while (
            delay := await tracker.aacquire(route, now=trio.current_time())
            if tracker.is_async
            else tracker.acquire(route, now=trio.current_time())
        ) > 0:
            self.counters.waits += 1
            self.counters.wait_seconds += delay
            logger.debug(
                "rate limit: waiting %.3f s on %s",
                delay,
                route,
                extra={"webhook_id": self._url.webhook_id, "wait": delay},
            )
            await trio.sleep(delay)

    async def send_with_retry(
        self, request: HTTPRequest, progress: PlanProgress | None = None
    ) -> HTTPResponse:
        """Send ``request`` through the limiter, retrying as the policy allows.

        Each answer is interpreted once (:func:`~trio_webhook._outcome.interpret`); the
        tracker, the retry policy and the error raised all read that one outcome.

        Args:
            request: The request.
            progress: Where to record whether the request may already be posted
                (``maybe_posted``), for a caller that must tell ``shutdown`` from
                ``ambiguous`` when it is interrupted.

        Returns:
            The successful (2xx) answer.

        Raises:
            DiscordHTTPError: A permanent error (a dead webhook is remembered).
            DeliveryFailed: Retries exhausted, or an ambiguous fault not retried.
            TransportError: A permanent transport failure (TLS, oversized answer).
            InvalidRequestBudgetExceeded: The tracker stopped sending, so that Discord's
                edge does not ban this IP; nothing was sent.
        """
        state = RetryState(self._retry)
        while True:
            if self._dead is not None:
                raise self._dead
            await self._wait_for_slot(request.route)
            self.counters.requests += 1
            if progress is not None:
                progress.maybe_posted = True
            answer = await self._send_reserved(request)
            outcome = interpret(answer, request.route)
            if self._tracker.is_async:
                # Shielded (the store bounds its own calls): what the answer taught, and
                # the slot's release, are shared with every other process.
                with trio.CancelScope(shield=True):
                    await self._tracker.aobserve(
                        request.route,
                        outcome.rate_limit,
                        now=trio.current_time(),
                        channel_id=outcome.channel_id,
                    )
            else:
                self._tracker.observe(
                    request.route,
                    outcome.rate_limit,
                    now=trio.current_time(),
                    channel_id=outcome.channel_id,
                )
            verdict = outcome.verdict
            if isinstance(verdict, Success):
                assert isinstance(answer, HTTPResponse)
                return answer
            self._count_and_log(verdict, answer, outcome, request.route)
            step = state.after(verdict, self._rng)
            if progress is not None:
                ambiguous = isinstance(verdict, Transient) and verdict.ambiguous
                progress.maybe_posted = state.maybe_posted or ambiguous
            if isinstance(step, GiveUp):
                raise self._give_up(step, outcome, answer, state.attempts + 1)
            state = step
            self.counters.retries += 1
            if isinstance(verdict, Transient) and verdict.ambiguous:
                self.counters.ambiguous_retries += 1
            logger.info(
                "retrying %s in %.3f s (attempt %d): %s",
                request.route,
                state.delay,
                state.attempts,
                _describe(answer),
                extra={"webhook_id": self._url.webhook_id, "attempt": state.attempts},
            )
            await trio.sleep(state.delay or 0.0)

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
            self._dead = error
            logger.warning(
                "webhook %s is dead (%s): no more requests will be sent to it",
                self._url.webhook_id,
                error,
                extra={"webhook_id": self._url.webhook_id},
            )
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
