"""Serving the relay with hypercorn's trio worker, and stopping it gracefully.

Shutdown order: new posts are answered 503 at once, every sender drains within its
``drain_timeout`` (what is left stays in the outbox for the next start), then the
server stops.
"""

from __future__ import annotations

import logging
import signal
import ssl
from functools import partial
from typing import Any, Final, cast

import trio

from trio_webhook.relay._app import RelayApp
from trio_webhook.relay._config import RelayConfig
from trio_webhook.relay._lanes import open_lanes

__all__ = ["RelayRefused", "preflight", "run_relay", "serve_relay"]

logger: Final = logging.getLogger("trio_webhook.relay")
_server_log: Final = logging.getLogger("trio_webhook.relay.server")


class RelayRefused(Exception):
    """The relay will not start as configured (an open proxy, or a missing extra)."""


def _hypercorn() -> Any:
    try:
        import hypercorn.config
        import hypercorn.trio
        import python_multipart  # noqa: F401 -- needed for multipart bodies
    except ModuleNotFoundError as exc:
        name = (exc.name or "").partition(".")[0]
        raise RelayRefused(
            f"the relay needs the 'relay' extra ({name} is not installed): "
            "pip install 'trio-webhook[relay]'"
        ) from None
    return hypercorn


def preflight(config: RelayConfig) -> None:
    """Check, before anything starts, that the relay may and can start.

    Raises:
        RelayRefused: One line: the config would make an open proxy, or the ``relay``
            extra is missing (naming the ``pip install``).
    """
    refusal = config.refusal()
    if refusal is not None:
        raise RelayRefused(refusal)
    _hypercorn()


def _server_config(hypercorn: Any, config: RelayConfig) -> Any:
    host, port = config.host_port
    hc = hypercorn.config.Config()
    hc.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    hc.accesslog = None  # its lines hold the path, and so the token; the app logs its own
    hc.errorlog = _server_log
    hc.graceful_timeout = 2.0
    return hc


async def serve_relay(
    config: RelayConfig,
    shutdown: trio.Event,
    *,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the relay until ``shutdown`` is set, then drain and stop.

    Args:
        config: The relay's settings.
        shutdown: Set it to stop the relay gracefully.
        ssl_context: Trust for the upstream's certificate; by default from
            ``config.ca_file`` (or the system's).
        task_status: Started with the URL the relay listens on.

    Raises:
        RelayRefused: The config would make an open proxy, or the extra is missing.
    """
    preflight(config)
    hypercorn = _hypercorn()
    if ssl_context is None and config.ca_file is not None:
        ssl_context = ssl.create_default_context(cafile=config.ca_file)
    async with open_lanes(config, ssl_context=ssl_context) as lanes, trio.open_nursery() as nursery:
        stop_server = trio.Event()
        urls = await nursery.start(
            partial(
                hypercorn.trio.serve,
                cast(Any, RelayApp(lanes)),
                _server_config(hypercorn, config),
                shutdown_trigger=stop_server.wait,
            )
        )
        task_status.started(str(urls[0]))
        try:
            await shutdown.wait()
            logger.info("stopping: draining the senders (up to %g s)", config.sender.drain_timeout)
            await lanes.aclose()
        finally:
            stop_server.set()


async def run_relay(config: RelayConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
    """Serve the relay until SIGTERM or SIGINT, then stop gracefully.

    Raises:
        RelayRefused: See :func:`preflight`, which runs first.
    """
    preflight(config)
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    logger.info("received %s", signal.Signals(signum).name)
                    shutdown.set()
                    return

        nursery.start_soon(on_signal)
        url = await nursery.start(partial(serve_relay, config, shutdown, ssl_context=ssl_context))
        logger.info("relay listening on %s, delivering to %s", url, config.upstream)
        await shutdown.wait()
