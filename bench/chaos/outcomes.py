"""The chaos run's "exactly one right outcome" checks: budget requests, final budgets, HTTP ingress.

Read from the outside like :mod:`bench.chaos.checks`: the budget requests topic (what was asked),
``ad_change_history`` (what the executor says it did), the Meta stand-in (what really happened),
the deal-stage topic and the consumers' inbox rows (what the ingress's 2xx promised).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import asyncpg

from bench.chaos.checks import Check
from bench.chaos.http_feed import Feed
from schemas.codec import InvalidEvent, decode_as
from schemas.events import BudgetChangeRequested, DealStageChanged
from streams.core.settings import Settings
from streams.core.topic_reader import read_topic

FINAL = ("completed", "clamped", "blocked", "superseded", "failed")
APPLIED = ("completed", "clamped")
# what the executor writes when it gives a change up because its process or partition went away
INTERRUPTED = ("interrupted", "rebalance", "revoked", "not re-applied")


def interrupted(error: str | None) -> bool:
    return any(word in (error or "").lower() for word in INTERRUPTED)


async def requested(settings: Settings, topic: str) -> dict[str, BudgetChangeRequested]:
    out: dict[str, BudgetChangeRequested] = {}
    for record in await read_topic(settings, topic, wait_s=60):
        try:
            event = decode_as(record.value, BudgetChangeRequested)
        except InvalidEvent:
            continue  # the poison this run injected
        out.setdefault(event.change_id, event)
    return out


async def check_request_outcomes(conn: asyncpg.Connection[Any], requests: dict[str, BudgetChangeRequested]
                                 ) -> Check:
    rows = {r["change_id"]: r for r in await conn.fetch("SELECT change_id, status, error FROM ad_change_history")}
    missing = [c for c in requests if c not in rows]
    open_ = [c for c in requests if c in rows and rows[c]["status"] not in FINAL]
    broken = [c for c in requests if c in rows and rows[c]["status"] == "failed" and interrupted(rows[c]["error"])]
    outcomes = Counter(rows[c]["status"] for c in requests if c in rows)
    example = f"; e.g. {broken[0]}: {rows[broken[0]]['error'][:120]}" if broken else ""
    return Check("every budget request: one outcome, none failed by interruption",
                 bool(requests) and not missing and not open_ and not broken,
                 f"{len(requests)} requests; {len(missing)} without outcome, {len(open_)} not final, "
                 f"{len(broken)} failed by interruption; {dict(sorted(outcomes.items()))}{example}")


async def check_final_budgets(conn: asyncpg.Connection[Any], requests: dict[str, BudgetChangeRequested],
                              meta_budget: dict[str, int | None], start_budget: int) -> Check:
    """Per entity, Meta's budget is what the last request that was not superseded asked, after guardrails.

    The last request (by request time, then topic order) that the executor did not supersede decides:
    applied (completed/clamped) -> its target; blocked, or refused by Meta -> unchanged from the applied
    one before it (or the starting budget). A last request that failed because its process or partition
    went away, or that never settled, is a wrong ending.
    """
    rows = {r["change_id"]: r for r in await conn.fetch(
        "SELECT change_id, entity_id, status, error, counts_as_change, target_budget_minor, applied_budget_minor,"
        " requested_at"
        " FROM ad_change_history WHERE NOT dry_run")}
    per_entity: dict[str, list[tuple[Any, int, asyncpg.Record]]] = defaultdict(list)
    for order, change_id in enumerate(requests):
        if (row := rows.get(change_id)) is not None:
            per_entity[row["entity_id"]].append((row["requested_at"], order, row))
    wrong: list[str] = []
    for entity, items in per_entity.items():
        history = [row for _, _, row in sorted(items, key=lambda x: (x[0], x[1]))]
        live = [r for r in history if r["status"] != "superseded"]
        if not live:
            continue
        last = live[-1]
        before = [r for r in history[: history.index(last)] if r["status"] in APPLIED]
        unchanged = int(before[-1]["applied_budget_minor"] or before[-1]["target_budget_minor"]) if before \
            else start_budget
        if last["status"] in APPLIED:
            want = {int(last["applied_budget_minor"] or last["target_budget_minor"])}
        elif last["status"] == "blocked" or (last["status"] == "failed" and not interrupted(last["error"])):
            want = {unchanged}
            if last["counts_as_change"] and last["target_budget_minor"] is not None:
                want.add(int(last["target_budget_minor"]))  # Meta timed out: it may or may not have applied it
        else:
            wrong.append(f"{entity} ends on a {last['status']} request")
            continue
        got = meta_budget.get(entity)
        if got not in want:
            wrong.append(f"{entity}: Meta {got}, last request {sorted(want)} ({last['status']})")
    return Check("final Meta budget == last non-superseded request", bool(per_entity) and not wrong,
                 f"{len(per_entity)} entities; {len(wrong)} wrong" + (f": {'; '.join(wrong[:3])}" if wrong else ""))


async def check_webhooks(conn: asyncpg.Connection[Any], settings: Settings, topic: str, feed: Feed,
                         consumers: list[str]) -> Check:
    """Each notification acknowledged with a 2xx is on the topic and handled once by every consumer."""
    acked = {eid for d in feed.deliveries if d.landed for eid in d.event_ids}
    on_topic: Counter[str] = Counter()
    for record in await read_topic(settings, topic, wait_s=60):
        try:
            event = decode_as(record.value, DealStageChanged)
        except InvalidEvent:
            continue
        if event.event_id in acked:
            on_topic[event.event_id] += 1
    rows = await conn.fetch("SELECT consumer, event_id FROM inbox WHERE event_id = ANY($1::text[])", sorted(acked))
    handled: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        handled[r["consumer"]].add(r["event_id"])
    missing_topic = len(acked - set(on_topic))
    unhandled = {c: len(acked - handled.get(c, set())) for c in consumers}
    ok = bool(acked) and missing_topic == 0 and not any(unhandled.values())
    return Check("every 2xx webhook -> its events once downstream", ok,
                 f"{len(acked)} notifications acknowledged; {missing_topic} not on the topic, "
                 f"{sum(n - 1 for n in on_topic.values())} duplicate records (deduped by inbox); "
                 f"not handled per consumer: {unhandled}")


def check_retried(feed: Feed, broker_restarts: int) -> Check:
    """Every delivery landed, and - when the broker was restarted - some were answered 503 first.

    A restart with no 503 means the retry path was never exercised (the webhooks sent while the
    broker was away were answered otherwise, or not sent): that is a FAIL, not a vacuous PASS.
    """
    saw_503 = [d for d in feed.deliveries if 503 in d.statuses]
    unlanded = [d for d in feed.deliveries if not d.landed]
    retried_503 = sum(1 for d in saw_503 if d.landed)
    during_outage = sum(1 for d in feed.deliveries if d.during_outage)
    untested = broker_restarts > 0 and not saw_503
    detail = (f"{len(feed.deliveries)} deliveries ({during_outage} sent while the broker was away), answers "
              f"{dict(sorted(feed.answered.items()))}; {len(saw_503)} saw a 503 ({retried_503} landed on retry); "
              f"{len(unlanded)} never landed")
    if untested:
        detail += f"; the broker restarted {broker_restarts}x but no webhook was answered 503: retry path untested"
    return Check("every 503 retried and landed", not unlanded and not untested, detail)


async def check_http_clicks(conn: asyncpg.Connection[Any], feed: Feed, tenant: str) -> Check:
    rows = await conn.fetch("SELECT click_id FROM clicks WHERE tenant_id = $1 AND click_id = ANY($2::text[])",
                            tenant, feed.click_ids)
    seen = Counter(r["click_id"] for r in rows)
    missing = len(set(feed.click_ids) - set(seen))
    extra = sum(n - 1 for n in seen.values())
    return Check("every redirected click indexed once", bool(feed.click_ids) and missing == 0 and extra == 0,
                 f"{len(feed.click_ids)} redirects with a click id ({dict(feed.click_statuses)}); "
                 f"{missing} missing, {extra} extra")
