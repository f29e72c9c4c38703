"""The index: articles, passages, statements and their vectors, in a FAISS folder or in Milvus (picked by location).

`open_store` and `writing` take an --index value the way txtai's factories take a backend name: a folder is the
FAISS store (store.py), 'milvus:./news.db' or 'milvus:http://host:19530' the Milvus store (milvus.py). Both offer
the Store interface below; a store whose `searches_itself` is true is asked for dense and BM25 candidates instead
of being searched in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol, TypeGuard

import numpy as np

from assistant.errors import IndexProblemError
from assistant.index.milvus_client import PREFIX, is_milvus
from assistant.ingest import Article
from assistant.ingest.passages import Passage

__all__ = ["PREFIX", "SearchingStore", "Store", "is_milvus", "open_store", "searches_itself", "writing"]


class Store(Protocol):
    """What the indexer, retriever and answerers need of an index, whichever backend holds it."""

    embedder_name: str
    dimension: int
    kind: str
    articles: dict[str, Article]
    statements: dict[str, list[dict]]
    next_id: int
    generation: str  # "" when nothing was ever saved

    # Read-only, so that each backend may narrow them (a folder's Path, a Milvus URI; a dict, a lazy mapping).
    @property
    def directory(self) -> Path | str: ...
    @property
    def passages(self) -> Mapping[int, Passage]: ...

    def read_manifest(self) -> dict | None: ...
    def current_generation(self) -> str: ...
    def vectors_for(self, ids: list[int]) -> np.ndarray: ...
    def article_vectors(self, article_ids: list[str]) -> np.ndarray: ...
    def passages_of(self, article_ids: list[str]) -> list[Passage]: ...
    def article_ids_for_path(self, path: str) -> list[str]: ...
    def add(self, article: Article, passages: list[Passage], vectors: np.ndarray, statements: list[dict]) -> None: ...
    def remove(self, article_ids: list[str]) -> int: ...
    def save(self, settings_snapshot: dict | None = None) -> None: ...


class SearchingStore(Store, Protocol):
    """A store that searches itself (Milvus): the retriever asks it for candidates, counts and frequencies."""

    counts: dict[str, int]

    def doc_freq(self, terms: list[str]) -> dict[str, int]: ...
    def count(self, expression: str = "") -> int: ...
    def search_dense(self, qvec: np.ndarray, limit: int, expression: str) -> list[tuple[Passage, float]]: ...
    def search_bm25(self, text: str, limit: int, expression: str) -> list[tuple[Passage, float]]: ...
    def lease(self) -> AbstractContextManager: ...
    def recover(self) -> None: ...


def searches_itself(store: Store) -> TypeGuard[SearchingStore]:
    """Is the store one that searches itself (its `searches_itself` flag)?"""
    return bool(getattr(store, "searches_itself", False))


def open_store(settings, embedder_name: str, dimension: int, location: Path | str | None = None) -> Store:
    """The index at `location` (default settings.index.dir) as it was last saved; an absent one opens empty."""
    location = settings.index.dir if location is None else location
    with_header = settings.passages.title_prefix
    if is_milvus(location):
        from assistant.index.milvus import MilvusStore

        return MilvusStore.open(str(location), embedder_name, dimension, settings.milvus, with_header)
    from assistant.index.store import PassageStore

    s = settings.index
    for attempt in range(3):
        try:
            return PassageStore.open(Path(location), embedder_name, dimension, s.kind, s.hnsw_m, s.hnsw_ef_construction)
        except IndexProblemError:
            # A writer may have saved twice while we were reading, deleting the generation we had opened:
            # that is not damage, so try the new one; a real fault fails the same way every time.
            if attempt == 2:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


@contextmanager
def writing(location: Path | str, open_: Callable[[], Store]) -> Iterator[Store]:
    """The index opened for writing by this process alone (a folder's lock file, a Milvus server's lease; an
    embedded Milvus file is one process's anyway), with what an interrupted writer left cleaned up."""
    if is_milvus(location):
        store = open_()
        assert searches_itself(store)  # a milvus: location opens a MilvusStore
        with store.lease():
            store.recover()
            yield store
        return
    from assistant.index.store import WriteLock

    with WriteLock(Path(location)):
        yield open_()
