"""The ``trio-webhook`` commands: demo, send, send-batch, replay, serve-fake, validate.

Every command turns bad input (a malformed URL, an unreadable file, invalid JSON, a
message over Discord's limits, an error from Discord) into one line on stderr and a
non-zero exit status; webhook tokens are redacted from everything it prints, except the
URL of the fake that ``serve-fake`` creates for you.

The commands only parse options and print: reading input lives in ``_input``, the work
in ``_send`` and ``_demo``, rendering in ``_output``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, cast, get_args

import attrs
import click
import trio

from trio_webhook._config import SenderConfig, Strategy
from trio_webhook._errors import ValidationError
from trio_webhook._limits import validate
from trio_webhook._models import FilePart, Message
from trio_webhook._planning import plan_requests
from trio_webhook._url import redact
from trio_webhook._version import __version__
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
from trio_webhook.cli._output import (
    demo_rows,
    fail,
    friendly,
    print_plan,
    print_table,
    stats_rows,
    with_progress,
)
from trio_webhook.cli._send import replay_file, send_message, send_messages

__all__ = ["cli"]


_STRATEGIES: Final = get_args(Strategy)
URL_HELP: Final = f"The webhook URL; defaults to ${ENV_URL} (keeps it out of shell history)."


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


def _need_the_fake(command: str) -> None:
    """Stop with exit status 2 and the extra to install when the fake cannot run."""
    from trio_webhook.cli._demo import missing_fake_module

    missing = missing_fake_module()
    if missing is not None:
        fail(
            f"`trio-webhook {command}` runs the fake Discord, which needs the 'testing' "
            f"extra ({missing} is not installed): pip install 'trio-webhook[demo]'",
            code=2,
        )


def _url_argument(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("url", required=False, envvar=ENV_URL)(fn)


_ca_option = click.option(
    "--ca-file",
    metavar="PEM",
    help="Trust this CA certificate too (for `serve-fake` over TLS).",
)


@cli.command()
@click.option("--messages", default=300, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--faults",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Probability of an injected 5xx or 429 in each request.",
)
@click.option("--strategy", type=click.Choice(_STRATEGIES), default="adaptive", show_default=True)
@click.option(
    "--time-scale",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0.0, 10.0, min_open=True),
    help="Multiplies Discord's windows (2 s bucket, 60 s channel limit).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--burst",
    is_flag=True,
    help="Enqueue with send_nowait in a tight loop (shows shedding) instead of await send().",
)
@friendly
def demo(
    messages: int, faults: float, strategy: str, time_scale: float, seed: int, burst: bool
) -> None:
    """Send messages to a fake Discord over TLS on 127.0.0.1 and show what happened.

    The fake enforces Discord's limits (5 requests per 2 s per webhook, the unannounced
    30 messages per minute per channel), scaled by --time-scale, and injects a few
    faults. Exits 0 when every message ended delivered or dead-lettered.
    """
    _need_the_fake("demo")
    from trio_webhook.cli._demo import DemoOptions, run_demo

    options = DemoOptions(
        messages=messages,
        faults=faults,
        strategy=cast(Strategy, strategy),
        time_scale=time_scale,
        seed=seed,
        burst=burst,
    )
    result = with_progress(
        messages,
        lambda update: trio.run(functools.partial(run_demo, options, progress=update)),
        "demo",
    )
    print_table("trio-webhook demo", demo_rows(result))
    if not result.ok:
        s = result.stats
        fail(
            f"lost track of messages: enqueued {s.enqueued}, delivered {s.delivered}, "
            f"dead {s.dead}, in flight {s.in_flight}"
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
@_ca_option
@friendly
def send_batch(
    args: tuple[str, ...],
    dead_letter: str | None,
    strategy: str | None,
    config_file: str | None,
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
    stats = with_progress(
        len(messages),
        lambda update: trio.run(
            functools.partial(
                send_messages, url, messages, config=config, ssl_context=context, progress=update
            )
        ),
        "sending",
    )
    print_table("send-batch", stats_rows(stats))
    if stats.dead:
        where = f" to {config.dead_letter}" if isinstance(config.dead_letter, str) else ""
        fail(f"{stats.dead} of {stats.enqueued} message(s) dead-lettered{where}")


@cli.command()
@click.argument("path", metavar="DEAD.jsonl")
@_url_argument
@click.option(
    "--dead-letter", metavar="FILE", help="Append messages that fail again to this JSONL."
)
@_ca_option
@friendly
def replay(path: str, url: str | None, dead_letter: str | None, ca_file: str | None) -> None:
    """Send the messages of a dead-letter file again, skipping parts already delivered.

    URL defaults to $TRIO_WEBHOOK_URL.
    """
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


@cli.command("serve-fake")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tls/--no-tls", default=True, show_default=True)
@click.option("--ca-out", metavar="PEM", help="Write the CA certificate (TLS) to this file.")
@click.option("--bucket-limit", default=5, show_default=True, type=click.IntRange(1))
@click.option("--bucket-window", default=2.0, show_default=True, type=click.FloatRange(0.0))
@click.option(
    "--channel-limit",
    default=30,
    show_default=True,
    type=click.IntRange(0),
    help="Messages per channel per window, never announced; 0 turns it off.",
)
@click.option("--channel-window", default=60.0, show_default=True, type=click.FloatRange(0.0))
@click.option("--global-limit", type=click.IntRange(1), help="Requests per second over all.")
@click.option(
    "--time-scale", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True)
)
@click.option("--faults", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--exit-after", type=float, hidden=True, help="Stop after this many seconds.")
@friendly
def serve_fake(
    host: str,
    port: int,
    tls: bool,
    ca_out: str | None,
    bucket_limit: int,
    bucket_window: float,
    channel_limit: int,
    channel_window: float,
    global_limit: int | None,
    time_scale: float,
    faults: float,
    seed: int,
    exit_after: float | None,
) -> None:
    """Serve a fake Discord and print a ready webhook URL; runs until Ctrl-C."""
    _need_the_fake("serve-fake")
    from trio_webhook.testing import FakeDiscord, serve_fake_discord

    if tls and ca_out is None:
        click.echo("note: without --ca-out clients cannot trust the certificate", err=True)
    fake = FakeDiscord(
        seed=seed,
        bucket_limit=bucket_limit,
        bucket_window=bucket_window,
        channel_limit=channel_limit or None,
        channel_window=channel_window,
        global_limit=global_limit,
        time_scale=time_scale,
    )
    if faults:
        fake.fault_rate(faults)
    hook = fake.create_webhook()

    async def serve() -> None:
        async with serve_fake_discord(fake, tls=tls, host=host, port=port) as server:
            if tls and ca_out is not None:
                server.ca.cert_pem.write_to_path(ca_out)
            url = server.webhook_url(hook)
            click.echo(f"serving a fake Discord at {server.url}")
            if tls and ca_out is not None:
                click.echo(f"CA certificate: {ca_out} (pass --ca-file {ca_out})")
            click.echo(f"webhook URL: {url}")
            click.echo(f"export {ENV_URL}='{url}'", err=True)
            sys.stdout.flush()
            if exit_after is None:
                await trio.sleep_forever()
            else:
                await trio.sleep(exit_after)

    with contextlib.suppress(KeyboardInterrupt):
        trio.run(serve)
    stats = fake.stats()
    click.echo(f"stopped: {stats.requests} request(s), {stats.messages} message(s) stored")
