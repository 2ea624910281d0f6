"""The ad-account rule: Meta refused an account's token (revoked, expired, or no role on the account).

Why an alert and not only a log line: a refused token silently stops that account's insights (the
sampler then decides on stale spend) and every change or launch on it fails, while the other
accounts carry on and nothing looks broken. Raised per tenant and account from
``meta_ad_accounts`` (marked by the insights poller), resolved when a poll succeeds again or an
admin stores new credentials. The reason shown is Meta's, already scrubbed of secrets.
"""

from __future__ import annotations

from streams.alerts.store import Alerting, Condition
from streams.core.process import Effects

TOKEN_REFUSED = "meta_token_refused"


async def tokens_refused(alerting: Alerting, fx: Effects) -> None:
    rows = await fx.conn.fetch("SELECT tenant_id, account_id, refused_at, refused_reason FROM meta_ad_accounts"
                               " WHERE status = 'refused' ORDER BY tenant_id, account_id")
    found = set()
    for r in rows:
        found.add((r["tenant_id"], r["account_id"]))
        await alerting.hold(fx, Condition(
            r["tenant_id"], TOKEN_REFUSED, r["account_id"], "critical",
            f"Meta refuses the token of ad account {r['account_id']}",
            "roasloop can neither read this account's spend nor change or launch anything on it (other accounts "
            f"are not affected). Meta said: {r['refused_reason'] or 'no reason given'}. Issue a new system-user "
            "token and store it with PUT /v1/tenants/{tenant}/ad-accounts/{account}.",
            {"account_id": r["account_id"], "refused_at": r["refused_at"].isoformat()}))
    for row in await alerting.firing(fx.conn, TOKEN_REFUSED):
        if (row["tenant_id"], row["subject"]) not in found:
            await alerting.clear(fx, row["tenant_id"], TOKEN_REFUSED, row["subject"], "Meta accepts the token again")
