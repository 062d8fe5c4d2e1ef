"""The relay's ASGI app: Discord's execute endpoint, ``/healthz`` and ``/metrics``.

``POST /api[/vN]/webhooks/{id}/{token}`` is read as Discord reads it, checked with the
library's own checks, committed to the outbox and answered ``204``; with ``wait=true``
it is answered once Discord has (its message, or its error). Before anything is read,
the request must pass the relay's guard (the secret, the allow-list): a refused request
is never forwarded.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

import trio

from trio_webhook._errors import DeliveryFailed, InvalidWebhookURL
from trio_webhook._models import Message
from trio_webhook._url import WebhookURL, parse_webhook_url, redact
from trio_webhook.relay._answers import Answer, Refused, error_tree, json_answer
from trio_webhook.relay._body import read_body
from trio_webhook.relay._lanes import Lanes
from trio_webhook.relay._message import read_message
from trio_webhook.relay._metrics import CONTENT_TYPE, RelayCounters, render

__all__ = ["RelayApp"]

logger: Final = logging.getLogger("trio_webhook.relay")

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

_TRUE: Final = ("true", "1")


def _route(path: str) -> tuple[str, str, str] | None:
    """``(id, token, form)`` of ``/api[/vN]/webhooks/{id}/{token}[/slack|/github]``."""
    parts = path.strip("/").split("/")
    if len(parts) > 1 and parts[1][:1] == "v" and parts[1][1:].isdigit():
        del parts[1]
    if len(parts) not in (4, 5) or parts[:2] != ["api", "webhooks"]:
        return None
    form = parts[4] if len(parts) == 5 else ""
    return parts[2], parts[3], form


class RelayApp:
    """The ASGI app over a :class:`Lanes`.

    Args:
        lanes: Where accepted messages go; its config holds the guard's settings.
    """

    def __init__(self, lanes: Lanes) -> None:
        self.lanes = lanes
        self.config = lanes.config
        self.counters = RelayCounters()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                kind = str(event["type"]).rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        answer = await self._answer(scope, receive)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": list(answer.headers),
            }
        )
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer(self, scope: Scope, receive: Receive) -> Answer:
        path, method = str(scope["path"]), str(scope["method"])
        if path == "/healthz":
            status = 503 if self.lanes.closing else 200
            return json_answer(status, {"status": "closing" if self.lanes.closing else "ok"})
        if path == "/metrics":
            text = render(
                await self.lanes.views(),
                self.lanes.tracker.metrics(),
                self.lanes.sink.dead,
                self.counters,
            )
            return Answer(200, text.encode(), ((b"content-type", CONTENT_TYPE.encode()),))
        route = _route(path)
        if route is None:
            return json_answer(404, {"code": 0, "message": "404: Not Found"})
        started = trio.current_time()
        try:
            answer = await self._execute(scope, receive, method, route)
        except Refused as refused:
            answer = refused.answer
        except Exception:
            logger.exception("the relay failed on %s %s", method, redact(path))
            answer = json_answer(500, {"code": 0, "message": "500: Internal Server Error"})
        self.counters.answers[answer.status] += 1
        logger.info(
            "%s %s %d in %.1f ms",
            method,
            redact(path),
            answer.status,
            (trio.current_time() - started) * 1000,
            extra={"webhook_id": route[0], "status": answer.status},
        )
        return answer

    async def _execute(
        self, scope: Scope, receive: Receive, method: str, route: tuple[str, str, str]
    ) -> Answer:
        webhook_id, token, form = route
        query = dict(parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1")))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self._guard(headers, query, webhook_id)
        if form in ("slack", "github"):
            raise Refused(
                404, 0, f"the relay does not support the /{form} form: post Discord's own JSON"
            )
        if form or method != "POST":
            raise Refused(405, 0, "405: Method Not Allowed (the relay serves Execute Webhook only)")
        url = self._url(webhook_id, token)
        body = await self._read(receive)
        sender = self.config.sender
        payload, uploads = read_body(headers, body, sender.max_upload_bytes)
        message, ignored = read_message(
            payload,
            uploads,
            thread_id=query.get("thread_id"),
            max_upload_bytes=sender.max_upload_bytes,
            max_request_bytes=sender.max_request_bytes,
            split_content=sender.split_content,
        )
        if ignored:
            self.counters.ignored_keys += len(ignored)
            logger.warning(
                "ignored key(s) %s in a post for webhook %s: the library does not carry them",
                redact(", ".join(k[:60] for k in ignored[:10])),
                webhook_id,
                extra={"webhook_id": webhook_id},
            )
        if query.get("wait", "").lower() in _TRUE:
            return await self._deliver(url, message)
        await self.lanes.submit(url, message)
        return Answer(204)

    def _guard(self, headers: Mapping[str, str], query: Mapping[str, str], webhook_id: str) -> None:
        """Refuse a request without the secret, or for a webhook not allowed."""
        secret = self.config.secret
        if secret is not None:
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else query.get("relay_key")
            if given is None or not hmac.compare_digest(given.encode(), secret.encode()):
                self.counters.refused_auth += 1
                why = "missing" if given is None else "wrong"
                raise Refused(
                    401,
                    0,
                    f"401: Unauthorized (the relay's secret is {why}: send "
                    "Authorization: Bearer <secret>, or ?relay_key=<secret>)",
                )
        if self.config.allow and webhook_id not in self.config.allow:
            self.counters.refused_auth += 1
            raise Refused(403, 0, "403: Forbidden (this relay does not serve that webhook id)")

    def _url(self, webhook_id: str, token: str) -> WebhookURL:
        if not webhook_id.isdigit():
            tree = error_tree([("webhook_id", "NUMBER_TYPE_COERCE", "Value is not snowflake.")])
            raise Refused(400, 50035, "Invalid Form Body", tree)
        try:
            return parse_webhook_url(f"https://discord.com/api/webhooks/{webhook_id}/{token}")
        except InvalidWebhookURL:
            raise Refused(401, 50027, "Invalid Webhook Token") from None

    async def _read(self, receive: Receive) -> bytes:
        limit = self.config.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await receive()
            chunk = bytes(event.get("body", b""))
            size += len(chunk)
            if size > limit:
                raise Refused(413, 40005, "Request entity too large")
            chunks.append(chunk)
            if not event.get("more_body", False):
                return b"".join(chunks)

    async def _deliver(self, url: WebhookURL, message: Message) -> Answer:
        """``wait=true``: Discord's message once delivered, or Discord's error."""
        receipt = await self.lanes.submit(url, message)
        try:
            delivery = await receipt.wait()
        except DeliveryFailed as exc:
            if exc.reason == "kept":
                note = "the relay stopped before delivering it; it stays in the outbox"
                return json_answer(202, {"code": 0, "message": note})
            # Discord's own error when it answered one; else the failure's own text.
            error = exc.discord_error or {"code": 0, "message": exc.error}
            return json_answer(exc.status or 502, dict(error))
        if not delivery.messages:
            return Answer(204)
        return json_answer(200, dict(delivery.messages[0].raw))
