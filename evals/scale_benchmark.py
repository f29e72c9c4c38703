"""Scale benchmark of the FAISS index kinds (setting index.kind) and of the Milvus backend (--backends milvus, on
embedded milvus-lite: evals/scale_milvus.py) on synthetic collections.

Synthetic passages: unit vectors of the embedder's dimension (384) in two levels like news, topics and stories
around them, with the spreads chosen so that the cosines of a query's 1st/10th/100th nearest passages resemble
those of real questions on the RealTime QA index (all-MiniLM-L6-v2: about 0.70 / 0.57 / 0.36; printed for each
run). Uniform random vectors would be unrealistically hard for HNSW, a few tight clusters unrealistically easy.
Queries are drawn like the passages but are not in the collection. The exact answer is IndexFlatIP's top 10.

For each size it reports, per index kind and search setting: build time, memory per passage (serialised index
size, the same layout the store writes, IndexIDMap2 included), single-query p50/p95 latency and recall@10
against exact search.

    nice -n 10 .venv/bin/python evals/scale_benchmark.py --sizes 100000 1000000 --out evals/runs/scale.json
    nice -n 10 .venv/bin/python evals/scale_benchmark.py --sizes 100000 1000000 --backends milvus \
        --out evals/runs/scale-milvus.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import faiss
import numpy as np
from scale_milvus import run_milvus


def clustered_vectors(
    n: int, dim: int, per_topic: int, per_story: int, topic_spread: float, spread: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors in two levels, like news: topics (random unit centres), stories around a topic (noise of
    norm `topic_spread`), passages around a story (noise of norm `spread`). Returns the vectors and story centres."""
    rng = np.random.default_rng(seed)
    topics = _unit(rng.standard_normal((max(10, n // per_topic), dim)).astype(np.float32))
    n_stories = max(10, n // per_story)
    which = rng.integers(0, len(topics), n_stories)
    stories = _unit(topics[which] + _noise(rng, (n_stories, dim), topic_spread))
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        out[start : start + m] = _unit(stories[rng.integers(0, n_stories, m)] + _noise(rng, (m, dim), spread))
    return out, stories


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _noise(rng, shape: tuple[int, int], norm: float) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32) * (norm / np.sqrt(shape[1]))


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]))


def index_bytes(index: faiss.Index) -> int:
    return int(faiss.serialize_index(index).size)


def timed_search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    """One query at a time, as the assistant asks them; returns ids and per-query milliseconds."""
    ids, times = [], []
    for q in queries:
        started = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - started) * 1000)
        ids.append(found[0])
    return np.array(ids), times


def make_index(kind: str, dim: int, m: int, ef_construction: int, nlist: int) -> faiss.Index:
    if kind == "hnsw":
        base = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = ef_construction
    elif kind == "ivf":
        base = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    else:
        base = faiss.IndexFlatIP(dim)
    return faiss.IndexIDMap2(base)


def run_size(n: int, args) -> dict:
    dim, k = args.dim, 10
    t0 = time.perf_counter()
    data, stories = clustered_vectors(n, dim, args.per_topic, args.per_story, args.topic_spread, args.spread, seed=1)
    rng = np.random.default_rng(7)
    # Queries: new points of random stories, drawn like the passages but not in the collection.
    picks = stories[rng.integers(0, len(stories), args.queries)]
    queries = _unit(picks + _noise(rng, picks.shape, args.spread))
    gen_s = time.perf_counter() - t0
    ids = np.arange(n, dtype=np.int64)
    result: dict = {"passages": n, "dim": dim, "stories": len(stories), "generate_s": round(gen_s, 1), "kinds": []}

    faiss.omp_set_num_threads(args.threads)
    flat = make_index("flat", dim, 0, 0, 0)
    started = time.perf_counter()
    flat.add_with_ids(data, ids)
    flat_build = time.perf_counter() - started
    sims, truth = flat.search(queries, 100)  # batched: the exact answer (and how similar neighbours are)
    truth = truth[:, :k]
    result["query_neighbour_cosine"] = {f"top{r}": round(float(sims[:, r - 1].mean()), 3) for r in (1, 10, 100)}
    print(f"{n:>9} neighbour cosines of the queries: {result['query_neighbour_cosine']}", flush=True)
    faiss.omp_set_num_threads(1)
    _, times = timed_search(flat, queries[: args.latency_queries], k)
    result["kinds"].append(
        {
            "kind": "flat",
            "build_s": round(flat_build, 2),
            "bytes_per_passage": round(index_bytes(flat) / n, 1),
            "searches": [{"setting": "exact", "recall_at_10": 1.0, **_latency(times)}],
        }
    )
    print(f"{n:>9} flat  build {flat_build:7.1f}s  p50 {np.percentile(times, 50):6.2f} ms", flush=True)
    flat_bytes = index_bytes(flat)
    del flat
    if "milvus" in args.backends:
        result["milvus"] = run_milvus(n, data, queries, truth, args)

    for kind in args.kinds if "faiss" in args.backends else []:
        if kind == "flat":
            continue
        settings = args.hnsw_m if kind == "hnsw" else [int(4 * np.sqrt(n))]
        for param in settings:
            faiss.omp_set_num_threads(args.threads)
            rss_before = _rss_mb()
            index = make_index(kind, dim, param, args.ef_construction, param)
            started = time.perf_counter()
            if kind == "ivf":
                train = data[np.random.default_rng(3).choice(n, min(n, 50 * param), replace=False)]
                faiss.downcast_index(index.index).train(train)
            index.add_with_ids(data, ids)
            build = time.perf_counter() - started
            size = index_bytes(index)
            faiss.omp_set_num_threads(1)
            entry = {
                "kind": kind,
                "param": {"M": param, "efConstruction": args.ef_construction} if kind == "hnsw" else {"nlist": param},
                "build_s": round(build, 1),
                "bytes_per_passage": round(size / n, 1),
                "graph_overhead_vs_flat": round(size / flat_bytes, 2),
                "rss_growth_mb": round(_rss_mb() - rss_before, 1),
                "searches": [],
            }
            sweep = args.ef_search if kind == "hnsw" else args.nprobe
            for value in sweep:
                if kind == "hnsw":
                    faiss.downcast_index(index.index).hnsw.efSearch = value
                else:
                    faiss.downcast_index(index.index).nprobe = value
                found, _ = timed_search(index, queries, k)
                _, times = timed_search(index, queries[: args.latency_queries], k)
                recall = recall_at(found, truth, k)
                name = "efSearch" if kind == "hnsw" else "nprobe"
                row = {"setting": f"{name}={value}", "recall_at_10": round(recall, 4), **_latency(times)}
                entry["searches"].append(row)
                print(
                    f"{n:>9} {kind} {param:>4}  build {build:7.1f}s  {size / n:7.1f} B/passage  "
                    f"{'ef' if kind == 'hnsw' else 'nprobe'}={value:<4} recall@10 {recall:.4f}  "
                    f"p50 {np.percentile(times, 50):6.3f} ms",
                    flush=True,
                )
            result["kinds"].append(entry)
            del index
    return result


def _latency(times: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--kinds", nargs="+", default=["flat", "hnsw"], choices=["flat", "hnsw", "ivf"])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--per-topic", type=int, default=1000, help="passages per topic")
    parser.add_argument("--per-story", type=int, default=10, help="passages per story")
    parser.add_argument("--topic-spread", type=float, default=1.0, help="noise norm of a story around its topic")
    parser.add_argument("--spread", type=float, default=0.7, help="noise norm of a passage around its story")
    parser.add_argument("--hnsw-m", type=int, nargs="+", default=[32])
    parser.add_argument("--ef-construction", type=int, default=40)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--queries", type=int, default=1000, help="queries for recall")
    parser.add_argument("--latency-queries", type=int, default=300, help="queries timed one by one")
    parser.add_argument("--threads", type=int, default=2, help="FAISS threads for building (search uses 1)")
    parser.add_argument("--backends", nargs="+", default=["faiss"], choices=["faiss", "milvus"])
    parser.add_argument("--milvus-index", nargs="+", default=["FLAT", "IVF_FLAT"], choices=["FLAT", "IVF_FLAT"])
    parser.add_argument("--milvus-nprobe", type=int, default=32, help="IVF_FLAT clusters searched per query")
    parser.add_argument("--milvus-dir", type=Path, default=None, help="where the milvus-lite files go (default /tmp)")
    parser.add_argument("--keep-milvus", action="store_true", help="keep the milvus-lite files")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    results = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "faiss": faiss.__version__, "sizes": []}
    for n in args.sizes:
        results["sizes"].append(run_size(n, args))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2) if not args.out else f"written {args.out}")


if __name__ == "__main__":
    main()
