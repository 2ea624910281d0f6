"""The sales pipeline's vocabulary: roasloop's canonical stages, their default values, HubSpot's stage ids.

A CRM stage id (``DealStageChanged.stage_id``) means one of four canonical stages: ``lead``,
``appointment``, ``won`` or ``lost``. HubSpot's default sales pipeline maps onto them as below;
a tenant maps a custom pipeline's ids itself (``stage_mappings``). The three valued stages are
worth 500 / 1,500 / 5,000 major units of the tenant's currency until the tenant sets its own.
The revenue stage, the operator API and the sandbox all read this one module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from schemas.money import MINOR_UNIT_EXPONENT

Canonical = Literal["lead", "appointment", "won", "lost"]
ValuedStage = Literal["lead", "appointment", "won"]

STAGES: tuple[Canonical, ...] = ("lead", "appointment", "won", "lost")
VALUED_STAGES: tuple[ValuedStage, ...] = ("lead", "appointment", "won")
DEFAULT_VALUES_MAJOR: dict[ValuedStage, int] = {"lead": 500, "appointment": 1_500, "won": 5_000}

HUBSPOT_STAGES: dict[str, Canonical] = {
    "appointmentscheduled": "lead",
    "qualifiedtobuy": "lead",
    "presentationscheduled": "appointment",
    "decisionmakerboughtin": "appointment",
    "contractsent": "appointment",
    "closedwon": "won",
    "closedlost": "lost",
}
"""HubSpot's default sales pipeline, in its order, and the canonical stage of each of its stage ids."""


def canonical_stage(stage_id: str, overrides: Mapping[str, Canonical] | None = None) -> Canonical | None:
    """The canonical stage of a CRM stage id: tenant overrides, then HubSpot's defaults, then our names.

    None for a stage nobody mapped: it credits nothing (rather than guessing a value).
    """
    if overrides and stage_id in overrides:
        return overrides[stage_id]
    key = stage_id.strip().lower()
    if key in HUBSPOT_STAGES:
        return HUBSPOT_STAGES[key]
    return next((stage for stage in STAGES if stage == key), None)


@dataclass(frozen=True)
class StageValues:
    """A tenant's value per stage, in minor units of ``currency``."""

    currency: str
    lead: int
    appointment: int
    won: int

    def of(self, stage: ValuedStage) -> int:
        value: int = getattr(self, stage)
        return value

    @classmethod
    def defaults(cls, currency: str) -> StageValues:
        """500 / 1,500 / 5,000 in major units of ``currency``, as minor units."""
        scale = 10 ** MINOR_UNIT_EXPONENT[currency]
        return cls(currency=currency, **{s: v * scale for s, v in DEFAULT_VALUES_MAJOR.items()})
