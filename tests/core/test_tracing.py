"""Trace context follows an event from one topic to the next, and into HTTP calls."""

from __future__ import annotations

from datetime import UTC, date, datetime

from schemas import AdClicked, Money, SpendReported, encode
from schemas.topics import CLICKS, SPEND
from streams.core import tracing
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.core.stage import Resources, Stage
from tests.helpers import raw_producer, read_records, running_stages

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Relay(Stage):
    """Turns each click into a spend report, publishing it from inside the click's handler."""

    name = "relay"
    needs_database = False

    def subscribe(self, res: Resources) -> None:
        @res.subscriber(CLICKS, group="relay")
        async def handle(event: AdClicked) -> None:
            await res.publisher.publish(SpendReported(
                event_id=f"spend-{event.event_id}", tenant_id=event.tenant_id, occurred_at=event.occurred_at,
                group_id="k1", campaign_id="k1", entity_id="s1", day=date(2026, 5, 1),
                spend=Money(amount_minor=1, currency="USD"), impressions=1, clicks=1,
            ))


async def test_a_published_event_continues_the_trace_of_the_event_it_came_from(settings: Settings) -> None:
    click = AdClicked(event_id="e1", tenant_id="acme", occurred_at=datetime(2026, 5, 1, tzinfo=UTC),
                      click_id="c1", ad_id="a1")
    async with running_stages(settings, [Relay()]):
        async with raw_producer(settings) as producer:
            await producer.send_and_wait(topic_name(settings, CLICKS), encode(click), key=b"acme",
                                         headers=[("traceparent", PARENT.encode())])
        records = await read_records(settings, SPEND, min_count=1, timeout=20)
    child = dict(records[0].headers)["traceparent"].decode()
    assert tracing.trace_id(child) == tracing.trace_id(PARENT)
    assert child != PARENT


def test_a_malformed_parent_starts_a_new_trace() -> None:
    assert tracing.trace_id(tracing.child_of("garbage")) is not None
    assert tracing.trace_id(tracing.child_of("00-" + "0" * 32 + "-00f067aa0ba902b7-01")) != "0" * 32


def test_headers_carry_the_current_context_only_inside_it() -> None:
    assert tracing.headers() == {}
    token = tracing.continue_from(PARENT)
    try:
        assert tracing.trace_id(tracing.headers()["traceparent"]) == tracing.trace_id(PARENT)
    finally:
        tracing.reset(token)
    assert tracing.headers() == {}
