"""Find the passages for a question: BM25 and dense (FAISS) rankings, fused, with priors, filters and dedup.

The levers below are settings (RetrievalSettings) so that each one's effect can be measured
(evals/retrieval_benchmark.py):
- fusion: reciprocal-rank fusion ('rrf') or a weighted sum of normalised scores ('score'), with a weight each;
- date prior: when the question names a time ("in May 2022", "last week": timeframe.py) or has a date
  (Filters.as_of), passages of articles published then keep their score and all others are multiplied by
  `date_penalty` (a soft preference, not a filter);
- lead prior: the first passage of an article is multiplied by `lead_boost` (news puts the key facts first);
- dedup: a passage whose words are nearly all in a better-ranked passage (a wire story copied by several outlets)
  is dropped from the results, so the top k show different text.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import faiss
import numpy as np

from assistant.embedding import Embedder
from assistant.index import Store, searches_itself
from assistant.index.store import PassageStore
from assistant.ingest import Article
from assistant.ingest.passages import Passage, passage_search_text
from assistant.settings import RetrievalSettings
from assistant.text.dates import day_number, parse_date
from assistant.text.sentences import sentences
from assistant.text.terms import search_terms
from assistant.text.timeframe import TimeFrame, time_frame

_WORD = re.compile(r"\w+")
_SHINGLE = 5  # words per shingle when comparing passages for near-duplicates


def question_focus(query: str) -> str:
    """The sentence that asks, when a question first sets the scene: "X died Sunday. Which role did she play?"

    The scene-setting sentences find the story; the asking sentence's words are the ones the answer passage
    shares, so BM25 counts them once more (retrieval.focus_weight). '' for a one-sentence question.
    """
    found = sentences(query)
    return found[-1] if len(found) > 1 else ""


@dataclass
class Filters:
    """Restrict retrieval to some sources and/or a published-date range (ISO dates, inclusive).

    as_of is no restriction: it is the date the question is asked from ("this week" means the week before it).
    With retrieval.date_prior on, passages of articles published near it rank higher; nothing is excluded.
    """

    sources: list[str] = field(default_factory=list)
    since: str = ""
    until: str = ""
    as_of: str = ""

    def __bool__(self) -> bool:
        """True when the filters exclude something (as_of never does)."""
        return bool(self.sources or self.since or self.until)

    def describe(self) -> str:
        """'sources: cnn.com; published 2025-01-01 to 2025-02-01', for messages."""
        parts = [f"sources: {', '.join(self.sources)}"] if self.sources else []
        if self.since or self.until:
            parts.append(f"published {self.since or '…'} to {self.until or '…'}")
        return "; ".join(parts)

    def allows(self, article: Article) -> bool:
        if self.sources and article.source.lower() not in {s.lower() for s in self.sources}:
            return False
        if self.since and (not article.published or article.published < self.since):
            return False
        return not (self.until and (not article.published or article.published > self.until))


@dataclass
class Hit:
    """One retrieved passage with its article, fused score and the rank each method gave it (None: not found)."""

    passage: Passage
    article: Article
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    speaker: str = ""  # set for a statement found by speaker (speakers.py): whose words the passage holds


def _shingles(text: str) -> frozenset[str]:
    words = _WORD.findall(text.lower())
    if len(words) <= _SHINGLE:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def near_duplicate(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """True when at least `threshold` of the smaller passage's word 5-grams are also in the other passage."""
    smaller = min(len(a), len(b))
    return smaller > 0 and len(a & b) / smaller >= threshold


class Retriever:
    """Ranks the passages of one store for a query; for a FAISS folder builds its BM25 index once per store, a
    Milvus store is asked for candidates (server.py) that are then ranked the same way."""

    def __init__(self, store: Store, embedder: Embedder, settings: RetrievalSettings, with_header: bool):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        # A store that searches itself (Milvus) is asked for candidates; nothing below is built over its passages.
        self.remote = bool(getattr(store, "searches_itself", False))
        self.ids = np.array([] if self.remote else sorted(store.passages), dtype=np.int64)
        self._row_of = {int(pid): row for row, pid in enumerate(self.ids)}
        self._bm25 = None
        self._bm25_lock = threading.Lock()  # the chat's warm-up thread and a first question may both ask for it
        self._doc_freq: Counter[str] = Counter()
        self.with_header = with_header
        self.bm25_build_seconds = 0.0  # how long the lazy BM25 build took (reported by the benchmarks)
        articles = [self._article(int(pid)) for pid in self.ids]
        self._published = np.array([day_number(a.published) for a in articles], dtype=np.int64)
        self._source = np.array([a.source.lower() for a in articles], dtype=object)
        self._lead = np.array([self.store.passages[int(pid)].start == 0 for pid in self.ids], dtype=bool)
        self._shingle_cache: dict[int, frozenset[str]] = {}
        self._article_ids = sorted(store.articles)
        article_row = {aid: row for row, aid in enumerate(self._article_ids)}
        self._article_row = np.array([article_row[a.id] for a in articles], dtype=np.int64)
        self._article_vectors: np.ndarray | None = None  # built on first use, like BM25
        self.today = date.today  # what "last week" counts back from without as_of (tests set a fixed day)
        self._article_lock = threading.Lock()

    # ---- BM25 -------------------------------------------------------------------------------------
    def _bm25_index(self):
        """The BM25 index of every passage, built on first use (seconds on a large collection)."""
        if self._bm25 is not None:  # built: no lock to wait on while the article vectors are being built
            return self._bm25
        with self._bm25_lock:
            if self._bm25 is None:
                import bm25s

                started = time.perf_counter()
                texts = [
                    passage_search_text(self.store.passages[int(pid)], self._article(int(pid)), self.with_header)
                    for pid in self.ids
                ]
                tokens = search_terms(texts)
                bm25 = bm25s.BM25(k1=self.settings.bm25_k1, b=self.settings.bm25_b)
                if texts:
                    bm25.index(tokens, show_progress=False)
                self._doc_freq = Counter(t for doc in tokens for t in set(doc))
                self._bm25 = bm25
                self.bm25_build_seconds = time.perf_counter() - started
            return self._bm25

    def warm_up(self) -> None:
        """Build what the configured mode needs before the first question (BM25 unless the mode is dense)."""
        if self.remote:  # nothing to build: the server holds the indexes
            return
        if self.settings.mode != "dense":
            self._bm25_index()
        s = self.settings
        if s.mode == "hybrid" and s.fusion == "score" and s.article_weight:
            self.article_vectors()

    def article_vectors(self) -> np.ndarray:
        """Each article's vector (rows in sorted article id order), from the stored passage vectors."""
        if self._article_vectors is not None:
            return self._article_vectors
        with self._article_lock:
            if self._article_vectors is None:
                self._article_vectors = self.store.article_vectors(self._article_ids)
            return self._article_vectors

    def idf(self, term: str) -> float:
        """BM25 inverse document frequency of a stemmed term. A term the index never contains weighs as much as one
        it contains once, not more: in a small collection "lost" may be absent while "cutting power" answers, and
        weighing it most made every sentence look unsupported."""
        if searches_itself(self.store):
            n, df = len(self.store.passages), max(self.store.doc_freq([term])[term], 1)
            return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        self._bm25_index()
        n, df = len(self.ids), max(self._doc_freq.get(term, 0), 1)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def bm25_scores(self, query: str, mask: np.ndarray | None) -> np.ndarray | None:
        """BM25 score of every passage row (0 outside the mask); None when the query has no searchable word."""
        tokens = search_terms([query])[0]
        if not tokens or not len(self.ids):
            return None
        bm25 = self._bm25_index()
        scores = np.asarray(bm25.get_scores(tokens), dtype=np.float64)
        focus = search_terms([question_focus(query)])[0] if self.settings.focus_weight else []
        if focus:
            scores += self.settings.focus_weight * np.asarray(bm25.get_scores(focus), dtype=np.float64)
        return np.where(mask, scores, 0.0) if mask is not None else scores

    # ---- helpers ----------------------------------------------------------------------------------
    def _article(self, pid: int) -> Article:
        return self.store.articles[self.store.passages[pid].article_id]

    def _allowed_mask(self, filters: Filters | None) -> np.ndarray | None:
        """Rows the filters allow (None: all), computed on arrays rather than article by article."""
        if not filters:
            return None
        mask = np.ones(len(self.ids), dtype=bool)
        if filters.sources:
            mask &= np.isin(self._source, [s.lower() for s in filters.sources])
        if filters.since:
            mask &= (self._published > 0) & (self._published >= day_number(filters.since))
        if filters.until:
            mask &= (self._published > 0) & (self._published <= day_number(filters.until))
        return mask

    def allows_any(self, filters: Filters | None) -> bool:
        """Is any passage left by the filters (sources, dates)?"""
        if searches_itself(self.store):
            from assistant.retrieval.server import filter_of

            return self.store.count(filter_of(filters)) > 0
        mask = self._allowed_mask(filters)
        return len(self.ids) > 0 and (mask is None or bool(mask.any()))

    def _allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        mask = self._allowed_mask(filters)
        return None if mask is None else self.ids[mask]

    def time_frame(self, query: str, as_of: str = "") -> TimeFrame | None:
        """The dates a question is about: the time it names ("in May 2022", "last week": relative words and dates
        without a year count back from today), or with as_of the week before it, narrowed by a time the question
        names inside that week ("last weekend", "on Nov. 1"; a date outside it is mostly a past event the news
        looks back on). None without either, or with the date prior off. The as_of week's phrase is ""."""
        s = self.settings
        if not s.date_prior:
            return None
        asked = date.fromisoformat(parse_date(as_of)) if as_of and parse_date(as_of) else None
        named = time_frame(query, asked or self.today()) if s.question_dates else None
        if asked is None:
            return named
        week = TimeFrame(date.fromordinal(max(1, asked.toordinal() - s.date_window_before)), asked, "")
        inside = named is not None and week.first <= named.first and named.last <= week.last
        return named if inside else week

    @cached_property
    def published_span(self) -> tuple[str, str]:
        """The first and last publication dates of the indexed articles ("", "" when none is dated)."""
        days = [a.published for a in self.store.articles.values() if a.published]
        return (min(days), max(days)) if days else ("", "")

    def published_within(self, frame: TimeFrame, published: np.ndarray | None = None) -> np.ndarray:
        """Per passage row: was its article published in the frame (or up to date_window_after days later)?
        A server's index answers with one flag: does any passage fall in it (all the router asks)."""
        first, last = frame.first.toordinal(), frame.last.toordinal() + self.settings.date_window_after
        if published is None and searches_itself(self.store):
            return np.array([self.store.count(f"published >= {max(first, 1)} and published <= {last}") > 0])
        published = self._published if published is None else published
        return (published > 0) & (published >= first) & (published <= last)

    def prior(self, frame: TimeFrame | None = None, lead=None, published=None) -> np.ndarray:
        """Multiplier per passage row: the date prior (when there is a time frame) times the lead-passage boost;
        of every passage, or of the rows whose lead flags and published days are given."""
        s = self.settings
        lead = self._lead if lead is None else lead
        weight = np.where(lead, s.lead_boost, 1.0) if s.lead_boost != 1.0 else np.ones(len(lead))
        if frame is not None:
            weight = weight * np.where(self.published_within(frame, published), 1.0, s.date_penalty)
        return weight

    def _shingles_of(self, passage: Passage) -> frozenset[str]:
        found = self._shingle_cache.get(passage.id)
        if found is None:
            if len(self._shingle_cache) > 50_000:
                self._shingle_cache.clear()
            found = self._shingle_cache[passage.id] = _shingles(passage.text)
        return found

    # ---- rankings ---------------------------------------------------------------------------------
    def dense_ranking(self, query: str, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """(passage id, cosine) of the nearest passages, best first."""
        if not len(self.ids) or (allowed is not None and not len(allowed)):
            return []
        qvec = self.embedder.embed_query(query).reshape(1, -1)
        return self._dense_search(qvec, depth, allowed)

    def _dense_search(self, qvec: np.ndarray, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        assert isinstance(self.store, PassageStore)  # a store that searches itself is never searched here
        scores, ids = self.store.faiss.search(qvec, min(depth, len(self.ids)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_ranking(self, query: str, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """(passage id, BM25 score) of the best-scoring passages, best first (no priors)."""
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=bool)
            mask[[self._row_of[int(pid)] for pid in allowed]] = True
        scores = self.bm25_scores(query, mask)
        if scores is None:
            return []
        rows = _top_rows(scores, depth)
        return [(int(self.ids[r]), float(scores[r])) for r in rows]

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
        as_of: str | None = None,
    ) -> list[Hit]:
        """Top-k passages for the query, best first; as_of (or filters.as_of) is the question's date."""
        s = self.settings
        k = k or s.top_k
        mode = mode or s.mode
        depth = max(s.candidates, k)
        if as_of is None:
            as_of = filters.as_of if filters is not None else ""  # not `if filters`: as_of alone is falsy
        frame = self.time_frame(query, as_of)
        if self.remote:
            from assistant.retrieval.server import server_pool

            pool = server_pool(self, query, depth, filters, mode, frame)
        else:
            pool = self._local_pool(query, depth, filters, mode, frame)
        return self._rank(pool, k, depth, mode) if pool is not None else []

    def _local_pool(self, query: str, depth: int, filters: Filters | None, mode: str, frame) -> Pool | None:
        """Every passage of the in-memory index as candidates: BM25 over all of them, the dense ones from FAISS."""
        if not len(self.ids):
            return None
        mask = self._allowed_mask(filters)
        if mask is not None and not mask.any():
            return None
        pool = Pool(self.ids, self.prior(frame), lambda row: self.store.passages[int(self.ids[row])])
        pool.bm25 = self.bm25_scores(query, mask) if mode in ("bm25", "hybrid") else None
        if mode in ("dense", "hybrid"):
            pool.qvec = self.embedder.embed_query(query).reshape(1, -1).astype(np.float32)
            allowed = self.ids[mask] if mask is not None else None
            pool.dense = [(self._row_of[pid], cos) for pid, cos in self._dense_search(pool.qvec, depth, allowed)]
        pool.article_vectors = lambda rows: self.article_vectors()[self._article_row[rows]]
        return pool

    def _rank(self, pool: Pool, k: int, depth: int, mode: str) -> list[Hit]:
        """Fuse a pool's rankings (with its priors), then drop near-duplicates: the same for every store."""
        s = self.settings
        prior = pool.prior
        bm25_raw = pool.bm25
        bm25_rows = _top_rows(bm25_raw * prior, depth) if bm25_raw is not None else np.zeros(0, dtype=np.int64)
        bm25_rank = {int(r): i for i, r in enumerate(bm25_rows)}
        dense_cos = dict(pool.dense)  # row -> cosine with the query
        ordered = sorted(pool.dense, key=lambda rc: -rc[1] * prior[rc[0]])
        dense_rank = {row: i for i, (row, _) in enumerate(ordered)}

        if mode == "dense":
            fused = {row: cos * prior[row] for row, cos in dense_cos.items()}
        elif mode == "bm25":
            fused = {int(r): float(bm25_raw[r] * prior[r]) for r in bm25_rows} if bm25_raw is not None else {}
        elif s.fusion == "rrf":
            fused = {}
            for weight, ranks in ((s.dense_weight, dense_rank), (s.bm25_weight, bm25_rank)):
                for row, rank in ranks.items():
                    fused[row] = fused.get(row, 0.0) + weight / (s.rrf_k + rank + 1)
        else:
            fused = self._score_fusion(pool, bm25_rows, dense_cos)

        order = sorted(fused, key=lambda row: (-fused[row], int(pool.ids[row])))  # ties: in passage id order
        hits: list[Hit] = []
        kept: list[frozenset[str]] = []
        for row in order:
            passage = pool.passage(row)
            article = self.store.articles.get(passage.article_id)
            if article is None:  # a passage whose article a writer is removing right now
                continue
            if s.dedup:
                shingles = self._shingles_of(passage)
                if any(near_duplicate(shingles, other, s.dedup_threshold) for other in kept):
                    continue
                kept.append(shingles)
            hits.append(Hit(passage, article, fused[row], dense_rank.get(row), bm25_rank.get(row)))
            if len(hits) >= k:
                break
        return hits

    def _score_fusion(self, pool: Pool, bm25_rows, dense_cos: dict[int, float]) -> dict[int, float]:
        """(bm25_weight * BM25/best BM25 + dense_weight * cosine + article_weight * the article's cosine) * prior
        over the union of both candidate lists.

        Both scores are exact for every candidate: BM25 is scored for every candidate anyway, and the cosine of a
        passage only BM25 found is computed from its stored vector.
        """
        s = self.settings
        qvec, bm25_raw = pool.qvec, pool.bm25
        rows = sorted(set(int(r) for r in bm25_rows) | set(dense_cos))
        if not rows:
            return {}
        missing = [r for r in rows if r not in dense_cos]
        if missing and qvec is not None and s.dense_weight:
            vectors = self.store.vectors_for([int(pool.ids[r]) for r in missing])
            for r, cos in zip(missing, vectors @ qvec[0], strict=True):
                dense_cos[r] = float(cos)
        rows_arr = np.array(rows)
        b = bm25_raw[rows_arr] if bm25_raw is not None else np.zeros(len(rows))
        best = b.max() if len(b) else 0.0
        b = b / best if best > 0 else b
        d = np.array([dense_cos.get(r, 0.0) for r in rows])
        fused = s.bm25_weight * b + s.dense_weight * d
        if s.article_weight and qvec is not None and pool.article_vectors is not None:
            fused = fused + s.article_weight * (pool.article_vectors(rows_arr) @ qvec[0])
        fused = fused * pool.prior[rows_arr]
        return {r: float(f) for r, f in zip(rows, fused, strict=True)}


@dataclass
class Pool:
    """The candidates of one question, each a row: its passage id, prior and (when ranked by them) BM25 score and
    cosine; the local store's pool is every passage, a server's the passages its searches returned."""

    ids: np.ndarray
    prior: np.ndarray
    passage: Callable[[int], Passage]
    bm25: np.ndarray | None = None  # BM25 score per row (None: mode without BM25 or no searchable word)
    dense: list[tuple[int, float]] = field(default_factory=list)  # (row, cosine) of the nearest, best first
    qvec: np.ndarray | None = None
    article_vectors: Callable[[np.ndarray], np.ndarray] | None = None  # article vector per row


def _top_rows(scores: np.ndarray, depth: int) -> np.ndarray:
    """Rows of the `depth` highest positive scores, best first (ties in row order)."""
    depth = min(depth, len(scores))
    if depth <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, depth - 1)[:depth]
    top = top[np.lexsort((top, -scores[top]))]
    return top[scores[top] > 0]
