"""What the chaos run checks at the end: lag, and every promised invariant, from the outside.

Each check reads the database, the topics or the Meta stand-in's ``change_log`` - never a stage's
own counters - and returns a :class:`Check` with a PASS/FAIL and the figures behind it.
"""

from __future__ import annotations

import inspect
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.chaos.workload import Workload
from schemas.codec import InvalidEvent, decode_as
from schemas.events import ConversionAttributed
from streams.core.settings import Settings
from streams.core.topic_reader import partitions_of, read_topic, true_end_offsets
from streams.lab.sandbox.meta_state import BudgetChange

HOUR = timedelta(hours=1)


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


async def guarded(name: str, check: Callable[[], Awaitable[Check] | Check]) -> Check:
    """``check``'s result, or a FAIL line saying why it could not be made.

    A check that crashes (a topic that cannot be read to its end on a broker that is slow after
    its restart) must not take the run's other findings with it: the table always prints.
    """
    try:
        made = check()
        return await made if inspect.isawaitable(made) else made
    except Exception as exc:
        return Check(name, False, f"could not be checked: {exc!r}"[:300])


@dataclass
class Tally:
    lost: int = 0
    duplicated: int = 0


async def group_lag(settings: Settings, groups: dict[str, list[str]]) -> dict[str, int]:
    """Committed offset vs true end offset, summed per consumer group (missing commit = from 0).

    Commits are read through a group consumer's ``committed()`` (OffsetFetch v1+): the local
    broker drops the admin client's older OffsetFetch request.
    """
    topics = sorted({t for names in groups.values() for t in names})
    probe = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await probe.start()
    try:
        tps = await partitions_of(probe, topics)
        probe.assign(tps)
        ends = await true_end_offsets(probe, tps)
    finally:
        await probe.stop()
    lag: dict[str, int] = {}
    for group, names in groups.items():
        reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                                  enable_auto_commit=False)
        await reader.start()
        try:
            total = 0
            for tp in tps:
                if tp.topic in names:
                    offset = await reader.committed(tp)
                    total += max(0, ends[tp] - (offset if offset is not None and offset >= 0 else 0))
            lag[group] = total
        finally:
            await reader.stop()
    return lag


async def snapshot(conn: asyncpg.Connection[Any]) -> tuple[int, ...]:
    """Row counts that move while anything is still being processed."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM clicks), (SELECT count(*) FROM deal_attributions),"
        " (SELECT count(*) FROM revenue_ledger), (SELECT count(*) FROM ad_change_history),"
        " (SELECT count(*) FROM ad_change_history WHERE status = 'executing'),"
        " (SELECT count(*) FROM pending_stage_events), (SELECT count(*) FROM inbox)"
    )
    assert row is not None
    return tuple(int(v) for v in row)


async def check_clicks(conn: asyncpg.Connection[Any], work: Workload, tally: Tally) -> Check:
    rows = await conn.fetch("SELECT tenant_id, click_id FROM clicks WHERE click_id LIKE $1", f"rl-{work.run}-%")
    seen = Counter((r["tenant_id"], r["click_id"]) for r in rows)
    expected = work.distinct_clicks
    missing = len(expected - set(seen))
    extra = sum(n - 1 for n in seen.values()) + len(set(seen) - expected)
    tally.lost += missing
    tally.duplicated += extra
    return Check("every click indexed once", missing == 0 and extra == 0,
                 f"{len(seen)}/{len(expected)} indexed, {missing} missing, {extra} extra")


async def check_attributions(conn: asyncpg.Connection[Any], settings: Settings, topic: str, work: Workload,
                             tally: Tally) -> Check:
    rows = await conn.fetch("SELECT tenant_id, deal_id, method, confidence FROM deal_attributions")
    per_deal = Counter((r["tenant_id"], r["deal_id"]) for r in rows)
    expected = set(work.expected_credit)
    missing = len(expected - set(per_deal))
    extra = sum(n - 1 for n in per_deal.values())
    wrong = sum(1 for r in rows if (r["tenant_id"], r["deal_id"]) in expected
                and (r["method"] == "none" or r["confidence"] != work.confidence[(r["tenant_id"], r["deal_id"])]))
    # the topic may carry a conversion twice (same event_id, a republish) but never two attributions of a deal
    seen: dict[tuple[str, str], set[tuple[Any, ...]]] = defaultdict(set)
    for record in await read_topic(settings, topic, wait_s=120):
        try:
            event = decode_as(record.value, ConversionAttributed)
        except InvalidEvent:
            continue  # the poison this run injected on the topic
        seen[(event.tenant_id, event.deal_id)].add((event.method, event.click_id, event.ad_id, event.confidence))
    conflicting = sum(1 for v in seen.values() if len(v) > 1)
    tally.lost += missing
    tally.duplicated += extra + conflicting
    ok = missing == 0 and extra == 0 and conflicting == 0 and wrong == 0
    return Check("every deal attributed once", ok,
                 f"{len(per_deal)}/{len(expected)} deals, {missing} missing, {extra} extra rows, "
                 f"{conflicting} with conflicting conversions, {wrong} with the wrong method")


async def check_revenue(conn: asyncpg.Connection[Any], work: Workload, tally: Tally) -> Check:
    ledger = await conn.fetch("SELECT tenant_id, deal_id, sum(amount_minor) AS total FROM revenue_ledger"
                              " GROUP BY tenant_id, deal_id")
    credited = await conn.fetch("SELECT tenant_id, deal_id, credited_minor FROM deal_credits")
    sums = {(r["tenant_id"], r["deal_id"]): int(r["total"]) for r in ledger}
    states = {(r["tenant_id"], r["deal_id"]): int(r["credited_minor"]) for r in credited}
    low = high = 0
    for key, want in work.expected_credit.items():
        got_sum, got_state = sums.get(key, 0), states.get(key, 0)
        if got_sum < want or got_state < want:
            low += 1
        elif got_sum > want or got_state > want:
            high += 1
    tally.lost += low
    tally.duplicated += high
    want_total = sum(work.expected_credit.values())
    got_total = sum(sums.get(k, 0) for k in work.expected_credit)
    return Check("credited revenue per deal == fault-free", low == 0 and high == 0,
                 f"{low} deals short, {high} over; total {got_total} vs {want_total} expected")


def _matched(log: list[BudgetChange], rows: list[asyncpg.Record]) -> int:
    """Meta changes without their own applied row: a change applied twice (or never recorded)."""
    pending: dict[str, list[int]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["applied_at"]):
        pending[r["entity_id"]].append(int(r["applied_budget_minor"] or r["target_budget_minor"]))
    unmatched = 0
    for change in sorted(log, key=lambda c: c.seq):
        targets = pending[change.entity_id]
        if change.new_budget_minor in targets:
            targets.remove(change.new_budget_minor)
        else:
            unmatched += 1
    return unmatched


async def check_budget_changes(conn: asyncpg.Connection[Any], log: list[BudgetChange], tally: Tally) -> Check:
    rows = await conn.fetch("SELECT * FROM ad_change_history WHERE NOT dry_run")
    applied = [r for r in rows if r["status"] in ("completed", "clamped") and r["previous_budget_minor"] is not None
               and r["applied_budget_minor"] != r["previous_budget_minor"]]
    maybe = [r for r in rows if r["status"] == "failed" and r["counts_as_change"] and r["target_budget_minor"]]
    unmatched = _matched(log, applied + maybe)
    executing = sum(1 for r in rows if r["status"] == "executing")
    tally.duplicated += unmatched
    by_outcome = Counter(r["status"] for r in rows)
    return Check("no budget change applied twice", unmatched == 0 and executing == 0,
                 f"{len(log)} Meta changes for {len(applied)} applied rows; {unmatched} unmatched; "
                 f"{executing} left executing; outcomes {dict(sorted(by_outcome.items()))}")


def check_guardrails(log: list[BudgetChange], max_per_hour: int = 4, fraction: Fraction = Fraction(1, 5),
                     window: timedelta = timedelta(hours=6)) -> Check:
    """From what Meta actually applied: the hourly count and the cumulative 6-hour move per entity."""
    by_entity: dict[str, list[BudgetChange]] = defaultdict(list)
    for change in log:
        by_entity[change.entity_id].append(change)
    hourly = cumulative = 0
    worst = 0
    for changes in by_entity.values():
        changes.sort(key=lambda c: c.seq)
        for i, c in enumerate(changes):
            recent = [x for x in changes[: i + 1] if x.at > c.at - HOUR]
            worst = max(worst, len(recent))
            hourly += len(recent) > max_per_hour
            in_window = [x for x in changes[: i + 1] if x.at > c.at - window]
            base = in_window[0].old_budget_minor
            moved = sum(abs(x.new_budget_minor - (x.old_budget_minor or 0)) for x in in_window)
            if base is not None and moved > int(base * fraction):
                cumulative += 1
    return Check("guardrails held (4/h, 20%/6h)", hourly == 0 and cumulative == 0,
                 f"{len(by_entity)} entities changed, most in an hour {worst}; "
                 f"{hourly} hourly and {cumulative} cumulative violations")


async def check_dlq(settings: Settings, injected: dict[str, int], consumers: dict[str, int],
                    prefix: str) -> tuple[Check, int]:
    """Each consumed topic's DLQ holds poison x consuming groups, each with origin headers."""
    bad: list[str] = []
    total = 0
    for topic, count in injected.items():
        records = await read_topic(settings, topic + ".dlq", wait_s=30)
        total += len(records)
        want = count * consumers.get(topic, 0)
        origins = {dict(r.headers or ()).get("x-dlq-origin-topic", b"").decode() for r in records}
        if len(records) != want or (records and origins != {topic}):
            bad.append(f"{topic.removeprefix(prefix)}: {len(records)} != {want}")
    detail = "; ".join(bad) if bad else f"{total} dead letters, as injected x consuming groups, origins intact"
    return Check("poison -> DLQ only", not bad, detail), total
