"""The ``trio-webhook`` commands: demo, send, send-batch, replay, serve-fake, validate.

Every command turns bad input (a malformed URL, an unreadable file, invalid JSON, a
message over Discord's limits, an error from Discord) into one line on stderr and a
non-zero exit status; webhook tokens are redacted from everything it prints, except the
URL of the fake that ``serve-fake`` creates for you.

The commands only parse options and print: reading input lives in ``_input``, the work
in ``_send`` and ``_demo``, rendering in ``_output``; ``demo`` and ``serve-fake``, which
need the fake Discord, in ``_fake_commands``.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, get_args

import attrs
import click
import trio

from trio_webhook._config import SenderConfig, Strategy
from trio_webhook._errors import ValidationError
from trio_webhook._limits import validate
from trio_webhook._models import FilePart, Message
from trio_webhook._planning import plan_requests
from trio_webhook._url import parse_webhook_url, redact
from trio_webhook._version import __version__
from trio_webhook.cli._fake_commands import demo, serve_fake
from trio_webhook.cli._input import (
    ENV_URL,
    InputError,
    ca_context,
    embed_option,
    load_message,
    parse_snowflake,
    read_jsonl_messages,
    require_url,
    split_url_and_file,
)
from trio_webhook.cli._outbox import batch_key, outbox, send_messages_durably
from trio_webhook.cli._output import (
    ProgressLine,
    fail,
    friendly,
    print_plan,
    print_table,
    stats_rows,
    with_progress,
)
from trio_webhook.cli._relay import relay
from trio_webhook.cli._send import Interrupted, replay_file, send_message, send_messages
from trio_webhook.cli._worker import worker

if TYPE_CHECKING:
    from trio_webhook._sender import SenderStats

__all__ = ["cli"]


_STRATEGIES: Final = get_args(Strategy)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, prog_name="trio-webhook")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log warnings (-v: retries, dead letters) or everything (-vv).",
)
@click.option(
    "--traceback", is_flag=True, hidden=True, help="Show a traceback on errors (debugging)."
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, traceback: bool) -> None:
    """Deliver Discord webhook messages from trio: queued, paced, retried, dead-lettered.

    Start with `trio-webhook demo`: it needs no Discord and no network.
    """
    _configure_logging(ctx, {0: logging.ERROR, 1: logging.WARNING}.get(verbose, logging.DEBUG))
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _configure_logging(ctx: click.Context, level: int) -> None:
    """Log the library's records at ``level`` to stderr while the command runs.

    Only the ``trio_webhook`` logger is touched, and it is restored when the command
    ends, so that embedding ``cli`` (as tests do) leaves logging as it found it.
    """
    logger = logging.getLogger("trio_webhook")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    ctx.call_on_close(restore)


def _url_argument(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("url", required=False, envvar=ENV_URL)(fn)


_ca_option = click.option(
    "--ca-file",
    metavar="PEM",
    help="Trust this CA certificate too (for `serve-fake` over TLS).",
)


@cli.command()
@_url_argument
@click.option("--content", help="The message text.")
@click.option(
    "--embed",
    "embeds",
    multiple=True,
    metavar="JSON|@FILE",
    help="An embed as Discord's JSON, or @file.json (repeatable).",
)
@click.option("--file", "files", multiple=True, metavar="PATH", help="Attach a file (repeatable).")
@click.option(
    "--json",
    "message_file",
    metavar="FILE",
    help="Start from a whole message in Discord's JSON (- for stdin).",
)
@click.option("--thread-id", help="Post into this thread.")
@click.option("--username", help="Override the webhook's name.")
@click.option("--avatar-url", help="Override the webhook's avatar.")
@click.option("--dry-run", is_flag=True, help="Plan, validate and print the requests; send none.")
@_ca_option
@friendly
def send(
    url: str | None,
    content: str | None,
    embeds: tuple[str, ...],
    files: tuple[str, ...],
    message_file: str | None,
    thread_id: str | None,
    username: str | None,
    avatar_url: str | None,
    dry_run: bool,
    ca_file: str | None,
) -> None:
    """Send one message and print the id of each message Discord created.

    URL defaults to $TRIO_WEBHOOK_URL.
    """
    message = load_message(message_file) if message_file is not None else Message()
    changes: dict[str, Any] = {}
    if content is not None:
        changes["content"] = content
    if username is not None:
        changes["username"] = username
    if avatar_url is not None:
        changes["avatar_url"] = avatar_url
    if thread_id is not None:
        changes["thread_id"] = parse_snowflake(thread_id, "--thread-id")
    if embeds:
        changes["embeds"] = (*message.embeds, *(embed_option(e) for e in embeds))
    if files:
        parts = []
        for f in files:
            if not Path(f).is_file():
                raise InputError(f"--file {f}: no such file")
            parts.append(FilePart.from_path(f))
        changes["attachments"] = (*message.attachments, *parts)
    message = attrs.evolve(message, **changes)
    if dry_run:
        if url:
            require_url(url)
        print_plan(message)
        return
    url = require_url(url)
    violations = validate(message)
    if violations:
        raise ValidationError(violations)
    context = ca_context(ca_file)
    delivery = trio.run(functools.partial(send_message, url, message, ssl_context=context))
    for sent in delivery.messages:
        click.echo(sent.id)


@cli.command("send-batch")
@click.argument("args", nargs=-1, metavar="[URL] MESSAGES.jsonl")
@click.option("--dead-letter", metavar="FILE", help="Append undeliverable messages to this JSONL.")
@click.option("--strategy", type=click.Choice(_STRATEGIES), help="The rate-limit strategy.")
@click.option(
    "--config", "config_file", metavar="TOML", help="Read [trio_webhook] settings from this file."
)
@click.option(
    "--outbox",
    "outbox_path",
    metavar="FILE",
    help="Commit the batch to this SQLite outbox first; run again to resume after a crash.",
)
@_ca_option
@friendly
def send_batch(
    args: tuple[str, ...],
    dead_letter: str | None,
    strategy: str | None,
    config_file: str | None,
    outbox_path: str | None,
    ca_file: str | None,
) -> None:
    """Send every message of a JSONL file (one message a line), in order, with progress.

    URL defaults to $TRIO_WEBHOOK_URL. Settings come from TRIO_WEBHOOK_* variables,
    then --config, then the options. Exits 1 if any message was dead-lettered.
    """
    url, path = split_url_and_file(args, os.environ.get(ENV_URL), "MESSAGES.jsonl")
    url = require_url(url)
    config = SenderConfig.from_env()
    if config_file is not None:
        config = SenderConfig.from_toml(config_file, base=config)
    changes: dict[str, Any] = {}
    if dead_letter is not None:
        changes["dead_letter"] = dead_letter
    if strategy is not None:
        changes["strategy"] = strategy
    config = attrs.evolve(config, **changes)
    messages = read_jsonl_messages(path)
    for n, message in enumerate(messages, start=1):
        violations = validate(message)
        if violations:
            detail = "; ".join(str(v) for v in violations)
            raise InputError(f"{path}: message {n} breaks Discord's limits: {detail}")
    context = ca_context(ca_file)
    run = functools.partial(_run_batch, url, messages, config, context, outbox_path, path)
    interrupted = False
    try:
        stats = with_progress(len(messages), run, "sending")
    except Interrupted as stop:
        stats, interrupted = stop.stats, True
    _batch_summary(stats, config, len(messages), interrupted=interrupted)


def _run_batch(
    url: str,
    messages: list[Message],
    config: SenderConfig,
    context: ssl.SSLContext | None,
    outbox_path: str | None,
    path: str,
    line: ProgressLine,
) -> SenderStats:
    if outbox_path is not None:
        key = batch_key(path, parse_webhook_url(url).webhook_id)
        durably = functools.partial(
            send_messages_durably, url, messages, outbox_path=outbox_path, key=key
        )
        return trio.run(
            functools.partial(durably, config=config, ssl_context=context, progress=line)
        )
    send = functools.partial(
        send_messages,
        url,
        messages,
        config=config,
        ssl_context=context,
        progress=line,
        status=line.status,
        notify=line.say,
        interrupts=True,
    )
    return trio.run(send)


def _batch_summary(
    stats: SenderStats, config: SenderConfig, total: int, *, interrupted: bool
) -> None:
    """The table, the dead-letter file and its count, then the exit status."""
    sink = config.dead_letter
    kept = (
        f"{stats.dead} in {sink}"
        if isinstance(sink, str)
        else f"{stats.dead} (none kept: pass --dead-letter FILE to keep them)"
        if sink is None
        else f"{stats.dead} in {sink!r}"
    )
    print_table("send-batch", stats_rows(stats))
    # Its own line, so that a long path is never cut to the table's width.
    click.echo(f"dead letters: {kept}")
    if interrupted:
        fail(
            f"interrupted: {stats.delivered} of {total} delivered, "
            f"{stats.dead} dead-lettered, {total - stats.enqueued} not sent",
            130,
        )
    if stats.dead:
        where = f" to {sink}" if isinstance(sink, str) else ""
        fail(f"{stats.dead} of {stats.enqueued} message(s) dead-lettered{where}")


@cli.command()
@click.argument("args", nargs=-1, metavar="[URL] DEAD.jsonl")
@click.option(
    "--dead-letter", metavar="FILE", help="Append messages that fail again to this JSONL."
)
@_ca_option
@friendly
def replay(args: tuple[str, ...], dead_letter: str | None, ca_file: str | None) -> None:
    """Send the messages of a dead-letter file again, skipping parts already delivered.

    URL defaults to $TRIO_WEBHOOK_URL.
    """
    url, path = split_url_and_file(args, os.environ.get(ENV_URL), "DEAD.jsonl")
    url = require_url(url)
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    if dead_letter is not None and Path(dead_letter).resolve() == Path(path).resolve():
        raise InputError("--dead-letter must differ from the file being replayed")
    context = ca_context(ca_file)
    result = trio.run(
        functools.partial(replay_file, path, url, dead_letter=dead_letter, ssl_context=context)
    )
    for record, error in result.failed:
        click.echo(redact(f"failed again ({record.reason}): {error}"), err=True)
    print_table(
        "replay",
        [
            ("delivered", str(result.delivered)),
            ("failed again", str(len(result.failed))),
            ("skipped (already delivered)", str(result.skipped)),
        ],
    )
    if result.failed:
        where = f"; written to {dead_letter}" if dead_letter else ""
        fail(f"{len(result.failed)} record(s) failed again{where}")


@cli.command("validate")
@click.argument("path", metavar="MESSAGE.json")
@friendly
def validate_cmd(path: str) -> None:
    """Check a message (Discord's JSON) against Discord's limits; print every violation."""
    message = load_message(path)
    violations = validate(message)
    if not violations:
        try:
            plan = plan_requests(message)
        except ValidationError as exc:
            violations = list(exc.violations)
        else:
            click.echo(f"{path}: ok ({len(plan)} request(s))")
            return
    for violation in violations:
        click.echo(f"{path}: {violation}")
    fail(f"{path}: {len(violations)} violation(s) of Discord's limits")


cli.add_command(demo)
cli.add_command(serve_fake)
cli.add_command(outbox)
cli.add_command(worker)
cli.add_command(relay)
