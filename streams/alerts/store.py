"""Alerts as rows: one per condition, and the notices that tell people about it.

Every rule ends in :meth:`Alerting.hold` (the condition holds now) or :meth:`Alerting.clear` (it does
not); the sweep adds :meth:`Alerting.remind_due`. Each decides under a transaction-scoped advisory
lock on the alert's id, so two replicas, or a consumer and the sweep, that judge the same condition
at once still make one transition: one ``raised`` per episode, one ``reminder`` per cooldown, one
``resolved`` when it clears.

A transition writes, in the caller's transaction: the alert row, an ``alert_notices`` row, the
``AlertNotified`` event (published before the transaction commits, :mod:`streams.core.process`) and
one ``alert_deliveries`` row per channel of the tenant (sent later by :mod:`.delivery`). A crash
anywhere rolls all of them back together; the redelivered record makes the same transition with
the same event id (``alert-<alert_id>-<n>``), which downstream inboxes drop if it was published.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.events import AlertNoticeKind, AlertNotified, FactValue, Severity
from streams.alerts.messages import render_notice
from streams.core.controls.alert_channels import ChannelKind, Defaults, configured_kinds
from streams.core.db import Conn
from streams.core.process import Effects

CHANNEL_UNREACHABLE = "channel_unreachable"


@dataclass(frozen=True)
class Condition:
    """What a rule found: who it concerns, and what a person should read about it."""

    tenant_id: str
    rule: str
    subject: str
    severity: Severity
    title: str
    detail: str = ""
    facts: Mapping[str, FactValue] = field(default_factory=dict)


def alert_id_of(tenant_id: str, rule: str, subject: str) -> str:
    """Stable per condition, short enough for an event id, and readable by its rule."""
    digest = hashlib.sha256(f"{tenant_id}\x1f{rule}\x1f{subject}".encode()).hexdigest()[:16]
    return f"{rule[:40]}-{digest}"


def quiet_channel(rule: str, subject: str) -> str | None:
    """The channel an alert is not sent on while it fires: the unreachable channel it is about."""
    return subject if rule == CHANNEL_UNREACHABLE else None


async def _lock(conn: Conn, alert_id: str) -> Any:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 17))", alert_id)
    return await conn.fetchrow("SELECT * FROM alerts WHERE alert_id = $1", alert_id)


@dataclass
class Alerting:
    """Alert transitions for one stage: where notices go by default, and the message format."""

    defaults: Defaults

    async def hold(self, fx: Effects, cond: Condition) -> AlertNoticeKind | None:
        """The condition holds: raise it (new, or back after resolving) or refresh what it says."""
        aid = alert_id_of(cond.tenant_id, cond.rule, cond.subject)
        row = await _lock(fx.conn, aid)
        facts = dict(cond.facts)
        if row is None:
            row = await fx.conn.fetchrow(
                "INSERT INTO alerts (alert_id, tenant_id, rule, subject, severity, status, title, detail, facts,"
                " episode, notices, raised_at, last_seen_at, last_notified_at)"
                " VALUES ($1, $2, $3, $4, $5, 'firing', $6, $7, $8, 1, 1, $9, $9, $9) RETURNING *",
                aid, cond.tenant_id, cond.rule, cond.subject, cond.severity, cond.title, cond.detail, facts, fx.now)
        elif row["status"] == "resolved":
            row = await fx.conn.fetchrow(
                "UPDATE alerts SET status = 'firing', episode = episode + 1, notices = notices + 1, severity = $2,"
                " title = $3, detail = $4, facts = $5, raised_at = $6, last_seen_at = $6, last_notified_at = $6,"
                " resolved_at = NULL, acknowledged_by = NULL, acknowledged_at = NULL WHERE alert_id = $1 RETURNING *",
                aid, cond.severity, cond.title, cond.detail, facts, fx.now)
        else:
            await fx.conn.execute(
                "UPDATE alerts SET severity = $2, title = $3, detail = $4, facts = $5, last_seen_at = $6"
                " WHERE alert_id = $1", aid, cond.severity, cond.title, cond.detail, facts, fx.now)
            return None
        await self._notice(fx, row, "raised")
        return "raised"

    async def clear(self, fx: Effects, tenant_id: str, rule: str, subject: str, note: str = "") -> bool:
        """The condition no longer holds: resolve a firing alert (and say so once)."""
        aid = alert_id_of(tenant_id, rule, subject)
        row = await _lock(fx.conn, aid)
        if row is None or row["status"] != "firing":
            return False
        row = await fx.conn.fetchrow(
            "UPDATE alerts SET status = 'resolved', resolved_at = $2, last_notified_at = $2, notices = notices + 1,"
            " detail = CASE WHEN $3 = '' THEN detail ELSE $3 END WHERE alert_id = $1 RETURNING *",
            aid, fx.now, note)
        await self._notice(fx, row, "resolved")
        return True

    async def firing(self, conn: Conn, rule: str, tenant_id: str | None = None) -> list[Any]:
        """The firing alerts of ``rule`` (of one tenant, or all): what a sweep re-judges."""
        if tenant_id is None:
            return list(await conn.fetch("SELECT * FROM alerts WHERE status = 'firing' AND rule = $1", rule))
        return list(await conn.fetch("SELECT * FROM alerts WHERE status = 'firing' AND rule = $1 AND tenant_id = $2",
                                     rule, tenant_id))

    async def remind_due(self, fx: Effects, cooldown: Callable[[str], timedelta], limit: int = 200) -> int:
        """Re-notify firing, unacknowledged alerts whose last notice is older than their tenant's cooldown."""
        candidates = await fx.conn.fetch(
            "SELECT alert_id, tenant_id, last_notified_at FROM alerts WHERE status = 'firing'"
            " AND acknowledged_at IS NULL ORDER BY last_notified_at LIMIT $1", limit)
        reminded = 0
        for candidate in sorted(candidates, key=lambda r: r["alert_id"]):
            if candidate["last_notified_at"] > fx.now - cooldown(candidate["tenant_id"]):
                continue
            row = await _lock(fx.conn, candidate["alert_id"])
            due: datetime = fx.now - cooldown(row["tenant_id"])
            if row["status"] != "firing" or row["acknowledged_at"] is not None or row["last_notified_at"] > due:
                continue
            row = await fx.conn.fetchrow(
                "UPDATE alerts SET notices = notices + 1, last_notified_at = $2 WHERE alert_id = $1 RETURNING *",
                row["alert_id"], fx.now)
            await self._notice(fx, row, "reminder")
            reminded += 1
        return reminded

    async def _notice(self, fx: Effects, row: Any, kind: AlertNoticeKind) -> None:
        event = AlertNotified(
            event_id=f"alert-{row['alert_id']}-{row['notices']}", tenant_id=row["tenant_id"], occurred_at=fx.now,
            produced_at=fx.now, alert_id=row["alert_id"], rule=row["rule"], subject=row["subject"], notice=kind,
            severity=row["severity"], episode=row["episode"], title=row["title"], detail=row["detail"],
            facts=row["facts"], raised_at=row["raised_at"])
        fx.emit(event)
        await fx.conn.execute(
            "INSERT INTO alert_notices (event_id, alert_id, tenant_id, rule, notice, episode, title, occurred_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            event.event_id, event.alert_id, event.tenant_id, event.rule, kind, event.episode, event.title, fx.now)
        quiet = quiet_channel(event.rule, event.subject) if kind != "resolved" else None
        kinds = [k for k in await configured_kinds(fx.conn, event.tenant_id, self.defaults) if k != quiet]
        await enqueue(fx, event.event_id, event.tenant_id, kinds, *render_notice(event))


async def enqueue(fx: Effects, event_id: str, tenant_id: str, kinds: list[ChannelKind], subject: str, text: str,
                  html: str | None) -> None:
    """Queue a message on each channel, to be sent by the delivery loop (once per event and channel)."""
    for kind in kinds:
        await fx.conn.execute(
            "INSERT INTO alert_deliveries (event_id, tenant_id, channel, subject, body_text, body_html,"
            " next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING",
            event_id, tenant_id, kind, subject, text, html, fx.now)
