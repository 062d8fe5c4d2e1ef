"""FakeDiscord: an in-memory ASGI app that answers like Discord's webhook API.

This module is the public face: it builds the fake's parts (``_model``, ``_ratelimits``,
``_faults``, the ``_app`` that routes) around one seeded rng and delegates to them.

Its clock is trio's (``trio.current_time()``), so ``trio.testing.MockClock`` drives the
fake and the client under test together. Nothing here reads the wall clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from trio_webhook._extras import require
from trio_webhook.testing._asgi import ASGIReceive, ASGIScope, ASGISend
from trio_webhook.testing._asgi_transport import FakeDiscordTransport
from trio_webhook.testing._fake._app import App, RecordedRequest
from trio_webhook.testing._fake._faults import Fault, FaultKind, Faults
from trio_webhook.testing._fake._model import FakeWebhook, Model
from trio_webhook.testing._fake._multipart import MAX_REQUEST_BYTES
from trio_webhook.testing._fake._ratelimits import RateLimits
from trio_webhook.transport._base import DEFAULT_MAX_RESPONSE_BYTES
from trio_webhook.transport._httpx import HttpxTransport

__all__ = ["FakeDiscord", "FakeStats"]

# The fake's own wall-clock origin: trio's clock plus this offset gives the "epoch
# seconds" of X-RateLimit-Reset and message timestamps.
_DEFAULT_EPOCH_OFFSET: Final = 1_750_000_000.0


@attrs.frozen
class FakeStats:
    """A snapshot of the fake's counters.

    Attributes:
        requests: Requests received.
        messages: Messages stored (executed successfully).
        rate_limited: Real 429s by scope (``user``, ``shared``, ``global``); injected 429
            faults are counted under ``faults`` only.
        faults: Injected faults by kind.
    """

    requests: int
    messages: int
    rate_limited: Mapping[str, int]
    faults: Mapping[str, int]


class FakeDiscord:
    """A fake of Discord's webhook API, as an ASGI app with inspectable state.

    Args:
        seed: Seeds the fake's ``random.Random`` (random faults, the channel limit's
            ``Retry-After``), so a run can be replayed.
        bucket_limit: Requests per window in each webhook's bucket (Discord: about 5).
        bucket_window: The bucket's window in seconds (Discord: about 2).
        channel_limit: Messages per channel per ``channel_window``, shared by all webhooks
            of the channel and never announced in headers (Discord: about 30 a minute);
            ``None`` disables it.
        channel_window: The channel limit's window in seconds.
        global_limit: Requests per second over all webhooks (Discord: 50 per IP);
            ``None`` disables it.
        time_scale: Multiplies every window and every announced wait (0.1 makes a demo
            ten times faster). Injected delays are not scaled.
        max_upload_bytes: The largest file accepted (413, code 40005, above it): Discord
            checks each file (10 MiB by default).
        max_request_bytes: The largest request body accepted (413, code 40005, above
            it; about 25 MiB by default, as observed).
        base_url: The origin used in webhook URLs and the in-process transport.
        epoch_offset: Added to ``trio.current_time()`` to give the fake's epoch seconds.

    Rate limits are fixed windows that open at the first request after the previous window
    ended, as Discord's buckets behave: 5 requests at t=0 use up the window, and the next
    one passes at t=2. Every request counts, including the ones answered with an error,
    except 429s. Each webhook has one bucket per route (execute, message endpoints, get
    webhook), with a shared bucket hash per route as Discord sends.

    The channel limit, once hit, blocks the channel for a random 2/3 to 3/4 of its window
    (40-45 s by default) and then starts a fresh window.

    The settings are read-only attributes of the same names (``bucket_window``,
    ``channel_window`` and ``global_window`` scaled by ``time_scale``; ``base_url`` without
    a trailing slash).

    Example::

        fake = FakeDiscord()
        hook = fake.create_webhook()
        async with httpx.AsyncClient(transport=fake.httpx_transport()) as http:
            await http.post(hook.url, params={"wait": "true"}, json={"content": "hi"})
        assert fake.history(hook.channel_id)[0]["content"] == "hi"
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        bucket_limit: int = 5,
        bucket_window: float = 2.0,
        channel_limit: int | None = None,
        channel_window: float = 60.0,
        global_limit: int | None = None,
        time_scale: float = 1.0,
        max_upload_bytes: int = 10 * 1024 * 1024,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        base_url: str = "https://discord.test",
        epoch_offset: float = _DEFAULT_EPOCH_OFFSET,
    ) -> None:
        # Checked here, not at the first upload: there it would surface as a failed
        # delivery, far from the test that made the fake.
        require("python_multipart", extra="testing", needed_by="FakeDiscord")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {time_scale}")
        self._time_scale = time_scale
        # One rng for every part, drawn in request order, so a seed replays a whole run.
        rng = random.Random(seed)
        self._model = Model(rng, base_url.rstrip("/"), epoch_offset)
        self._limits = RateLimits(
            bucket_limit=bucket_limit,
            bucket_window=bucket_window * time_scale,
            channel_limit=channel_limit,
            channel_window=channel_window * time_scale,
            global_limit=global_limit,
            global_window=1.0 * time_scale,
            epoch_offset=epoch_offset,
            rng=rng,
        )
        self._faults = Faults(rng)
        self._app = App(
            self._model, self._limits, self._faults, max_upload_bytes, max_request_bytes
        )

    # --- Settings -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The origin of webhook URLs, without a trailing slash."""
        return self._model.base_url

    @property
    def epoch_offset(self) -> float:
        """Added to ``trio.current_time()`` to give the fake's epoch seconds."""
        return self._model.epoch_offset

    @property
    def time_scale(self) -> float:
        """The factor applied to every window and announced wait."""
        return self._time_scale

    @property
    def max_upload_bytes(self) -> int:
        """The largest file accepted."""
        return self._app.max_upload_bytes

    @property
    def max_request_bytes(self) -> int:
        """The largest request body accepted."""
        return self._app.max_request_bytes

    @property
    def bucket_limit(self) -> int:
        """Requests per window in each webhook route's bucket."""
        return self._limits.bucket_limit

    @property
    def bucket_window(self) -> float:
        """The bucket's window in seconds, scaled."""
        return self._limits.bucket_window

    @property
    def channel_limit(self) -> int | None:
        """Messages per channel per ``channel_window`` (``None``: no limit)."""
        return self._limits.channel_limit

    @property
    def channel_window(self) -> float:
        """The channel limit's window in seconds, scaled."""
        return self._limits.channel_window

    @property
    def global_limit(self) -> int | None:
        """Requests per ``global_window`` over all webhooks (``None``: no limit)."""
        return self._limits.global_limit

    @property
    def global_window(self) -> float:
        """The global limit's window in seconds (one, scaled)."""
        return self._limits.global_window

    # --- Setting up ---------------------------------------------------------------------------

    def create_channel(self, *, forum: bool = False, name: str = "general") -> str:
        """Create a text (or forum) channel in a new guild.

        Returns:
            The channel's id.
        """
        return self._model.create_channel(forum=forum, name=name)

    def create_thread(self, channel_id: str, name: str = "thread") -> str:
        """Create a thread in a channel, for messages sent with ``thread_id``.

        Returns:
            The thread's id.
        """
        return self._model.create_thread(channel_id, name)

    def create_webhook(
        self,
        channel_id: str | None = None,
        name: str = "captain hook",
        *,
        application_owned: bool = False,
    ) -> FakeWebhook:
        """Create a webhook, in a new text channel unless ``channel_id`` is given.

        ``application_owned=True`` makes one an application owns (as a bot's): it may
        send interactive components, and its components count without
        ``?with_components=true``. Otherwise it is a channel's webhook, as a user makes
        in the channel settings: Discord ignores its components unless the request says
        ``with_components=true``, and refuses interactive ones.

        Returns:
            The webhook, with its URL under :attr:`base_url`.
        """
        if channel_id is None:
            channel_id = self.create_channel()
        return self._model.create_webhook(channel_id, name, application_owned=application_owned)

    def delete_webhook(self, hook: FakeWebhook) -> None:
        """Delete a webhook: every later call to it gets 404, code 10015."""
        self._model.delete_webhook(hook)

    def inject(
        self,
        fault: FaultKind | str | Fault,
        count: int = 1,
        *,
        status: int = 500,
        stored: bool = False,
        delay: float = 30.0,
        retry_after: float = 1.5,
        method: str | None = None,
        webhook: FakeWebhook | None = None,
    ) -> Fault:
        """Queue a fault for the next ``count`` requests that match it.

        Scripted faults apply in the order they were queued; the first that matches a
        request is used. The options are those of :class:`Fault`.

        Returns:
            The queued fault.
        """
        if not isinstance(fault, Fault):
            fault = Fault(
                FaultKind(fault),
                status=status,
                stored=stored,
                delay=delay,
                retry_after=retry_after,
                method=method,
                webhook_id=webhook.id if webhook is not None else None,
            )
        self._faults.queue(fault, count)
        return fault

    def fault_rate(
        self, probability: float, kinds: Iterable[FaultKind | str] = tuple(FaultKind)
    ) -> None:
        """Inject a random fault into each request with ``probability``, from the seeded rng.

        A server error gets a random status among 500, 502, 503 and 504; a delay waits 30 s.
        Scripted faults take precedence. ``fault_rate(0)`` turns random faults off.
        """
        self._faults.set_rate(probability, kinds)

    # --- Inspecting ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (a copy)."""
        return list(self._app.requests)

    def history(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages stored in a channel or thread, oldest first (copies)."""
        return self._model.history(channel_id)

    def threads(self, channel_id: str) -> list[str]:
        """The ids of the threads (and forum posts) of a channel, oldest first."""
        return self._model.threads(channel_id)

    def attachment_data(self, attachment_id: str) -> bytes:
        """The bytes uploaded for an attachment."""
        return self._model.attachment_data(attachment_id)

    def stats(self) -> FakeStats:
        """A frozen snapshot of the counters."""
        return FakeStats(
            requests=len(self._app.requests),
            messages=self._model.stored,
            rate_limited=dict(self._limits.counts),
            faults=dict(self._faults.counts),
        )

    def transport(
        self,
        *,
        connect_timeout: float = 2.0,
        total_timeout: float = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> HttpxTransport:
        """A :class:`~trio_webhook.transport.Transport` to this fake, in-process (no sockets).

        The client path is the production one above the transport; the fake runs on
        trio's clock (``MockClock`` included), and the timeouts are enforced on it.

        Example::

            async with WebhookClient(hook.url, transport=fake.transport()) as client:
                await client.execute(Message(content="hi"))
        """
        return HttpxTransport(
            f"{self.base_url}/api/v10",
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
            max_response_bytes=max_response_bytes,
            httpx_transport=FakeDiscordTransport(self),
        )

    def httpx_transport(self) -> FakeDiscordTransport:
        """An ``httpx.AsyncBaseTransport`` that runs this app in-process (no sockets).

        It honours the request's read timeout on trio's clock and turns a dropped
        connection into ``httpx.RemoteProtocolError``.

        Returns:
            A new transport; give it to ``httpx.AsyncClient(transport=...)``.
        """
        return FakeDiscordTransport(self)

    # --- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        """Serve one ASGI connection scope (``http`` or ``lifespan``)."""
        await self._app(scope, receive, send)
