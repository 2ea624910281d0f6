"""A real broker outage: the broker process dies, webhooks get 503, HubSpot's retry after recovery lands.

Unlike the stopped-producer test, here the broker really goes away and comes back on the same
address; the ingress process keeps running throughout and reconnects by itself.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from schemas import DealStageChanged, decode_as
from schemas.topics import DEAL_STAGES
from streams.core.settings import Settings, load_settings
from streams.core.topics_admin import ensure_topics
from streams.ingest.settings import IngestSettings
from streams.lab.dev.broker import LocalBroker
from streams.lab.sandbox.hubspot_webhooks import WebhookSender
from tests.helpers import read_records
from tests.ingest.conftest import SECRET, WEBHOOK_URL, ingress
from tests.ingest.test_webhooks import portal, stage_change  # noqa: F401  (fixture)


@pytest.mark.usefixtures("portal")
async def test_webhooks_during_a_real_broker_outage_get_503_and_the_retry_after_recovery_is_published(
        settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    broker = LocalBroker().start()
    try:
        own = load_settings(**{**settings.model_dump(), "kafka_bootstrap_servers": broker.bootstrap_servers})
        await ensure_topics(own)
        async with ingress(own, IngestSettings(publish_timeout_seconds=2)) as ing:
            broker.stop()
            sender = WebhookSender(WEBHOOK_URL, SECRET, ing.client, versions=("v3",), max_attempts=2,
                                   backoff_seconds=0.01)
            during = await sender.deliver([stage_change("777")])
            assert during.statuses == [503, 503]
            assert await db_pool.fetchval("SELECT count(*) FROM hubspot_deliveries") == 0

            broker.start()  # same port; memory storage, so the topics come back empty
            await ensure_topics(own)
            sender = WebhookSender(WEBHOOK_URL, SECRET, ing.client, versions=("v3",), max_attempts=10,
                                   backoff_seconds=0.5)
            after = await sender.deliver([stage_change("777")])
        assert after.delivered, after.statuses
        records = await read_records(own, DEAL_STAGES, min_count=1, timeout=10)
        # A send that timed out waiting for its ack may still be delivered once the broker is back
        # (the producer kept it buffered): at-least-once, with one event id, so inboxes keep one.
        assert {decode_as(r.value, DealStageChanged).event_id for r in records} == {
            decode_as(records[0].value, DealStageChanged).event_id
        }
        assert decode_as(records[0].value, DealStageChanged).deal_id == "777"
    finally:
        broker.stop()
