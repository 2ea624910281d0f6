"""Is roasloop keeping up? The stages' health as a person checks it before trusting the numbers.

Per consumer group, the records it is behind (the alerts stage samples every group's committed
offsets against the topics' ends and keeps the samples); dead letters per topic; changes left
executing and the oldest of them; when Meta's insights last brought something new; whether the
alert channels deliver; and the alerts firing now. The console asks PostgreSQL only: a health page
that opened Kafka admin connections per viewer would add load exactly when things are slow.
"""

from __future__ import annotations

from starlette.responses import Response

from streams.console.endpoint import Call
from streams.console.render import answer


async def health(call: Call) -> Response:
    tenant = call.tenant_id
    async with call.context_of().res.pool.acquire() as conn:
        lag = await conn.fetch(
            "SELECT DISTINCT ON (group_name) group_name, lag, observed_at FROM alert_lag_samples"
            " ORDER BY group_name, observed_at DESC")
        dead = await conn.fetch(
            "SELECT origin_topic, count(*) AS dead_letters, max(seen_at) AS last_at FROM alert_dead_letters"
            " WHERE tenant_id = $1 OR tenant_id IS NULL GROUP BY origin_topic ORDER BY origin_topic", tenant)
        executing = await conn.fetchrow(
            "SELECT count(*) AS changes, min(decided_at) AS oldest FROM ad_change_history"
            " WHERE tenant_id = $1 AND status = 'executing'", tenant)
        insights = await conn.fetchval("SELECT max(published_at) FROM insights_snapshots WHERE tenant_id = $1",
                                       tenant)
        channels = await conn.fetch(
            "SELECT kind, consecutive_failures, failing_since, last_success_at, last_failure_at FROM"
            " alert_channel_status WHERE tenant_id = $1 ORDER BY kind", tenant)
        firing = await conn.fetch(
            "SELECT rule, severity, title, raised_at FROM alerts WHERE tenant_id = $1 AND status = 'firing'"
            " ORDER BY raised_at DESC LIMIT 50", tenant)
    return answer("health", {
        "consumer_lag": [dict(r) for r in lag],
        "dead_letters": [dict(r) for r in dead],
        "executing": dict(executing) if executing is not None else {"changes": 0, "oldest": None},
        "last_insights_at": insights,
        "alert_channels": [dict(r) for r in channels],
        "alerts_firing": [dict(r) for r in firing],
    })
