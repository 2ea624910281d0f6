"""Consumer-group lag as an operator sees it: each group's committed offsets against the topics' ends.

The stages' own lag gauge (:mod:`streams.core.lag`) is each consumer's view of itself, and a stage
that stalled or died reports nothing. This asks the broker instead: for every consumer group of
the deployment (its topic prefix), the committed offset of each catalog topic and DLQ partition
against the partition's end. A group that never committed on a topic does not consume it and
counts nothing there.

Two broker quirks shape it: the local broker cannot answer an offset fetch for "all partitions"
(so the partitions are named), and it can undercount a partition's end by the size of its last
record batch. Stages publish in batches of up to hundreds of records, so that undercount can hide
a whole stalled batch; the ends are corrected (:func:`streams.core.topic_reader.true_end_offsets`:
one fetch request for every non-empty partition at once, each sweep).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from streams.core.broker import client_options
from streams.core.db import Conn
from streams.core.naming import catalog_topics, unprefixed
from streams.core.settings import Settings
from streams.core.topic_reader import partitions_of, true_end_offsets


class LagProbe:
    """Holds an admin client and an unsubscribed consumer between sweeps (both opened on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def _open(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            admin = AIOKafkaAdminClient(**client_options(self.settings))
            consumer = AIOKafkaConsumer(**client_options(self.settings), enable_auto_commit=False)
            await admin.start()
            await consumer.start()
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        if consumer is not None:
            await consumer.stop()
        if admin is not None:
            await admin.close()

    async def measure(self) -> dict[str, int]:
        """Records behind per consumer group (the deployment's prefix taken off its name)."""
        try:
            admin, consumer = await self._open()
            tps = await partitions_of(consumer, catalog_topics(self.settings))
            if set(consumer.assignment()) != set(tps):
                consumer.assign(tps)
            ends = await true_end_offsets(consumer, tps)
            prefix = self.settings.topic_prefix
            lags: dict[str, int] = {}
            for group, _protocol in await admin.list_consumer_groups():
                if not group.startswith(prefix):
                    continue
                committed = await admin.list_consumer_group_offsets(group, partitions=tps)
                lags[unprefixed(self.settings, group)] = sum(
                    max(0, ends[tp] - meta.offset) for tp, meta in committed.items() if meta.offset >= 0)
            return lags
        except Exception:
            await self.close()  # reconnect next time
            raise


async def record(conn: Conn, lags: dict[str, int], now: datetime, keep: timedelta) -> None:
    """Keep this sweep's measurements (and forget those older than ``keep``)."""
    await conn.executemany("INSERT INTO alert_lag_samples (group_name, observed_at, lag) VALUES ($1, $2, $3)"
                           " ON CONFLICT DO NOTHING", [(g, now, lag) for g, lag in lags.items()])
    await conn.execute("DELETE FROM alert_lag_samples WHERE observed_at < $1", now - keep)


async def lagging(conn: Conn, now: datetime, records: int, seconds: float) -> dict[str, tuple[int, bool]]:
    """Per group: its latest lag, and whether it has been above ``records`` at every sample for ``seconds``.

    "For Y" needs a sample at least Y old that was already over, and none since at or below.
    """
    rows = await conn.fetch(
        "WITH latest AS (SELECT DISTINCT ON (group_name) group_name, lag FROM alert_lag_samples"
        "  ORDER BY group_name, observed_at DESC),"
        " start AS (SELECT group_name, max(observed_at) AS at FROM alert_lag_samples"
        "  WHERE observed_at <= $1::timestamptz - make_interval(secs => $3::float8) GROUP BY group_name)"
        " SELECT l.group_name, l.lag, s.at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM alert_lag_samples x"
        "  WHERE x.group_name = l.group_name AND x.observed_at >= s.at AND x.lag <= $2) AS sustained"
        " FROM latest l LEFT JOIN start s USING (group_name)", now, records, seconds)
    return {r["group_name"]: (int(r["lag"]), bool(r["sustained"])) for r in rows}
