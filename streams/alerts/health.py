"""The rules about the stages' health: lag, dead letters, intents left executing, the kill switch,
changes waiting for approval.

Most of these belong to a tenant (a pause, an intent, a dead letter whose key names it). Consumer
lag belongs to the deployment: it is raised for every tenant in ``tenants`` (each tenant's money
waits behind a stalled stage), and so is a dead letter whose tenant cannot be read from it.
Each function judges at ``fx.now`` (the clock), from state read in the same transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from streams.alerts.money import span
from streams.alerts.store import CHANNEL_UNREACHABLE, Alerting, Condition
from streams.core.controls.alert_thresholds import Thresholds
from streams.core.process import Effects

CONSUMER_LAG, DEAD_LETTERS, INTENT_STUCK = "consumer_lag", "dead_letters", "intent_stuck"
KILL_SWITCH, APPROVAL_WAITING = "kill_switch", "approval_waiting"
TENANT_WIDE = "*"
_TENANT = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
ThresholdsOf = Callable[[str], Thresholds]


async def tenants(fx: Effects) -> list[str]:
    return [r["tenant_id"] for r in await fx.conn.fetch("SELECT tenant_id FROM tenants ORDER BY tenant_id")]


async def consumer_lag(alerting: Alerting, fx: Effects, th_of: ThresholdsOf, everyone: list[str],
                       lagging: Callable[[int, float], Any]) -> None:
    """A consumer group more than X records behind at every sweep for Y."""
    for tenant_id in everyone:
        th = th_of(tenant_id)
        for group, (lag, sustained) in sorted((await lagging(int(th.lag_records), float(th.lag_seconds))).items()):
            if lag > th.lag_records and sustained:
                await alerting.hold(fx, Condition(
                    tenant_id, CONSUMER_LAG, group, "critical",
                    f"Consumer group {group} is {lag:,} records behind (over {th.lag_records:,} for "
                    f"{span(th.seconds('lag_seconds'))})",
                    "A stage is stalled or too slow: what it decides is based on old events. Check that its "
                    "processes run (/readyz) and their logs.", {"group": group, "lag": lag}))
            elif lag <= th.lag_records:
                await alerting.clear(fx, tenant_id, CONSUMER_LAG, group, f"caught up ({lag:,} behind)")


def dead_letter_tenant(key: bytes | None, value: bytes | None) -> str | None:
    """The tenant a dead letter belongs to: its payload's ``tenant_id``, else its key's first part."""
    try:
        payload = json.loads(value or b"")
        candidate = payload.get("tenant_id") if isinstance(payload, dict) else None
    except (ValueError, UnicodeDecodeError):
        candidate = None
    if not isinstance(candidate, str) or not _TENANT.match(candidate):
        candidate = (key or b"").decode(errors="replace").split(":", 1)[0]
    return candidate if _TENANT.match(candidate) else None


async def dead_letter(alerting: Alerting, fx: Effects, record: Any, origin: str, everyone: list[str]) -> None:
    """One record on ``<origin>.dlq``: counted once, and an alert per tenant and origin topic."""
    headers = {k: v for k, v in (record.headers or ())}
    error_type = (headers.get("x-dlq-error-type") or b"unknown").decode(errors="replace")[:100]
    tenant = dead_letter_tenant(record.key, record.value)
    inserted = await fx.conn.fetchval(
        "INSERT INTO alert_dead_letters (dlq_topic, dlq_partition, dlq_offset, tenant_id, origin_topic, error_type,"
        " seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true",
        origin + ".dlq", record.partition, record.offset, tenant, origin, error_type, fx.now)
    if not inserted:
        return
    for tenant_id in [tenant] if tenant is not None else everyone:
        current = await fx.conn.fetchrow("SELECT status, raised_at FROM alerts WHERE tenant_id = $1 AND rule = $2"
                                         " AND subject = $3", tenant_id, DEAD_LETTERS, origin)
        since = current["raised_at"] if current is not None and current["status"] == "firing" else fx.now
        count = await fx.conn.fetchval(
            "SELECT count(*) FROM alert_dead_letters WHERE origin_topic = $1 AND seen_at >= $2"
            " AND (tenant_id = $3 OR tenant_id IS NULL)", origin, since, tenant_id)
        await alerting.hold(fx, Condition(
            tenant_id, DEAD_LETTERS, origin, "warning", f"New dead letters on {origin}.dlq ({count})",
            "Records no retry could process were set aside on the dead-letter topic (latest: "
            f"{error_type}). They are not lost: fix the cause, then replay them from {origin}.dlq.",
            {"topic": origin, "count": int(count), "latest_error_type": error_type}))


async def dead_letters_quiet(alerting: Alerting, fx: Effects, th_of: ThresholdsOf) -> None:
    for row in await alerting.firing(fx.conn, DEAD_LETTERS):
        quiet = th_of(row["tenant_id"]).seconds("dead_letters_quiet_seconds")
        if row["last_seen_at"] <= fx.now - quiet:
            await alerting.clear(fx, row["tenant_id"], DEAD_LETTERS, row["subject"], f"none new for {span(quiet)}")


async def _settle(alerting: Alerting, fx: Effects, rule: str, holding: Iterable[Condition]) -> None:
    """Hold every condition found; clear the rule's firing alerts that were not found again."""
    found = set()
    for cond in sorted(holding, key=lambda c: (c.tenant_id, c.subject)):
        found.add((cond.tenant_id, cond.subject))
        await alerting.hold(fx, cond)
    for row in await alerting.firing(fx.conn, rule):
        if (row["tenant_id"], row["subject"]) not in found:
            await alerting.clear(fx, row["tenant_id"], rule, row["subject"], RESOLVED_NOTE[rule])


RESOLVED_NOTE = {INTENT_STUCK: "no change is left executing", KILL_SWITCH: "automation resumed",
                 APPROVAL_WAITING: "nothing waits for approval", CHANNEL_UNREACHABLE: "delivered again"}


def _older_than(rows: list[Any], th_of: ThresholdsOf, name: str, now: Any) -> dict[str, list[Any]]:
    by_tenant: dict[str, list[Any]] = {}
    for r in rows:
        if r["at"] <= now - th_of(r["tenant_id"]).seconds(name):
            by_tenant.setdefault(r["tenant_id"], []).append(r)
    return by_tenant


async def intents_stuck(alerting: Alerting, fx: Effects, th_of: ThresholdsOf) -> None:
    """Budget changes whose Meta call never settled, executing for longer than Z."""
    rows = await fx.conn.fetch("SELECT tenant_id, change_id, coalesce(applied_at, decided_at) AS at"
                               " FROM ad_change_history WHERE status = 'executing' ORDER BY at")
    conditions = []
    for tenant_id, stuck in _older_than(list(rows), th_of, "executing_seconds", fx.now).items():
        oldest = fx.now - stuck[0]["at"]
        conditions.append(Condition(
            tenant_id, INTENT_STUCK, TENANT_WIDE, "critical",
            f"{len(stuck)} budget change(s) left executing for more than "
            f"{span(th_of(tenant_id).seconds('executing_seconds'))}",
            "Their Meta call never settled (a crash, or Meta unreachable): Meta may or may not have the new budget. "
            "`roasloop executor reconcile` asks Meta and settles them.",
            {"count": len(stuck), "oldest_minutes": round(oldest / timedelta(minutes=1), 1),
             "oldest_change_id": stuck[0]["change_id"]}))
    await _settle(alerting, fx, INTENT_STUCK, conditions)


async def kill_switch(alerting: Alerting, fx: Effects) -> None:
    """The kill switch engaged (raised) or released (resolved), per tenant and per campaign."""
    rows = await fx.conn.fetch("SELECT tenant_id, campaign_id, reason, paused_at FROM automation_pauses")
    await _settle(alerting, fx, KILL_SWITCH, [Condition(
        r["tenant_id"], KILL_SWITCH, r["campaign_id"] or TENANT_WIDE, "info",
        f"Automation paused for {'campaign ' + r['campaign_id'] if r['campaign_id'] else 'the whole tenant'}",
        "The kill switch is engaged: decisions are logged but no budget changes are requested or applied."
        + (f" Reason given: {r['reason'][:200]}" if r["reason"] else ""),
        {"campaign_id": r["campaign_id"] or None, "paused_at": r["paused_at"].isoformat()}) for r in rows])


async def approvals_waiting(alerting: Alerting, fx: Effects, th_of: ThresholdsOf) -> None:
    """Budget changes in ``awaiting_approval`` (approval mode) for longer than the threshold."""
    rows = await fx.conn.fetch("SELECT tenant_id, change_id, decided_at AS at FROM ad_change_history"
                               " WHERE status = 'awaiting_approval' ORDER BY decided_at")
    conditions = [Condition(
        tenant_id, APPROVAL_WAITING, TENANT_WIDE, "info", f"{len(waiting)} budget change(s) wait for approval",
        "Automation is in approval mode for them: an EDITOR approves or rejects each in the console; "
        "unapproved changes expire.", {"count": len(waiting), "oldest_change_id": waiting[0]["change_id"]})
        for tenant_id, waiting in _older_than(list(rows), th_of, "approval_waiting_seconds", fx.now).items()]
    await _settle(alerting, fx, APPROVAL_WAITING, conditions)


async def channel_failed(alerting: Alerting, fx: Effects, tenant_id: str, kind: str, failures: int,
                         since: Any, error: str) -> None:
    """A channel that failed ``failures`` times in a row: told on the other channel (see ``quiet_channel``)."""
    await alerting.hold(fx, Condition(
        tenant_id, CHANNEL_UNREACHABLE, kind, "critical", f"Alerts cannot reach the {kind} channel",
        f"{failures} deliveries in a row failed since {since:%Y-%m-%d %H:%M} UTC ({error}). They are retried with "
        f"backoff; meanwhile alerts go to the other channel. Check the channel's settings.",
        {"channel": kind, "consecutive_failures": failures, "last_error": error}))
