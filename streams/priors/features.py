"""What the priors know about an ad before it has spent anything: its creative and its targeting.

:class:`EntityFeatures` is the input of both the CTR model and the winner index, and the type the
sampler hands to :class:`~streams.priors.source.PriorSource`. :class:`FeatureEncoder`
turns a batch of them into the numeric matrix LightGBM wants; its category vocabularies travel
inside the model artifact, so a model keeps meaning the same thing when the vocabulary grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field

from schemas.creatives import CreativeFeatures


class EntityFeatures(CreativeFeatures):
    """An ad (or ad set, through its main ad) described by creative and targeting features.

    Everything is optional except the id: unknown features are NaN to LightGBM, which learned
    what to do with missing values during training.
    """

    entity_id: str = Field(min_length=1, max_length=64)
    # creative embedding, for the winner index (None: the embedder computes one, or no search)
    embedding: tuple[float, ...] | None = None

    @property
    def creative(self) -> CreativeFeatures:
        return CreativeFeatures.model_validate(self.model_dump(exclude={"entity_id", "embedding"}))


CATEGORICAL = ("creative_type", "call_to_action", "objective", "placement", "audience", "country", "device")
NUMERIC = ("video_duration_s", "aspect_ratio", "headline_length", "age_min", "age_max")
BOOLEAN = ("has_faces", "has_text_overlay", "has_logo")


class FeatureEncoder:
    """Features -> float32 matrix: numerics as they are, booleans 0/1, categories as integer codes.

    Categories are coded by a vocabulary learned from training data (``fit``); a value never seen
    is NaN, the same as missing, rather than an accidental code of something else.
    """

    def __init__(self, vocab: dict[str, list[str]] | None = None, embedding_dim: int = 0) -> None:
        self.vocab: dict[str, list[str]] = {c: list((vocab or {}).get(c, [])) for c in CATEGORICAL}
        self.embedding_dim = embedding_dim  # > 0: the creative embedding's coordinates are features too

    @property
    def feature_names(self) -> list[str]:
        return [*NUMERIC, "log_audience_size", *BOOLEAN, *CATEGORICAL,
                *(f"embedding_{i}" for i in range(self.embedding_dim))]

    @property
    def categorical_names(self) -> list[str]:
        return list(CATEGORICAL)

    def fit(self, entities: Sequence[EntityFeatures]) -> FeatureEncoder:
        for name in CATEGORICAL:
            seen = {getattr(e, name) for e in entities} - {None}
            self.vocab[name] = sorted(set(self.vocab[name]) | {str(v) for v in seen})
        return self

    def transform(self, entities: Sequence[EntityFeatures]) -> npt.NDArray[np.float32]:
        out = np.full((len(entities), len(self.feature_names)), np.nan, dtype=np.float32)
        codes = {name: {v: i for i, v in enumerate(self.vocab[name])} for name in CATEGORICAL}
        for row, e in enumerate(entities):
            col = 0
            for name in NUMERIC:
                value = getattr(e, name)
                if value is not None:
                    out[row, col] = float(value)
                col += 1
            if e.audience_size is not None:
                out[row, col] = np.log10(1.0 + e.audience_size)
            col += 1
            for name in BOOLEAN:
                value = getattr(e, name)
                if value is not None:
                    out[row, col] = 1.0 if value else 0.0
                col += 1
            for name in CATEGORICAL:
                value = getattr(e, name)
                code = codes[name].get(str(value)) if value is not None else None
                if code is not None:
                    out[row, col] = float(code)
                col += 1
            if self.embedding_dim and e.embedding is not None and len(e.embedding) == self.embedding_dim:
                out[row, col:col + self.embedding_dim] = e.embedding  # other sizes stay missing
        return out

    def to_json(self) -> dict[str, Any]:
        return {"vocab": self.vocab, "feature_names": self.feature_names, "embedding_dim": self.embedding_dim}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureEncoder:
        encoder = cls(data["vocab"], int(data.get("embedding_dim", 0)))
        if data.get("feature_names") != encoder.feature_names:
            raise ValueError("model artifact was trained on a different feature layout; retrain it")
        return encoder
