"""Clicks that arrive after their deal: re-check the deals that are waiting for them.

A deal with no matching click yet (or whose click's ad the catalog does not know) waits in
``pending_stage_events``. Each batch of new clicks - and each ad the catalog newly learns - looks
up the waiting deals it may match, in one statement, and re-tries them all at once with
:func:`streams.attribution.stage_batch.resolve_waiting`, in the click batch's transaction.

Conversions are *emitted* into the transaction's :class:`~streams.core.process.Effects`, which
publishes them before it commits: if publishing fails, nothing is recorded and the redelivered
batch does it all again; if the commit fails after a publish, the retry republishes the same
deterministic ``event_id``, which revenue's inbox drops.
"""

from __future__ import annotations

from streams.attribution.context import Context, lock_tenants
from streams.attribution.stage_batch import resolve_waiting

CONSUMER = "attribution"


RECHECK_SQL = """
SELECT DISTINCT p.tenant_id, p.deal_id
FROM unnest($1::text[], $2::text[]) AS n(tenant_id, click_id)
JOIN clicks c ON c.tenant_id = n.tenant_id AND c.click_id = n.click_id
JOIN pending_stage_events p ON p.tenant_id = c.tenant_id
 AND (p.click_id = c.click_id OR p.fbclid = c.fbclid OR p.utm_ad_id = c.ad_id
      OR p.email_hash = c.email_hash OR p.device_id = c.device_id
      OR (p.ip_hash = c.ip_hash AND p.user_agent_hash = c.user_agent_hash))
UNION
SELECT p.tenant_id, p.deal_id
FROM unnest($3::text[], $4::text[]) AS a(tenant_id, ad_id)
JOIN pending_stage_events p ON p.tenant_id = a.tenant_id AND p.waiting_ad_id = a.ad_id
"""


async def recheck(ctx: Context, new_clicks: list[tuple[str, str]], new_ads: list[tuple[str, str]]) -> int:
    """Decide waiting deals that the new clicks or newly catalogued ads may match; returns how many.

    The caller has inserted the clicks in this transaction; the tenants' locks are taken here.
    """
    await lock_tenants(ctx.conn, [t for t, _ in new_clicks] + [t for t, _ in new_ads])
    rows = await ctx.conn.fetch(
        RECHECK_SQL,
        [t for t, _ in new_clicks], [c for _, c in new_clicks], [t for t, _ in new_ads], [a for _, a in new_ads],
    )
    return await resolve_waiting(ctx, sorted((r["tenant_id"], r["deal_id"]) for r in rows), final=False)
