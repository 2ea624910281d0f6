"""The envelope every event carries, whatever its topic.

``event_id`` is assigned by the producer and stays the same across retries: it is the key of
every idempotent effect downstream (the inbox row ``(consumer, event_id)``). ``occurred_at`` is
event time - when the thing happened in the world - and is what processors reason with;
``produced_at`` is when it was put on the wire, for lag and debugging only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EventId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")]
TenantId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
EntityId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Fields common to every event. Subclasses pin ``event_type`` with a ``Literal``."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: EventId
    event_type: str
    schema_version: int = Field(default=1, ge=1)
    tenant_id: TenantId
    occurred_at: AwareDatetime = Field(description="Event time: when it happened in the world.")
    produced_at: AwareDatetime = Field(default_factory=utcnow, description="When it was published.")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
