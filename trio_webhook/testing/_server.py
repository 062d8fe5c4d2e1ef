"""Serve a FakeDiscord over real sockets: TLS with a trustme certificate, or plain HTTP."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import attrs
import trio

from trio_webhook.testing._asgi import ConnectionDroppedError

if TYPE_CHECKING:
    from trio_webhook.testing._fake import FakeDiscord, FakeWebhook

__all__ = ["FakeDiscordServer", "serve_fake_discord"]


class _HideInjectedDrops(logging.Filter):
    """Keeps hypercorn's error log free of the tracebacks of injected dropped connections."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ConnectionDroppedError)


_error_log = logging.getLogger("trio_webhook.testing.server")
_error_log.addFilter(_HideInjectedDrops())


@attrs.frozen
class FakeDiscordServer:
    """A running fake Discord, reachable over loopback.

    Attributes:
        fake: The fake it serves (for setup and assertions).
        url: The server's origin, such as ``https://127.0.0.1:45749``.
        ca: The ``trustme.CA`` that signed its certificate (``None`` without TLS).
        ssl_context: A client context that trusts that CA; pass it as
            ``httpx.AsyncClient(verify=server.ssl_context)``. Without TLS it is a default
            context, unused by ``http://`` URLs but handy to pass the same way.
    """

    fake: FakeDiscord
    url: str
    ca: Any
    ssl_context: ssl.SSLContext

    def webhook_url(self, hook: FakeWebhook) -> str:
        """The URL of a webhook of the fake on this server, as Discord shows it."""
        return f"{self.url}/api/webhooks/{hook.id}/{hook.token}"


@asynccontextmanager
async def serve_fake_discord(
    fake: FakeDiscord | None = None, *, tls: bool = True, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[FakeDiscordServer]:
    """Serve a fake Discord with hypercorn's trio worker for the duration of the block.

    Args:
        fake: The fake to serve; a new ``FakeDiscord()`` when ``None``.
        tls: Serve HTTPS with a certificate for ``host`` from a fresh ``trustme.CA``;
            plain HTTP when ``False``.
        host: The address to bind; keep a numeric loopback address (a name lookup runs
            in a thread, which ``MockClock`` mistakes for idleness).
        port: The port to bind; 0 picks a free one.

    Yields:
        The running server: its URL, and with TLS the CA and a client SSL context.

    Resource handling:
        The server runs in a nursery owned by the block and shuts down when the block
        exits (connections still open get a short grace period). The certificate's
        temporary file is removed once the server has loaded it.

    Error handling:
        A failure to bind escapes from the ``async with``.

    Example::

        async with serve_fake_discord(fake) as server:
            async with httpx.AsyncClient(verify=server.ssl_context) as http:
                await http.post(server.webhook_url(hook), json={"content": "hi"})
    """
    # hypercorn belongs to the `testing` extra; imported only when serving.
    import hypercorn.trio

    from trio_webhook.testing._fake import FakeDiscord

    if fake is None:
        fake = FakeDiscord()
    config = _config(host, port)
    client_context = ssl.create_default_context()
    shutdown = trio.Event()
    with ExitStack() as files:
        ca = _set_up_tls(config, client_context, host, files) if tls else None
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(
                partial(
                    hypercorn.trio.serve,
                    cast(Any, fake),
                    config,
                    shutdown_trigger=shutdown.wait,
                )
            )
            files.close()
            try:
                yield FakeDiscordServer(fake, str(urls[0]), ca, client_context)
            finally:
                shutdown.set()


def _config(host: str, port: int) -> Any:
    """The server's hypercorn settings: bind ``host:port``, no access log, quiet drops."""
    import hypercorn.config

    config = hypercorn.config.Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = _error_log
    config.graceful_timeout = 1.0
    return config


def _set_up_tls(config: Any, client_context: ssl.SSLContext, host: str, files: ExitStack) -> Any:
    """Give ``config`` a certificate for ``host`` from a new CA that ``client_context`` trusts.

    Returns:
        The ``trustme.CA``. The certificate's temporary file lives until ``files`` closes.
    """
    # trustme belongs to the `testing` extra; imported only when serving TLS.
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(host)
    pem = files.enter_context(cert.private_key_and_cert_chain_pem.tempfile())
    config.certfile = pem
    config.keyfile = pem
    ca.configure_trust(client_context)
    return ca
