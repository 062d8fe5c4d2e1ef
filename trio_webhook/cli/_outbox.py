"""The outbox on the command line: ``send-batch --outbox`` and ``trio-webhook outbox``.

``send-batch --outbox FILE`` first commits the batch to the outbox, with a cursor in the
same commits (the batch file's hash and how many of its messages are in), then delivers
from the outbox. Killed at any point (Ctrl-C, a crash), the same command resumes: the
cursor says where the batch stopped, and the outbox holds what was not delivered.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs
import click
import trio

from trio_webhook._config import SenderConfig
from trio_webhook._models import Message
from trio_webhook._url import parse_webhook_url
from trio_webhook.cli._input import InputError
from trio_webhook.cli._output import friendly, print_table

if TYPE_CHECKING:
    from trio_webhook._sender import SenderStats
    from trio_webhook.cli._send import ProgressFn
    from trio_webhook.outbox import WebhookSummary
    from trio_webhook.transport import Transport

__all__ = ["batch_key", "outbox", "send_messages_durably"]

# Appends go in slices, each with its cursor: a crash repeats at most nothing.
_APPEND_SLICE: Final = 100
_POLL_SECONDS: Final = 0.1


def batch_key(path: str | Path, webhook_id: str) -> str:
    """The cursor key of one batch file for one webhook: its content's hash, not its name."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:32]
    return f"send-batch:{webhook_id}:{digest}"


async def send_messages_durably(
    url: str,
    messages: Sequence[Message],
    *,
    outbox_path: str,
    key: str,
    config: SenderConfig,
    ssl_context: ssl.SSLContext | None = None,
    transport: Transport | None = None,
    progress: ProgressFn | None = None,
) -> SenderStats:
    """Commit ``messages`` to the outbox (resuming at the batch's cursor), then deliver.

    Returns once nothing of the webhook is pending in the outbox, or the sender closed.
    """
    from trio_webhook._durable import shared_outbox
    from trio_webhook._sender import open_webhook_sender

    webhook_id = parse_webhook_url(url).webhook_id
    config = attrs.evolve(config, outbox=outbox_path)
    async with shared_outbox(outbox_path) as box:
        assert box is not None
        start = await box.cursor(key)
        for i in range(start, len(messages), _APPEND_SLICE):
            part = messages[i : i + _APPEND_SLICE]
            await box.append(webhook_id, part, cursor=(key, i + len(part)))
        async with open_webhook_sender(
            url, config=config, ssl_context=ssl_context, transport=transport
        ) as sender:
            # Everything is delivered from the outbox (the restart path): wait until
            # none of this webhook's messages is pending, reporting as they resolve.
            while True:
                stats = sender.stats()
                if progress is not None:
                    progress(stats.delivered, stats.dead)
                pending = [s for s in await box.summary() if s.webhook_id == webhook_id]
                if not pending or pending[0].pending == 0:
                    break
                await trio.sleep(_POLL_SECONDS)
    return sender.stats()


@click.command("outbox")
@click.argument("path", metavar="OUTBOX.db")
@friendly
def outbox(path: str) -> None:
    """Show what an outbox holds, per webhook: pending, in flight, dead, replayed."""
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    summaries = trio.run(_summary, path)
    if not summaries:
        click.echo(f"{path}: empty")
        return
    for s in summaries:
        oldest = s.oldest_pending.isoformat(timespec="seconds") if s.oldest_pending else "-"
        print_table(
            f"webhook {s.webhook_id}",
            [
                ("pending", str(s.pending)),
                ("in flight at a stop (may be on Discord)", str(s.maybe_posted)),
                ("dead letters", str(s.dead)),
                ("replayed", str(s.replayed)),
                ("oldest pending", oldest),
                ("delivering now", s.holder or "nobody"),
            ],
        )


async def _summary(path: str) -> list[WebhookSummary]:
    from trio_webhook.outbox import SQLiteOutbox

    async with SQLiteOutbox(path) as box:
        return list(await box.summary())
