"""``trio-webhook worker``: deliver what producers put in a Redis outbox, until stopped.

The worker is told the webhook URLs it serves (``--webhook`` repeated, ``--webhooks-file``,
or ``TRIO_WEBHOOK_WORKER_WEBHOOKS``): tokens never go to Redis, so producers store only
a webhook's id. Ctrl-C or SIGTERM stops it: each webhook's sender finishes within the
drain timeout and what is left stays pending in Redis for the next worker.
"""

from __future__ import annotations

import signal
import ssl
from functools import partial
from pathlib import Path

import click
import trio

from trio_webhook._config import SenderConfig
from trio_webhook._worker import ENV_WEBHOOKS, WorkerStats, open_worker
from trio_webhook.cli._input import InputError, ca_context
from trio_webhook.cli._output import friendly

__all__ = ["worker"]

ENV_REDIS = "TRIO_WEBHOOK_REDIS_URL"


def _read_urls(webhooks: tuple[str, ...], webhooks_file: str | None) -> list[str] | None:
    urls = list(webhooks)
    if webhooks_file is not None:
        try:
            text = Path(webhooks_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{webhooks_file}: cannot read: {exc.strerror}") from None
        urls += [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    return urls or None  # None: the environment variable


def _summary(stats: WorkerStats) -> str:
    return (
        f"worker stopped: {stats.delivered} delivered, {stats.dead} dead-lettered, "
        f"{stats.recovered_ambiguous} sent again after a crash (may show twice), "
        f"{stats.leases_taken} lease(s) taken, {stats.leases_lost} lost"
    )


async def _run(
    redis_url: str,
    urls: list[str] | None,
    config: SenderConfig,
    *,
    prefix: str,
    lease_seconds: float,
    poll_interval: float,
    max_webhooks: int | None,
    ssl_context: ssl.SSLContext | None,
) -> WorkerStats:
    async with open_worker(
        redis_url,
        webhooks=urls,
        config=config,
        prefix=prefix,
        lease_seconds=lease_seconds,
        poll_interval=poll_interval,
        max_webhooks=max_webhooks,
        ssl_context=ssl_context,
    ) as worker:
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            async for _ in signals:
                break
        return worker.stats()


@click.command()
@click.option(
    "--redis",
    "redis_url",
    required=True,
    envvar=ENV_REDIS,
    metavar="URL",
    help=f"The Redis outbox, redis://host:port/db (or ${ENV_REDIS}).",
)
@click.option(
    "--webhook",
    "webhooks",
    multiple=True,
    metavar="URL",
    help=f"A webhook this worker serves (repeatable; or ${ENV_WEBHOOKS}, whitespace-separated).",
)
@click.option(
    "--webhooks-file",
    metavar="FILE",
    help="A file of webhook URLs, one a line ('#' starts a comment).",
)
@click.option(
    "--prefix", default="trio-webhook", show_default=True, help="The outbox's key prefix."
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="How soon another worker takes over from one that hangs or dies elsewhere.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.01),
    default=0.5,
    show_default=True,
    help="Seconds between looks for work.",
)
@click.option(
    "--max-webhooks",
    type=click.IntRange(min=1),
    help="Deliver at most this many webhooks at once (default: all).",
)
@click.option("--ca-file", metavar="PEM", help="Trust this CA certificate too (a local fake).")
@friendly
def worker(
    redis_url: str,
    webhooks: tuple[str, ...],
    webhooks_file: str | None,
    prefix: str,
    lease_seconds: float,
    poll_interval: float,
    max_webhooks: int | None,
    ca_file: str | None,
) -> None:
    """Deliver the messages producers put in a Redis outbox, until Ctrl-C or SIGTERM.

    Run one on each machine (or several): each webhook is delivered by one worker at a
    time, in order, and a worker that dies is taken over after its lease.
    """
    urls = _read_urls(webhooks, webhooks_file)
    config = SenderConfig.from_env()
    stats = trio.run(
        partial(
            _run,
            redis_url,
            urls,
            config,
            prefix=prefix,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            max_webhooks=max_webhooks,
            ssl_context=ca_context(ca_file),
        )
    )
    click.echo(_summary(stats), err=True)
