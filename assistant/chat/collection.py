"""The indexed collection as the page shows it: the sample corpus for an empty index, example questions, status."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import assistant as _package
from assistant.errors import AssistantError
from assistant.pipeline import Assistant

SAMPLE_QUESTIONS = ["What did Dmitriev say about sanctions?", "And about NATO?"]  # the sample article's


def checkout_root() -> Path:
    return Path(_package.__file__).resolve().parent.parent


def sample_corpus() -> Path | None:
    """data/sample/ of the checkout, if this is one (an installed wheel has no sample)."""
    path = checkout_root() / "data" / "sample"
    return path if path.is_dir() else None


def ensure_index(assistant: Assistant, log: Callable[[str], None] = print) -> str:
    """Index the sample corpus when the index is empty, so the page never opens onto nothing; says what it did."""
    if assistant.articles():
        return ""
    sample = sample_corpus()
    if sample is None:
        return "The index is empty: upload articles (.txt .md .html .json .jsonl) under 'Add articles'."
    log(f"the index in {assistant.settings.index.dir} is empty; indexing the sample corpus {sample} ...")
    report = assistant.ingest([sample])
    log(report.summary())
    return f"The index was empty, so the sample corpus ({sample}) was indexed."


def example_questions(assistant: Assistant) -> list[str]:
    """Questions to try on this index: the sample's when its article is indexed, else what its most quoted
    people said (a collection of other news has no Dmitriev)."""
    try:
        store = assistant.store
    except AssistantError:
        return []
    sample = sample_corpus()
    if sample is not None and any(Path(a.path).parent == sample.resolve() for a in store.articles.values()):
        return SAMPLE_QUESTIONS
    quoted = Counter(row["speaker"] for rows in store.statements.values() for row in rows)
    # people, not "officials": a first and a last name, both capitalised
    named = [n for n, _ in quoted.most_common() if len(n.split()) > 1 and n[0].isupper() and n.split()[-1][0].isupper()]
    return [f"What did {name} say?" for name in named[:2]]


def index_sources(assistant: Assistant) -> list[str]:
    return sorted({a.source for a in assistant.articles() if a.source}, key=str.lower)


def index_status(assistant: Assistant) -> str:
    try:
        articles = assistant.articles()
    except AssistantError as exc:
        return f"⚠ {exc}"
    if not articles:
        return "The index is empty: upload articles under 'Add articles'."
    sources = {a.source for a in articles if a.source}
    return f"{_count(len(articles), 'article')} from {_count(len(sources), 'source')} in the index."


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def warm_up_in_background(assistant: Assistant) -> threading.Thread:
    """Build the BM25 ranking (seconds on a large index) while the page loads, not on the first question."""
    thread = threading.Thread(target=assistant.warm_up, name="warm-up", daemon=True)
    thread.start()
    return thread
