"""The insights poller's second job: describe each ad set it discovers, once (``CreativeDescribed``).

Why here: the poller is where roasloop first learns that an ad set exists when it was made in Ads
Manager rather than through the launcher. For every ad set in a poll that has no row in
``creative_features`` yet, it reads the ad set (targeting, its campaign's objective) and its
newest ad's creative from the Graph API, turns them into features and an embedding with the
default local embedder (:mod:`streams.integrations.meta_creative`, :mod:`streams.priors.creatives`),
and records the row and publishes the event in one transaction (the event is acked before the row
commits). Exactly once, in the sense that counts:

- a re-poll or a restart finds the row and asks Meta nothing (the check is the table, not memory);
- a crash after the publish but before the commit describes it again on the next poll with the
  *same* event id (the id is the content's digest), so a consumer keyed on event ids sees one;
- an ad set whose ads carry no creative yet (or that Meta will not show) is asked about again only
  after ``RECHECK`` (remembered in memory), so a poll does not re-read it every interval.

A failure to describe never holds back spend snapshots: the caller logs it and moves on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from streams.core.stage import Resources
from streams.integrations.meta_creative import AD_FIELDS, ADSET_FIELDS, describe_graph
from streams.priors.creatives import describe, record, undescribed

log = structlog.get_logger("roasloop.ingest.creatives")
RECHECK = timedelta(hours=6)
ADS_PER_LOOK = 5
Get = Callable[[str, dict[str, str] | None], Awaitable[dict[str, Any]]]


class CreativeDescriber:
    def __init__(self, res: Resources, base_url: str, get: Get) -> None:
        self.res = res
        self.base = base_url
        self.get = get
        self._nothing_until: dict[tuple[str, str], datetime] = {}

    async def describe_new(self, tenant_id: str, adsets: Mapping[str, str], auth: dict[str, str]) -> int:
        """Describe the ad sets of ``adsets`` (ad set -> campaign) not described before; return how many."""
        now = self.res.clock.now()
        async with self.res.pool.acquire() as conn:
            new = await undescribed(conn, tenant_id, list(adsets))
        described = 0
        for adset_id in new:
            if self._nothing_until.get((tenant_id, adset_id), now) > now:
                continue
            if await self._describe(tenant_id, adset_id, adsets[adset_id], auth):
                described += 1
            else:
                self._nothing_until[(tenant_id, adset_id)] = now + RECHECK
        return described

    async def _describe(self, tenant_id: str, adset_id: str, campaign_id: str, auth: dict[str, str]) -> bool:
        adset = await self.get(f"{self.base}/{adset_id}", {**auth, "fields": ADSET_FIELDS})
        ads = await self.get(f"{self.base}/{adset_id}/ads", {**auth, "fields": AD_FIELDS, "limit": str(ADS_PER_LOOK)})
        ad = next((a for a in ads.get("data") or [] if isinstance(a, dict) and isinstance(a.get("creative"), dict)),
                  None)
        if ad is None:
            log.info("creative_not_found", tenant_id=tenant_id, adset_id=adset_id)
            return False
        seen = describe_graph(adset, ad["creative"])
        campaign_id = str(adset.get("campaign_id") or campaign_id)
        async with self.res.effects() as fx:
            group = await fx.conn.fetchval(
                "SELECT group_id FROM entity_groups WHERE tenant_id = $1 AND entity_id = $2", tenant_id, adset_id)
            event = describe(tenant_id=tenant_id, group_id=str(group or campaign_id), campaign_id=campaign_id,
                             entity_id=adset_id, ad_id=str(ad["id"]), features=seen.features, now=fx.now,
                             text=seen.text)
            if await record(fx.conn, event):
                fx.emit(event)
        return True
