"""Prometheus export: what a scrape shows after real deliveries through the fake."""

from __future__ import annotations

import trio
import trio.testing
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from trio_webhook import Message, SenderConfig, open_webhook_sender
from trio_webhook.prometheus import SenderCollector
from trio_webhook.testing import FakeDiscord


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_scrape_shows_each_senders_counts_by_webhook_id_never_the_token(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    a, b = fake.create_webhook(), fake.create_webhook()
    fake.inject("rate_limit_no_body", count=1, webhook=a)
    registry = CollectorRegistry()
    collector = SenderCollector()
    registry.register(collector)
    config = SenderConfig(seed=0)
    async with (
        open_webhook_sender(a.url, config=config, http_transport=fake.httpx_transport()) as sa,
        open_webhook_sender(b.url, config=config, http_transport=fake.httpx_transport()) as sb,
    ):
        collector.add(sa)
        collector.add(sb)
        for i in range(3):
            sa.send_nowait(Message(content=f"a{i}"))
        sb.send_nowait(Message(content="b"))
    samples = scrape(registry)
    ida, idb = (("webhook_id", a.id),), (("webhook_id", b.id),)
    assert samples[("trio_webhook_messages_delivered_total", ida)] == 3
    assert samples[("trio_webhook_messages_delivered_total", idb)] == 1
    assert samples[("trio_webhook_requests_total", ida)] == 4  # one 429, retried
    assert samples[("trio_webhook_retries_total", ida)] == 1
    user_scope = (("scope", "user"), ("webhook_id", a.id))
    assert samples[("trio_webhook_rate_limited_total", user_scope)] == 1
    assert samples[("trio_webhook_in_flight", ida)] == 0
    text = generate_latest(registry).decode()
    assert a.token not in text
    assert b.token not in text

    collector.remove(sa)
    assert ("trio_webhook_messages_delivered_total", ida) not in scrape(registry)
