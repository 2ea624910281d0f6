"""Owner epochs per partition, so an instance that lost a partition can no longer call Meta for it.

Why not trust the rebalance callbacks alone: an instance can go on running a request after its
partition moved (a revoke that comes late, a paused process, a session that timed out), and the
new owner cannot tell whether a change it finds ``executing`` was sent. So every assignment bumps
the partition's epoch in PostgreSQL, a job carries the epoch its record was read under, and the
transaction that marks an intent *sent* checks, under ``FOR SHARE``, that the epoch is still the
current one. The new owner's bump waits for that transaction or wins against it: either the old
owner's send is recorded before the new owner looks, or it is refused. The intent row records
which topic, partition and epoch sent it.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from streams.core.db import Conn


@dataclass(frozen=True)
class Fence:
    """The partition a job's record came from, and the owner epoch it was read under."""

    topic: str
    partition: int
    epoch: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.epoch}"


class Fenced(Exception):
    """The partition moved to another owner: this instance must not call Meta for the change."""


def instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


async def claim(conn: Conn | asyncpg.Pool[Any], topic: str, partition: int, owner: str, at: datetime) -> int:
    """Take ownership of a partition: bump and return its epoch (1 for a partition never owned)."""
    epoch = await conn.fetchval(
        "INSERT INTO executor_partition_epochs (topic, partition, epoch, owner, claimed_at) "
        "VALUES ($1, $2, 1, $3, $4) ON CONFLICT (topic, partition) DO UPDATE "
        "SET epoch = executor_partition_epochs.epoch + 1, owner = $3, claimed_at = $4 RETURNING epoch",
        topic, partition, owner, at,
    )
    return int(epoch)


async def mark_sent(conn: Conn, change_id: str, fence: Fence | None, at: datetime) -> asyncpg.Record | None:
    """Record that the change is about to be sent, if ``fence`` still holds; in the caller's transaction.

    Returns the intent as marked; None when the intent is no longer an unsent ``executing`` row
    (someone settled, re-decided or sent it first). Raises :class:`Fenced` when the epoch moved on.
    ``fence=None`` (a single executor driven directly: tests, tools) marks without a check.
    """
    if fence is not None:
        current = await conn.fetchval(
            "SELECT epoch FROM executor_partition_epochs WHERE topic = $1 AND partition = $2 FOR SHARE",
            fence.topic, fence.partition,
        )
        if current != fence.epoch:
            raise Fenced(f"{fence} is no longer the owner (current epoch {current})")
    return await conn.fetchrow(
        "UPDATE ad_change_history SET sent_at = $2, sent_topic = $3, sent_partition = $4, sent_epoch = $5 "
        "WHERE change_id = $1 AND status = 'executing' AND sent_at IS NULL RETURNING *",
        change_id, at, fence.topic if fence else None, fence.partition if fence else None,
        fence.epoch if fence else None,
    )
