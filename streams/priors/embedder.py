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

    def embed(self, entities: Sequence[EntityFeatures]) -> npt.NDArray[np.float32]:
        """One row of ``dim`` floats per entity."""
        ...


class FeatureHashingEmbedder:
    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

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
