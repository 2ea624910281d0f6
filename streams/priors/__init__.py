"""Cold-start priors: a LightGBM CTR model and a FAISS index of past winners behind one PriorSource."""

from streams.priors.features import EntityFeatures
from streams.priors.source import (
    CtrAndWinnersPriorSource,
    NullPriorSource,
    Prior,
    PriorConfig,
    PriorSource,
)
from streams.priors.winners import DimensionMismatch, Neighbour, WinnerIndex

__all__ = [
    "CtrAndWinnersPriorSource",
    "DimensionMismatch",
    "EntityFeatures",
    "Neighbour",
    "NullPriorSource",
    "Prior",
    "PriorConfig",
    "PriorSource",
    "WinnerIndex",
]
