"""Winner index: HNSW vs exact (flat) search - queries/s and recall@10, measured in the same run.

    .venv/bin/python bench/winners.py                 # 1,000,000 vectors of dimension 384 (slow, ~3.5 GB)
    .venv/bin/python bench/winners.py --n 100000      # scaled down

``--data clustered`` (default) draws vectors the way embedding models spread creatives:
clusters in a low-dimensional latent space (32) projected into ``dim``, plus isotropic noise.
``--data random`` draws i.i.d. Gaussian directions - intrinsic dimension = ``dim``, the worst
case for any graph index (at 384 HNSW recall collapses there; real embeddings never look like
that). Queries come from the same distribution as the vectors, not from the index. The exact
baseline is FAISS ``IndexFlatIP`` on the same normalised vectors - what the winner index uses
while small - and its answers are the ground truth for recall.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import faiss
import numpy as np

from streams.priors.winners import HnswParams, WinnerIndex

LATENT_DIM, CLUSTERS = 32, 2000


def _vectors(rng: np.random.Generator, data: str, n: int, dim: int) -> np.ndarray:
    if data == "random":
        return rng.standard_normal((n, dim), dtype=np.float32)
    layout = np.random.default_rng(12345)  # the same clusters and projection for vectors and queries
    centers = layout.standard_normal((CLUSTERS, LATENT_DIM), dtype=np.float32)
    projection = layout.standard_normal((LATENT_DIM, dim), dtype=np.float32) / np.sqrt(LATENT_DIM)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        latent = centers[rng.integers(0, CLUSTERS, m)] + 0.5 * rng.standard_normal((m, LATENT_DIM), dtype=np.float32)
        out[start:start + m] = latent @ projection + 0.1 * rng.standard_normal((m, dim), dtype=np.float32)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the index")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--m", type=int, default=HnswParams.m)
    parser.add_argument("--ef-construction", type=int, default=HnswParams.ef_construction)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[HnswParams.ef_search])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", choices=("clustered", "random"), default="clustered")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object; ratio = HNSW queries/s over flat's at the first efSearch")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)

    rng = np.random.default_rng(args.seed)
    x = _vectors(rng, args.data, args.n, args.dim)
    q = _vectors(rng, args.data, args.queries, args.dim)
    faiss.normalize_L2(x)
    faiss.normalize_L2(q)
    say = (lambda *_: None) if args.json else print
    say(f"winner index bench: n={args.n:,} dim={args.dim} queries={args.queries} k={args.k} "
          f"data={args.data} threads={args.threads} HNSW M={args.m} efConstruction={args.ef_construction}")

    t = time.perf_counter()
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(x)
    flat_build = time.perf_counter() - t
    t = time.perf_counter()
    _, truth = flat.search(q, args.k)
    flat_s = time.perf_counter() - t
    flat_qps = args.queries / flat_s
    del flat

    t = time.perf_counter()
    index = WinnerIndex(args.dim, hnsw_threshold=0,
                        hnsw=HnswParams(args.m, args.ef_construction, args.ef_search[0]))
    chunk = 100_000
    for start in range(0, args.n, chunk):
        stop = min(start + chunk, args.n)
        index.add([str(i) for i in range(start, stop)], x[start:stop], np.zeros(stop - start))
    hnsw_build = time.perf_counter() - t
    del x

    say(f"{'index':<22}{'build s':>10}{'queries/s':>12}{'recall@' + str(args.k):>11}{'speed-up':>10}")
    say(f"{'flat (exact)':<22}{flat_build:>10.1f}{flat_qps:>12.0f}{1.0:>11.3f}{1.0:>10.1f}")
    rows: list[dict[str, float]] = []
    for ef in args.ef_search:
        index.hnsw = HnswParams(args.m, args.ef_construction, ef)
        index.search_raw(q[: min(50, len(q))], args.k)  # warm-up
        t = time.perf_counter()
        _, labels = index.search_raw(q, args.k)
        hnsw_s = time.perf_counter() - t
        recall = np.mean([len(set(a.tolist()) & set(b.tolist())) / args.k
                          for a, b in zip(labels, truth, strict=True)])
        qps = args.queries / hnsw_s
        rows.append({"ef_search": ef, "queries_per_s": round(qps), "recall_at_k": round(float(recall), 4),
                     "speed_up": round(qps / flat_qps, 2)})
        say(f"{'hnsw efSearch=' + str(ef):<22}{hnsw_build:>10.1f}{qps:>12.0f}{recall:>11.3f}"
              f"{qps / flat_qps:>10.1f}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"peak memory {peak_mib:,.0f} MiB (vectors, flat and HNSW indexes together)")
    if args.json:
        print(json.dumps({"bench": "winners", "n": args.n, "dim": args.dim, "data": args.data, "k": args.k,
                          "m": args.m, "ef_construction": args.ef_construction,
                          "flat_build_s": round(flat_build, 1), "flat_queries_per_s": round(flat_qps),
                          "hnsw_build_s": round(hnsw_build, 1), "hnsw": rows, "peak_rss_mib": round(peak_mib),
                          "ratio": rows[0]["speed_up"], "recall_at_k": rows[0]["recall_at_k"]}))


if __name__ == "__main__":
    main()
