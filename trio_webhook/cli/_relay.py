"""``trio-webhook relay``: serve Discord's execute endpoint locally, until SIGTERM.

Settings come from ``--config`` (a TOML ``[relay]`` table), then ``TRIO_WEBHOOK_RELAY_*``
and ``TRIO_WEBHOOK_*`` variables, then the flags. The secret is read from an environment
variable, never from the command line (which ``ps`` shows to every user).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import attrs
import click
import trio

from trio_webhook._errors import ConfigError
from trio_webhook.cli._output import fail, friendly

__all__ = ["relay"]


def _logging(ctx: click.Context, log_format: str) -> None:
    """INFO and up from the library, one redacted line a record, for the command's life."""
    from trio_webhook.relay._logs import JSONFormatter, RedactingFormatter

    logger = logging.getLogger("trio_webhook")
    handler = logging.StreamHandler()
    text = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JSONFormatter() if log_format == "json" else text)
    saved = (list(logger.handlers), logger.level)
    logger.handlers[:] = [handler]
    logger.setLevel(min(logger.level or logging.INFO, logging.INFO))

    def restore() -> None:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])

    ctx.call_on_close(restore)


def _config(path: str | None, flags: dict[str, Any], outbox: str | None, redis: str | None) -> Any:
    from trio_webhook.relay import RelayConfig

    base = RelayConfig.from_toml(path) if path is not None else RelayConfig()
    config = RelayConfig.from_env(base=base)
    sender = config.sender
    if outbox is not None:
        sender = attrs.evolve(sender, outbox=outbox)
    if redis is not None:
        sender = attrs.evolve(sender, rate_limit_store=redis)
    changes = {k: v for k, v in flags.items() if v not in (None, ())}
    return attrs.evolve(config, sender=sender, **changes)


@click.command()
@click.option(
    "--config", "config_path", metavar="TOML", help="Read the [relay] table of this file."
)
@click.option("--listen", metavar="HOST:PORT", help="Where to listen (default 127.0.0.1:8080).")
@click.option("--public", is_flag=True, default=None, help="Allow listening beyond loopback.")
@click.option("--secret-env", metavar="VAR", help="Read the shared secret from this variable.")
@click.option("--allow", multiple=True, metavar="ID", help="Serve only this webhook id (repeat).")
@click.option("--upstream", metavar="URL", help="Discord's origin (a test or staging setting).")
@click.option("--ca-file", metavar="PEM", help="Trust this CA for the upstream.")
@click.option("--outbox", metavar="PATH|URL", help="The outbox: a SQLite file or redis:// URL.")
@click.option("--redis", metavar="URL", help="Share rate limits through this Redis.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text")
@friendly
def relay(
    config_path: str | None,
    secret_env: str | None,
    outbox: str | None,
    redis: str | None,
    log_format: str,
    **flags: Any,
) -> None:
    """Serve Discord's webhook API locally: pacing, retries and an outbox for any tool.

    Point a tool at http://HOST:PORT/api/webhooks/ID/TOKEN instead of discord.com.
    SIGTERM drains within the drain timeout; what is left stays in the outbox.
    """
    from trio_webhook.relay import RelayRefused, preflight, run_relay

    if secret_env is not None:
        if not os.environ.get(secret_env):
            fail(f"--secret-env {secret_env}: the variable is not set or empty", code=2)
        flags["secret"] = os.environ[secret_env]
    try:
        config = _config(config_path, flags, outbox, redis)
    except ConfigError as exc:
        fail(str(exc), code=2)
    try:
        preflight(config)
    except RelayRefused as exc:
        fail(str(exc), code=2)
    _logging(click.get_current_context(), log_format)
    trio.run(run_relay, config)
