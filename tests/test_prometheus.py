"""Prometheus export: what a scrape shows after real deliveries through the fake."""

from __future__ import annotations

import random

import trio
import trio.testing
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from trio_webhook import Message, SenderConfig, open_webhook_sender
from trio_webhook.prometheus import SenderCollector
from trio_webhook.ratelimit import RateLimitTracker
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
    # The bare 429 is an edge ban: every route of a's tracker pauses 60 s; let it drain.
    config = SenderConfig(seed=0, drain_timeout=120.0)
    async with (
        open_webhook_sender(a.url, config=config, transport=fake.transport()) as sa,
        open_webhook_sender(b.url, config=config, transport=fake.transport()) as sb,
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
    edge_scope = (("scope", "edge"), ("webhook_id", a.id))  # the client and tracker agree
    assert samples[("trio_webhook_rate_limited_total", edge_scope)] == 1
    assert samples[("trio_webhook_in_flight", ida)] == 0
    # Each sender made its own tracker: the edge ban and its one invalid answer are a's.
    ta, tb = (("tracker", a.id),), (("tracker", b.id),)
    assert samples[("trio_webhook_edge_bans_total", ta)] == 1
    assert samples[("trio_webhook_edge_bans_total", tb)] == 0
    assert samples[("trio_webhook_invalid_requests", ta)] == 1
    assert samples[("trio_webhook_invalid_requests", tb)] == 0
    assert samples[("trio_webhook_invalid_request_limit", ta)] == 9500
    assert samples[("trio_webhook_invalid_budget_refusals_total", ta)] == 0
    text = generate_latest(registry).decode()
    assert a.token not in text
    assert b.token not in text

    collector.remove(sa)
    assert ("trio_webhook_messages_delivered_total", ida) not in scrape(registry)


async def test_senders_sharing_a_tracker_report_its_protections_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeDiscord(seed=0)
    a, b = fake.create_webhook(), fake.create_webhook()
    fake.inject("rate_limit_no_body", count=1, webhook=b)
    registry = CollectorRegistry()
    collector = SenderCollector()
    registry.register(collector)
    tracker = RateLimitTracker(rng=random.Random(0))
    config = SenderConfig(seed=0, drain_timeout=120.0)
    transport = fake.transport()
    async with (
        open_webhook_sender(a.url, config=config, tracker=tracker, transport=transport) as sa,
        open_webhook_sender(b.url, config=config, tracker=tracker, transport=transport) as sb,
    ):
        collector.add(sa)
        collector.add(sb)
        sa.send_nowait(Message(content="a"))
        sb.send_nowait(Message(content="b"))
    samples = scrape(registry)
    # One series, under the first sender's webhook id: a sum over trackers stays right.
    bans = {k: v for k, v in samples.items() if k[0] == "trio_webhook_edge_bans_total"}
    assert bans == {("trio_webhook_edge_bans_total", (("tracker", a.id),)): 1.0}
    assert samples[("trio_webhook_messages_delivered_total", (("webhook_id", b.id),))] == 1
