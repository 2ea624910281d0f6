"""Cold-start priors for the sampler: what to believe about an ad's pipeline ROAS before evidence.

The contract the sampler calls is :class:`PriorSource`::

    priors = source.prior_for(entities)   # list[EntityFeatures] -> list[Prior], same order

Each :class:`Prior` is a mean pipeline ROAS (pipeline value per unit of spend, a float ratio)
and a **strength**, ``pseudo_spend_minor``: how much spend, in the currency's minor units, of
observed evidence the prior is worth. A conjugate-style blend then reads naturally -
``(prior.mean_roas * prior.pseudo_spend_minor + revenue_minor) / (prior.pseudo_spend_minor +
spend_minor)`` - and the prior fades as the ad's own spend grows past its strength. How the
prior enters the posterior is the sampler's decision; this module only says what it is worth.

``prior_for`` is synchronous, CPU-only and batched (one LightGBM call and one FAISS search per
batch, no I/O): model reloads happen elsewhere (:class:`~streams.priors.registry.ActiveArtifact`),
so it is safe to call from an event loop for the few hundred entities of a group.

Implementations: :class:`NullPriorSource` (priors off) and :class:`CtrAndWinnersPriorSource`,
which blends

- the **CTR model**: ROAS implied by predicted CTR x CVR, pipeline value per platform conversion
  and cost per impression (``ctr * cvr * value_per_conversion / cost_per_impression``), worth
  ``ctr_pseudo_spend_minor`` scaled by the model's validation AUC (an AUC of 0.5 is worth
  nothing), and
- the **nearest winners**: the similarity-weighted mean ROAS of the k most similar past
  winners above ``min_similarity``, each worth up to ``winner_pseudo_spend_minor`` by its
  similarity. Winners are a selected sample (they won), so their ROAS is optimistic;
  ``winner_discount`` shrinks it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from streams.priors.ctr import CtrModel
from streams.priors.embedder import Embedder, embeddings_for
from streams.priors.features import EntityFeatures
from streams.priors.registry import ActiveArtifact
from streams.priors.winners import WinnerIndex

T = TypeVar("T")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Prior:
    mean_roas: float
    pseudo_spend_minor: int
    source: str = "none"  # "none" | "default" | "ctr" | "winners" | "ctr+winners"
    details: Mapping[str, float] = field(default_factory=dict)
    version: int | None = None
    """The registry version of the tenant's priors that answered (None: no registered priors)."""

    def __post_init__(self) -> None:
        if not np.isfinite(self.mean_roas) or self.mean_roas < 0:
            raise ValueError(f"prior mean ROAS must be finite and >= 0, got {self.mean_roas}")
        if self.pseudo_spend_minor < 0:
            raise ValueError("prior strength (pseudo_spend_minor) cannot be negative")


@runtime_checkable
class PriorSource(Protocol):
    """What the sampler calls for entities it has (little or) no evidence about."""

    def prior_for(self, entities: list[EntityFeatures]) -> list[Prior]:
        """One :class:`Prior` per entity, in the same order. Never raises for a missing model or
        an entity without an embedding: it falls back to a weaker (or zero-strength) prior."""
        ...


@runtime_checkable
class TenantPriorSources(Protocol):
    """Priors per tenant (the live sampler's): the tenant's active source, or None while it has none."""

    def for_tenant(self, tenant_id: str) -> PriorSource | None: ...


class NullPriorSource:
    """Priors off: every entity gets ``mean_roas`` with zero strength (the evidence decides)."""

    def __init__(self, mean_roas: float = 1.0) -> None:
        self.mean_roas = mean_roas

    def prior_for(self, entities: list[EntityFeatures]) -> list[Prior]:
        return [Prior(self.mean_roas, 0, "none") for _ in entities]


class PriorConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value_per_conversion_minor: int = Field(50_000, gt=0, description="Pipeline value of one platform "
                                            "conversion (default: a lead stage worth 500.00)")
    cpm_minor: int = Field(1_000, gt=0, description="Expected cost of 1,000 impressions")
    default_cvr: float = Field(0.05, gt=0, le=1, description="Used when the model has no CVR part")
    ctr_pseudo_spend_minor: int = Field(5_000, ge=0)
    winner_pseudo_spend_minor: int = Field(10_000, ge=0, description="Worth of one identical winner")
    max_pseudo_spend_minor: int = Field(50_000, ge=0)
    k: int = Field(10, ge=1, le=1000)
    min_similarity: float = Field(0.3, ge=-1, lt=1)
    winner_discount: float = Field(0.8, gt=0, le=1)
    fallback_mean_roas: float = Field(1.0, ge=0)
    fallback_pseudo_spend_minor: int = Field(0, ge=0)


def _current(source: T | ActiveArtifact[T] | None) -> T | None:
    return source.current if isinstance(source, ActiveArtifact) else source


class CtrAndWinnersPriorSource:
    def __init__(self, ctr_model: CtrModel | ActiveArtifact[CtrModel] | None = None,
                 winners: WinnerIndex | ActiveArtifact[WinnerIndex] | None = None,
                 embedder: Embedder | None = None, config: PriorConfig | None = None) -> None:
        self.ctr_model = ctr_model
        self.winners = winners
        self.embedder = embedder
        self.config = config or PriorConfig()

    def _ctr_part(self, entities: Sequence[EntityFeatures]
                  ) -> tuple[FloatArray, float, dict[str, FloatArray]]:
        model = _current(self.ctr_model)
        if model is None or not entities:
            return np.full(len(entities), np.nan), 0.0, {}
        cfg = self.config
        ctr, cvr = model.predict(entities)
        cvr = np.where(np.isnan(cvr), cfg.default_cvr, cvr)
        roas = ctr * cvr * cfg.value_per_conversion_minor / (cfg.cpm_minor / 1000.0)
        auc = float(model.metrics.get("ctr", {}).get("auc", 0.7))
        quality = float(np.clip((auc - 0.5) / 0.2, 0.0, 1.0)) if np.isfinite(auc) else 0.0
        return roas, cfg.ctr_pseudo_spend_minor * quality, {"ctr": ctr, "cvr": cvr}

    def _winner_part(self, entities: Sequence[EntityFeatures]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(mean ROAS, weight, how many similar winners) per entity."""
        index = _current(self.winners)
        means, weights, counts = np.full(len(entities), np.nan), np.zeros(len(entities)), np.zeros(len(entities))
        if index is None or len(index) == 0 or not entities:
            return means, weights, counts
        cfg = self.config
        vectors, present = embeddings_for(entities, index.dim, self.embedder)
        rows = np.flatnonzero(present)
        if len(rows) == 0:
            return means, weights, counts
        for row, neighbours in zip(rows.tolist(), index.search(vectors[rows], cfg.k), strict=True):
            w = np.array([max(n.similarity - cfg.min_similarity, 0.0) / (1 - cfg.min_similarity)
                          for n in neighbours])
            if w.sum() > 0:
                r = np.array([n.roas for n in neighbours])
                means[row] = cfg.winner_discount * float((w * r).sum() / w.sum())
                weights[row] = float(w.sum())
                counts[row] = float((w > 0).sum())
        return means, weights, counts

    def prior_for(self, entities: list[EntityFeatures]) -> list[Prior]:
        cfg = self.config
        ctr_roas, ctr_strength, ctr_details = self._ctr_part(entities)
        win_roas, win_weight, win_count = self._winner_part(entities)
        priors = []
        for i in range(len(entities)):
            parts: list[tuple[str, float, float]] = []
            if np.isfinite(ctr_roas[i]) and ctr_strength > 0:
                parts.append(("ctr", float(ctr_roas[i]), ctr_strength))
            if np.isfinite(win_roas[i]) and win_weight[i] > 0:
                win_strength = cfg.winner_pseudo_spend_minor * float(win_weight[i])
                parts.append(("winners", float(win_roas[i]), win_strength))
            details: dict[str, float] = {f"{name}_roas": mean for name, mean, _ in parts}
            details.update({name: float(values[i]) for name, values in ctr_details.items()})
            details["winner_weight"] = float(win_weight[i])
            details["winners"] = float(win_count[i])
            strength = sum(s for _, _, s in parts)
            if strength <= 0:
                fallback = Prior(cfg.fallback_mean_roas, cfg.fallback_pseudo_spend_minor, "default", details)
                priors.append(fallback)
                continue
            mean = sum(m * s for _, m, s in parts) / strength
            priors.append(Prior(mean, round(min(strength, cfg.max_pseudo_spend_minor)),
                                "+".join(name for name, _, _ in parts), details))
        return priors
