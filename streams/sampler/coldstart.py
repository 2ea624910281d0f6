"""Where a new entity's belief comes from before its pipeline speaks: blended prior scoring.

A new ad set has spent nothing and closed nothing, yet the sampler must give it *some* budget and
*some* belief. The prior is on its deal rate (deals per unit spend; value per deal starts at the
group's, see :mod:`streams.sampler.model`). Three sources are blended, each as a (mean, strength)
pair where strength is measured in units of spend - the same unit as pipeline evidence, so the
posterior mean ``(sum w_i m_i + n) / (sum w_i + E)`` slides from the priors to the entity's own
pipeline exactly as fast as pipeline evidence accumulates:

- **group**: the group's pooled deal rate (new entities look like their siblings);
- **platform**: the entity's platform signals from ``spend.v1`` - results (leads) per unit spend
  or, when the platform reports none, clicks per unit spend at the group's deals per click. These
  arrive with the spend, before any deal is in the CRM;
- **source**: a pluggable :class:`~streams.priors.source.PriorSource` (the LightGBM CTR
  model and the FAISS winner index); its answer carries its own strength in pseudo-spend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streams.priors.features import EntityFeatures
from streams.priors.source import Prior as SourcePrior
from streams.priors.source import PriorSource, TenantPriorSources
from streams.sampler.model import Evidence, FloatArray, Prior


def external_priors(source: PriorSource | TenantPriorSources | None, entity_ids: Sequence[str],
                    features: Mapping[str, EntityFeatures] | None = None,
                    tenant_id: str | None = None) -> list[SourcePrior | None]:
    """Ask the prior source about ``entity_ids`` (bare features where none are known), one batch.

    A per-tenant source (the live one) answers with ``tenant_id``'s active priors, or not at all
    while that tenant has none."""
    if isinstance(source, TenantPriorSources):
        source = source.for_tenant(tenant_id) if tenant_id is not None else None
    if source is None or not entity_ids:
        return [None] * len(entity_ids)
    known = features or {}
    batch = [known.get(e) or EntityFeatures(entity_id=e) for e in entity_ids]
    return list(source.prior_for(batch))


def prior_fields(prior: SourcePrior | None) -> dict[str, object]:
    """What a decision records of the external prior an entity started from (nothing without one)."""
    if prior is None or prior.pseudo_spend_minor <= 0:
        return {}
    return {"prior_version": prior.version, "prior_mean_roas": prior.mean_roas,
            "prior_strength_minor": prior.pseudo_spend_minor, "prior_source": prior.source,
            "prior_winners": int(prior.details.get("winners", 0))}


@dataclass(frozen=True)
class PriorConfig:
    default_roas: float = 1.0
    """Prior mean ROAS when the group has no pipeline evidence at all (break-even)."""
    group_days: float = 1.0
    """Strength of the group prior, in days of the entity's fair share of the group budget."""
    platform_days: float = 3.0
    """Strength of the platform signal at full confidence, in the same unit."""
    platform_half_count: float = 5.0
    """Platform results (or clicks / 20) at which the platform signal reaches half its strength."""
    value_pseudo_deals: float = 3.0
    """How many deals' worth of the group's value per deal a new entity starts with."""


@dataclass(frozen=True)
class GroupPrior:
    """Priors of one group: on deals per unit spend (per entity), and the group's value per deal."""

    rate: Prior
    value_per_deal: float


def unit_spend(day_spend: float) -> float:
    return max(day_spend, 1.0)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def blend(
    evidence: Evidence,
    day_spend: float,
    config: PriorConfig,
    external: Sequence[SourcePrior | None] | None = None,
) -> GroupPrior:
    """Prior per entity. ``day_spend`` is an entity's fair daily share of the group budget."""
    k = evidence.deal_exposure.size
    g_deals = float(evidence.deals.sum())
    g_spend = float(evidence.spend.sum())
    g_results = _ratio(float(evidence.results.sum()), g_spend)
    g_clicks = _ratio(float(evidence.clicks.sum()), g_spend)
    if g_deals > 0:
        # the typical sibling, not the spend-weighted pool: a starved entity must not inherit the
        # rate of the entity that got the money (that would make every loser look like the winner)
        pooled = g_deals / float(evidence.deal_exposure.sum())
        seen = evidence.deal_exposure > 0
        own_rates = (evidence.deals[seen] + pooled * 0.5 * unit_spend(day_spend)) / (
            evidence.deal_exposure[seen] + 0.5 * unit_spend(day_spend))
        g_rate = float(np.mean(own_rates))
        g_value = max(float(np.clip(evidence.revenue, 0, None).sum()), 1.0) / max(
            float(evidence.value_exposure.sum()), 1e-9)
    else:  # nothing credited yet: platform rates stand in, value per deal from the default ROAS
        g_rate = g_results or 0.02 * g_clicks or 1e-4
        g_value = config.default_roas / g_rate
    unit = unit_spend(day_spend)
    means: list[FloatArray] = [np.full(k, g_rate)]
    weights: list[FloatArray] = [np.full(k, config.group_days * unit)]

    with np.errstate(divide="ignore", invalid="ignore"):
        if g_results > 0:  # platform-reported results (leads) per unit spend: a direct deal-rate signal
            own = np.where(evidence.spend > 0, evidence.results / evidence.spend, 0.0)
            count = evidence.results
        else:  # clicks per unit spend, at the group's deals per click
            per_click = _ratio(g_deals, float(evidence.clicks.sum())) or 0.02
            own = np.where(evidence.spend > 0, evidence.clicks / evidence.spend, 0.0) * per_click
            count = evidence.clicks / 20.0
    confidence = np.where(evidence.spend > 0, count / (count + config.platform_half_count), 0.0)
    means.append(np.asarray(own, dtype=np.float64))
    weights.append(np.asarray(config.platform_days * unit * confidence, dtype=np.float64))

    if external is not None:
        means.append(np.array([p.mean_roas / g_value if p else 0.0 for p in external], dtype=np.float64))
        weights.append(np.array([float(p.pseudo_spend_minor) if p else 0.0 for p in external], dtype=np.float64))

    w = np.vstack(weights)
    m = np.vstack(means)
    strength = w.sum(axis=0)
    mean = (w * m).sum(axis=0) / strength
    return GroupPrior(Prior(np.asarray(mean, dtype=np.float64), np.asarray(strength, dtype=np.float64)), g_value)
