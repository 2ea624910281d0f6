"""The per-campaign summary of a dev or end-to-end run, read back from the topics themselves.

Reading the topics (not the stages' tables) keeps the report honest about what actually flowed
and independent of how each stage stores its state. ``best_share_*`` is the share of the group's
budget on the truly best ad set (the market's ground truth): at the start, and now as the Meta
stand-in holds it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas import AdClicked, BudgetChangeSettled, ConversionAttributed, RevenueRecognized, SpendReported
from schemas.codec import decode
from schemas.topics import BUDGET_OUTCOMES, CLICKS, CONVERSIONS, REVENUE, SPEND, Topic
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.core.topic_reader import read_topic


@dataclass(frozen=True)
class CampaignTruth:
    campaign_id: str
    adsets: tuple[str, ...]
    best_adset: str
    start_budgets: Mapping[str, int]


def _share(budgets: Mapping[str, int], adsets: tuple[str, ...], best: str) -> float:
    total = sum(budgets.get(a, 0) for a in adsets)
    return round(budgets.get(best, 0) / total, 4) if total else 0.0


async def _events(settings: Settings, topic: Topic) -> list[Any]:
    events = []
    for record in await read_topic(settings, topic_name(settings, topic)):
        try:
            events.append(decode(record.value))
        except ValueError:
            continue  # poison on a topic is the DLQ's business, not the summary's
    return events


async def campaign_summary(
    settings: Settings,
    campaigns: list[CampaignTruth],
    ad_to_campaign: Mapping[str, str],
    current_budgets: Mapping[str, int],
) -> dict[str, Any]:
    clicks: Counter[str] = Counter()
    for event in await _events(settings, CLICKS):
        if isinstance(event, AdClicked):
            clicks[event.campaign_id or ad_to_campaign.get(event.ad_id, "")] += 1

    methods: dict[str, Counter[str]] = defaultdict(Counter)
    seen_deals: set[str] = set()
    unattributed: set[str] = set()
    for event in await _events(settings, CONVERSIONS):
        if not isinstance(event, ConversionAttributed) or event.deal_id in seen_deals:
            continue
        seen_deals.add(event.deal_id)
        if event.campaign_id is None:
            unattributed.add(event.deal_id)
        else:
            methods[event.campaign_id][event.method] += 1

    revenue: Counter[str] = Counter()
    for event in await _events(settings, REVENUE):
        if isinstance(event, RevenueRecognized):
            revenue[event.campaign_id] += event.amount.amount_minor

    latest_spend: dict[tuple[str, str], SpendReported] = {}
    for event in await _events(settings, SPEND):
        if isinstance(event, SpendReported):
            latest_spend[(event.entity_id, event.day.isoformat())] = event  # snapshots: the last one wins
    spend: Counter[str] = Counter()
    for event in latest_spend.values():
        spend[event.campaign_id] += event.spend.amount_minor

    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for event in await _events(settings, BUDGET_OUTCOMES):
        if isinstance(event, BudgetChangeSettled):
            outcomes[event.campaign_id][event.outcome] += 1

    rows = [
        {
            "campaign_id": c.campaign_id,
            "clicks": clicks[c.campaign_id],
            "deals_attributed": dict(methods[c.campaign_id]),
            "pipeline_revenue_minor": revenue[c.campaign_id],
            "spend_minor": spend[c.campaign_id],
            "changes_by_outcome": dict(outcomes[c.campaign_id]),
            "best_adset": c.best_adset,
            "best_share_start": _share(c.start_budgets, c.adsets, c.best_adset),
            "best_share_end": _share(current_budgets, c.adsets, c.best_adset),
        }
        for c in campaigns
    ]
    return {"campaigns": rows, "deals_unattributed": len(unattributed)}
