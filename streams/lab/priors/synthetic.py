"""A generated ad history with known true rates, for training and testing the CTR model offline.

Its effects mirror what ad platforms report (video and vertical creatives in stories/reels click
better, retargeting converts better, audience network clicks cheaply and converts badly ...), so
tests and ``roasloop train-ctr --source synthetic`` need nothing else running. Its ads also carry
a creative embedding correlated with their hidden quality, for the winner index.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from streams.priors.features import EntityFeatures
from streams.priors.history import AdDayRow


@dataclass(frozen=True)
class SyntheticAd:
    features: EntityFeatures
    true_ctr: float
    true_cvr: float
    cpm_minor: int
    launch_day: int
    lifetime_days: int
    quality: float  # the hidden per-ad effect no feature explains (the embedding hints at it)


# Effects on the logit of the true rates (what the model has to discover).
_CTR_CREATIVE = {"video": 0.3, "image": 0.0, "carousel": 0.15, "text": -0.5}
_CTR_PLACEMENT = {"auto": 0.05, "feed": 0.0, "stories": 0.15, "reels": 0.35, "audience_network": 0.4}
_CTR_AUDIENCE = {"broad": -0.25, "interest": 0.0, "lookalike": 0.2, "retargeting": 0.7}
_CVR_AUDIENCE = {"broad": -0.3, "interest": 0.0, "lookalike": 0.3, "retargeting": 0.9}
_CVR_PLACEMENT = {"auto": 0.0, "feed": 0.1, "stories": -0.1, "reels": -0.2, "audience_network": -1.0}
_CVR_OBJECTIVE = {"leads": 0.3, "traffic": -0.5, "conversions": 0.2}
_CVR_CTA = {"book_demo": -0.2, "get_quote": 0.15, "sign_up": 0.1}


def _slot(value: object, size: int) -> int:
    """A stable (not per-process randomised, unlike hash()) slot for a category value."""
    return zlib.crc32(str(value).encode()) % size


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


class SyntheticHistory:
    """``n_ads`` ads launched over ``days`` days, each running 5-30 days with daily counts."""

    COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "BR", "IN")

    def __init__(self, n_ads: int = 600, days: int = 90, seed: int = 7, start: date = date(2025, 1, 6),
                 embedding_dim: int = 32, mean_impressions: float = 3000.0) -> None:
        self.days = days
        self.start = start
        self.embedding_dim = embedding_dim
        self.mean_impressions = mean_impressions
        self._rng = np.random.default_rng(seed)
        self._directions = self._rng.normal(size=(64, embedding_dim))
        self.ads = [self._ad(i) for i in range(n_ads)]

    def _embed(self, e: EntityFeatures, quality: float) -> tuple[float, ...]:
        rng, d = self._rng, self._directions
        parts = [
            d[_slot(e.creative_type, 16)], d[16 + _slot(e.call_to_action, 16)], d[32 + _slot(e.audience, 8)],
            0.6 * d[40 + _slot(e.placement, 8)], (1.0 if e.has_faces else -1.0) * 0.5 * d[48],
        ]
        vec = np.sum(parts, axis=0) + 2.5 * quality * d[63] + rng.normal(scale=0.6, size=self.embedding_dim)
        vec /= np.linalg.norm(vec)
        return tuple(float(v) for v in vec)

    def _ad(self, i: int) -> SyntheticAd:
        rng = self._rng
        creative = str(rng.choice(["video", "image", "carousel", "text"], p=[0.4, 0.35, 0.15, 0.1]))
        placement = str(rng.choice(["auto", "feed", "stories", "reels", "audience_network"],
                                   p=[0.3, 0.3, 0.15, 0.15, 0.1]))
        audience = str(rng.choice(["broad", "interest", "lookalike", "retargeting"],
                                  p=[0.3, 0.3, 0.25, 0.15]))
        vertical = bool(rng.random() < 0.5)
        aspect = 9 / 16 if vertical else float(rng.choice([1.0, 1.91]))
        duration = float(rng.uniform(6, 60)) if creative == "video" else None
        headline = int(rng.integers(10, 120))
        audience_size = int(10 ** rng.uniform(4.5 if audience == "retargeting" else 5.5, 8))
        age_min = int(rng.choice([18, 25, 35]))
        features = EntityFeatures.model_validate({
            "entity_id": f"ad{i:05d}", "creative_type": creative, "video_duration_s": duration,
            "aspect_ratio": aspect, "has_faces": bool(rng.random() < 0.5),
            "has_text_overlay": bool(rng.random() < 0.6), "has_logo": bool(rng.random() < 0.7),
            "headline_length": headline,
            "call_to_action": str(rng.choice(["learn_more", "sign_up", "book_demo", "get_quote",
                                              "contact_us", "download"])),
            "objective": str(rng.choice(["leads", "traffic", "conversions"], p=[0.5, 0.2, 0.3])),
            "placement": placement, "audience": audience, "audience_size": audience_size,
            "age_min": age_min, "age_max": int(rng.choice([44, 54, 65])),
            "country": str(rng.choice(self.COUNTRIES)),
            "device": str(rng.choice(["all", "mobile", "desktop"], p=[0.6, 0.3, 0.1])),
        })
        quality = float(rng.normal(0, 0.35))
        logit_ctr = (-4.6 + _CTR_CREATIVE[creative] + _CTR_PLACEMENT[placement] + _CTR_AUDIENCE[audience]
                     + (0.35 if vertical and placement in ("stories", "reels") else 0.0)
                     - (0.3 if not vertical and placement in ("stories", "reels") else 0.0)
                     + 0.15 * bool(features.has_faces) + 0.1 * bool(features.has_text_overlay)
                     - 0.006 * max(headline - 40, 0)
                     - (0.015 * abs(duration - 15) if duration is not None else 0.0)
                     - 0.15 * (np.log10(audience_size) - 6.5)
                     + quality)
        logit_cvr = (-3.0 + _CVR_AUDIENCE[audience] + _CVR_PLACEMENT[placement]
                     + _CVR_OBJECTIVE[str(features.objective)]
                     + _CVR_CTA.get(str(features.call_to_action), 0.0)
                     + (0.2 if age_min >= 25 else -0.1)
                     + 0.8 * quality + float(rng.normal(0, 0.2)))
        cpm = int(rng.uniform(600, 1800) * (1.6 if audience == "retargeting" else 1.0)
                  * (0.4 if placement == "audience_network" else 1.0))
        features = features.model_copy(update={"embedding": self._embed(features, quality)})
        return SyntheticAd(features, _sigmoid(logit_ctr), _sigmoid(logit_cvr), cpm,
                           launch_day=int(rng.integers(0, max(self.days - 5, 1))),
                           lifetime_days=int(rng.integers(5, 31)), quality=quality)

    def rows(self) -> Iterator[AdDayRow]:
        rng = np.random.default_rng(int(self._rng.integers(2**31)))
        for ad in self.ads:
            for d in range(ad.launch_day, min(ad.launch_day + ad.lifetime_days, self.days)):
                weekday = (self.start + timedelta(days=d)).weekday()
                ctr = min(ad.true_ctr * (0.9 if weekday >= 5 else 1.03), 0.99)
                impressions = int(rng.lognormal(np.log(self.mean_impressions), 0.6)) + 1
                clicks = int(rng.binomial(impressions, ctr))
                conversions = int(rng.binomial(clicks, ad.true_cvr))
                yield AdDayRow(ad.features.entity_id, self.start + timedelta(days=d), ad.features,
                               impressions, clicks, conversions, impressions * ad.cpm_minor // 1000)
