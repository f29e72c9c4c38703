"""Find the passages for a question: dense (FAISS) and BM25 rankings fused by reciprocal rank, with filters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import faiss
import numpy as np

from assistant.embedding import Embedder
from assistant.ingestion import Article
from assistant.passages import Passage, passage_header
from assistant.settings import RetrievalSettings
from assistant.store import PassageStore

# Question words, filler and the 'context' label of follow-up rewrites carry no topic; bm25s' English stop-word
# list keeps them, so BM25 would reward any passage with "what".
QUESTION_WORDS = {
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "did", "does", "do", "is", "are",
    "was", "were", "about", "say", "said", "tell", "told", "think", "many", "much", "has", "have", "the",
    "exactly", "actually", "really", "please", "me", "know", "context",
}  # fmt: skip


@cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stemmed tokens without English stop words and question words."""
    import bm25s

    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)
    stems = {_stemmer().stemWord(w) for w in QUESTION_WORDS}
    return [[t for t in doc if t not in stems] for doc in tokens]


@dataclass
class Filters:
    """Restrict retrieval to some sources and/or a published-date range (ISO dates, inclusive)."""

    sources: list[str] = field(default_factory=list)
    since: str = ""
    until: str = ""

    def __bool__(self) -> bool:
        return bool(self.sources or self.since or self.until)

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


def passage_search_text(passage: Passage, article: Article, with_header: bool) -> str:
    """The text that is embedded and BM25-indexed for a passage."""
    return f"{passage_header(article)}\n{passage.text}" if with_header else passage.text


class Retriever:
    """Ranks the passages of one PassageStore for a query; builds its BM25 index once per store."""

    def __init__(self, store: PassageStore, embedder: Embedder, settings: RetrievalSettings, with_header: bool):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.ids = np.array(sorted(store.passages), dtype=np.int64)
        self._row_of = {int(pid): row for row, pid in enumerate(self.ids)}
        self._bm25 = None
        self._doc_freq: Counter[str] = Counter()
        self.with_header = with_header

    def _bm25_index(self):
        if self._bm25 is None:
            import bm25s

            texts = [
                passage_search_text(self.store.passages[int(pid)], self._article(int(pid)), self.with_header)
                for pid in self.ids
            ]
            tokens = bm25_tokens(texts)
            self._bm25 = bm25s.BM25()
            if texts:
                self._bm25.index(tokens, show_progress=False)
            self._doc_freq = Counter(t for doc in tokens for t in set(doc))
        return self._bm25

    def idf(self, term: str) -> float:
        """BM25 inverse document frequency of a stemmed term; terms never seen weigh the most."""
        self._bm25_index()
        n, df = len(self.ids), self._doc_freq.get(term, 0)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def _article(self, pid: int) -> Article:
        return self.store.articles[self.store.passages[pid].article_id]

    def _allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        if not filters:
            return None
        return np.array([pid for pid in self.ids if filters.allows(self._article(int(pid)))], dtype=np.int64)

    def dense_ranking(self, query: str, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        if not len(self.ids) or (allowed is not None and not len(allowed)):
            return []
        qvec = self.embedder.embed_query(query).reshape(1, -1)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        scores, ids = self.store.faiss.search(qvec, min(depth, len(self.ids)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_ranking(self, query: str, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        if not len(self.ids):
            return []
        tokens = bm25_tokens([query])[0]
        if not tokens:
            return []
        scores = self._bm25_index().get_scores(tokens)
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=bool)
            mask[[self._row_of[int(pid)] for pid in allowed]] = True
            scores = np.where(mask, scores, 0.0)
        depth = min(depth, len(scores))
        top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[row]), float(scores[row])) for row in top if scores[row] > 0]

    def retrieve(self, query: str, k: int | None = None, filters: Filters | None = None, mode: str | None = None):
        """Top-k passages for the query, best first."""
        k = k or self.settings.top_k
        mode = mode or self.settings.mode
        depth = max(self.settings.candidates, k)
        allowed = self._allowed_ids(filters)
        dense = self.dense_ranking(query, depth, allowed) if mode in ("dense", "hybrid") else []
        bm25 = self.bm25_ranking(query, depth, allowed) if mode in ("bm25", "hybrid") else []
        dense_rank = {pid: r for r, (pid, _) in enumerate(dense)}
        bm25_rank = {pid: r for r, (pid, _) in enumerate(bm25)}
        if mode == "dense":
            fused = {pid: s for pid, s in dense}
        elif mode == "bm25":
            fused = {pid: s for pid, s in bm25}
        else:
            fused = {}
            for weight, ranking in ((self.settings.dense_weight, dense), (self.settings.bm25_weight, bm25)):
                for rank, (pid, _) in enumerate(ranking):
                    fused[pid] = fused.get(pid, 0.0) + weight / (self.settings.rrf_k + rank + 1)
        best = sorted(fused, key=lambda pid: -fused[pid])[:k]
        return [
            Hit(
                self.store.passages[pid],
                self._article(pid),
                fused[pid],
                dense_rank.get(pid),
                bm25_rank.get(pid),
            )
            for pid in best
        ]
