"""Passages of a Milvus index by id, read on demand: their text is cut from the article held in memory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np

from assistant.index.milvus_client import expression_string
from assistant.ingest.passages import Passage

if TYPE_CHECKING:
    from assistant.index.milvus import MilvusStore

PASSAGE_FIELDS = ["id", "article_id", "start", "end", "sentences"]


class MilvusPassages(Mapping[int, Passage]):
    """Passages by id, read from Milvus on demand (their text comes from the article held in memory); unsaved ones
    are served from memory."""

    CACHE = 20_000

    def __init__(self, store: MilvusStore) -> None:
        self.store = store
        self.pending: dict[int, Passage] = {}
        self._cache: dict[int, Passage] = {}

    def passage_of(self, row: dict) -> Passage:
        article = self.store.articles.get(row["article_id"])
        text = article.text[row["start"] : row["end"]] if article is not None else ""
        sentences = [tuple(s) for s in json.loads(row["sentences"])]
        return Passage(row["article_id"], row["start"], row["end"], text, sentences, int(row["id"]))

    def fetch(self, ids: Iterable[int]) -> dict[int, Passage]:
        """Passages of the given ids that exist (one query for the ones not cached)."""
        wanted = [int(i) for i in ids]
        found = {i: self.pending.get(i) or self._cache.get(i) for i in wanted}
        missing = [i for i, p in found.items() if p is None]
        if missing:
            if len(self._cache) > self.CACHE:
                self._cache.clear()
            for row in self.store.db.query_ids(self.store.passages_name, missing, PASSAGE_FIELDS):
                self._cache[int(row["id"])] = found[int(row["id"])] = self.passage_of(row)
        return {i: p for i, p in found.items() if p is not None}

    def remember(self, passage: Passage) -> None:
        if len(self._cache) > self.CACHE:
            self._cache.clear()
        self._cache[passage.id] = passage

    def __getitem__(self, pid: int) -> Passage:
        found = self.fetch([pid])
        if pid not in found:
            raise KeyError(pid)
        return found[pid]

    def __contains__(self, pid: object) -> bool:
        return isinstance(pid, int | np.integer) and int(pid) in self.fetch([int(pid)])

    def __len__(self) -> int:
        return self.store.counts["passages"]

    def __iter__(self) -> Iterator[int]:
        return (p.id for p in self.values())

    def values(self) -> Iterator[Passage]:  # type: ignore[override]
        """Every passage, streamed from Milvus in batches (a scan: the speaker answerer's fallback only)."""
        for row in self.store.db.scan(self.store.passages_name, "id >= 0", PASSAGE_FIELDS):
            yield self.passage_of(row)
        yield from self.pending.values()

    def of_articles(self, article_ids: list[str]) -> list[Passage]:
        """Passages of these articles, in id order."""
        if not article_ids:
            return []
        rows = self.store.db.scan(
            self.store.passages_name, f"article_id in {expression_string(article_ids)}", PASSAGE_FIELDS
        )
        found = [self.passage_of(row) for row in rows]
        found += [p for p in self.pending.values() if p.article_id in set(article_ids)]
        return sorted(found, key=lambda p: p.id)
