"""The Assistant: a small facade that loads the embedder and the index once, over an Indexer and a Router."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import faiss

from assistant.answers.router import Router
from assistant.answers.types import Answer, StreamEvent
from assistant.embedding import Embedder
from assistant.index import Store, open_store
from assistant.index.indexer import Indexer, IngestReport
from assistant.index.store import PassageStore
from assistant.ingest import Article
from assistant.progress import Progress
from assistant.retrieval.retriever import Filters, Retriever
from assistant.settings import Settings

__all__ = ["Assistant", "IngestReport", "Progress"]


class Assistant:
    """Ingest articles and answer questions; loads the embedder and the index once and reuses them."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._retriever_lock = threading.RLock()  # one Retriever (and one BM25 build) per index generation
        self.indexer = Indexer(self.settings, lambda: self.embedder, self._open_store)
        self.router = Router(self.settings, lambda: self.embedder, lambda: self.retriever)

    # ---- components, loaded lazily --------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.settings.embedding)
        return self._embedder

    def _open_store(self) -> Store:
        return open_store(self.settings, self.embedder.name, self.embedder.dimension)

    @property
    def store(self) -> Store:
        """The index as last saved; reopened when a writer has saved a newer generation since."""
        if self._store is None or self._store.current_generation() != self._store.generation:
            self._store = self._open_store()
            self._retriever = None
        return self._store

    @property
    def retriever(self) -> Retriever:
        with self._retriever_lock:
            store = self.store
            if self._retriever is None or self._retriever.store is not store:
                self._retriever = Retriever(
                    store, self.embedder, self.settings.retrieval, self.settings.passages.title_prefix
                )
                # IndexIDMap2 hands out a generic Index: downcast to reach .hnsw
                if isinstance(store, PassageStore) and store.kind == "hnsw":
                    faiss.downcast_index(store.faiss.index).hnsw.efSearch = self.settings.index.hnsw_ef_search
            return self._retriever

    def warm_up(self) -> None:
        """Load the encoder, the index and its BM25 ranking now, so the first question does not wait for them
        (run on a background thread by the chat page; an empty or unreadable index is left for questions to report).
        """
        try:
            self.embedder.embed_query("warm up")
            self.retriever.warm_up()
        except Exception:  # noqa: BLE001 - only a head start: the first question meets and reports any fault
            pass

    # ---- the collection ------------------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path | str], progress: Progress | None = None) -> IngestReport:
        """Add files or folders to the index; unchanged articles cost nothing, changed files replace theirs."""
        try:
            return self.indexer.ingest(paths, progress)
        finally:
            self._store = None  # the next question reloads the new generation

    def remove(self, targets: Iterable[str]) -> list[Article]:
        """Delete articles by id or by the path they were ingested from; returns what was removed."""
        try:
            return self.indexer.remove(targets)
        finally:
            self._store = None

    def articles(self) -> list[Article]:
        return sorted(self.store.articles.values(), key=lambda a: (a.published, a.title), reverse=True)

    # ---- questions -----------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        filters: Filters | None = None,
        k: int | None = None,
        use_llm: bool = True,
    ) -> Answer:
        """Answer one question (a follow-up when history holds the earlier questions), citing sentences."""
        for event in self.ask_stream(question, history, filters, k, use_llm):
            if event.answer is not None:
                return event.answer
        raise AssertionError("a stream always ends with its answer")

    def ask_stream(
        self,
        question: str,
        history: list[str] | None = None,
        filters: Filters | None = None,
        k: int | None = None,
        use_llm: bool = True,
    ) -> Iterator[StreamEvent]:
        """The answer as it is written: events with text to show (`delta`), the last one with the `answer`."""
        return self.router.stream(question, history, filters, k, use_llm)
