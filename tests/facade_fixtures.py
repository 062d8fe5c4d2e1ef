"""Fixtures of the facade tests (``pytest_plugins = ["facade_fixtures"]``).

The facades run on their own background trio loop, so these fixtures are plain
functions: a FakeDiscord without tight buckets, a webhook of it, and the fake served on
loopback from the facades' loop.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trio_webhook._background import _TRACKERS, background
from trio_webhook.testing import FakeDiscord, FakeDiscordServer, FakeWebhook, serve_fake_discord


@pytest.fixture
def fresh_trackers() -> None:
    """Forget what the shared trackers learned.

    Each test's FakeDiscord numbers its webhooks from the same start: what the shared
    tracker learned of one test's webhook must not pace the next test's.
    """
    background.run_sync(_TRACKERS.clear)


@pytest.fixture
def fake(fresh_trackers: None) -> FakeDiscord:
    """A FakeDiscord whose buckets never bind (the tests are on the real clock)."""
    return FakeDiscord(seed=1, bucket_limit=100_000)


@pytest.fixture
def hook(fake: FakeDiscord) -> FakeWebhook:
    """A webhook of ``fake``."""
    return fake.create_webhook()


@pytest.fixture
def served(fake: FakeDiscord) -> Iterator[FakeDiscordServer]:
    """``fake`` over plain HTTP on 127.0.0.1, served from the facades' own loop."""
    held = background.hold(serve_fake_discord(fake, tls=False))
    try:
        yield held.value
    finally:
        background.run(held.aclose)
