"""The envelope every event carries, whatever its topic.

``event_id`` is assigned by the producer and stays the same across retries: it is the key of
every idempotent effect downstream (the inbox row ``(consumer, event_id)``). ``occurred_at`` is
event time - when the thing happened in the world - and is what processors reason with;
``produced_at`` is when it was put on the wire, for lag and debugging only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from schemas.bounds import Ordinal

EventId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")]
TenantId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
EntityId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]

RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
"""JSON Schema's ``date-time``. The parser alone would also take ``2026-05-01 12:30Z`` or a bare
number of seconds: a producer following the schema must not be refused, nor one ignoring it accepted."""
_RFC3339 = re.compile(RFC3339)


_PARSE_DATETIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _rfc3339(value: object) -> object:
    """Refuse what RFC 3339 refuses, then parse: the decoder is strict, and strict takes no string."""
    if not isinstance(value, str):
        return value
    if not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 timestamp with its timezone offset, e.g. 2026-05-01T12:30:00Z")
    try:
        return _PARSE_DATETIME.validate_python(value)
    except ValidationError as exc:
        raise ValueError(exc.errors(include_url=False)[0]["msg"]) from None


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), Field(json_schema_extra={"pattern": RFC3339})]
"""An aware datetime written as RFC 3339 on the wire."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _wire_schema(schema: dict[str, Any], model: type[Envelope]) -> None:
    """What the exported schema adds to pydantic's: the rules the decoder enforces beyond types.

    The decoder dispatches on ``event_type``, so a producer must send it (the Python models default
    it for roasloop's own code). A model's cross-field rules go in ``SCHEMA_RULES`` (JSON Schema
    ``if``/``then``) next to the validator that enforces them, so schema and decoder agree."""
    required = schema.setdefault("required", [])
    if "event_type" not in required:
        required.insert(0, "event_type")
    if model.SCHEMA_RULES:
        schema["allOf"] = list(model.SCHEMA_RULES)


class Envelope(BaseModel):
    """Fields common to every event. Subclasses pin ``event_type`` with a ``Literal``."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False,
                              json_schema_extra=_wire_schema)

    SCHEMA_VERSION: ClassVar[int] = 1
    SCHEMA_RULES: ClassVar[tuple[dict[str, Any], ...]] = ()

    event_id: EventId
    event_type: str
    schema_version: Ordinal = 1
    tenant_id: TenantId
    occurred_at: Timestamp = Field(description="Event time: when it happened in the world.")
    produced_at: Timestamp = Field(default_factory=utcnow, description="When it was published.")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
