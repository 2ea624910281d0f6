"""The operator audit trail: who changed what a stage obeys, written with the change itself.

Every writer of operator-set values (stage values, guardrail overrides, the kill switch, manual
budget requests) calls :func:`record_operator_action` inside the transaction of its write, so a
change and its audit row commit or roll back together.
"""

from __future__ import annotations

from typing import Any

from streams.core.db import Conn


async def record_operator_action(conn: Conn, tenant_id: str, actor: str, action: str, target: str,
                                 details: dict[str, Any]) -> None:
    """One ``operator_audit`` row; ``actor`` is the operator token's subject (or ``cli``)."""
    await conn.execute(
        "INSERT INTO operator_audit (tenant_id, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)",
        tenant_id, actor, action, target, details,
    )
