"""The winner index: creative embeddings of past winners and their pipeline ROAS, searched by cosine.

A new ad that looks like ads that won is a better bet than one that looks like nothing we
know. Winners (ad sets whose pipeline ROAS ranked top) are stored with their ROAS; the prior
source asks for the k most similar winners of a new creative.

Cosine similarity is the inner product of L2-normalised vectors, so every vector is normalised
on the way in. The index is **exact** (``IndexFlatIP`` inside an ``IndexIDMap2``) while small,
and switches to **HNSW** (approximate, sub-linear) above ``hnsw_threshold`` vectors, measuring
its recall@k against exact search when it does. HNSW cannot delete, so removed winners become
tombstones excluded at search time by an ID selector and the index is rebuilt once they exceed
``compact_fraction`` of it.

A snapshot is one object (the serialised FAISS index plus a JSON header of ids, ROAS and
configuration), written through :mod:`streams.core.storage`, so an index never loads with
metadata from another snapshot.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import faiss
import numpy as np
import numpy.typing as npt

from streams.core.storage import ObjectStorage

SNAPSHOT_FORMAT = "roasloop.winners/1"
Mode = Literal["flat", "hnsw"]
Vectors = npt.ArrayLike


class DimensionMismatch(ValueError):
    """Vectors whose dimension is not the index's."""


@dataclass(frozen=True)
class Neighbour:
    winner_id: str
    similarity: float  # cosine, in [-1, 1]
    roas: float


@dataclass(frozen=True)
class HnswParams:
    """Graph degree, build-time and query-time beam widths (recall rises with each, speed falls)."""

    m: int = 32
    ef_construction: int = 80
    ef_search: int = 256


class WinnerIndex:
    def __init__(self, dim: int, hnsw_threshold: int = 100_000, hnsw: HnswParams | None = None,
                 compact_fraction: float = 0.2) -> None:
        if dim < 1:
            raise ValueError("dim must be positive")
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self.hnsw = hnsw or HnswParams()
        self.compact_fraction = compact_fraction
        self._labels: dict[str, int] = {}      # winner id -> faiss label
        self._ids: dict[int, str] = {}          # faiss label -> winner id
        self._roas: dict[int, float] = {}
        self._dead: set[int] = set()            # HNSW tombstones
        self._next = 0
        self.mode: Mode = "hnsw" if hnsw_threshold <= 0 else "flat"  # threshold 0: HNSW from the start
        self.recall: dict[str, float] = {}      # last measured recall@k of HNSW vs exact
        self._index: Any = self._empty(self.mode)

    # ---- building ---------------------------------------------------------------------------
    def _empty(self, mode: Mode) -> Any:
        if mode == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        inner = faiss.IndexHNSWFlat(self.dim, self.hnsw.m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = self.hnsw.ef_construction
        return faiss.IndexIDMap2(inner)

    def _matrix(self, vectors: Vectors, what: str) -> npt.NDArray[np.float32]:
        x = np.array(vectors, dtype=np.float32, copy=True)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.dim:
            got = x.shape[-1] if x.ndim >= 1 else 0
            raise DimensionMismatch(
                f"winner index has dimension {self.dim} but {what} have dimension {got}; "
                f"embed with the same model the index was built with (or rebuild it with dim={got})")
        norms = np.linalg.norm(x, axis=1)
        if not np.all(np.isfinite(x)) or np.any(norms == 0):
            raise ValueError(f"{what} must be finite and non-zero to have a cosine similarity")
        faiss.normalize_L2(x)
        return x

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def ntotal(self) -> int:
        """Vectors held by FAISS, tombstones included."""
        return int(self._index.ntotal)

    def __contains__(self, winner_id: object) -> bool:
        return winner_id in self._labels

    def add(self, winner_ids: Sequence[str], vectors: Vectors, roas: npt.ArrayLike) -> None:
        """Add winners (an id already present is replaced: its vector and ROAS are updated)."""
        x = self._matrix(vectors, "added vectors")
        roas = np.asarray(roas, dtype=np.float64).reshape(-1)
        if not (len(winner_ids) == len(x) == len(roas)):
            raise ValueError("winner_ids, vectors and roas must have the same length")
        if len(set(winner_ids)) != len(winner_ids):
            raise ValueError("winner_ids contain duplicates")
        self.remove([w for w in winner_ids if w in self._labels])
        labels = np.arange(self._next, self._next + len(x), dtype=np.int64)
        self._next += len(x)
        for label, wid, r in zip(labels.tolist(), winner_ids, roas.tolist(), strict=True):
            self._labels[wid], self._ids[label], self._roas[label] = label, wid, float(r)
        self._index.add_with_ids(x, labels)
        if self.mode == "flat" and len(self) > self.hnsw_threshold:
            self._rebuild("hnsw")

    def remove(self, winner_ids: Sequence[str]) -> int:
        """Remove winners by id; unknown ids are ignored. Returns how many were removed."""
        labels = [self._labels.pop(w) for w in winner_ids if w in self._labels]
        for label in labels:
            del self._ids[label], self._roas[label]
        if not labels:
            return 0
        if self.mode == "flat":
            self._index.remove_ids(np.array(labels, dtype=np.int64))
        else:
            self._dead.update(labels)
            if len(self._dead) > self.compact_fraction * max(self._index.ntotal, 1):
                self._rebuild("hnsw" if len(self) > self.hnsw_threshold // 2 else "flat")
        return len(labels)

    def _live_vectors(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """(labels, vectors) of every live winner, read back from the index's own storage."""
        total = self._index.ntotal
        if total == 0:
            return np.empty(0, np.int64), np.empty((0, self.dim), np.float32)
        labels = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        x = self._index.index.reconstruct_n(0, total)
        alive = np.array([int(label) in self._ids for label in labels], dtype=bool)
        return labels[alive], np.ascontiguousarray(x[alive], dtype=np.float32)

    def _rebuild(self, mode: Mode) -> None:
        labels, x = self._live_vectors()
        index = self._empty(mode)
        if len(labels):
            index.add_with_ids(x, labels)
        self._index, self.mode, self._dead = index, mode, set()
        if mode == "hnsw" and len(labels):
            self.recall = self.measure_recall(k=10, queries=min(200, len(labels)), vectors=(labels, x))

    # ---- searching --------------------------------------------------------------------------
    def _params(self) -> Any:
        """Search parameters: HNSW beam width, and the tombstone filter when there are any."""
        if self.mode == "flat":
            return None  # removals are real in flat mode
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = max(self.hnsw.ef_search, 1)
        if self._dead:
            self._selector = faiss.IDSelectorNot(
                faiss.IDSelectorBatch(np.array(sorted(self._dead), dtype=np.int64)))
            params.sel = self._selector  # keep a reference: FAISS does not own the selector
        return params

    def search_raw(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """FAISS-style (similarities, labels) arrays; -1 labels where fewer than k winners exist."""
        q = self._matrix(queries, "query vectors")
        if k < 1:
            raise ValueError("k must be at least 1")
        if len(self) == 0:
            return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        params = self._params()
        if params is None:
            return self._index.search(q, k)  # type: ignore[no-any-return]
        return self._index.search(q, k, params=params)  # type: ignore[no-any-return]

    def search(self, queries: Vectors, k: int = 10) -> list[list[Neighbour]]:
        """The k most similar winners of each query, most similar first."""
        sims, labels = self.search_raw(queries, k)
        return [[Neighbour(self._ids[int(label)], float(s), self._roas[int(label)])
                 for s, label in zip(row_s, row_l, strict=True) if label >= 0 and int(label) in self._ids]
                for row_s, row_l in zip(sims, labels, strict=True)]

    def measure_recall(self, k: int = 10, queries: int = 200, seed: int = 0,
                       vectors: tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]] | None = None
                       ) -> dict[str, float]:
        """recall@k of the current index against exact search, on perturbed stored vectors."""
        labels, x = vectors if vectors is not None else self._live_vectors()
        if len(labels) == 0:
            return {}
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(labels), size=min(queries, len(labels)), replace=False)
        q = x[pick] + rng.normal(scale=0.1 / np.sqrt(self.dim), size=(len(pick), self.dim)).astype(np.float32)
        faiss.normalize_L2(q)
        kk = min(k, len(labels))
        _, exact = faiss.knn(q, x, kk, metric=faiss.METRIC_INNER_PRODUCT)
        _, approx = self.search_raw(q, kk)
        truth = labels[exact]
        hits = sum(len(set(t.tolist()) & set(a.tolist())) for t, a in zip(truth, approx, strict=True))
        return {f"recall_at_{k}": hits / (len(pick) * kk), "queries": float(len(pick))}

    # ---- persistence ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        header = {
            "format": SNAPSHOT_FORMAT, "dim": self.dim, "mode": self.mode, "next": self._next,
            "hnsw_threshold": self.hnsw_threshold, "compact_fraction": self.compact_fraction,
            "hnsw": {"m": self.hnsw.m, "ef_construction": self.hnsw.ef_construction,
                     "ef_search": self.hnsw.ef_search},
            "labels": list(self._ids), "ids": list(self._ids.values()), "roas": list(self._roas.values()),
            "dead": sorted(self._dead), "recall": self.recall,
        }
        buf = io.BytesIO()
        np.savez(buf, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                 index=faiss.serialize_index(self._index))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, dim: int | None = None) -> WinnerIndex:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes())
            raw_index = npz["index"]
        if header.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a winner-index snapshot (format {header.get('format')!r})")
        if dim is not None and header["dim"] != dim:
            raise DimensionMismatch(
                f"winner-index snapshot has dimension {header['dim']} but this process is configured "
                f"for {dim}; the embedder changed - rebuild the index instead of loading the old one")
        index = cls(header["dim"], header["hnsw_threshold"], HnswParams(**header["hnsw"]),
                    header["compact_fraction"])
        index._index = faiss.deserialize_index(raw_index)
        index.mode, index._next, index.recall = header["mode"], header["next"], header["recall"]
        index._dead = set(header["dead"])
        for label, wid, r in zip(header["labels"], header["ids"], header["roas"], strict=True):
            index._labels[wid], index._ids[label], index._roas[label] = label, wid, r
        if index._index.d != index.dim or index._index.ntotal != len(index) + len(index._dead):
            raise ValueError("winner-index snapshot is inconsistent (index and header disagree)")
        return index

    def save(self, storage: ObjectStorage, key: str) -> None:
        storage.put(key, self.to_bytes(), content_type="application/x-npz",
                    metadata={"format": SNAPSHOT_FORMAT, "dim": str(self.dim), "count": str(len(self)),
                              "mode": self.mode})

    @classmethod
    def load(cls, storage: ObjectStorage, key: str, dim: int | None = None) -> WinnerIndex:
        return cls.from_bytes(storage.get(key).data, dim=dim)
