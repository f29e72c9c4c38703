"""Copy an index between backends (a FAISS folder, Milvus) with its vectors: nothing is embedded again."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError, IndexProblemError
from assistant.index import is_milvus, open_store, writing

COPY_BATCH_ARTICLES = 200  # articles read from the source at a time
COPY_CHECKPOINT_PASSAGES = 5000  # the destination is saved this often: an interrupted copy goes on from there


@dataclass
class CopyReport:
    articles: int = 0
    passages: int = 0
    statements: int = 0
    skipped: int = 0  # articles the destination already held (an interrupted copy going on)
    embedded: int = 0  # always 0: vectors are copied
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"copied {self.articles} articles, {self.passages} passages and {self.statements} statements "
            f"({self.embedded} embedded); {self.skipped} articles were already there; in {self.seconds:.1f} s"
        )


def built_with(settings, location: Path | str) -> dict:
    """The embedder {name, dimension} an existing index was built with, read without loading any model."""
    if is_milvus(location):
        from assistant.index.milvus import MilvusStore

        manifest = MilvusStore(str(location), "", 0, settings.milvus).read_manifest()
    else:
        from assistant.index.store import PassageStore

        manifest = PassageStore(Path(location), "", 0).read_manifest()
    if manifest is None:
        raise AssistantError(f"there is no index in {location} to copy")
    return manifest.get("embedder", {})


def copy_index(settings, source: Path | str, destination: Path | str, progress=None) -> CopyReport:
    """Copy every article of `source` (passages, vectors, statements) that `destination` does not hold yet; a
    destination built with another embedder is refused."""
    if str(source) == str(destination):
        raise AssistantError("the source and the destination are the same index")
    started = time.perf_counter()
    embedder = built_with(settings, source)
    name, dimension = embedder.get("name", ""), int(embedder.get("dimension", 0))
    src = open_store(settings, name, dimension, source)
    if not src.articles:
        raise IndexProblemError(f"the index in {source} holds no articles")
    report = CopyReport()
    snapshot = (src.read_manifest() or {}).get("settings", {})
    with writing(destination, lambda: open_store(settings, name, dimension, destination)) as dest:
        todo = sorted(aid for aid in src.articles if aid not in dest.articles)
        report.skipped = len(src.articles) - len(todo)
        if progress is not None:
            progress.start("copying", len(todo))
        unsaved = 0
        for first in range(0, len(todo), COPY_BATCH_ARTICLES):
            batch = todo[first : first + COPY_BATCH_ARTICLES]
            by_article: dict[str, list] = {aid: [] for aid in batch}
            for passage in src.passages_of(batch):
                by_article[passage.article_id].append(passage)
            ids = [p.id for aid in batch for p in by_article[aid]]
            vectors = src.vectors_for(ids)
            row = 0
            for aid in batch:
                passages = [dataclasses.replace(p, id=-1) for p in by_article[aid]]
                statements = src.statements.get(aid, [])
                dest.add(src.articles[aid], passages, vectors[row : row + len(passages)], statements)
                row += len(passages)
                report.articles += 1
                report.passages += len(passages)
                report.statements += len(statements)
                unsaved += len(passages)
            if unsaved >= COPY_CHECKPOINT_PASSAGES:
                dest.save(snapshot)
                unsaved = 0
            if progress is not None:
                progress.advance(len(batch))
        if unsaved or not dest.generation:
            dest.save(snapshot)
    report.seconds = time.perf_counter() - started
    return report
