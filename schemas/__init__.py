"""roasloop's wire contract: event models, the topic catalog, JSON Schema export."""

from schemas.codec import AnyEvent, InvalidEvent, decode, decode_as, encode
from schemas.envelope import Envelope
from schemas.events import (
    AdClicked,
    AlertNotified,
    AllocationDecided,
    BudgetChangeRequested,
    BudgetChangeReviewed,
    BudgetChangeSettled,
    ContactSignals,
    ConversionAttributed,
    CreativeDescribed,
    DealStageChanged,
    EntityAllocation,
    GuardrailResult,
    RevenueRecognized,
    SpendReported,
    Utm,
)
from schemas.money import Money, SignedMoney

__all__ = [
    "AdClicked",
    "AlertNotified",
    "AllocationDecided",
    "AnyEvent",
    "BudgetChangeRequested",
    "BudgetChangeReviewed",
    "BudgetChangeSettled",
    "ContactSignals",
    "ConversionAttributed",
    "CreativeDescribed",
    "DealStageChanged",
    "EntityAllocation",
    "Envelope",
    "GuardrailResult",
    "InvalidEvent",
    "Money",
    "RevenueRecognized",
    "SignedMoney",
    "SpendReported",
    "Utm",
    "decode",
    "decode_as",
    "encode",
]
