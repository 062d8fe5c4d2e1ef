"""The commands that run the fake Discord: ``demo`` and ``serve-fake``.

The fake is part of the package, but what serves it (hypercorn, trustme, python-multipart)
comes with the ``testing`` extra, which the ``cli`` extra does not pull in. Both commands
check for it first and, when it is missing, say which extra to install (exit status 2);
nothing of the fake is imported until a command runs.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Final, cast, get_args

import click
import trio

from trio_webhook._config import Strategy
from trio_webhook.cli._input import ENV_URL
from trio_webhook.cli._output import demo_rows, fail, friendly, print_table, with_progress

__all__ = ["demo", "serve_fake"]

_STRATEGIES: Final = get_args(Strategy)


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


@click.command()
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
    click.echo(
        f"trio-webhook demo: {messages} messages with embeds and files, sent to a fake "
        "Discord on 127.0.0.1 over TLS that keeps Discord's limits (5 requests per 2 s per "
        f"webhook; 30 messages a minute per channel, never announced) at {1 / time_scale:g}x "
        f"speed and injects a fault into {faults:.0%} of requests: watch the sender pace "
        "itself, retry, and account for every message.",
        err=True,
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


@click.command("serve-fake")
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
