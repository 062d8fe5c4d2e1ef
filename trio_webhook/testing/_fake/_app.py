"""Routing: the fake as an ASGI app, its webhook routes, and the record of each request.

A request is read once into a :class:`_Call`; its fault (if any) decides whether and when
it is handled; handling admits it through the rate limits, then the route checks it
against the validation rules and the model and answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any, Final
from urllib.parse import parse_qsl

import attrs
import trio

from trio_webhook.testing._asgi import ASGIReceive, ASGIScope, ASGISend, ConnectionDroppedError
from trio_webhook.testing._fake._components import accepted_components
from trio_webhook.testing._fake._faults import Fault, FaultKind, Faults, answer_with
from trio_webhook.testing._fake._http import (
    Answer,
    Dropped,
    Rejected,
    Response,
    Upload,
    error,
    json_response,
)
from trio_webhook.testing._fake._model import FakeWebhook, Model, webhook_object
from trio_webhook.testing._fake._multipart import MAX_REQUEST_BYTES, parse_body
from trio_webhook.testing._fake._ratelimits import RateLimits
from trio_webhook.testing._fake._validation import (
    check_webhook_id,
    validate_edit,
    validate_execute,
)

__all__ = ["App", "RecordedFile", "RecordedRequest"]

_ROUTE = re.compile(
    r"^/api(?:/v(?P<version>\d+))?/webhooks/(?P<id>[^/]+)/(?P<token>[^/]+)"
    r"(?:/messages/(?P<message>[^/]+))?/?$"
)
_TOKEN_IN_PATH = re.compile(r"^(/api(?:/v\d+)?/webhooks/[^/]+/)[^/]+")
_SUPPORTED_VERSIONS: Final = (None, 9, 10)
_METHODS: Final = {
    "execute": ("POST",),
    "webhook": ("GET", "PATCH", "DELETE"),
    "message": ("GET", "PATCH", "DELETE"),
}


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
class _Call:
    """A request to a webhook route, read once: what every route needs to answer it.

    ``parse_error`` is the answer to a body the fake could not read; it is given only
    once the webhook and token have been checked, as Discord does.
    """

    method: str
    route: str
    webhook_id: str
    token: str
    message_id: str | None
    query: Mapping[str, str]
    payload: Any
    uploads: list[Upload]
    parse_error: Response | None


class App:
    """The ASGI app of one fake: it reads, routes, answers and records each request.

    Args:
        model: The channels, webhooks and messages.
        limits: The rate limits.
        faults: The injected faults.
        max_upload_bytes: The largest file accepted.
        max_request_bytes: The largest body accepted.
    """

    def __init__(
        self,
        model: Model,
        limits: RateLimits,
        faults: Faults,
        max_upload_bytes: int,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.requests: list[RecordedRequest] = []
        self._model = model
        self._limits = limits
        self._faults = faults
        self.max_upload_bytes = max_upload_bytes
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        """Serve one ASGI connection scope (``http`` or ``lifespan``)."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
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
        answer = await self._serve(scope, bytes(body))
        if isinstance(answer, Dropped):
            full = b'{"message": "this response never arrives in full"}'
            headers = [(b"content-length", str(len(full)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": full[:10], "more_body": True})
            raise ConnectionDroppedError("connection dropped by an injected fault")
        headers = [(k.encode(), v.encode()) for k, v in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _serve(self, scope: ASGIScope, body: bytes) -> Answer:
        now = trio.current_time()
        method = str(scope["method"]).upper()
        path = str(scope["path"])
        query_string = bytes(scope.get("query_string", b"")).decode("latin-1")
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        match = _ROUTE.match(path)
        version = int(match["version"]) if match and match["version"] else None
        call: _Call | None = None
        fault: Fault | None = None
        status: int | None = None
        try:
            if match is None or version not in _SUPPORTED_VERSIONS:
                answer: Answer = error(404, 0, "404: Not Found")
            else:
                call = _read_call(
                    method, match, query, scope["headers"], body, self.max_request_bytes
                )
                fault = self._faults.next(method, call.webhook_id)
                answer = await answer_with(fault, partial(self._handle, call), now)
            status = None if isinstance(answer, Dropped) else answer.status
            return answer
        finally:
            # Recorded in `finally` so an abandoned request (cancelled during a delay)
            # still shows up, with status None.
            uploads = call.uploads if call else []
            self.requests.append(
                RecordedRequest(
                    method=method,
                    path=_TOKEN_IN_PATH.sub(r"\1***", path),
                    api_version=version,
                    query=query,
                    status=status,
                    json=call.payload if call else None,
                    files=tuple(
                        RecordedFile(u.field, u.filename, u.content_type, len(u.data))
                        for u in uploads
                    ),
                    time=now,
                    fault=fault.kind if fault else None,
                )
            )

    def _handle(self, call: _Call, now: float) -> Response:
        """Admit a call through the rate limits, route it, and add the bucket's headers."""
        try:
            headers = self._limits.admit(call.webhook_id, call.route, now)
        except Rejected as exc:
            return exc.response
        try:
            response = self._route(call, now)
        except Rejected as exc:
            response = exc.response
        return attrs.evolve(response, headers=(*response.headers, *headers))

    def _route(self, call: _Call, now: float) -> Response:
        check_webhook_id(call.webhook_id)
        if call.method not in _METHODS[call.route]:
            return error(405, 0, "405: Method Not Allowed")
        hook = self._model.webhook(call.webhook_id)
        if hook is None:
            return error(404, 10015, "Unknown Webhook")
        if call.token != hook.token:
            return error(401, 50027, "Invalid Webhook Token")
        if call.parse_error is not None and call.method in ("POST", "PATCH"):
            return call.parse_error
        payload = call.payload if isinstance(call.payload, dict) else {}
        if call.route == "webhook":
            return self._webhook(hook, call, payload)
        if call.route == "execute":
            return self._execute(hook, call, payload, now)
        return self._message(hook, call, payload, now)

    def _execute(
        self, hook: FakeWebhook, call: _Call, payload: Mapping[str, Any], now: float
    ) -> Response:
        payload = _as_read(payload, call, hook)
        meta = validate_execute(
            payload, call.uploads, self.max_upload_bytes, application_owned=hook.application_owned
        )
        target = self._model.target(hook, call.query.get("thread_id"), payload.get("thread_name"))
        self._limits.admit_message(target, now)
        data = self._model.post(hook, target, payload, call.uploads, meta, now)
        if call.query.get("wait", "").lower() in ("true", "1"):
            return json_response(200, data)
        return Response(204)

    def _webhook(self, hook: FakeWebhook, call: _Call, payload: Mapping[str, Any]) -> Response:
        if call.method == "DELETE":
            self._model.delete_webhook(hook)
            return Response(204)
        if call.method == "PATCH":
            hook = self._model.modify_webhook(hook, payload)
        return json_response(200, webhook_object(hook))

    def _message(
        self, hook: FakeWebhook, call: _Call, payload: Mapping[str, Any], now: float
    ) -> Response:
        assert call.message_id is not None
        stored = self._model.find(hook, call.message_id, call.query.get("thread_id"))
        if call.method == "GET":
            return json_response(200, stored.data)
        if call.method == "DELETE":
            self._model.delete(call.message_id)
            return Response(204)
        existing = {a["id"] for a in stored.data["attachments"]}
        payload = _as_read(payload, call, hook)
        meta = validate_edit(
            payload,
            call.uploads,
            existing,
            self.max_upload_bytes,
            application_owned=hook.application_owned,
        )
        return json_response(200, self._model.edit(stored, payload, call.uploads, meta, now))


def _as_read(payload: Mapping[str, Any], call: _Call, hook: FakeWebhook) -> Mapping[str, Any]:
    # Discord ignores the components of a webhook no application owns unless asked.
    with_components = call.query.get("with_components", "").lower() in ("true", "1")
    return accepted_components(
        payload, with_components=with_components, application_owned=hook.application_owned
    )


def _read_call(
    method: str,
    match: re.Match[str],
    query: Mapping[str, str],
    raw_headers: Iterable[tuple[bytes, bytes]],
    body: bytes,
    max_request_bytes: int,
) -> _Call:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
    payload: Any = None
    uploads: list[Upload] = []
    parse_error: Response | None = None
    try:
        payload, uploads = parse_body(headers, body, max_request_bytes)
    except Rejected as exc:
        parse_error = exc.response
    message_id = match["message"]
    if message_id is not None:
        route = "message"
    elif method == "POST":
        route = "execute"
    else:
        route = "webhook"
    return _Call(
        method, route, match["id"], match["token"], message_id, query, payload, uploads,
        parse_error,
    )  # fmt: skip


async def _lifespan(receive: ASGIReceive, send: ASGISend) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
