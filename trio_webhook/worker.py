"""Workers: deliver what producers put in a Redis outbox, from as many machines as you like.

Producers append with :func:`trio_webhook.outbox.enqueue` (or a sender with
``outbox="redis://..."``); a worker is given the webhook URLs it may deliver to (tokens
never go to Redis) and delivers each ready webhook's messages in order, holding a lease
so that no two workers deliver the same webhook at once. ``trio-webhook worker`` runs one
from the command line. See ``docs/many-processes.md``.

Example::

    async with open_worker("redis://127.0.0.1:6379/0", webhooks=[url1, url2]) as worker:
        ...  # worker.stats(): delivered, dead, recovered_ambiguous, leases
"""

from trio_webhook._worker import open_worker, run_worker
from trio_webhook._worker_loop import Worker, WorkerStats

__all__ = ["Worker", "WorkerStats", "open_worker", "run_worker"]
