"""Creatives for the simulated market: what an ad set looks like, and how much that tells.

Creative-based priors rest on one premise: an ad's creative and targeting partly predict how it
will perform. A scenario with a ``creatives`` section makes that true in the sandbox. Each ad set
gets a creative - an embedding vector (as a vision/text model would produce) and categorical
features (format, call to action, audience, placement, ...) - and its hidden rates become::

    ctr        = base ctr        * exp(s_ctr)
    cpc        = base cpc        * exp(-cpc_follows_ctr * s_ctr)      # 1.0: constant CPM
    lead_rate  = base lead_rate  * exp(s_lead)                        # capped at 1
    deal value = base deal value * exp(s_value)

    s_x = x_sd * (sqrt(1 - noise_share) * (a * w_x . e + b * sum of category effects) + sqrt(noise_share) * z)

with ``e`` the unit-variance embedding (drawn around one of the account's ``concepts`` when
there are any: ads of one theme look alike, as real creative embeddings do), ``z`` unpredictable
noise, and the **hidden** weights ``w_x`` and per-category effects drawn from ``account_seed``:
the account's audience has one taste across runs of the scenario, while each run (market seed)
draws new creatives. So a past run of the same scenario is the account's history, and it teaches
something true about today's new ads without containing them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streams.lab.sandbox.market_scenario import AdSetSpec, Creatives

CREATIVE_TYPES: tuple[str, ...] = ("video", "image", "carousel", "text")
CALLS_TO_ACTION: tuple[str, ...] = ("learn_more", "sign_up", "book_demo", "get_quote", "contact_us", "download")
AUDIENCES: tuple[str, ...] = ("broad", "interest", "lookalike", "retargeting")
PLACEMENTS: tuple[str, ...] = ("auto", "feed", "stories", "reels")
CATEGORIES: dict[str, tuple[str, ...]] = {
    "creative_type": CREATIVE_TYPES,
    "call_to_action": CALLS_TO_ACTION,
    "audience": AUDIENCES,
    "placement": PLACEMENTS,
}
TARGETS: tuple[str, ...] = ("ctr", "lead", "value")
_ACCOUNT_SLOT = 3_000_000
_CREATIVE_SLOT = 2_000_000


@dataclass(frozen=True)
class AdSetCreative:
    """The creative an ad set runs (its main ad): visible to roasloop, unlike its effect."""

    embedding: tuple[float, ...]
    creative_type: str
    call_to_action: str
    audience: str
    placement: str
    has_faces: bool
    headline_length: int
    video_duration_s: float | None


@dataclass(frozen=True)
class CreativeEffect:
    """Log multipliers a creative applies to its ad set's base rates (ground truth)."""

    ctr: float
    lead: float
    value: float


def _rng(seed: int, *path: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, *path]))


@dataclass(frozen=True)
class AccountTaste:
    """The hidden weights: how this account's audience responds to creatives."""

    weights: dict[str, np.ndarray]  # target -> embedding weights (unit norm)
    effects: dict[str, dict[str, dict[str, float]]]  # target -> category -> level -> effect (unit sd)

    @classmethod
    def draw(cls, cfg: Creatives) -> AccountTaste:
        rng = _rng(cfg.account_seed, _ACCOUNT_SLOT)
        weights: dict[str, np.ndarray] = {}
        effects: dict[str, dict[str, dict[str, float]]] = {}
        for target in TARGETS:
            w = rng.normal(size=cfg.dim)
            weights[target] = w / np.linalg.norm(w)
            effects[target] = {}
            for name, levels in CATEGORIES.items():
                raw = rng.normal(size=len(levels))
                effects[target][name] = {lvl: float(v) for lvl, v in zip(levels, raw - raw.mean(), strict=True)}
        return cls(weights, effects)


def draw_creative(cfg: Creatives, seed: int, adset_index: int) -> tuple[AdSetCreative, np.ndarray]:
    """The ad set's creative for a market seed, and the noise draws (one per target) of its effect."""
    rng = _rng(seed, _CREATIVE_SLOT, adset_index)
    embedding = rng.normal(size=cfg.dim)
    if cfg.concepts > 0:  # around one of the account's concepts (its own slots: other draws unchanged)
        concept = int(_rng(seed, _CREATIVE_SLOT + 1, adset_index).integers(0, cfg.concepts))
        centre = _rng(cfg.account_seed, _ACCOUNT_SLOT + 1, concept).normal(size=cfg.dim)
        embedding = math.sqrt(1.0 - cfg.concept_spread) * centre + math.sqrt(cfg.concept_spread) * embedding
    picks = {name: levels[int(rng.integers(0, len(levels)))] for name, levels in CATEGORIES.items()}
    has_faces = bool(rng.random() < 0.5)
    headline = int(rng.integers(10, 90))
    duration = float(round(rng.uniform(6, 60), 1)) if picks["creative_type"] == "video" else None
    noise = rng.normal(size=len(TARGETS))
    creative = AdSetCreative(
        embedding=tuple(round(float(x), 6) for x in embedding),
        creative_type=picks["creative_type"],
        call_to_action=picks["call_to_action"],
        audience=picks["audience"],
        placement=picks["placement"],
        has_faces=has_faces,
        headline_length=headline,
        video_duration_s=duration,
    )
    return creative, noise


def creative_effect(cfg: Creatives, taste: AccountTaste, creative: AdSetCreative, noise: np.ndarray) -> CreativeEffect:
    """``s_x`` for each target: embedding part + category part (explained), plus noise."""
    e = np.array(creative.embedding)
    a = math.sqrt(cfg.embedding_share)
    b = math.sqrt(1.0 - cfg.embedding_share) / math.sqrt(len(CATEGORIES))
    levels = {"creative_type": creative.creative_type, "call_to_action": creative.call_to_action,
              "audience": creative.audience, "placement": creative.placement}
    sds = {"ctr": cfg.ctr_sd, "lead": cfg.lead_sd, "value": cfg.value_sd}
    out = {}
    for i, target in enumerate(TARGETS):
        explained = a * float(taste.weights[target] @ e)
        explained += b * sum(taste.effects[target][name][lvl] for name, lvl in levels.items())
        s = math.sqrt(1.0 - cfg.noise_share) * explained + math.sqrt(cfg.noise_share) * float(noise[i])
        out[target] = sds[target] * s
    return CreativeEffect(out["ctr"], out["lead"], out["value"])


def apply_effect(spec: AdSetSpec, effect: CreativeEffect, cpc_follows_ctr: float) -> AdSetSpec:
    """The ad set's true spec once its creative is known."""
    funnel = spec.funnel.model_copy(update={"lead_rate": min(1.0, spec.funnel.lead_rate * math.exp(effect.lead))})
    return spec.model_copy(update={
        "ctr": min(1.0, spec.ctr * math.exp(effect.ctr)),
        "cpc_minor": max(1, round(spec.cpc_minor * math.exp(-cpc_follows_ctr * effect.ctr))),
        "deal_amount_minor": max(1, round(spec.deal_amount_minor * math.exp(effect.value))),
        "funnel": funnel,
    })


def creatives_for(cfg: Creatives, seed: int, specs: list[AdSetSpec]
                  ) -> list[tuple[AdSetSpec, AdSetCreative, CreativeEffect]]:
    """Creative, effect and effective spec of every ad set (in market order) for a market seed."""
    taste = AccountTaste.draw(cfg)
    out = []
    for index, spec in enumerate(specs):
        creative, noise = draw_creative(cfg, seed, index)
        effect = creative_effect(cfg, taste, creative, noise)
        out.append((apply_effect(spec, effect, cfg.cpc_follows_ctr), creative, effect))
    return out
