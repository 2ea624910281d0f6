"""The winner index: exact cosine search while small, HNSW with measured recall when large."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from streams.core.storage import GcsStorage, LocalStorage, ObjectStorage
from streams.priors.winners import DimensionMismatch, HnswParams, WinnerIndex


def _vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _exact(x: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    sims = qn @ xn.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, axis=1), order


def test_flat_search_returns_the_exact_nearest_neighbours_by_cosine() -> None:
    x, q = _vectors(2000, 48), _vectors(50, 48, seed=1)
    index = WinnerIndex(48)
    index.add([f"w{i}" for i in range(len(x))], x * np.random.default_rng(2).uniform(0.1, 10, (2000, 1)),
              roas=np.arange(2000) / 100)  # scaled vectors: cosine ignores length
    sims, order = _exact(x, q, 10)
    results = index.search(q, k=10)
    assert index.mode == "flat"
    for row, neighbours in enumerate(results):
        assert [n.winner_id for n in neighbours] == [f"w{i}" for i in order[row]]
        np.testing.assert_allclose([n.similarity for n in neighbours], sims[row], rtol=1e-5, atol=1e-5)
        assert [n.roas for n in neighbours] == [i / 100 for i in order[row]]


def test_remove_and_re_add_replace_winners() -> None:
    index = WinnerIndex(4)
    index.add(["a", "b", "c"], np.eye(4)[:3], [1.0, 2.0, 3.0])
    assert index.search([1, 0, 0, 0], k=1)[0][0].winner_id == "a"
    assert index.remove(["a", "zzz"]) == 1
    assert "a" not in index and len(index) == 2
    assert "a" not in {n.winner_id for n in index.search([1, 0, 0, 0], k=3)[0]}
    index.add(["b"], [[1, 0, 0, 0]], [5.0])  # same id again: moved, new ROAS
    best = index.search([1, 0, 0, 0], k=1)[0][0]
    assert (best.winner_id, best.roas, len(index)) == ("b", 5.0, 2)


def test_fewer_winners_than_k_returns_what_there_is() -> None:
    index = WinnerIndex(3)
    assert index.search([1, 0, 0], k=5) == [[]]
    index.add(["a"], [[1, 0, 0]], [2.0])
    assert [n.winner_id for n in index.search([1, 1, 0], k=5)[0]] == ["a"]


def test_dimension_mismatches_are_clear_errors() -> None:
    index = WinnerIndex(8)
    with pytest.raises(DimensionMismatch, match="dimension 8 but added vectors have dimension 5"):
        index.add(["a"], np.ones((1, 5)), [1.0])
    index.add(["a"], np.ones((1, 8)), [1.0])
    with pytest.raises(DimensionMismatch, match="query vectors have dimension 3"):
        index.search(np.ones(3))
    with pytest.raises(DimensionMismatch, match="configured for 16"):
        WinnerIndex.from_bytes(index.to_bytes(), dim=16)
    with pytest.raises(ValueError, match="non-zero"):
        index.add(["z"], np.zeros((1, 8)), [1.0])


def test_switches_to_hnsw_above_the_threshold_and_measures_recall() -> None:
    index = WinnerIndex(16, hnsw_threshold=500, hnsw=HnswParams(m=16, ef_construction=40, ef_search=64))
    x = _vectors(800, 16)
    index.add([f"w{i}" for i in range(400)], x[:400], np.ones(400))
    assert index.mode == "flat"
    index.add([f"w{i}" for i in range(400, 800)], x[400:], np.ones(400))
    assert str(index.mode) == "hnsw"
    assert index.recall["recall_at_10"] >= 0.95
    # removals in HNSW mode are tombstones, never returned, then compacted
    index.remove([f"w{i}" for i in range(100)])
    found = {n.winner_id for row in index.search(x[:100], k=10) for n in row}
    assert not found & {f"w{i}" for i in range(100)}
    index.remove([f"w{i}" for i in range(100, 300)])  # > 20% dead: compacted, still HNSW (500 live)
    assert (index.mode, len(index), index.ntotal) == ("hnsw", 500, 500)
    index.remove([f"w{i}" for i in range(300, 600)])  # well below the threshold: back to exact search
    assert (index.mode, len(index)) == ("flat", 200)
    assert {n.winner_id for n in index.search(x[700], k=1)[0]} == {"w700"}


@pytest.mark.slow
def test_hnsw_recall_at_10_on_200k_random_vectors() -> None:
    dim, n = 32, 200_000
    x, q = _vectors(n, dim, seed=3), _vectors(300, dim, seed=4)
    started = time.monotonic()
    index = WinnerIndex(dim, hnsw_threshold=100_000, hnsw=HnswParams(m=32, ef_construction=64, ef_search=256))
    index.add([str(i) for i in range(n)], x, np.zeros(n))
    assert index.mode == "hnsw"
    xn, qn = x.copy(), q.copy()
    faiss.normalize_L2(xn)
    faiss.normalize_L2(qn)
    _, truth = faiss.knn(qn, xn, 10, metric=faiss.METRIC_INNER_PRODUCT)
    got = index.search(q, k=10)
    recall = np.mean([len({int(nb.winner_id) for nb in row} & set(t.tolist())) / 10
                      for row, t in zip(got, truth, strict=True)])
    assert recall >= 0.95, recall
    assert index.recall["recall_at_10"] >= 0.95
    assert time.monotonic() - started < 240


@pytest.fixture(params=["local", "gcs"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStorage:
    if request.param == "local":
        return LocalStorage(tmp_path)
    client: Any = request.getfixturevalue("priors_gcs_client")
    return GcsStorage("priors-test", prefix=uuid.uuid4().hex[:8], client=client)


@pytest.mark.parametrize("mode", ["flat", "hnsw"])
def test_index_survives_save_and_load_through_object_storage(storage: ObjectStorage, mode: str) -> None:
    x = _vectors(1200, 24)
    index = WinnerIndex(24, hnsw_threshold=1000 if mode == "hnsw" else 100_000,
                        hnsw=HnswParams(m=16, ef_construction=40, ef_search=128))
    index.add([f"w{i}" for i in range(1200)], x, np.linspace(0, 3, 1200))
    index.remove(["w5", "w6"])
    index.save(storage, "winners/snapshot.npz")
    assert storage.get("winners/snapshot.npz").metadata["count"] == "1198"
    loaded = WinnerIndex.load(storage, "winners/snapshot.npz", dim=24)
    assert (loaded.mode, len(loaded)) == (mode, 1198)
    q = _vectors(20, 24, seed=9)
    assert loaded.search(q, 10) == index.search(q, 10)
    loaded.add(["new"], x[5:6], [9.0])  # still usable for writes after loading
    assert loaded.search(x[5:6], 1)[0][0].winner_id == "new"
