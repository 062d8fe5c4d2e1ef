"""pytest fixtures for FakeDiscord (registered through the ``pytest11`` entry point).

Cheap to import: the fake itself is imported only when a fixture is used.

Fixtures:
    fake_discord: A fresh in-process :class:`~trio_webhook.testing.FakeDiscord`
        (seed 0, default limits); pass ``transport=fake_discord.transport()`` to reach it.
    fake_webhook: A webhook of ``fake_discord`` in its own text channel.
    fake_discord_tls: ``fake_discord`` served over TLS on 127.0.0.1 (needs pytest-trio):
        a :class:`~trio_webhook.testing.FakeDiscordServer` with ``url``, ``ssl_context``
        and ``webhook_url(hook)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from trio_webhook.testing._fake import FakeDiscord, FakeWebhook
    from trio_webhook.testing._server import FakeDiscordServer

__all__ = ["fake_discord", "fake_discord_tls", "fake_webhook"]


@pytest.fixture
def fake_discord() -> FakeDiscord:
    """A fresh in-process fake Discord."""
    from trio_webhook.testing._fake import FakeDiscord

    return FakeDiscord(seed=0)


@pytest.fixture
def fake_webhook(fake_discord: FakeDiscord) -> FakeWebhook:
    """A webhook of ``fake_discord``, in a new text channel."""
    return fake_discord.create_webhook()


@pytest.fixture
async def fake_discord_tls(fake_discord: FakeDiscord) -> AsyncIterator[FakeDiscordServer]:
    """``fake_discord`` served over TLS on 127.0.0.1 with a trustme certificate."""
    from trio_webhook.testing._server import serve_fake_discord

    async with serve_fake_discord(fake_discord, tls=True) as server:
        yield server
