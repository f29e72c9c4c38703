"""The Milvus part of evals/scale_benchmark.py: the assistant's passage collection (assistant/index/milvus_schema.py)
filled with synthetic passages on embedded milvus-lite, timed the way the assistant searches it.

Each passage gets the benchmark's clustered vector, a synthetic text (words drawn from a Zipf vocabulary, so BM25
has common and rare terms like news), a published day in a three-year span and one of 20 sources. Reported: insert
rate (rows/s, the collection flushed), single-query p50/p95 of (a) the assistant's requests for one question (dense
top 50 and BM25 top 100, both with a source and date filter), (b) one hybrid_search request (dense + BM25, RRF,
same filter), (c) dense alone with the filter and its recall@10 against exact search; the milvus-lite server's
resident memory and the database file's size, per passage.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

SOURCES = [f"source{i:02d}.example" for i in range(20)]
FIRST_DAY = 738_000  # 2021-07-20 as a day number; three years of days from it


def synthetic_texts(n: int, rng: np.random.Generator, words: int = 60, vocabulary: int = 30_000) -> list[str]:
    ranks = np.minimum(rng.zipf(1.2, size=(n, words)), vocabulary) - 1
    return [" ".join(f"w{r}" for r in row) for row in ranks]


def _server_rss_mb(db_file: Path) -> float:
    """Resident memory of the milvus-lite server of db_file (a child process of this one), in MB."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                serves = str(db_file).encode() in f.read()
            if int(fields[1]) != os.getpid() or not serves:  # field 4: parent pid
                continue
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_milvus(n: int, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, args) -> list[dict]:
    """Fill a fresh embedded file per index type and time its searches; one result row per index type."""
    return [_run_one(n, data, queries, truth, args, index_type) for index_type in args.milvus_index]


def _run_one(n: int, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, args, index_type: str) -> dict:
    from pymilvus import AnnSearchRequest, RRFRanker

    from assistant.index.milvus import MilvusStore
    from assistant.index.milvus_schema import ensure_collections, search_params
    from assistant.settings import MilvusSettings

    folder = Path(tempfile.mkdtemp(prefix="scale-milvus-", dir=args.milvus_dir))
    settings = MilvusSettings(index_type=index_type, nlist=int(4 * np.sqrt(n)), nprobe=args.milvus_nprobe)
    store = MilvusStore(f"milvus:{folder / 'scale.db'}", "synthetic", data.shape[1], settings)
    ensure_collections(store)
    rng = np.random.default_rng(11)
    published = FIRST_DAY + rng.integers(0, 3 * 365, n)
    sources = rng.integers(0, len(SOURCES), n)
    started = time.perf_counter()
    batch = 2000
    for first in range(0, n, batch):
        last = min(n, first + batch)
        texts = synthetic_texts(last - first, rng)
        store.db.insert(
            store.passages_name,
            [
                {
                    "id": i,
                    "article_id": f"a{i // 10}",
                    "published": int(published[i]),
                    "source": SOURCES[sources[i]],
                    "start": (i % 10) * 1000,
                    "end": (i % 10) * 1000 + 900,
                    "sentences": "[]",
                    "search_text": texts[i - first],
                    "vector": data[i].tolist(),
                }
                for i in range(first, last)
            ],  # fmt: skip
            batch=batch,
        )
    store.db.call("flush", "flush", store.passages_name)
    insert_s = time.perf_counter() - started
    # Indexes are built after the flush (AUTOINDEX/IVF train on sealed segments): wait until searches see all.
    store.db.call("load", "load_collection", store.passages_name)
    load_s = time.perf_counter() - started - insert_s
    counted = store.db.count(store.passages_name, "id >= 0")
    params = search_params(settings, embedded=True)
    rng_q = np.random.default_rng(5)
    filters = []
    for _ in range(len(queries)):
        chosen = rng_q.choice(len(SOURCES), 10, replace=False)
        since = FIRST_DAY + int(rng_q.integers(0, 365))
        names = ", ".join(f'"{SOURCES[c]}"' for c in chosen)
        filters.append(f"(source in [{names}]) and (published >= {since})")
    words = synthetic_texts(len(queries), rng_q, words=6)
    timed = queries[: args.latency_queries]

    def assistant_requests(i: int) -> None:
        store.db.search(store.passages_name, [timed[i].tolist()], "vector", 50, filters[i], params, ["article_id"])
        store.db.search(
            store.passages_name, [words[i]], "sparse", 100, filters[i], {"metric_type": "BM25"}, ["article_id"]
        )

    def hybrid_request(i: int) -> None:
        dense = AnnSearchRequest([timed[i].tolist()], "vector", params, 50, expr=filters[i])
        sparse = AnnSearchRequest([words[i]], "sparse", {"metric_type": "BM25"}, 100, expr=filters[i])
        store.db.call("search", "hybrid_search", store.passages_name, [dense, sparse], RRFRanker(60), limit=50)

    def dense_request(i: int) -> None:
        store.db.search(store.passages_name, [timed[i].tolist()], "vector", 10, filters[i], params, ["id"])

    row = {
        "backend": "milvus-lite",
        "index_type": index_type,
        "params": params["params"],
        "rows": counted,
        "insert_s": round(insert_s, 1),
        "insert_rows_per_s": round(n / insert_s, 0),
        "load_s": round(load_s, 1),
    }
    requests = {
        "assistant_dense50_bm25_100_filtered": assistant_requests,
        "hybrid_search_rrf_filtered": hybrid_request,
        "dense10_filtered": dense_request,
    }
    for name, request in requests.items():
        for i in range(min(5, len(timed))):  # warm caches
            request(i)
        times = []
        for i in range(len(timed)):
            t = time.perf_counter()
            request(i)
            times.append((time.perf_counter() - t) * 1000)
        row[name] = {"p50_ms": round(float(np.percentile(times, 50)), 2),
                     "p95_ms": round(float(np.percentile(times, 95)), 2)}  # fmt: skip
    # recall of the (filter-free) dense search against exact search
    found = []
    for q in queries[: args.latency_queries]:
        hits = store.db.search(store.passages_name, [q.tolist()], "vector", 10, "", params, ["id"])
        found.append([h["id"] for h in hits])
    row["recall_at_10"] = round(
        float(np.mean([len(set(f) & set(t[:10])) / 10 for f, t in zip(found, truth, strict=False)])), 4
    )
    rss = _server_rss_mb(folder / "scale.db")
    disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    row.update(
        {
            "server_rss_mb": round(rss, 1),
            "rss_bytes_per_passage": round(rss * 1024 * 1024 / n, 1),
            "disk_mb": round(disk / 1e6, 1),
            "disk_bytes_per_passage": round(disk / n, 1),
        }
    )
    print(f"{n:>9} milvus-lite {index_type}: {row}", flush=True)
    store.db.close()
    if not args.keep_milvus:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return row
