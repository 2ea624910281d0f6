"""Bytes <-> events, with errors a person can act on.

``decode`` is the only way bytes off a topic become an event. It dispatches on
``event_type`` through a discriminated union, so an unknown type, a naive timestamp or a
negative budget fails with one :class:`InvalidEvent` that names the field and the reason.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import Field, TypeAdapter, ValidationError

from schemas.envelope import Envelope
from schemas.events import (
    AdClicked,
    AlertNotified,
    AllocationDecided,
    BudgetChangeRequested,
    BudgetChangeReviewed,
    BudgetChangeSettled,
    ConversionAttributed,
    CreativeDescribed,
    DealStageChanged,
    RevenueRecognized,
    SpendReported,
)
from schemas.launch import LaunchRequested, LaunchSettled

EVENT_MODELS: tuple[type[Envelope], ...] = (
    AdClicked,
    DealStageChanged,
    ConversionAttributed,
    RevenueRecognized,
    SpendReported,
    AllocationDecided,
    BudgetChangeRequested,
    BudgetChangeReviewed,
    BudgetChangeSettled,
    AlertNotified,
    LaunchRequested,
    LaunchSettled,
    CreativeDescribed,
)
MODEL_BY_TYPE: dict[str, type[Envelope]] = {m.__name__: m for m in EVENT_MODELS}

AnyEvent = Annotated[
    AdClicked
    | DealStageChanged
    | ConversionAttributed
    | RevenueRecognized
    | SpendReported
    | AllocationDecided
    | BudgetChangeRequested
    | BudgetChangeReviewed
    | BudgetChangeSettled
    | AlertNotified
    | LaunchRequested
    | LaunchSettled
    | CreativeDescribed,
    Field(discriminator="event_type"),
]
_ANY_EVENT: TypeAdapter[Envelope] = TypeAdapter(AnyEvent)

E = TypeVar("E", bound=Envelope)


class InvalidEvent(ValueError):
    """Bytes that are not a valid event. Non-retryable: the message belongs on a DLQ."""


def describe(error: ValidationError) -> str:
    """One line per problem: ``field.path: message``."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "<event>"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def decode(raw: bytes | str, expected: type[E] | None = None) -> E | Envelope:
    """Parse and validate one event; raise :class:`InvalidEvent` with a readable reason."""
    try:
        # strict: JSON Schema's types, not pydantic's coercions ("100" is no integer, 1 no boolean)
        event = _ANY_EVENT.validate_json(raw, strict=True)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from exc
    if expected is not None and not isinstance(event, expected):
        raise InvalidEvent(f"expected {expected.__name__}, got event_type {event.event_type!r}")
    return event


def decode_as(raw: bytes | str, expected: type[E]) -> E:
    """Like :func:`decode`, typed for callers that know the topic's model."""
    event = decode(raw, expected)
    assert isinstance(event, expected)
    return event


def encode(event: Envelope) -> bytes:
    return event.model_dump_json().encode()
