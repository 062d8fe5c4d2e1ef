"""A crash loses nothing: real processes, SIGKILL at a random moment, then a restart.

A child process sends 500 messages through a sender with an outbox to a FakeDiscord the
parent serves over TLS (time-scaled, so 500 messages take about two seconds), and says
each time ``send`` returns. The parent kills it with SIGKILL at a seeded random moment,
then opens a sender on the same outbox, which delivers what the child left. Twenty seeds.

Each run asserts what the durability docs promise: every message ``send`` returned for
is on Discord exactly once, or at most twice when its request was in flight at the kill
(ambiguous); the duplicates are no more than what the restart reported as ambiguous; and
the first showing of each message is in the order it was sent.
"""

from __future__ import annotations

import collections
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from trio_webhook import SenderConfig, open_webhook_sender
from trio_webhook.outbox import SQLiteOutbox
from trio_webhook.ratelimit import RateLimitTracker
from trio_webhook.ratelimit._records import GlobalPacing
from trio_webhook.testing import FakeDiscord, serve_fake_discord

pytestmark = pytest.mark.tls

CHILD = Path(__file__).parent / "crash" / "child.py"
MESSAGES = 500
SEEDS = range(20)


async def run_child_and_kill(url: str, ca_file: Path, outbox: Path, seed: int) -> set[int]:
    """Start the child, kill it at a random moment; the messages whose send returned."""
    acked: set[int] = set()
    rng = random.Random(seed)
    async with trio.open_nursery() as nursery:
        process = await trio.lowlevel.open_process(
            [sys.executable, str(CHILD), url, str(ca_file), str(outbox), str(MESSAGES)],
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        first_ack = trio.Event()

        async def read_acks() -> None:
            assert process.stdout is not None
            buffer = b""
            async for chunk in process.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    acked.add(int(line.split()[1]))
                    first_ack.set()

        nursery.start_soon(read_acks)
        with trio.fail_after(60):
            await first_ack.wait()
        await trio.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        await process.wait()
    return acked


@pytest.mark.parametrize("seed", SEEDS)
async def test_sigkill_at_a_random_moment_loses_nothing(tmp_path: Path, seed: int) -> None:
    fake = FakeDiscord(seed=seed, time_scale=0.01)
    hook = fake.create_webhook()
    outbox = tmp_path / "outbox.db"
    async with serve_fake_discord(fake) as server:
        ca_file = tmp_path / "ca.pem"
        server.ca.cert_pem.write_to_path(str(ca_file))
        url = server.webhook_url(hook)
        acked = await run_child_and_kill(url, ca_file, outbox, seed)
        config = SenderConfig(outbox=str(outbox), seed=seed)
        # The fake's limits are time-scaled; the tracker's global pacing (50 a second) is
        # not, and the fake has no global limit: pace by the fake's buckets alone.
        tracker = RateLimitTracker(pacing=GlobalPacing(limit=0))
        async with open_webhook_sender(
            url, config=config, ssl_context=server.ssl_context, tracker=tracker
        ) as s:
            pass
    stats = s.stats()
    shown = [m["content"] for m in fake.history(hook.channel_id)]
    counts = collections.Counter(shown)
    # Every message send returned for is on Discord: once, or twice if it was ambiguous.
    assert all(1 <= counts[f"m{i}"] <= 2 for i in acked), sorted(
        i for i in acked if not 1 <= counts[f"m{i}"] <= 2
    )
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= stats.recovered_ambiguous <= 1  # one webhook: one request in flight
    # Order: the first showing of each message follows the order of sending.
    first = list(dict.fromkeys(shown))
    assert first == sorted(first, key=lambda c: int(c[1:]))
    # Nothing is left behind, and nothing went to a dead letter.
    assert (stats.dead, stats.kept) == (0, 0)
    async with SQLiteOutbox(outbox) as look:
        assert await look.pending() == []
