"""Retrieval quality and speed on a benchmark folder (articles.jsonl + questions.jsonl), in one run.

Prints, side by side with the plain llama-index baseline of issue 8:
  - quality (Hit@1/5/10, MRR@10 over the questions whose gold answer is in the corpus) of each retrieval mode as it
    was before issue 8 (plain BM25/dense/RRF), of each mode with the new settings, of the new default, and of the
    default with one lever switched off at a time (what each lever is worth);
  - query speed: Retriever.retrieve and Assistant.ask (extractive) p50/p95, and the one-off BM25 build;
  - ingest speed on a sample of articles, per encoder backend: the stages around the encoder (reading, splitting
    and counting tokens, statements, saving) one after another against the encoder itself, then the same articles
    through `Assistant.ingest` as it runs (statements beside the encoder), and the projected time for the corpus;
  - optionally (--backend-check), how much a faster backend changes dense Hit@k: the questions are re-ranked with
    that backend's vectors over the top-50 passages of the index's own vectors.

The index is the one `assistant eval --benchmark DIR` builds (index/benchmarks/<folder>-<key>); it is only read.
A hit is a retrieved passage holding the gold answer as a whole phrase (assistant.evaluation.metrics).

    nice -n 10 .venv/bin/python evals/retrieval_benchmark.py --benchmark ../shared/benchmarks/realtimeqa-2022 \\
        --index index/benchmarks/realtimeqa-2022-<key> --out evals/runs/retrieval-benchmark.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from assistant.embedding import Embedder
from assistant.evaluation.metrics import contains_phrase
from assistant.index import is_milvus
from assistant.index.store import PassageStore
from assistant.ingest import read_file
from assistant.ingest.passages import passage_search_text, tokenized_passages
from assistant.pipeline import Assistant
from assistant.quotes import extract_statements
from assistant.retrieval.retriever import Retriever
from assistant.settings import EmbeddingSettings, Settings
from assistant.text.sentences import sentence_spans

# Issue 8's baseline: title + text, SentenceSplitter(256, 32), all-MiniLM-L6-v2 + FAISS flat, rank_bm25, RRF k=60.
BASELINE = {
    "dense (llama-index baseline)": {"hit_at_1": 0.535, "hit_at_5": 0.808, "hit_at_10": 0.876, "mrr_at_10": 0.652,
                                     "p50_ms": 20},
    "bm25 (llama-index baseline)": {"hit_at_1": 0.674, "hit_at_5": 0.861, "hit_at_10": 0.912, "mrr_at_10": 0.751,
                                    "p50_ms": 297},
    "hybrid RRF (llama-index baseline)": {"hit_at_1": 0.634, "hit_at_5": 0.848, "hit_at_10": 0.910,
                                          "mrr_at_10": 0.727, "p50_ms": 318},
}  # fmt: skip
BASELINE_INGEST = {"passages": 43_677, "seconds": 31.5 * 60}
# The retrieval settings before issue 8: plain rankings, equal-weight RRF, no priors, no dedup.
BEFORE = {"fusion": "rrf", "dense_weight": 1.0, "bm25_weight": 1.0, "date_prior": False, "lead_boost": 1.0,
          "dedup": False, "focus_weight": 0.0, "article_weight": 0.0}  # fmt: skip
TARGETS = {"hit_at_1": 0.79, "hit_at_5": 0.93, "mrr_at_10": 0.85}


def load_questions(folder: Path, limit: int | None, seed: int) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "questions.jsonl").open(encoding="utf-8") if line.strip()]
    rows = sorted((r for r in rows if r.get("answer_in_corpus", True)), key=lambda r: str(r["id"]))
    if limit is not None and limit < len(rows):
        rows = sorted(random.Random(seed).sample(rows, limit), key=lambda r: str(r["id"]))
    return rows


class MemoEmbedder:
    """The real embedder with query vectors remembered, so the many configurations embed each question once."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.memo: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.memo:
            self.memo[text] = self.inner.embed_query(text)
        return self.memo[text]

    def __getattr__(self, name):
        return getattr(self.inner, name)


def first_relevant_ranks(retriever: Retriever, questions: list[dict], mode: str, use_date: bool) -> list[int | None]:
    """Per question, the rank (1-10) of the first passage holding the gold answer, None when none does."""
    ranks = []
    for q in questions:
        hits = retriever.retrieve(q["question"], k=10, mode=mode, as_of=q.get("asked_on", "") if use_date else "")
        ranks.append(next((i for i, h in enumerate(hits, 1) if contains_phrase(h.passage.text, q["answer"])), None))
    return ranks


def quality(retriever: Retriever, questions: list[dict], mode: str, use_date: bool) -> dict:
    """Hit@1/5/10 and MRR@10 of one configuration."""
    ranks = first_relevant_ranks(retriever, questions, mode, use_date)
    n = len(questions)
    return {
        "hit_at_1": sum(r is not None and r <= 1 for r in ranks) / n,
        "hit_at_5": sum(r is not None and r <= 5 for r in ranks) / n,
        "hit_at_10": sum(r is not None for r in ranks) / n,
        "mrr_at_10": sum(1 / r for r in ranks if r is not None) / n,
    }


def configurations(default_mode: str) -> list[tuple[str, str, dict, bool]]:
    """(name, mode, retrieval setting overrides, pass the question's date)."""
    configs = [
        ("dense (before: plain)", "dense", BEFORE, False),
        ("bm25 (before: plain)", "bm25", BEFORE, False),
        ("hybrid (before: RRF 1:1)", "hybrid", BEFORE, False),
        ("dense (new settings)", "dense", {}, True),
        ("bm25 (new settings)", "bm25", {}, True),
        ("hybrid (new settings)", "hybrid", {}, True),
    ]
    ablations = [
        ("default without the question date", {}, False),
        ("default - date prior", {"date_prior": False}, True),
        ("default - lead boost", {"lead_boost": 1.0}, True),
        ("default - dedup", {"dedup": False}, True),
        ("default - question focus", {"focus_weight": 0.0}, True),
        ("default - article vector", {"article_weight": 0.0}, True),
        ("default - question dates", {"question_dates": False}, True),
        ("default without the question date - question dates", {"question_dates": False}, False),
        ("default, fusion=rrf", {"fusion": "rrf"}, True),
    ]
    configs += [(name, default_mode, overrides, date) for name, overrides, date in ablations]
    return configs


def show_misses(retriever: Retriever, questions: list[dict], count: int, seed: int) -> None:
    """Print a seeded sample of the questions missed at rank 1 with their top passage, for a person to judge
    whether it answers in other words (evals/rank1-audit.yaml holds one such reading)."""
    ranks = first_relevant_ranks(retriever, questions, retriever.settings.mode, True)
    missed = [q for q, r in zip(questions, ranks, strict=True) if r != 1]
    chosen = sorted(random.Random(seed).sample(missed, min(count, len(missed))), key=lambda q: str(q["id"]))
    print(f"\n{len(missed)} of {len(questions)} questions missed at rank 1; {len(chosen)} drawn with seed {seed}")
    for n, q in enumerate(chosen, 1):
        top = retriever.retrieve(q["question"], k=1, as_of=q.get("asked_on", ""))[0]
        print(f"\n#{n} {q['id']}: {q['question']}\n   gold: {q['answer']}   choices: {q.get('choices')}")
        print(f"   top passage: [{top.article.published}] {top.article.title}")
        print(textwrap.indent(textwrap.fill(" ".join(top.passage.text.split()), 116), "   "))


def percentiles(values: list[float]) -> dict:
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}


def query_speed(assistant: Assistant, questions: list[dict]) -> dict:
    """BM25 build (first query), then retrieve and ask (extractive) one question at a time."""
    store = assistant.store
    fresh = Retriever(store, assistant.embedder, assistant.settings.retrieval, assistant.settings.passages.title_prefix)
    started = time.perf_counter()
    fresh._bm25_index()
    bm25_build = time.perf_counter() - started
    assistant._retriever = fresh  # the Assistant reuses this retriever (BM25 already built)
    fresh.retrieve(questions[0]["question"], as_of=questions[0].get("asked_on", ""))  # warm-up
    assistant.ask(questions[0]["question"], use_llm=False)
    retrieve_ms, ask_ms, ask_retrieve_ms, ask_answer_ms = [], [], [], []
    for q in questions:
        started = time.perf_counter()
        fresh.retrieve(q["question"], as_of=q.get("asked_on", ""))
        retrieve_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        answer = assistant.ask(q["question"], use_llm=False)
        ask_ms.append((time.perf_counter() - started) * 1000)
        ask_retrieve_ms.append(answer.timings_ms.get("retrieve", 0.0))
        ask_answer_ms.append(answer.timings_ms.get("answer", 0.0))
    return {
        "questions": len(questions),
        "bm25_build_s": round(bm25_build, 2),
        "retrieve": percentiles(retrieve_ms),
        "ask_total": percentiles(ask_ms),
        "ask_retrieve_stage": percentiles(ask_retrieve_ms),
        "ask_answer_stage": percentiles(ask_answer_ms),
    }


def _warm_up(embedder: Embedder, articles: list) -> None:
    """Load the tokenizer and model and run them once, so the timings that follow hold no start-up."""
    embedder.embed(
        [passage_search_text(x, a, True) for a in articles for x in tokenized_passages(a, embedder.token_ids, 64)[0]]
    )


def ingest_speed(folder: Path, settings: Settings, sample: int, backends: list[str], seed: int) -> dict:
    """Stage times of indexing `sample` articles, per encoder backend, and the projection to the whole corpus."""
    lines = [line for line in (folder / "articles.jsonl").open(encoding="utf-8") if line.strip()]
    chosen = sorted(random.Random(seed).sample(range(len(lines)), min(sample, len(lines))))
    result: dict = {"sample_articles": len(chosen), "corpus_articles": len(lines), "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.jsonl"
        path.write_text("".join(lines[i] for i in chosen), encoding="utf-8")
        for backend in backends:
            embedder = Embedder(EmbeddingSettings(**{**settings.embedding.model_dump(), "backend": backend}))
            p = settings.passages
            warm = read_file(path, 1 << 40, settings.ingest.min_chars).articles[:1]  # load Punkt, tokenizer, model
            extract_statements(warm[0].text)  # its first call imports and compiles (~2 s): not a per-article cost
            _warm_up(embedder, warm)
            stages = {}
            started = time.perf_counter()
            articles = read_file(path, 1 << 40, settings.ingest.min_chars).articles
            stages["read"] = time.perf_counter() - started
            started = time.perf_counter()
            sentences = [sentence_spans(a.text) for a in articles]  # shared by passages and statements
            stages["sentences"] = time.perf_counter() - started
            started = time.perf_counter()
            split = [
                (a, tokenized_passages(a, embedder.token_ids, p.max_tokens, p.overlap_sentences, p.title_prefix, s)[0])
                for a, s in zip(articles, sentences, strict=True)
            ]
            stages["split_and_count_tokens"] = time.perf_counter() - started
            started = time.perf_counter()
            statements = [extract_statements(a.text, s) for a, s in zip(articles, sentences, strict=True)]
            stages["statements"] = time.perf_counter() - started
            texts = [passage_search_text(x, a, p.title_prefix) for a, ps in split for x in ps]
            started = time.perf_counter()
            vectors = embedder.embed(texts)
            encoder = time.perf_counter() - started
            started = time.perf_counter()
            store = PassageStore(Path(tmp) / f"index-{backend}", embedder.name, embedder.dimension)
            row = 0
            for (article, passages), found in zip(split, statements, strict=True):
                rows = [{"article_id": article.id, "text": str(s)} for s in found]
                store.add(article, passages, vectors[row : row + len(passages)], rows)
                row += len(passages)
            store.save()
            stages["add_and_save"] = time.perf_counter() - started
            overhead = sum(stages.values())
            per_passage = (overhead + encoder) / max(1, len(texts))
            # The same articles through `assistant ingest` as it runs (statements beside the encoder, checkpoints):
            # what the pipeline adds to the encoder's time in wall-clock terms.
            # A fresh embedder, warmed on the warm-up article only.
            run_settings = settings.model_copy(deep=True)
            run_settings.index.dir = Path(tmp) / f"ingest-{backend}"
            run_embedder = Embedder(embedder.settings)
            _warm_up(run_embedder, warm)
            started = time.perf_counter()
            Assistant(run_settings, embedder=run_embedder).ingest([path])
            whole = time.perf_counter() - started
            result["passages"] = len(texts)
            result["backends"][backend] = {
                "encoder_s": round(encoder, 2),
                "passages_per_s": round(len(texts) / encoder, 1),
                "stages_s": {k: round(v, 2) for k, v in stages.items()},
                "overhead_s": round(overhead, 2),
                "overhead_vs_encoder": round(overhead / encoder, 3),
                "per_passage_ms": round(per_passage * 1000, 2),
                "ingest_s": round(whole, 2),
                "ingest_overhead_vs_encoder": round((whole - encoder) / encoder, 3),
            }
    return result


def backend_check(index_embedder: Embedder, backend: str, retriever: Retriever, questions: list[dict]) -> dict:
    """Dense Hit@k with the index's vectors vs with `backend`'s vectors, over each question's top-50 passages."""
    other = Embedder(EmbeddingSettings(**{**index_embedder.settings.model_dump(), "backend": backend}))
    store = retriever.store
    ranks: dict[str, list] = {"index": [], backend: []}
    cosines = []
    for q in questions:
        found = retriever.dense_ranking(q["question"], 50, None)
        ids = [pid for pid, _ in found]
        texts = [passage_search_text(store.passages[i], retriever._article(i), retriever.with_header) for i in ids]
        mine = other.embed(texts)
        cosines.extend((mine * store.vectors_for(ids)).sum(axis=1).tolist())
        rescored = mine @ other.embed_query(q["question"])
        for name, order in (("index", ids), (backend, [ids[i] for i in np.argsort(-rescored, kind="stable")])):
            relevant = [contains_phrase(store.passages[i].text, q["answer"]) for i in order[:10]]
            ranks[name].append(next((r for r, ok in enumerate(relevant, 1) if ok), None))
    out = {"questions": len(questions), "passage_cosine_mean": float(np.mean(cosines)),
           "passage_cosine_min": float(np.min(cosines))}  # fmt: skip
    for name, found in ranks.items():
        out[name] = {f"hit_at_{k}": sum(r is not None and r <= k for r in found) / len(found) for k in (1, 5, 10)}
    return out


def print_table(title: str, rows: dict[str, dict], extra: str = "") -> None:
    print(f"\n{title}")
    print(f"| {'configuration':44s} | Hit@1 | Hit@5 | Hit@10 | MRR@10 |{extra}")
    print(f"|{'-' * 46}|-------|-------|--------|--------|{'-' * len(extra) if extra else ''}")
    for name, m in rows.items():
        more = (
            f" {m['p50_ms']:>6.0f} ms |" if extra and "p50_ms" in m else (" " * (len(extra) - 1) + "|" if extra else "")
        )
        print(
            f"| {name:44s} | {m['hit_at_1']:.3f} | {m['hit_at_5']:.3f} | {m['hit_at_10']:.3f}  | "
            f"{m['mrr_at_10']:.3f}  |{more}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path, required=True, help="folder with articles.jsonl, questions.jsonl")
    parser.add_argument(
        "--index", required=True, help="an index of the benchmark's articles.jsonl (a folder, or milvus:URI)"
    )
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of N questions (quality)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-questions", type=int, default=100, help="questions timed one by one (0: skip)")
    parser.add_argument("--ingest-sample", type=int, default=100, help="articles indexed per backend (0: skip)")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx-int8", "openvino-int8"])
    parser.add_argument("--backend-check", default="", help="e.g. onnx-int8: dense Hit@k with its vectors")
    parser.add_argument("--backend-check-questions", type=int, default=100)
    parser.add_argument("--show-misses", type=int, default=0, help="only print N questions missed at rank 1")
    parser.add_argument("--miss-seed", type=int, default=8, help="seed of the --show-misses sample")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()

    settings = Settings()
    settings.index.dir = args.index
    if not is_milvus(args.index) and not (Path(args.index) / "manifest.json").exists():
        print(f"no index in {args.index}: build it with 'assistant eval --benchmark {args.benchmark}'", file=sys.stderr)
        return 2
    assistant = Assistant(settings)
    store = assistant.store
    questions = load_questions(args.benchmark, args.limit, args.seed)
    results: dict = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "index": str(args.index),
        "index_passages": len(store.passages),
        "passage_settings": (store.read_manifest() or {}).get("settings", {}),
        "embedding": settings.embedding.model_dump(mode="json"),
        "retrieval_defaults": settings.retrieval.model_dump(mode="json"),
        "questions": len(questions),
        "baseline": BASELINE,
    }
    print(f"index {args.index}: {len(store.passages)} passages; {len(questions)} questions", flush=True)

    if args.show_misses:
        retriever = Retriever(store, assistant.embedder, settings.retrieval, settings.passages.title_prefix)
        show_misses(retriever, questions, args.show_misses, args.miss_seed)
        return 0
    memo = MemoEmbedder(assistant.embedder)
    bm25 = None
    rows: dict[str, dict] = {}
    for name, mode, overrides, use_date in configurations(settings.retrieval.mode):
        retrieval = settings.retrieval.model_copy(update=overrides)
        retriever = Retriever(store, memo, retrieval, settings.passages.title_prefix)
        if bm25 is not None and (retrieval.bm25_k1, retrieval.bm25_b) == bm25[0]:
            retriever._bm25, retriever._doc_freq = bm25[1], bm25[2]  # same BM25 index: build it once
        started = time.perf_counter()
        rows[name] = quality(retriever, questions, mode, use_date)
        bm25 = ((retrieval.bm25_k1, retrieval.bm25_b), retriever._bm25, retriever._doc_freq)
        print(f"  {name}: {json.dumps({k: round(v, 3) for k, v in rows[name].items()})} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
    results["quality"] = rows

    if args.latency_questions:
        timed = questions[: args.latency_questions]
        results["query_speed"] = query_speed(assistant, timed)
        rows["hybrid (new settings)"]["p50_ms"] = results["query_speed"]["retrieve"]["p50_ms"]
    if args.backend_check:
        checked = questions[: args.backend_check_questions]
        retriever = Retriever(store, assistant.embedder, settings.retrieval, settings.passages.title_prefix)
        results["backend_check"] = backend_check(assistant.embedder, args.backend_check, retriever, checked)
    if args.ingest_sample:
        results["ingest_speed"] = ingest_speed(args.benchmark, settings, args.ingest_sample, args.backends, args.seed)

    print_table("Baseline (issue 8, plain llama-index stack, 475 questions)", BASELINE, " query p50 |")
    print_table(f"This pipeline ({len(questions)} questions)", rows, " query p50 |")
    print(f"targets: {TARGETS}")
    if "query_speed" in results:
        s = results["query_speed"]
        print(
            f"\nquery speed ({s['questions']} questions, default settings): "
            f"retrieve p50 {s['retrieve']['p50_ms']:.0f} ms"
            f" p95 {s['retrieve']['p95_ms']:.0f} ms; ask (extractive) p50 {s['ask_total']['p50_ms']:.0f} ms"
            f" p95 {s['ask_total']['p95_ms']:.0f} ms (answer stage p50 {s['ask_answer_stage']['p50_ms']:.0f} ms);"
            f" BM25 index built on the first query in {s['bm25_build_s']:.1f} s"
        )
    if "backend_check" in results:
        b = results["backend_check"]
        print(f"\nbackend check ({b['questions']} questions, dense, top-50 re-ranked): {json.dumps(b)}")
    if "ingest_speed" in results:
        ing = results["ingest_speed"]
        total = len(store.passages)
        print(f"\ningest speed on {ing['sample_articles']} articles ({ing['passages']} passages); projected to the "
              f"{total} passages of the index; baseline {BASELINE_INGEST['seconds'] / 60:.1f} min for "
              f"{BASELINE_INGEST['passages']} passages")  # fmt: skip
        print(
            "| backend | encoder passages/s | encoder s | stages s one after another (read, sentences, split, "
            "statements, save) | stages/encoder | `assistant ingest` s | (ingest − encoder)/encoder "
            "| projected corpus min |"
        )
        print("|---|---|---|---|---|---|---|---|")  # fmt: skip
        for backend, r in ing["backends"].items():
            st = r["stages_s"]
            parts = ", ".join(f"{v:.1f}" for v in st.values())
            projected = r["ingest_s"] / ing["passages"] * total / 60
            r["projected_corpus_min"] = round(projected, 1)
            print(f"| {backend} | {r['passages_per_s']:.1f} | {r['encoder_s']:.1f} | {r['overhead_s']:.1f} ({parts}) | "
                  f"{r['overhead_vs_encoder']:.1%} | {r['ingest_s']:.1f} | {r['ingest_overhead_vs_encoder']:.1%} | "
                  f"{projected:.1f} |")  # fmt: skip
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
