"""What every attribution path works in: one transaction, its tenants locked, and the settings.

Every path - a batch of stage events, a batch of clicks re-checking waiting deals, the sweeper's
expiry - takes its tenants' advisory locks first. Without them a click committed between a
deal's "no click yet" read and its "pending" insert would match nobody: the click's re-check
would not see the uncommitted pending row, and the deal would expire unattributed with its click
indexed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from streams.attribution.settings import AttributionSettings
from streams.core.db import Conn
from streams.core.process import Effects


async def lock_tenants(conn: Conn, tenant_ids: Iterable[str]) -> None:
    """Lock tenants until the transaction ends, in one round trip and always in sorted order.

    Every batch (clicks, deal stages, the sweeper) takes its tenants in that one order, so two
    batches never wait on each other in a cycle; the locks are taken one after the other in the
    array's order (volatile functions run after ``ORDER BY``).
    """
    ordered = sorted(set(tenant_ids))
    if ordered:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('roasloop-attribution:' || u.t, 0))"
            " FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY u.i", ordered,
        )


@dataclass
class Context:
    """What every path needs: the transaction's effects (connection, now, emit) and the settings."""

    fx: Effects
    config: AttributionSettings

    @property
    def conn(self) -> Conn:
        return self.fx.conn

    @property
    def now(self) -> datetime:
        return self.fx.now
