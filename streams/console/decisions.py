"""Why the budget moved: a decision, explained.

An explanation joins what the sampler logged (every ad set's posterior, the shares it used - its
propensities - and the budgets it asked for) with what the executor did to each request (the
outcome, the applied budget, every guardrail check with its limit and observed value), and says
it in one sentence a person reads first::

    moved 18% of the budget from A to C: C's pipeline ROAS is 3.1 (2.4-3.9) vs A's 1.2 (0.8-1.7);
    capped at +20% in 6 h
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from streams.console.endpoint import Call, not_found
from streams.console.priors import prior_note
from streams.console.render import answer
from streams.core.controls.limits import LimitsBook, guardrail_settings

CHANGE_FIELDS = ("change_id", "entity_id", "status", "requested_budget_minor", "target_budget_minor",
                 "previous_budget_minor", "applied_budget_minor", "clamped", "guardrails", "error", "reviewed_by",
                 "decided_at", "settled_at", "expires_at")


async def decision(call: Call) -> Response:
    res = call.context_of().res
    tenant, decision_id = call.tenant_id, call.path("decision_id")
    async with res.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT payload FROM sampler_decisions WHERE tenant_id = $1 AND decision_id = $2",
                                  tenant, decision_id)
        if row is None:
            raise not_found(f"decision {decision_id}")
        changes = await conn.fetch(
            f"SELECT {', '.join(CHANGE_FIELDS)} FROM ad_change_history WHERE tenant_id = $1 AND decision_id = $2",
            tenant, decision_id)
        book = await LimitsBook.load(conn, guardrail_settings(), tenants=[tenant])
    return answer("decision", explain(row["payload"], [dict(c) for c in changes], book))


async def group_decisions(call: Call) -> Response:
    """A group's decisions, newest first: when, why, and how many changes each asked for."""
    res = call.context_of().res
    tenant, group = call.tenant_id, call.path("group_id")
    limit = call.query_int("limit", 50, 1, 500)
    async with res.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT decision_id, decided_at, paused, requests, payload->>'reason' AS reason FROM sampler_decisions"
            " WHERE tenant_id = $1 AND group_id = $2 ORDER BY decided_at DESC LIMIT $3", tenant, group, limit)
    return answer("decisions", {"decisions": [dict(r) for r in rows]})


def _roas(a: Mapping[str, Any]) -> str:
    median, low, high = a.get("posterior_median"), a.get("posterior_p10"), a.get("posterior_p90")
    if median is None:
        mean = a.get("posterior_mean")
        return "unknown" if mean is None else f"{mean:.1f}"
    return f"{median:.1f} ({low:.1f}-{high:.1f})"


def before_of(allocation: Mapping[str, Any], change: Mapping[str, Any] | None) -> int | None:
    """An ad set's budget before the decision: as the sampler knew it, else as the executor found it."""
    known = allocation.get("previous_budget_minor")
    if known is None and change is not None:
        known = change.get("previous_budget_minor")
    return None if known is None else int(known)


def sentence(payload: Mapping[str, Any], changes: Mapping[str, Mapping[str, Any]], book: LimitsBook) -> str:
    """One plain sentence: where the money went, why, and what the guardrails did to it."""
    allocations = payload["allocations"]
    previous = {a["entity_id"]: before_of(a, changes.get(a["entity_id"])) for a in allocations}
    moves = [(a["budget_minor"] - previous[a["entity_id"]], a) for a in allocations
             if previous[a["entity_id"]] is not None and a["budget_minor"] != previous[a["entity_id"]]]
    if payload.get("paused"):
        return "automation is paused: the allocation was logged, no change was requested"
    if not moves:
        return "no budget moved: every change was within the hysteresis"
    before = sum(p for p in previous.values() if p is not None)
    moved = sum(-delta for delta, _ in moves if delta < 0) or sum(delta for delta, _ in moves if delta > 0)
    up = max(moves, key=lambda m: m[0])[1]
    down = min(moves, key=lambda m: m[0])[1]
    pct = round(100 * moved / before) if before else 0
    if up is down or min(m[0] for m in moves) > 0:
        text = f"raised {up['entity_id']} ({pct}% of the budget): its pipeline ROAS is {_roas(up)}"
    elif max(m[0] for m in moves) < 0:
        text = f"cut {down['entity_id']} ({pct}% of the budget): its pipeline ROAS is {_roas(down)}"
    else:
        text = (f"moved {pct}% of the budget from {down['entity_id']} to {up['entity_id']}: "
                f"{up['entity_id']}'s pipeline ROAS is {_roas(up)} vs {down['entity_id']}'s {_roas(down)}")
    effects = []
    for change in changes.values():
        failed = [g["name"] for g in change.get("guardrails") or [] if not g.get("passed")]
        if "cumulative_change" in failed and change["status"] in ("clamped", "blocked", "shadow", "awaiting_approval"):
            limits = book.limits_for(payload["tenant_id"], payload["campaign_id"], change["entity_id"])
            hours = limits.change_window.total_seconds() / 3600
            effects.append(f"capped at ±{float(limits.max_change_fraction) * 100:.0f}% in {hours:g} h")
        elif failed and change["status"] == "blocked":
            effects.append(f"{change['entity_id']} blocked by {', '.join(failed)}")
    waiting = [c["entity_id"] for c in changes.values() if c["status"] == "awaiting_approval"]
    if waiting:
        effects.append(f"waiting for approval: {', '.join(waiting)}")
    return "; ".join([text, *dict.fromkeys(effects)])


def explain(payload: Mapping[str, Any], changes: list[dict[str, Any]], book: LimitsBook) -> dict[str, Any]:
    by_entity = {c["entity_id"]: c for c in changes}
    return {
        "decision_id": payload["decision_id"], "occurred_at": payload["occurred_at"],
        "group_id": payload["group_id"], "campaign_id": payload["campaign_id"], "policy": payload["policy"],
        "seed": payload.get("seed"), "paused": payload.get("paused", False), "reason": payload.get("reason"),
        "total_budget": payload["total_budget"], "sentence": sentence(payload, by_entity, book),
        "adsets": [{
            "entity_id": a["entity_id"], "share": a["share"],
            "posterior": {"mean": a.get("posterior_mean"), "median": a.get("posterior_median"),
                          "p10": a.get("posterior_p10"), "p90": a.get("posterior_p90"),
                          "p5": a.get("posterior_low"), "p95": a.get("posterior_high")},
            "previous_budget_minor": before_of(a, by_entity.get(a["entity_id"])),
            "requested_budget_minor": a["budget_minor"],
            "change": by_entity.get(a["entity_id"]),
            "prior": prior_note(a),
        } for a in payload["allocations"]],
    }
