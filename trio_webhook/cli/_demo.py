"""The ``trio-webhook demo``: a few hundred messages through a fake Discord over TLS.

The demo starts :class:`~trio_webhook.testing.FakeDiscord` on 127.0.0.1 with Discord's
realistic limits (a bucket of 5 requests per 2 s, the hidden channel limit of 30
messages per minute), a small rate of injected 5xx and 429 faults, and every window
shrunk by ``time_scale``. It sends messages with embeds and small generated attachments
through :func:`~trio_webhook.open_webhook_sender` and reports what happened.

Everything here runs without the command line (:func:`run_demo`), so that tests drive it
directly.
"""

from __future__ import annotations

import importlib
import random
import struct
import zlib
from typing import TYPE_CHECKING, Final

import attrs
import trio

from trio_webhook._client_setup import client_from_config
from trio_webhook._config import SenderConfig, Strategy
from trio_webhook._models import Embed, EmbedField, EmbedFooter, EmbedMedia, FilePart, Message
from trio_webhook._planning import plan_requests
from trio_webhook._sender import SenderStats, open_webhook_sender
from trio_webhook._sinks import MemorySink
from trio_webhook.cli._send import ProgressFn, watching
from trio_webhook.ratelimit import (
    AdaptiveStrategy,
    ProactiveStrategy,
    RateLimitTracker,
    ReactiveStrategy,
)
from trio_webhook.ratelimit import Strategy as StrategyObject

if TYPE_CHECKING:
    from trio_webhook.testing import FakeDiscord, FakeDiscordServer

__all__ = [
    "FAKE_MODULES",
    "DemoOptions",
    "DemoResult",
    "missing_fake_module",
    "minimum_seconds",
    "run_demo",
    "scaled_strategy",
    "tiny_png",
]

# Discord's limits, as the demo's fake enforces them before scaling.
BUCKET_LIMIT: Final = 5
BUCKET_WINDOW: Final = 2.0
CHANNEL_LIMIT: Final = 30
CHANNEL_WINDOW: Final = 60.0
# The injected faults: server errors and a 429 in milliseconds (old API versions). Not the
# bare 429 (rate_limit_no_body): that is an IP-wide ban by Discord's edge, which pauses
# every webhook for at least a minute, and would turn a 10-s demo into a 70-s one.
FAULT_KINDS: Final = ("server_error", "retry_after_ms")

FAKE_MODULES: Final = ("hypercorn", "trustme", "python_multipart")
"""What the fake Discord needs beside the package: the ``testing`` extra."""


@attrs.frozen(kw_only=True)
class DemoOptions:
    """How big and how hostile the demo is.

    Attributes:
        messages: Messages to send.
        faults: Probability that the fake injects a fault (a 5xx or a 429) into a request.
        strategy: The sender's rate-limit strategy.
        time_scale: Multiplies every window of the fake (0.05 turns 2 s into 0.1 s).
        seed: Seeds the fake and the sender's jitter, so a run can be repeated.
        attachment_every: Every n-th message carries two small files (0: none).
        burst: Enqueue with ``send_nowait`` in a tight loop (shows shedding above the
            high-water mark) instead of ``await send()``, which waits for room.
    """

    messages: int = 300
    faults: float = 0.01
    strategy: Strategy = "adaptive"
    time_scale: float = 0.05
    seed: int = 0
    attachment_every: int = 10
    burst: bool = False


@attrs.frozen(kw_only=True)
class DemoResult:
    """What a demo run did.

    Attributes:
        options: The options it ran with.
        stats: The sender's counters after it closed.
        planned_requests: Requests the messages needed (before retries).
        fake_requests: Requests the fake received.
        fake_messages: Messages the fake stored.
        fake_rate_limited: Real 429s the fake sent, by scope (injected ones are faults).
        fake_faults: Faults the fake injected, by kind.
        dead_letters: Dead-letter records written.
        elapsed: Seconds from the first message to the last receipt.
        minimum: The least time Discord's limits allow for ``planned_requests``.
    """

    options: DemoOptions
    stats: SenderStats
    planned_requests: int
    fake_requests: int
    fake_messages: int
    fake_rate_limited: dict[str, int]
    fake_faults: dict[str, int]
    dead_letters: int
    elapsed: float
    minimum: float

    @property
    def ok(self) -> bool:
        """Whether every message ended delivered or dead-lettered (nothing was lost)."""
        s = self.stats
        return s.in_flight == 0 and s.enqueued == s.delivered + s.dead == self.options.messages


def missing_fake_module() -> str | None:
    """The first module of the ``testing`` extra that cannot be imported, or ``None``.

    The fake itself is part of the package; what it serves with (hypercorn, trustme for
    TLS, python-multipart for uploads) comes with the extra, which the ``cli`` extra
    does not pull in.
    """
    for name in FAKE_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def minimum_seconds(requests: int, *, time_scale: float) -> float:
    """The least time ``requests`` executes to one webhook take under Discord's limits.

    Windows are fixed and open at the first request, so ``n`` requests under a limit of
    ``k`` per window span ``floor((n - 1) / k)`` whole windows; the binding limit is the
    larger of the webhook's bucket and the channel's hidden limit.
    """
    if requests <= 0:
        return 0.0
    bucket = (requests - 1) // BUCKET_LIMIT * BUCKET_WINDOW
    channel = (requests - 1) // CHANNEL_LIMIT * CHANNEL_WINDOW
    return max(bucket, channel) * time_scale


def tiny_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour (no image library needed).

    Returns:
        The PNG file's bytes.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


_COLOURS: Final = (0x5865F2, 0x57F287, 0xFEE75C, 0xEB459E, 0xED4245)


def demo_message(n: int, *, with_files: bool) -> Message:
    """The demo's ``n``-th message: a build report embed, with a chart and a log if asked."""
    colour = _COLOURS[n % len(_COLOURS)]
    embed = Embed(
        title=f"build #{n} passed",
        description=f"Pipeline {n} finished: {n % 7 + 3} jobs, {n % 50 + 10} s.",
        color=colour,
        fields=[
            EmbedField("branch", "main", inline=True),
            EmbedField("commit", f"{(n * 2654435761) % 16**7:07x}", inline=True),
        ],
        footer=EmbedFooter("trio-webhook demo"),
    )
    files: list[FilePart] = []
    if with_files:
        rgb = ((colour >> 16) & 0xFF, (colour >> 8) & 0xFF, colour & 0xFF)
        files = [
            FilePart(f"chart-{n}.png", data=tiny_png(16, 8, rgb)),
            FilePart(f"build-{n}.log", data=f"build {n}: ok\n".encode() * 20),
        ]
        embed = attrs.evolve(embed, image=EmbedMedia(f"attachment://chart-{n}.png"))
    return Message(embeds=[embed], attachments=files)


def scaled_strategy(name: Strategy, time_scale: float) -> StrategyObject:
    """The strategy ``name`` with its own time constants scaled like the fake's windows.

    The strategies' defaults (the adaptive one's learned windows and how long evidence
    lasts, the reset jitter) are in real seconds, tuned for Discord's real windows; a demo
    that shrinks Discord's windows must shrink them too, or one injected 429 would make
    the sender pace itself for a real minute.
    """
    if name == "reactive":
        return ReactiveStrategy(reset_jitter=0.25 * time_scale)
    if name == "proactive":
        return ProactiveStrategy(reset_jitter=0.01 * time_scale)
    return AdaptiveStrategy(
        evidence_ttl=600.0 * time_scale,
        max_window=120.0 * time_scale,
        default_window=CHANNEL_WINDOW * time_scale,
        reset_jitter=0.01 * time_scale,
    )


def _demo_fake(options: DemoOptions) -> FakeDiscord:
    from trio_webhook.testing import FakeDiscord

    fake = FakeDiscord(
        seed=options.seed,
        bucket_limit=BUCKET_LIMIT,
        bucket_window=BUCKET_WINDOW,
        channel_limit=CHANNEL_LIMIT,
        channel_window=CHANNEL_WINDOW,
        time_scale=options.time_scale,
    )
    if options.faults > 0:
        fake.fault_rate(options.faults, kinds=FAULT_KINDS)
    return fake


def _demo_config(options: DemoOptions, sink: MemorySink) -> SenderConfig:
    # Backoff shrunk like the windows, and more attempts than the default, so that the
    # injected faults seldom end in the dead-letter sink.
    return SenderConfig(
        strategy=options.strategy,
        dead_letter=sink,
        seed=options.seed,
        backoff_base=0.05,
        backoff_cap=2.0,
        max_attempts=8,
        drain_timeout=30.0,
    )


async def _deliver(
    server: FakeDiscordServer,
    url: str,
    messages: list[Message],
    options: DemoOptions,
    config: SenderConfig,
    progress: ProgressFn | None,
) -> tuple[SenderStats, float]:
    """Send ``messages`` through a sender; its counters and the seconds it took."""
    start = trio.current_time()
    tracker = RateLimitTracker(
        strategy=scaled_strategy(options.strategy, options.time_scale),
        rng=random.Random(options.seed),
    )
    client = client_from_config(url, config, tracker=tracker, ssl_context=server.ssl_context)
    async with (
        client,
        open_webhook_sender(url, config=config, client=client) as sender,
        watching(progress) as watch,
    ):
        for message in messages:
            watch(sender.send_nowait(message) if options.burst else await sender.send(message))
    return sender.stats(), trio.current_time() - start


async def run_demo(options: DemoOptions, *, progress: ProgressFn | None = None) -> DemoResult:
    """Run the demo: serve a fake Discord over TLS, send, and count.

    Args:
        options: Size, faults, strategy and time scale.
        progress: Called with ``(delivered, dead)`` as each message resolves.

    Returns:
        The counters of the sender and of the fake, and the timing.

    Resource handling:
        The fake server and the sender live inside this call; both are closed on return,
        and cancelling the call dead-letters what is still queued (reason ``shutdown``).
    """
    from trio_webhook.testing import serve_fake_discord

    fake = _demo_fake(options)
    hook = fake.create_webhook(name="demo")
    every = options.attachment_every
    messages = [
        demo_message(n, with_files=every > 0 and n % every == 0)
        for n in range(1, options.messages + 1)
    ]
    planned = sum(len(plan_requests(m)) for m in messages)
    sink = MemorySink(include_attachments=False)
    config = _demo_config(options, sink)
    async with serve_fake_discord(fake, tls=True) as server:
        url = server.webhook_url(hook)
        stats, elapsed = await _deliver(server, url, messages, options, config, progress)
    fake_stats = fake.stats()
    return DemoResult(
        options=options,
        stats=stats,
        planned_requests=planned,
        fake_requests=fake_stats.requests,
        fake_messages=fake_stats.messages,
        fake_rate_limited=dict(fake_stats.rate_limited),
        fake_faults=dict(fake_stats.faults),
        dead_letters=len(sink.records),
        elapsed=elapsed,
        minimum=minimum_seconds(planned, time_scale=options.time_scale),
    )
