"""Replay: send dead letters again (a JSONL file or an outbox), skipping what Discord shows."""

from __future__ import annotations

import logging
import os
import ssl
from typing import Final

import attrs
import trio

from trio_webhook._attachments import strip_attachment_refs, strip_component_refs
from trio_webhook._client import PlanProgress, WebhookClient
from trio_webhook._client_setup import client_from_config, closing_client
from trio_webhook._config import SenderConfig
from trio_webhook._durable import shared_outbox
from trio_webhook._errors import DeliveryFailed, DiscordHTTPError, TransportError, ValidationError
from trio_webhook._models import Message
from trio_webhook._planning import plan_requests
from trio_webhook._records import DeadLetter
from trio_webhook._sinks import read
from trio_webhook._url import redact
from trio_webhook.outbox import Outbox
from trio_webhook.outbox._redis_conn import is_redis_url
from trio_webhook.transport._base import Transport

__all__ = ["ReplayResult", "replay"]

# The sender's logger: replay warnings have always been logged there.
logger: Final = logging.getLogger("trio_webhook")


@attrs.frozen
class ReplayResult:
    """What :func:`replay` did with a dead-letter file.

    Attributes:
        delivered: Records whose remaining requests were all delivered.
        failed: Each record that failed again, with the error's text (token-free), in
            file order.
        skipped: Records with nothing left to send (``delivered_requests`` already
            covers their whole plan).
    """

    delivered: int
    failed: tuple[tuple[DeadLetter, str], ...]
    skipped: int


def _replayable(record: DeadLetter) -> Message:
    """The message to send again: without references to files the record left out."""
    message = record.message
    if not record.omitted_attachments:
        return message
    logger.warning(
        "replaying a dead letter without its %d attachment(s) (the record kept only "
        "their metadata): %s",
        len(record.omitted_attachments),
        ", ".join(info.filename for info in record.omitted_attachments),
        extra={"webhook_id": record.webhook_id},
    )
    return attrs.evolve(
        message,
        embeds=tuple(strip_attachment_refs(e) for e in message.embeds),
        components=strip_component_refs(message.components),
    )


def _is_sqlite(path: str | os.PathLike[str]) -> bool:
    # SQLite's file header; a JSONL dead-letter file starts with "{".
    try:
        with open(path, "rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


async def replay(
    source: str | os.PathLike[str] | Outbox,
    url: str,
    *,
    config: SenderConfig | None = None,
    client: WebhookClient | None = None,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
) -> ReplayResult:
    """Send dead letters again, in order: from a JSONL file, or from an outbox.

    Each record is planned again and its first ``delivered_requests`` requests are
    skipped: the parts Discord already showed are not posted twice. The rest of a forum
    post whose first request was delivered goes into the thread that request created
    (the record's ``thread_id``). A record written with ``dead_letter_attachments=False``
    holds file metadata only; it is replayed without those files (and without embed
    images that referred to them) and a warning names them. Failures are collected,
    never raised, so one bad record does not stop the rest.

    From an outbox (a SQLite outbox file, a ``redis://`` URL, or an
    :class:`~trio_webhook.outbox.Outbox`), only the dead letters of ``url``'s webhook
    not replayed yet are sent, and each one delivered (or with nothing left to send) is
    marked replayed: replaying twice does not post twice. The webhook's lease is held
    meanwhile, so a sender of another process on the same webhook and file refuses to
    run at the same time.

    Args:
        source: The JSONL file written by a sender's dead-letter sink, or an outbox (its
            file's path, or the object).
        url: The webhook to deliver to (records never hold tokens, so it is needed).
        config: Timeouts, retry policy, strategy and ``wait`` for the client made here.
        client: A client to deliver through instead (not closed here).
        ssl_context: Trust for the server's certificate, for the client made here.
        transport: How the client made here reaches Discord, such as
            ``FakeDiscord.transport()``.

    Returns:
        How many records were delivered, which failed and why, how many were skipped.

    Raises:
        DeadLetterFormatError: A line of the file is not a record.
        OutboxLeaseHeld: Another process is delivering this webhook from the outbox.
        OSError: The file cannot be read.

    Example::

        result = await replay("dead.jsonl", url)
        for record, error in result.failed:
            print(record.reason, error)

    Cancellation: records already replayed stay delivered (and, in an outbox, marked).
    """
    config = config if config is not None else SenderConfig()
    own_client = client is None
    if client is None:
        client = client_from_config(url, config, ssl_context=ssl_context, transport=transport)
    async with closing_client(client, own=own_client):
        return await _replay_from(source, client, config)


async def _replay_from(
    source: str | os.PathLike[str] | Outbox, client: WebhookClient, config: SenderConfig
) -> ReplayResult:
    if isinstance(source, Outbox) or is_redis_url(source) or _is_sqlite(source):
        async with shared_outbox(source) as outbox:
            assert outbox is not None
            return await _replay_outbox(outbox, client, config)
    tally = _Tally()
    for record in read(source):
        await tally.replay(client, record, config)
    return tally.result()


async def _replay_outbox(
    outbox: Outbox, client: WebhookClient, config: SenderConfig
) -> ReplayResult:
    webhook_id = client.url.webhook_id
    await outbox.claim(webhook_id)
    tally = _Tally()
    try:
        for stored in await outbox.dead_letters(webhook_id):
            if await tally.replay(client, stored.record, config):
                with trio.CancelScope(shield=True):
                    await outbox.mark_replayed(stored.entry)
    finally:
        with trio.CancelScope(shield=True):
            await outbox.release(webhook_id)
    return tally.result()


@attrs.define
class _Tally:
    delivered: int = 0
    skipped: int = 0
    failed: list[tuple[DeadLetter, str]] = attrs.Factory(list)

    async def replay(self, client: WebhookClient, record: DeadLetter, config: SenderConfig) -> bool:
        """Send what is left of ``record``; whether nothing of it is left to send."""
        try:
            plan = plan_requests(
                _replayable(record),
                max_upload_bytes=config.max_upload_bytes,
                split_content=config.split_content,
            )
            if record.delivered_requests >= len(plan):
                self.skipped += 1
                return True
            progress = PlanProgress(record.delivered_requests, thread_id=record.thread_id)
            await client.execute_plan(plan, wait=config.wait, thread_id=None, progress=progress)
        except (ValidationError, DeliveryFailed, DiscordHTTPError, TransportError) as exc:
            self.failed.append((record, redact(str(exc))))
            return False
        self.delivered += 1
        return True

    def result(self) -> ReplayResult:
        return ReplayResult(
            delivered=self.delivered, failed=tuple(self.failed), skipped=self.skipped
        )
