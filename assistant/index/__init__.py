"""The index: articles, passages, statements and their vectors, in a FAISS folder or in Milvus (picked by location).

`open_store` and `writing` take an --index value the way txtai's factories take a backend name: a folder is the
FAISS store (store.py), 'milvus:./news.db' or 'milvus:http://host:19530' the Milvus store (milvus.py). Both offer
the Store interface below; a store whose `searches_itself` is true is asked for dense and BM25 candidates instead
of being searched in memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.errors import IndexProblemError
from assistant.index.milvus_client import PREFIX, is_milvus
from assistant.ingest import Article
from assistant.ingest.passages import Passage

__all__ = ["PREFIX", "Store", "is_milvus", "open_store", "writing"]


class Store(Protocol):
    """What the indexer, retriever and answerers need of an index, whichever backend holds it."""

    directory: Path | str
    embedder_name: str
    dimension: int
    kind: str
    articles: dict[str, Article]
    passages: Mapping[int, Passage]
    statements: dict[str, list[dict]]
    next_id: int
    generation: str  # "" when nothing was ever saved

    def read_manifest(self) -> dict | None: ...
    def current_generation(self) -> str: ...
    def vectors_for(self, ids: list[int]) -> np.ndarray: ...
    def article_vectors(self, article_ids: list[str]) -> np.ndarray: ...
    def passages_of(self, article_ids: list[str]) -> list[Passage]: ...
    def article_ids_for_path(self, path: str) -> list[str]: ...
    def add(self, article: Article, passages: list[Passage], vectors: np.ndarray, statements: list[dict]) -> None: ...
    def remove(self, article_ids: list[str]) -> int: ...
    def save(self, settings_snapshot: dict | None = None) -> None: ...


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
def writing(location: Path | str, open_: callable) -> Iterator[Store]:
    """The index opened for writing by this process alone (a folder's lock file, a Milvus server's lease; an
    embedded Milvus file is one process's anyway), with what an interrupted writer left cleaned up."""
    if is_milvus(location):
        store = open_()
        with store.lease():
            store.recover()
            yield store
        return
    from assistant.index.store import WriteLock

    with WriteLock(Path(location)):
        yield open_()
