"""Candidates from a store that searches itself (Milvus): its dense and BM25 searches with the filters, re-scored
here so that the retriever's fusion, priors and dedup rank them as they rank the FAISS store's passages.

Milvus's BM25 only chooses candidates: every candidate's BM25 score is computed again with the same terms, k1, b,
document frequencies and average length as the in-memory bm25s index (the store keeps the frequencies), so a
passage found by both backends gets the same score. Because the date prior and the lead boost multiply BM25 before
the best are taken, more BM25 candidates are asked for (milvus.bm25_overfetch) plus, when the question has a time
frame, the best ones inside it.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from assistant.index.milvus_client import filter_expression
from assistant.ingest.passages import Passage, passage_search_text
from assistant.text.dates import day_number
from assistant.text.terms import search_terms


def filter_of(filters, extra: str = "") -> str:
    """The Milvus filter expression of retrieval Filters ('' when they exclude nothing)."""
    if not filters:
        return filter_expression([], "", "", extra)
    return filter_expression(filters.sources, filters.since, filters.until, extra)


def search_words(text: str) -> str:
    """The words of a text that BM25 counts (stop and question words dropped), as Milvus's analyzer should read them."""
    words = text.lower().split()
    kept = [w for w, terms in zip(words, search_terms(words), strict=True) if terms]
    return " ".join(kept)


_SEARCHES = ThreadPoolExecutor(4, thread_name_prefix="milvus-search")  # gRPC calls release the interpreter lock


def server_pool(retriever, query: str, depth: int, filters, mode: str, frame):
    """The question's candidates as a Pool (see retriever.Pool), or None when the index or the filters leave none."""
    from assistant.retrieval.retriever import Pool, question_focus

    store, s = retriever.store, retriever.settings
    if not len(store.passages):
        return None
    expression = filter_of(filters)
    found: dict[int, Passage] = {}  # passage id -> Passage, in the order found
    # The BM25 searches go out first and run in Milvus while the question is embedded and searched densely.
    terms = search_terms([query])[0] if mode in ("bm25", "hybrid") else []
    bm25_searches = []
    if terms:
        words = search_words(query)
        limit = depth * store.settings.bm25_overfetch
        bm25_searches.append(_SEARCHES.submit(store.search_bm25, words, limit, expression))
        if frame is not None:
            first, last = frame.first.toordinal(), frame.last.toordinal() + s.date_window_after
            within = filter_of(filters, f"published >= {max(first, 1)} and published <= {last}")
            bm25_searches.append(_SEARCHES.submit(store.search_bm25, words, depth, within))
    dense: list[tuple[int, float]] = []
    qvec = None
    if mode in ("dense", "hybrid"):
        qvec = retriever.embedder.embed_query(query).reshape(1, -1).astype(np.float32)
        for passage, cosine in store.search_dense(qvec, depth, expression):
            found.setdefault(passage.id, passage)
            dense.append((passage.id, cosine))
    for search in bm25_searches:
        for passage, _ in search.result():
            found.setdefault(passage.id, passage)
    if not found:
        return None
    passages = list(found.values())
    ids = np.array([p.id for p in passages], dtype=np.int64)
    row_of = {int(pid): row for row, pid in enumerate(ids)}
    articles = [store.articles.get(p.article_id) for p in passages]
    published = np.array([day_number(a.published) if a else 0 for a in articles], dtype=np.int64)
    lead = np.array([p.start == 0 for p in passages], dtype=bool)
    pool = Pool(ids, retriever.prior(frame, lead, published), lambda row: passages[row])
    if terms:
        pairs = zip(passages, articles, strict=True)
        texts = [passage_search_text(p, a, retriever.with_header) if a else "" for p, a in pairs]
        focus = search_terms([question_focus(query)])[0] if s.focus_weight else []
        pool.bm25 = bm25_scores(store, texts, terms, s.bm25_k1, s.bm25_b)
        if focus:
            pool.bm25 += s.focus_weight * bm25_scores(store, texts, focus, s.bm25_k1, s.bm25_b)
    pool.dense = [(row_of[pid], cosine) for pid, cosine in dense]
    pool.qvec = qvec
    article_ids = [p.article_id for p in passages]
    pool.article_vectors = lambda rows: store.article_vectors([article_ids[r] for r in rows])
    return pool


_TERMS: dict[str, list[str]] = {}  # candidate text -> its search terms: the same passages come back often


def _terms_of(texts: list[str]) -> list[list[str]]:
    if len(_TERMS) > 20_000:
        _TERMS.clear()
    missing = [t for t in dict.fromkeys(texts) if t not in _TERMS]
    _TERMS.update(zip(missing, search_terms(missing), strict=True))
    return [_TERMS[t] for t in texts]


def bm25_scores(store, texts: list[str], terms: list[str], k1: float, b: float) -> np.ndarray:
    """BM25 of each text as bm25s scores it ('lucene': no (k1 + 1) factor; a query term counts as often as it
    occurs), with the whole index's document frequencies and average length."""
    n = max(len(store.passages), 1)
    average = max(store.counts["tokens"] / n, 1e-9)
    df = store.doc_freq(sorted(set(terms)))
    idf = {t: np.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in df}
    scores = np.zeros(len(texts), dtype=np.float64)
    for row, tokens in enumerate(_terms_of(texts)):
        counts, length = Counter(tokens), len(tokens)
        norm = k1 * (1 - b + b * length / average)
        for term in terms:
            tf = counts.get(term, 0)
            if tf and df[term]:
                scores[row] += idf[term] * tf / (tf + norm)
    return scores
