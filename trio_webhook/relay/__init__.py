"""The relay: Discord's execute-webhook endpoint, served locally (the ``relay`` extra).

Tools that only know a webhook URL (Alertmanager, Grafana, ``curl``) post to
``http://relay:8080/api/webhooks/ID/TOKEN`` instead of Discord, and get the library's
pacing, retries, outbox and dead letters. See ``docs/relay.md``.

Example::

    config = RelayConfig(listen="127.0.0.1:8080", sender=SenderConfig(outbox="relay.db"))
    trio.run(run_relay, config)
"""

from trio_webhook.relay._app import RelayApp
from trio_webhook.relay._config import RelayConfig
from trio_webhook.relay._lanes import Lanes, open_lanes
from trio_webhook.relay._serve import RelayRefused, preflight, run_relay, serve_relay

__all__ = [
    "Lanes",
    "RelayApp",
    "RelayConfig",
    "RelayRefused",
    "open_lanes",
    "preflight",
    "run_relay",
    "serve_relay",
]
