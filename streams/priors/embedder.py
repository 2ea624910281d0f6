"""Creative embeddings: from the creative itself when it carries one, else from an embedder.

The winner index needs a vector per creative. Producers with a vision/text model put one on
the creative (``EntityFeatures.embedding``); otherwise an :class:`Embedder` computes one. The
built-in :class:`FeatureHashingEmbedder` needs no model: it hashes the creative's categorical
features into a fixed-size vector, so "same format, placement, audience and call to action"
comes out similar - crude, but deterministic and better than no neighbours at all.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from streams.priors.features import BOOLEAN, CATEGORICAL, EntityFeatures


@runtime_checkable
class Embedder(Protocol):
    dim: int
    name: str
    """What produced the vectors (family/version:dim): vectors of different names are not comparable."""

    def embed(self, entities: Sequence[EntityFeatures]) -> npt.NDArray[np.float32]:
        """One row of ``dim`` floats per entity."""
        ...


class FeatureHashingEmbedder:
    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"feature-hashing/v1:{dim}"

    def _token(self, token: str) -> tuple[int, float]:
        h = zlib.crc32(token.encode())
        return h % self.dim, 1.0 if (h >> 16) & 1 else -1.0

    def embed(self, entities: Sequence[EntityFeatures]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(entities), self.dim), dtype=np.float32)
        for row, e in enumerate(entities):
            tokens = [f"{n}={getattr(e, n)}" for n in (*CATEGORICAL, *BOOLEAN) if getattr(e, n) is not None]
            if e.aspect_ratio is not None:
                ratio = e.aspect_ratio
                tokens.append("vertical" if ratio < 0.8 else "landscape" if ratio > 1.2 else "square")
            for token in tokens or ["unknown"]:
                col, sign = self._token(token)
                out[row, col] += sign
            if not out[row].any():  # tokens cancelled out: keep the vector non-zero
                out[row, self._token("bias")[0]] = 1.0
        return out


class HashedNgramEmbedder(FeatureHashingEmbedder):
    """The default live embedder: hashed categorical features plus hashed character 3-grams of
    the ad's copy (headline and body), L2-normalised.

    Local, deterministic, no model download and no network: two ads with the same format,
    targeting and similar wording land close together. A packaged sentence model can replace it
    behind :class:`Embedder`; its ``name`` then changes and old vectors stop being compared.
    """

    def __init__(self, dim: int = 64, text_weight: float = 1.0) -> None:
        super().__init__(dim)
        self.name = f"hashed-ngram/v1:{dim}"
        self.text_weight = text_weight

    def embed(self, entities: Sequence[EntityFeatures], texts: Sequence[str | None] | None = None
              ) -> npt.NDArray[np.float32]:
        out = super().embed(entities)
        for row, text in enumerate(texts or []):
            grams = _trigrams(text or "")
            for gram in grams:
                col, sign = self._token(f"3g={gram}")
                out[row, col] += sign * self.text_weight / np.sqrt(len(grams))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(np.where(norms > 0, out / np.maximum(norms, 1e-12), out), dtype=np.float32)


def _trigrams(text: str) -> list[str]:
    words = " ".join(text.lower().split())
    padded = f" {words} " if words else ""
    return [padded[i:i + 3] for i in range(max(len(padded) - 2, 0))]


def embeddings_for(entities: Sequence[EntityFeatures], dim: int, embedder: Embedder | None = None
                   ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """(vectors, has_vector): the creative's own embedding when it has one of the right size,
    the embedder's otherwise; rows with neither are zero and flagged False."""
    vectors = np.zeros((len(entities), dim), dtype=np.float32)
    present = np.zeros(len(entities), dtype=bool)
    missing: list[int] = []
    for i, e in enumerate(entities):
        if e.embedding is not None and len(e.embedding) == dim and any(e.embedding):
            vectors[i], present[i] = e.embedding, True
        else:
            missing.append(i)
    if missing and embedder is not None:
        if embedder.dim != dim:
            raise ValueError(f"embedder produces dimension {embedder.dim} but the winner index has {dim}")
        vectors[missing] = embedder.embed([entities[i] for i in missing])
        present[missing] = np.linalg.norm(vectors[missing], axis=1) > 0
    return vectors, present
