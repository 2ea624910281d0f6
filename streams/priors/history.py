"""Where the CTR model's training data comes from: one row per ad per day, with its features.

:class:`HistorySource` is the interface; the real one is
:class:`SpendHistory`: ``SpendReported`` events (``spend.v1``: impressions, clicks, platform
results per entity and day) joined with each entity's features. The lab's
:class:`streams.lab.priors.synthetic.SyntheticHistory` generates one with known true rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from schemas.events import SpendReported
from streams.priors.features import EntityFeatures


@dataclass(frozen=True)
class AdDayRow:
    entity_id: str
    day: date
    features: EntityFeatures
    impressions: int
    clicks: int
    conversions: int = 0
    spend_minor: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.clicks <= self.impressions or not 0 <= self.conversions <= self.clicks:
            raise ValueError(f"{self.entity_id} {self.day}: need 0 <= conversions <= clicks <= impressions")


class HistorySource(Protocol):
    def rows(self) -> Iterable[AdDayRow]: ...


class SpendHistory:
    """``SpendReported`` snapshots (the latest per entity and day wins) joined with features.

    Entities without known features are skipped: the model cannot learn from an ad it cannot
    describe. Conversions are the platform's lead actions (``platform_results``).
    """

    def __init__(self, events: Iterable[SpendReported], features: Mapping[str, EntityFeatures]) -> None:
        self.events = events
        self.features = features

    def rows(self) -> Iterator[AdDayRow]:
        latest: dict[tuple[str, date], SpendReported] = {}
        for event in self.events:
            key = (event.entity_id, event.day)
            if key not in latest or event.occurred_at >= latest[key].occurred_at:
                latest[key] = event
        for (entity_id, day), e in sorted(latest.items()):
            features = self.features.get(entity_id)
            if features is None or e.impressions == 0:
                continue
            clicks = min(e.clicks, e.impressions)
            conversions = min(clicks, e.leads)
            yield AdDayRow(entity_id, day, features, e.impressions, clicks, conversions, e.spend.amount_minor)
