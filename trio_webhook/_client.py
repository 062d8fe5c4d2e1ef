"""WebhookClient: one-shot calls to a webhook, through the rate limiter and the retry policy.

The client is three layers: :class:`~trio_webhook._exchange.Exchange` sends one request
(reserve -> send -> interpret -> observe -> decide), :class:`WebhookOperations` adds the
message and webhook calls, and this module adds executing a message, split into the
requests Discord needs (a plan), with the progress a sender records.
"""

from __future__ import annotations

import logging
import random
import ssl
from collections.abc import Sequence
from typing import Final

import attrs

from trio_webhook._encoding import encode_execute
from trio_webhook._exchange import ClientCounters, answer_fields
from trio_webhook._limit_values import DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_UPLOAD_BYTES
from trio_webhook._models import Delivery, Message, PlannedRequest
from trio_webhook._operations import WebhookOperations
from trio_webhook._outcome import CHANNEL
from trio_webhook._planning import plan_requests
from trio_webhook._progress import Journal, PlanProgress
from trio_webhook._received import MESSAGE_IDS, answer_ids
from trio_webhook._retry import RetryPolicy
from trio_webhook._url import parse_webhook_url
from trio_webhook.ratelimit import AdaptiveStrategy, RateLimitTracker
from trio_webhook.transport._base import Transport
from trio_webhook.transport._default import default_transport
from trio_webhook.transport._values import HTTPRequest

__all__ = ["ClientCounters", "Journal", "PlanProgress", "WebhookClient"]

logger: Final = logging.getLogger("trio_webhook")


class WebhookClient(WebhookOperations):
    """One-shot calls to one webhook: execute, get, edit and delete messages, and the webhook.

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
        max_upload_bytes: The most bytes one file may upload (10 MiB unless the server is
            boosted: Discord checks each file).
        max_request_bytes: The most bytes all files of one request may upload (25 MiB by
            default, as observed); a message's files are split across requests to fit.
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
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        ssl_context: ssl.SSLContext | None = None,
        transport: Transport | None = None,
    ) -> None:
        self._url = parse_webhook_url(url)
        self._rng = rng if rng is not None else random.Random()
        self._retry = retry if retry is not None else RetryPolicy()
        self._tracker = (
            tracker
            if tracker is not None
            else RateLimitTracker(strategy=AdaptiveStrategy(), rng=self._rng)
        )
        self._max_upload_bytes = max_upload_bytes
        self._max_request_bytes = max_request_bytes
        self._transport = (
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
        self._dead = None
        self._fixed = {}
        self.counters = ClientCounters()

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

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
            message,
            max_upload_bytes=self._max_upload_bytes,
            max_request_bytes=self._max_request_bytes,
            split_content=split_content,
        )
        progress = PlanProgress()
        await self.execute_plan(plan, wait=wait, thread_id=thread_id, progress=progress)
        return Delivery.from_answers(progress.answers)

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
            # The ids are read now only where used; the whole message when asked for.
            debug = logger.isEnabledFor(logging.DEBUG)
            read = MESSAGE_IDS if journal is not None or creates_thread or debug else CHANNEL
            response, outcome = await self.send_answered(request, progress, read=read)
            progress.delivered += 1
            progress.maybe_posted = False
            message_id = None
            if must_wait:
                fields = outcome.members
                if fields is None:  # no JSON object: says so (and raises)
                    fields = answer_fields(response, request.route, read)
                message_id, channel_id = answer_ids(fields)
                if creates_thread:
                    progress.thread_id = channel_id
                if wait:
                    # Its text, not the parsed object: see Delivery.from_answers.
                    progress.answers.append(response.body)
            if journal is not None:
                await journal.delivered(index, discord_id=message_id, thread_id=progress.thread_id)
            if debug:
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
        # No evolve to set thread_id: it is a query parameter, never part of the body.
        body = encode_execute(planned)
        return self._request("POST", "", body=body, query=query), must_wait, creates_thread
