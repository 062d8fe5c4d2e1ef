"""A hub's lane (a sender that reports what it settles) and the transport lanes borrow."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import attrs
import trio

from trio_webhook._client import WebhookClient
from trio_webhook._config import SenderConfig
from trio_webhook._draining import running
from trio_webhook._durable import Durable
from trio_webhook._receipts import Item, SenderStats
from trio_webhook._sender import WebhookSender
from trio_webhook.outbox import Outbox, OutboxLeaseHeld, PendingMessage
from trio_webhook.transport._base import Transport
from trio_webhook.transport._values import HTTPRequest, HTTPResponse

__all__ = ["Borrowed", "Lane"]

logger: Final = logging.getLogger("trio_webhook")


class _Settled:
    """A settled-messages counter of the delivery loop that reports each change.

    The delivery loop counts a settled message in ``_delivered`` or ``_dead``, in
    several places; as this descriptor those two are the one point where the hub hears
    of it, without a second copy of the loop.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = f"_settled{name}"

    def __get__(self, lane: Lane, owner: type | None = None) -> int:
        value: int = lane.__dict__.get(self._name, 0)
        return value

    def __set__(self, lane: Lane, value: int) -> None:
        lane._on_settled(value - self.__get__(lane))
        lane.__dict__[self._name] = value


class Lane(WebhookSender):
    """A hub's sender for one webhook: tells the hub of every message it settles.

    With an outbox, the lane's durable shell is made at once (accepting a message only
    queues it for a commit) and opened by :meth:`open` before the lane runs, so what
    an earlier run left pending for the webhook comes first, as for a sender. With
    ``share_outbox`` on a shared outbox, a lane whose webhook another process holds
    opens as an appender, as a sender does.
    """

    _delivered = _Settled()
    _dead = _Settled()
    _kept = _Settled()

    def __init__(
        self,
        client: WebhookClient,
        config: SenderConfig,
        on_settled: Callable[[int], None],
        outbox: Outbox | None = None,
    ) -> None:
        self._on_settled = on_settled
        durable = None
        if outbox is not None:
            # Shared, the lane runs the shared delivery loop (started by running()).
            durable = Durable(outbox, client.url.webhook_id, share=config.share_outbox)
        super().__init__(client, config, durable)
        self.last_used = trio.current_time()
        # Set by stop(); and, with an outbox, the scope run() waits in until then.
        self._stopping = False
        self._idle_scope: trio.CancelScope | None = None
        self.opened = trio.Event()
        if durable is None:
            self.opened.set()  # nothing to open: hub.send never waits on the lane's task
        self.closed = trio.Event()
        self.open_error: BaseException | None = None
        self._memory_only = 0

    def idle(self) -> bool:
        """Whether every message it accepted is settled (delivered, dead or kept)."""
        return self._enqueued == self._delivered + self._dead + self._kept

    async def run(self) -> None:
        """Deliver until :meth:`stop`, then drain as a sender's block does on leaving.

        Without an outbox the delivery loop runs in this task (no task or nursery of
        its own: a thousand lanes open at once are objects the collector walks). With
        one, the loop and the committer run beside it, as a sender's.
        """
        if self._durable is None:
            if self._stopping:
                # Stopped before it ran (an outbox's open may have failed since).
                self.begin_drain()
            await self.run_until_drained()
            return
        async with running(self):
            with trio.CancelScope() as self._idle_scope:
                if self._stopping:
                    self._idle_scope.cancel()
                await trio.sleep_forever()

    def stop(self) -> None:
        """Begin closing: the queue closes, what is queued drains, then :meth:`run` returns."""
        if self._stopping:
            return
        self._stopping = True
        if self._idle_scope is not None:
            self._idle_scope.cancel()
        elif self._durable is None:
            self.begin_drain()  # the loop runs, or will, in the lane's task
        # Else run() has not begun: it sees _stopping when it does.

    async def open(self) -> None:
        """Claim the webhook in the outbox (if any); on failure, run from memory only.

        A cancelled open counts as failed: the messages ``send_nowait`` accepted
        meanwhile still get a lane that runs (and drains, as the cancellation goes on).
        """
        durable = self._durable
        try:
            if durable is not None:
                await durable.open()
        except (Exception, trio.Cancelled) as exc:
            # Cancellation is level-triggered: it is raised again at the lane's next
            # checkpoint, inside running(), whose drain settles every message.
            assert durable is not None
            await self._open_failed(durable, exc)
        finally:
            self.opened.set()

    async def _open_failed(self, durable: Durable, exc: BaseException) -> None:
        # Nobody waits on a commit yet (the hub's send waits for the open first), so
        # what send_nowait accepted is delivered from memory, as after a failed commit.
        self.open_error = exc
        self._durable = None
        self._memory_only = self._enqueued
        webhook_id = self._client.url.webhook_id
        logger.error(
            "outbox: cannot open webhook %s (%s: %s); %d message(s) accepted so far stay "
            "queued in memory only, and a crash would lose them",
            webhook_id,
            type(exc).__name__,
            exc,
            self._memory_only,
            extra={"webhook_id": webhook_id},
        )
        if not isinstance(exc, OutboxLeaseHeld):
            with trio.move_on_after(1.0, shield=True):
                try:
                    await durable.outbox.release(webhook_id)
                except Exception:
                    logger.exception("outbox: could not release webhook %s", webhook_id)

    def _recover(self, pending: PendingMessage) -> Item:
        # A recovered message is one more the hub waits on, as if just accepted.
        self._on_settled(-1)
        return super()._recover(pending)

    def stats(self) -> SenderStats:
        """A sender's snapshot, counting messages a failed open left in memory only."""
        stats = super().stats()
        if not self._memory_only:
            return stats
        return attrs.evolve(stats, outbox_errors=stats.outbox_errors + self._memory_only)


class Borrowed:
    """A transport the lanes use and never close (the hub closes it, once, at the end)."""

    # As the process's shared pool: closing a lane's client closes no connection.
    shared: Final = True

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        return await self._transport.send(request)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
