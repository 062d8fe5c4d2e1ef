"""FakeDiscord: an in-memory ASGI app that answers like Discord's webhook API.

The fake is the project's oracle, so its limits are its own table below, written from
Discord's documentation and observed behaviour; it never imports the library's limits.

Its clock is trio's (``trio.current_time()``), so ``trio.testing.MockClock`` drives the
fake and the client under test together. Nothing here reads the wall clock.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import json
import math
import mimetypes
import random
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl

import attrs
import trio

from trio_webhook.testing._asgi import (
    ASGIReceive,
    ASGIScope,
    ASGISend,
    ConnectionDroppedError,
)
from trio_webhook.testing._asgi_transport import FakeDiscordTransport
from trio_webhook.testing._fake._http import (
    EMPTY_MESSAGE,
    Rejected,
    Response,
    Upload,
    error,
    json_response,
)
from trio_webhook.testing._fake._multipart import parse_body
from trio_webhook.testing._fake._validation import (
    FILE_FIELD,
    MAX_FILES,
    check_webhook_id,
    too_many_files,
    validate_edit,
    validate_execute,
)

__all__ = [
    "ConnectionDroppedError",
    "FakeDiscord",
    "FakeStats",
    "FakeWebhook",
    "Fault",
    "FaultKind",
    "RecordedFile",
    "RecordedRequest",
]

# Discord's epoch for snowflakes, and the fake's own wall-clock origin: trio's clock plus
# this offset gives the "epoch seconds" of X-RateLimit-Reset and message timestamps.
_DISCORD_EPOCH_MS: Final = 1_420_070_400_000
_DEFAULT_EPOCH_OFFSET: Final = 1_750_000_000.0

_ROUTE = re.compile(
    r"^/api(?:/v(?P<version>\d+))?/webhooks/(?P<id>[^/]+)/(?P<token>[^/]+)"
    r"(?:/messages/(?P<message>[^/]+))?/?$"
)
_TOKEN_IN_PATH = re.compile(r"^(/api(?:/v\d+)?/webhooks/[^/]+/)[^/]+")
_SUPPORTED_VERSIONS: Final = (None, 9, 10)

_BOTH_THREAD_ID_AND_NAME: Final = (
    "Webhooks posted to forum channels cannot have both a thread_name and thread_id"
)
_FORUM_NEEDS_THREAD: Final = (
    "Webhooks posted to forum channels must have a thread_name or thread_id"
)


class FaultKind(enum.StrEnum):
    """The failures the fake can inject instead of (or on top of) a normal answer."""

    SERVER_ERROR = "server_error"
    """A 5xx (``status``) with an HTML body, as Discord's edge sends."""
    RATE_LIMIT_NO_BODY = "rate_limit_no_body"
    """A 429 with a ``Retry-After`` header and an empty body (an edge rate limit)."""
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


@attrs.frozen
class FakeWebhook:
    """A webhook that exists in the fake.

    Attributes:
        id: The webhook's snowflake id.
        token: Its token (a password: hidden from ``repr``).
        channel_id: The channel it posts to.
        name: Its default name (the message author's name unless ``username`` is given).
        url: ``{base_url}/api/webhooks/{id}/{token}``, as Discord shows webhook URLs.
        guild_id: The guild of its channel.
    """

    id: str
    token: str = attrs.field(repr=False)
    channel_id: str
    name: str
    url: str = attrs.field(repr=False)
    guild_id: str


@attrs.frozen
class RecordedFile:
    """A file part of a recorded request (without its bytes)."""

    field: str
    filename: str
    content_type: str | None
    size: int


@attrs.frozen
class RecordedRequest:
    """One request the fake received, for assertions.

    Attributes:
        method: The HTTP method.
        path: The path with the token replaced by ``***``.
        api_version: The version in the path (10 for ``/api/v10/``), ``None`` when unversioned.
        query: The query parameters.
        status: The status answered, ``None`` when the connection was dropped or the
            request was abandoned (the client timed out during a delay).
        json: The JSON payload (the body, or the ``payload_json`` part), if any.
        files: The file parts of a multipart body.
        time: ``trio.current_time()`` when the request arrived.
        fault: The injected fault that applied, if any.
    """

    method: str
    path: str
    api_version: int | None
    query: Mapping[str, str]
    status: int | None
    json: Any
    files: tuple[RecordedFile, ...]
    time: float
    fault: FaultKind | None = None


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


# --- Internal state --------------------------------------------------------------------------


@attrs.define
class _Window:
    """A fixed window that opens at the first request after the previous one expired."""

    limit: int
    length: float
    start: float | None = None
    count: int = 0

    def roll(self, now: float) -> None:
        if self.start is None or now >= self.start + self.length:
            self.start = None
            self.count = 0

    def take(self, now: float) -> None:
        if self.start is None:
            self.start = now
        self.count += 1

    def full(self) -> bool:
        return self.count >= self.limit

    def reset_after(self, now: float) -> float:
        if self.start is None:
            return self.length
        return max(0.0, self.start + self.length - now)


@attrs.define
class _ChannelLimit:
    window: _Window
    blocked_until: float = -math.inf


@attrs.define
class _Channel:
    id: str
    guild_id: str
    forum: bool = False
    parent_id: str | None = None
    name: str = "general"


@attrs.define
class _StoredMessage:
    webhook_id: str
    channel_id: str
    data: dict[str, Any]


@attrs.define
class _ScriptedFault:
    fault: Fault
    remaining: int


def _redact(path: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1***", path)


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
        max_upload_bytes: The largest file accepted (413, code 40005, above it).
        base_url: The origin used in webhook URLs and the in-process transport.
        epoch_offset: Added to ``trio.current_time()`` to give the fake's epoch seconds.

    Rate limits are fixed windows that open at the first request after the previous window
    ended, as Discord's buckets behave: 5 requests at t=0 use up the window, and the next
    one passes at t=2. Every request counts, including the ones answered with an error,
    except 429s. Each webhook has one bucket per route (execute, message endpoints, get
    webhook), with a shared bucket hash per route as Discord sends.

    The channel limit, once hit, blocks the channel for a random 2/3 to 3/4 of its window
    (40-45 s by default) and then starts a fresh window.

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
        base_url: str = "https://discord.test",
        epoch_offset: float = _DEFAULT_EPOCH_OFFSET,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {time_scale}")
        self.base_url = base_url.rstrip("/")
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window * time_scale
        self.channel_limit = channel_limit
        self.channel_window = channel_window * time_scale
        self.global_limit = global_limit
        self.global_window = 1.0 * time_scale
        self.time_scale = time_scale
        self.max_upload_bytes = max_upload_bytes
        self.epoch_offset = epoch_offset
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._webhooks: dict[str, FakeWebhook] = {}
        self._deleted: set[str] = set()
        self._channels: dict[str, _Channel] = {}
        self._history: dict[str, list[str]] = {}
        self._messages: dict[str, _StoredMessage] = {}
        self._files: dict[str, bytes] = {}
        self._buckets: dict[tuple[str, str], _Window] = {}
        self._channel_limits: dict[str, _ChannelLimit] = {}
        self._global = _Window(global_limit or 0, self.global_window)
        self._requests: list[RecordedRequest] = []
        self._script: list[_ScriptedFault] = []
        self._fault_probability = 0.0
        self._fault_kinds: tuple[FaultKind, ...] = ()
        self._rate_limited = {"user": 0, "shared": 0, "global": 0}
        self._fault_counts: dict[str, int] = {}
        self._stored = 0

    # --- Setting up ---------------------------------------------------------------------------

    def _snowflake(self) -> str:
        # A fixed origin rather than the wall clock keeps ids identical between runs.
        return str(((1_700_000_000_000 - _DISCORD_EPOCH_MS) << 22) + next(self._ids))

    def create_channel(self, *, forum: bool = False, name: str = "general") -> str:
        """Create a text (or forum) channel in a new guild.

        Returns:
            The channel's id.
        """
        channel_id = self._snowflake()
        self._channels[channel_id] = _Channel(channel_id, self._snowflake(), forum, None, name)
        self._history[channel_id] = []
        return channel_id

    def create_thread(self, channel_id: str, name: str = "thread") -> str:
        """Create a thread in a channel, for messages sent with ``thread_id``.

        Returns:
            The thread's id.
        """
        parent = self._channels[channel_id]
        thread_id = self._snowflake()
        self._channels[thread_id] = _Channel(thread_id, parent.guild_id, False, channel_id, name)
        self._history[thread_id] = []
        return thread_id

    def create_webhook(
        self, channel_id: str | None = None, name: str = "captain hook"
    ) -> FakeWebhook:
        """Create a webhook, in a new text channel unless ``channel_id`` is given.

        Returns:
            The webhook, with its URL under :attr:`base_url`.
        """
        if channel_id is None:
            channel_id = self.create_channel()
        channel = self._channels[channel_id]
        webhook_id = self._snowflake()
        token = hashlib.sha256(f"{webhook_id}:{self._rng.random()}".encode()).hexdigest()
        hook = FakeWebhook(
            id=webhook_id,
            token=token,
            channel_id=channel_id,
            name=name,
            url=f"{self.base_url}/api/webhooks/{webhook_id}/{token}",
            guild_id=channel.guild_id,
        )
        self._webhooks[webhook_id] = hook
        return hook

    def delete_webhook(self, hook: FakeWebhook) -> None:
        """Delete a webhook: every later call to it gets 404, code 10015."""
        self._deleted.add(hook.id)

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
        if fault.kind is FaultKind.SERVER_ERROR and fault.status not in (500, 502, 503, 504):
            raise ValueError(f"a server error is 500, 502, 503 or 504, not {fault.status}")
        self._script.append(_ScriptedFault(fault, count))
        return fault

    def fault_rate(
        self, probability: float, kinds: Iterable[FaultKind | str] = tuple(FaultKind)
    ) -> None:
        """Inject a random fault into each request with ``probability``, from the seeded rng.

        A server error gets a random status among 500, 502, 503 and 504; a delay waits 30 s.
        Scripted faults take precedence. ``fault_rate(0)`` turns random faults off.
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, not {probability}")
        self._fault_probability = probability
        self._fault_kinds = tuple(FaultKind(k) for k in kinds)

    # --- Inspecting ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (a copy)."""
        return list(self._requests)

    def history(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages stored in a channel or thread, oldest first (copies)."""
        return [json.loads(json.dumps(self._messages[m].data)) for m in self._history[channel_id]]

    def threads(self, channel_id: str) -> list[str]:
        """The ids of the threads (and forum posts) of a channel, oldest first."""
        return [c.id for c in self._channels.values() if c.parent_id == channel_id]

    def attachment_data(self, attachment_id: str) -> bytes:
        """The bytes uploaded for an attachment."""
        return self._files[attachment_id]

    def stats(self) -> FakeStats:
        """A frozen snapshot of the counters."""
        return FakeStats(
            requests=len(self._requests),
            messages=self._stored,
            rate_limited=dict(self._rate_limited),
            faults=dict(self._fault_counts),
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
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"FakeDiscord serves HTTP only, not {scope['type']!r}")
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        response = await self._serve(scope, bytes(body))
        headers = [(k.encode(), v.encode()) for k, v in response.headers]
        if response.drop:
            full = b'{"message": "this response never arrives in full"}'
            headers.append((b"content-length", str(len(full)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": full[:10], "more_body": True})
            raise ConnectionDroppedError("connection dropped by an injected fault")
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    @staticmethod
    async def _lifespan(receive: ASGIReceive, send: ASGISend) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve(self, scope: ASGIScope, body: bytes) -> Response:
        now = trio.current_time()
        method = str(scope["method"]).upper()
        path = str(scope["path"])
        query = dict(
            parse_qsl(
                bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True
            )
        )
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        match = _ROUTE.match(path)
        version = int(match["version"]) if match and match["version"] else None
        payload: Any = None
        uploads: list[Upload] = []
        status: int | None = None
        fault: Fault | None = None
        try:
            if match is None or version not in _SUPPORTED_VERSIONS:
                response = error(404, 0, "404: Not Found")
            else:
                try:
                    payload, uploads = parse_body(headers, body)
                except Rejected as exc:
                    parse_error: Response | None = exc.response
                else:
                    parse_error = None
                fault = self._next_fault(method, match["id"])
                response = await self._answer(
                    fault, method, match, query, payload, uploads, parse_error, now
                )
            status = None if response.drop else response.status
            return response
        finally:
            # Recorded in `finally` so an abandoned request (cancelled during a delay)
            # still shows up, with status None.
            self._requests.append(
                RecordedRequest(
                    method=method,
                    path=_redact(path),
                    api_version=version,
                    query=query,
                    status=status,
                    json=payload,
                    files=tuple(
                        RecordedFile(u.field, u.filename, u.content_type, len(u.data))
                        for u in uploads
                    ),
                    time=now,
                    fault=fault.kind if fault else None,
                )
            )

    def _next_fault(self, method: str, webhook_id: str) -> Fault | None:
        for entry in self._script:
            if entry.fault.matches(method, webhook_id):
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._script.remove(entry)
                self._count_fault(entry.fault)
                return entry.fault
        if self._fault_probability and self._rng.random() < self._fault_probability:
            kind = self._rng.choice(self._fault_kinds)
            status = self._rng.choice((500, 502, 503, 504))
            fault = Fault(kind, status=status)
            self._count_fault(fault)
            return fault
        return None

    def _count_fault(self, fault: Fault) -> None:
        self._fault_counts[fault.kind.value] = self._fault_counts.get(fault.kind.value, 0) + 1

    async def _answer(
        self,
        fault: Fault | None,
        method: str,
        match: re.Match[str],
        query: Mapping[str, str],
        payload: Any,
        uploads: list[Upload],
        parse_error: Response | None,
        now: float,
    ) -> Response:
        def handle() -> Response:
            return self._handle(method, match, query, payload, uploads, parse_error, now)

        if fault is None:
            return handle()
        kind = fault.kind
        if kind is FaultKind.DELAY:
            if fault.stored:
                response = handle()
                await trio.sleep(fault.delay)
                return response
            await trio.sleep(fault.delay)
            now = trio.current_time()
            return handle()
        if kind is FaultKind.RATE_LIMIT_NO_BODY:
            return Response(429, (("retry-after", str(math.ceil(fault.retry_after))),))
        if kind is FaultKind.RETRY_AFTER_MS:
            body = {
                "message": "You are being rate limited.",
                "retry_after": round(fault.retry_after * 1000),
                "global": False,
            }
            return json_response(429, body, (("retry-after", str(math.ceil(fault.retry_after))),))
        if kind is FaultKind.INVALID_JSON:
            handle()
            return Response(200, (("content-type", "application/json"),), b'{"id": "12')
        if fault.stored:
            handle()
        if kind is FaultKind.DROP:
            return Response(0, drop=True)
        html = (
            f"<html><head><title>{fault.status} Server Error</title></head>"
            f"<body><center><h1>{fault.status} Server Error</h1></center>"
            "<hr><center>cloudflare</center></body></html>"
        ).encode()
        return Response(fault.status, (("content-type", "text/html"),), html)

    # --- Rate limits --------------------------------------------------------------------------

    def _rate_limit_headers(self, bucket: _Window, route: str, now: float) -> list[tuple[str, str]]:
        reset_after = bucket.reset_after(now)
        return [
            ("x-ratelimit-limit", str(bucket.limit)),
            ("x-ratelimit-remaining", str(max(0, bucket.limit - bucket.count))),
            ("x-ratelimit-reset", f"{self.epoch_offset + now + reset_after:.3f}"),
            ("x-ratelimit-reset-after", f"{reset_after:.3f}"),
            ("x-ratelimit-bucket", hashlib.md5(route.encode()).hexdigest()),
        ]

    def _too_many(
        self,
        retry_after: float,
        scope: str,
        headers: list[tuple[str, str]],
        code: int | None = None,
    ) -> Response:
        self._rate_limited[scope] += 1
        body: dict[str, Any] = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": scope == "global",
        }
        if code is not None:
            body["code"] = code
        extra = [("retry-after", str(math.ceil(retry_after))), ("x-ratelimit-scope", scope)]
        if scope == "global":
            extra.append(("x-ratelimit-global", "true"))
        return json_response(429, body, [*headers, *extra])

    def _channel_window(self, channel_id: str, now: float) -> _ChannelLimit | None:
        if self.channel_limit is None:
            return None
        state = self._channel_limits.get(channel_id)
        if state is None:
            state = _ChannelLimit(_Window(self.channel_limit, self.channel_window))
            self._channel_limits[channel_id] = state
        if now >= state.blocked_until:
            state.window.roll(now)
        return state

    # --- Requests -----------------------------------------------------------------------------

    def _handle(
        self,
        method: str,
        match: re.Match[str],
        query: Mapping[str, str],
        payload: Any,
        uploads: list[Upload],
        parse_error: Response | None,
        now: float,
    ) -> Response:
        webhook_id, token, message_id = match["id"], match["token"], match["message"]
        if message_id is not None:
            route = "message"
        elif method == "POST":
            route = "execute"
        else:
            route = "webhook"
        bucket = self._buckets.get((webhook_id, route))
        if bucket is None:
            bucket = self._buckets[(webhook_id, route)] = _Window(
                self.bucket_limit, self.bucket_window
            )
        bucket.roll(now)

        if self.global_limit is not None:
            self._global.roll(now)
            if self._global.full():
                headers = self._rate_limit_headers(bucket, route, now)
                return self._too_many(self._global.reset_after(now), "global", headers)
            self._global.take(now)
        if bucket.full():
            headers = self._rate_limit_headers(bucket, route, now)
            return self._too_many(bucket.reset_after(now), "user", headers)
        bucket.take(now)
        headers = self._rate_limit_headers(bucket, route, now)

        try:
            response = self._route(
                method, route, webhook_id, token, message_id, query, payload, uploads,
                parse_error, now,
            )  # fmt: skip
        except Rejected as exc:
            response = exc.response
        return attrs.evolve(response, headers=(*response.headers, *headers))

    def _route(
        self,
        method: str,
        route: str,
        webhook_id: str,
        token: str,
        message_id: str | None,
        query: Mapping[str, str],
        payload: Any,
        uploads: list[Upload],
        parse_error: Response | None,
        now: float,
    ) -> Response:
        check_webhook_id(webhook_id)
        allowed = {"execute": ("POST",), "webhook": ("GET",), "message": ("GET", "PATCH", "DELETE")}
        if method not in allowed[route]:
            return error(405, 0, "405: Method Not Allowed")
        hook = self._webhooks.get(webhook_id)
        if hook is None or webhook_id in self._deleted:
            return error(404, 10015, "Unknown Webhook")
        if token != hook.token:
            return error(401, 50027, "Invalid Webhook Token")
        if route == "webhook":
            return json_response(200, self._webhook_object(hook))
        if parse_error is not None and method in ("POST", "PATCH"):
            return parse_error
        if route == "execute":
            return self._execute(hook, query, payload, uploads, now)
        assert message_id is not None
        stored = self._find_message(hook, message_id, query)
        if method == "GET":
            return json_response(200, stored.data)
        if method == "DELETE":
            del self._messages[message_id]
            self._history[stored.channel_id].remove(message_id)
            return Response(204)
        return self._edit(stored, payload, uploads, now)

    def _webhook_object(self, hook: FakeWebhook) -> dict[str, Any]:
        return {
            "application_id": None,
            "avatar": None,
            "channel_id": hook.channel_id,
            "guild_id": hook.guild_id,
            "id": hook.id,
            "name": hook.name,
            "type": 1,
            "token": hook.token,
            "url": hook.url,
        }

    def _find_message(
        self, hook: FakeWebhook, message_id: str, query: Mapping[str, str]
    ) -> _StoredMessage:
        thread_id = query.get("thread_id")
        channel_id = thread_id or hook.channel_id
        stored = self._messages.get(message_id)
        if stored is None or stored.webhook_id != hook.id or stored.channel_id != channel_id:
            raise Rejected(error(404, 10008, "Unknown Message"))
        return stored

    def _execute(
        self,
        hook: FakeWebhook,
        query: Mapping[str, str],
        payload: Any,
        uploads: list[Upload],
        now: float,
    ) -> Response:
        if not isinstance(payload, dict):
            payload = {}
        attachment_meta = validate_execute(payload, uploads, self.max_upload_bytes)

        thread_id = query.get("thread_id")
        thread_name = payload.get("thread_name")
        channel = self._channels[hook.channel_id]
        if thread_id is not None and thread_name is not None:
            return error(400, 220002, _BOTH_THREAD_ID_AND_NAME)
        if thread_id is not None:
            thread = self._channels.get(thread_id)
            if thread is None or thread.parent_id != channel.id:
                return error(404, 10003, "Unknown Channel")
            target = thread.id
        elif channel.forum:
            if thread_name is None:
                return error(400, 220001, _FORUM_NEEDS_THREAD)
            target = channel.id
        elif thread_name is not None:
            return error(400, 220003, "Webhooks can only create threads in forum channels")
        else:
            target = channel.id

        limit = self._channel_window(target, now)
        if limit is not None:
            if now < limit.blocked_until:
                return self._too_many(limit.blocked_until - now, "shared", [], code=20028)
            if limit.window.full():
                retry_after = self._rng.uniform(2 / 3, 3 / 4) * self.channel_window
                limit.blocked_until = now + retry_after
                limit.window.start = None
                limit.window.count = 0
                return self._too_many(retry_after, "shared", [], code=20028)
            limit.window.take(now)

        message_id = self._snowflake()
        if channel.forum and thread_name is not None:
            # A forum post's thread has the id of its starter message, as on Discord.
            self._channels[message_id] = _Channel(
                message_id, channel.guild_id, False, channel.id, str(thread_name)
            )
            self._history[message_id] = []
            target = message_id
        data: dict[str, Any] = {
            "id": message_id,
            "type": 0,
            "content": payload.get("content") or "",
            "channel_id": target,
            "author": {
                "id": hook.id,
                "username": payload.get("username") or hook.name,
                "avatar": None,
                "discriminator": "0000",
                "public_flags": 0,
                "flags": 0,
                "bot": True,
                "global_name": None,
                "primary_guild": None,
            },
            "attachments": self._store_uploads(uploads, attachment_meta, target),
            "embeds": [_normalise_embed(e) for e in payload.get("embeds") or []],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": bool(payload.get("tts", False)),
            "timestamp": self._timestamp(now),
            "edited_timestamp": None,
            "flags": int(payload.get("flags") or 0),
            "components": [],
            "webhook_id": hook.id,
        }
        self._messages[message_id] = _StoredMessage(hook.id, target, data)
        self._history[target].append(message_id)
        self._stored += 1
        if query.get("wait", "").lower() in ("true", "1"):
            return json_response(200, data)
        return Response(204)

    def _edit(
        self, stored: _StoredMessage, payload: Any, uploads: list[Upload], now: float
    ) -> Response:
        if not isinstance(payload, dict):
            payload = {}
        data = stored.data
        existing = {a["id"] for a in data["attachments"]}
        attachment_meta = validate_edit(payload, uploads, existing, self.max_upload_bytes)
        updated = dict(data)
        if "content" in payload:
            updated["content"] = payload["content"] or ""
        if "embeds" in payload:
            updated["embeds"] = [_normalise_embed(e) for e in payload["embeds"] or []]
        if "flags" in payload:
            updated["flags"] = int(payload["flags"] or 0)
        kept = list(data["attachments"])
        if payload.get("attachments") is not None:
            keep_ids = {str(a.get("id")) for a in payload["attachments"] if isinstance(a, dict)}
            kept = [a for a in kept if a["id"] in keep_ids]
        if len(kept) + len(uploads) > MAX_FILES:
            raise too_many_files()
        new = self._store_uploads(uploads, attachment_meta, stored.channel_id)
        updated["attachments"] = kept + new
        if not (updated["content"] or updated["embeds"] or updated["attachments"]):
            return EMPTY_MESSAGE
        updated["edited_timestamp"] = self._timestamp(now)
        stored.data = updated
        return json_response(200, updated)

    def _store_uploads(
        self, uploads: list[Upload], meta: Mapping[str, Mapping[str, Any]], channel_id: str
    ) -> list[dict[str, Any]]:
        attachments = []
        for upload in uploads:
            index = FILE_FIELD.match(upload.field)
            info = meta.get(index[1], {}) if index else {}
            filename = str(info.get("filename") or upload.filename)
            attachment_id = self._snowflake()
            content_type = upload.content_type or mimetypes.guess_type(filename)[0]
            attachment: dict[str, Any] = {
                "id": attachment_id,
                "filename": filename,
                "size": len(upload.data),
                "url": f"https://cdn.discord.test/attachments/{channel_id}/{attachment_id}/{filename}",
                "proxy_url": f"https://media.discord.test/attachments/{channel_id}/{attachment_id}/{filename}",
            }  # fmt: skip
            if content_type:
                attachment["content_type"] = content_type
            if info.get("description") is not None:
                attachment["description"] = info["description"]
            self._files[attachment_id] = upload.data
            attachments.append(attachment)
        return attachments

    def _timestamp(self, now: float) -> str:
        return datetime.fromtimestamp(self.epoch_offset + now, UTC).isoformat(
            timespec="microseconds"
        )


def _normalise_embed(embed: Any) -> Any:
    if isinstance(embed, dict):
        return {"type": "rich", **embed}
    return embed
