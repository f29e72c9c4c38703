"""Indexing: read files, split them into passages, extract statements, embed, and save the index in checkpoints."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from assistant.embedding import Embedder
from assistant.errors import AssistantError
from assistant.index import Store, writing
from assistant.ingest import Article, FileResult, expand_paths, read_file
from assistant.ingest.passages import Passage, passage_search_text, tokenized_passages
from assistant.progress import Progress
from assistant.quotes import statement_rows
from assistant.settings import Settings
from assistant.text.sentences import load_sentence_splitter, sentence_spans

CHECKPOINT_PASSAGES = 5000  # save at least this often on long ingests, so an interruption loses little
# From this many new articles on, statements are extracted in a second process (below it, the splitting stage
# that process would fill is only a few seconds long).
STATEMENTS_PROCESS_MIN_ARTICLES = 200
STATEMENTS_TASK_ARTICLES = 16  # articles sent to that process at a time: fewer round trips, little waiting


@dataclass
class IngestReport:
    """Per-file outcomes of one ingest run and the totals."""

    files: list[FileResult] = field(default_factory=list)
    articles_added: int = 0
    articles_removed: int = 0
    passages_added: int = 0
    passages_embedded: int = 0  # passages_added minus those whose vectors were reused
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def summary(self) -> str:
        return (
            f"{self.count('ingested')} ingested, {self.count('unchanged')} unchanged, "
            f"{self.count('skipped')} skipped, {self.count('failed')} failed; "
            f"{self.articles_added} articles and {self.passages_added} passages added "
            f"({self.passages_embedded} embedded), {self.articles_removed} articles replaced or removed, "
            f"in {self.seconds:.1f} s"
        )


class Indexer:
    """Adds and removes articles: one writer at a time (the index folder's lock), checkpoints on long runs."""

    def __init__(self, settings: Settings, embedder: Callable[[], Embedder], open_store: Callable[[], Store]):
        self.settings = settings
        self._embedder = embedder  # called lazily: removing articles never loads the encoder
        self._open_store = open_store

    @property
    def embedder(self) -> Embedder:
        return self._embedder()

    def ingest(self, paths: Iterable[Path | str], progress: Progress | None = None) -> IngestReport:
        """Add files or folders to the index; unchanged articles cost nothing, changed files replace theirs."""
        progress = progress or Progress()
        started = time.perf_counter()
        report = IngestReport()
        max_bytes = int(self.settings.ingest.max_file_mb * 1e6)
        with writing(self.settings.index.dir, self._open_store) as store:
            fresh: list[Article] = []
            reusable: dict[str, object] = {}  # passage search text -> vector of passages being replaced
            files = list(expand_paths([Path(p) for p in paths]))
            if not files:
                raise AssistantError("no files to ingest (supported: .txt .md .html .json .jsonl)")
            progress.start("reading", len(files))
            seen_paths: dict[str, str] = {}  # article id -> the file it came from in this run
            for path in files:
                result = read_file(path, max_bytes, self.settings.ingest.min_chars)
                report.files.append(result)
                progress.advance(1)
                if result.status != "ingested":
                    continue
                fresh += self._plan_file(store, result, reusable, seen_paths, report)
            if fresh:  # before the statements process is forked, so that it inherits Punkt instead of loading it
                load_sentence_splitter()
            # Checkpoints are saved on a thread of their own while the next chunk is embedded.
            with _statements_runner(len(fresh)) as runner, ThreadPoolExecutor(1) as saver:
                pending, found = self._split_all(fresh, runner, progress)
                progress.start("embedding", sum(len(p) for _, p, _ in pending))
                saving: Future | None = None
                try:
                    for chunk in _chunks(pending, CHECKPOINT_PASSAGES):
                        if saving is not None and saving.done():
                            saving.result()  # a failed save (a full disk) stops the ingest before more embedding
                        vectors = self._embed(chunk, reusable, report, progress)
                        statements = [next(found) for _ in chunk]
                        if saving is not None:
                            saving.result()  # the store must not change while it is being written
                        self._add(store, chunk, vectors, statements, report)
                        saving = saver.submit(store.save, self.snapshot())
                    if saving is not None:
                        saving.result()
                finally:
                    _wait_through_interrupts(saving)  # the write lock must outlive a save in progress
            if not fresh and report.articles_removed:
                store.save(self.snapshot())
        report.seconds = time.perf_counter() - started
        return report

    def _plan_file(self, store, result: FileResult, reusable, seen_paths, report) -> list[Article]:
        """Decide per article: unchanged, duplicate, or new (replacing what the same file held before); returns
        the new articles."""
        new_ids = {a.id for a in result.articles}
        old_ids = {aid for aid in store.article_ids_for_path(result.path) if aid not in new_ids}
        if old_ids:  # a changed file: its old articles go, but their vectors can be reused
            old = store.passages_of(list(old_ids))
            with_header = self.settings.passages.title_prefix
            for passage, vector in zip(old, store.vectors_for([p.id for p in old]), strict=True):
                reusable[passage_search_text(passage, store.articles[passage.article_id], with_header)] = vector
            store.remove(list(old_ids))
            report.articles_removed += len(old_ids)
        fresh, duplicates = [], []
        for article in result.articles:
            known = store.articles.get(article.id)
            if article.id in seen_paths and seen_paths[article.id] != result.path:
                duplicates.append(seen_paths[article.id])
            elif known is not None and known.path != article.path:
                duplicates.append(known.path)
            elif known is None and article.id not in seen_paths:
                fresh.append(article)
            seen_paths.setdefault(article.id, result.path)
        if duplicates:
            result.notes.append(f"{len(duplicates)} duplicate(s) of articles from {duplicates[0]} skipped")
        if not fresh:
            result.status = "skipped" if duplicates else "unchanged"
            result.reason = f"duplicate of {duplicates[0]}" if duplicates else ""
        return fresh

    def _split_all(self, fresh: list[Article], runner: Executor, progress: Progress) -> tuple[list, Iterator]:
        """Passages of each article with their word-piece ids, and (from the runner, in article order) its
        statements; splitting counts the word pieces of every sentence: a stage of its own on big collections."""
        p = self.settings.passages
        token_ids = self.embedder.token_ids
        progress.start("splitting", len(fresh))
        pending: list[tuple[Article, list[Passage], list]] = []
        tasks: list[Future] = []
        for first in range(0, len(fresh), STATEMENTS_TASK_ARTICLES):
            rows = []
            for article in fresh[first : first + STATEMENTS_TASK_ARTICLES]:
                sentences = sentence_spans(article.text)  # found once, for passages and statements
                passages, ids = tokenized_passages(
                    article, token_ids, p.max_tokens, p.overlap_sentences, p.title_prefix, sentences
                )
                pending.append((article, passages, ids))
                rows.append((article.id, article.text, sentences))
                progress.advance(1)
            tasks.append(runner.submit(_statement_rows_of, rows))
        return pending, (statements for task in tasks for statements in task.result())

    def _embed(self, chunk, reusable, report, progress: Progress):
        """Vectors of a chunk's passages, in order; a passage whose search text had a vector before reuses it."""
        import numpy as np

        with_header = self.settings.passages.title_prefix
        texts = [passage_search_text(p, a, with_header) for a, ps, _ in chunk for p in ps]
        ids = [x for _, _, passage_ids in chunk for x in passage_ids]
        todo = [i for i, t in enumerate(texts) if t not in reusable]
        vectors = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        if todo:
            vectors[todo] = self.embedder.embed(
                [texts[i] for i in todo], progress=progress.advance, token_ids=[ids[i] for i in todo]
            )
        for i, text in enumerate(texts):
            if text in reusable:
                vectors[i] = reusable[text]
        progress.advance(len(texts) - len(todo))
        report.passages_embedded += len(todo)
        return vectors

    def _add(self, store: Store, chunk, vectors, statements: list[list[dict]], report) -> None:
        row = 0
        for (article, passages, _), found in zip(chunk, statements, strict=True):
            store.add(article, passages, vectors[row : row + len(passages)], found)
            row += len(passages)
            report.articles_added += 1
            report.passages_added += len(passages)

    def snapshot(self) -> dict:
        """The settings an index's passages were made with, kept in its manifest."""
        return {"passages": self.settings.passages.model_dump(mode="json")}

    def remove(self, targets: Iterable[str]) -> list[Article]:
        """Delete articles by id or by the path they were ingested from; returns what was removed."""
        with writing(self.settings.index.dir, self._open_store) as store:
            removed: dict[str, Article] = {}  # every target is resolved first: an id and its file may both be named
            for target in targets:
                path = str(Path(target).resolve())
                ids = [target] if target in store.articles else store.article_ids_for_path(path)
                if not ids:
                    raise AssistantError(f"nothing indexed has the id or path '{target}' (see 'assistant list')")
                removed.update((i, store.articles[i]) for i in ids)
            store.remove(list(removed))
            store.save(self.snapshot())
        return list(removed.values())


@contextmanager
def _statements_runner(articles: int) -> Iterator[Executor]:
    """Where statements are extracted: a thread for small ingests; for big ones a process, which runs on the core
    that splitting leaves idle and never holds the interpreter lock the encoder's feeding thread needs."""
    if articles < STATEMENTS_PROCESS_MIN_ARTICLES or "fork" not in multiprocessing.get_all_start_methods():
        runner: Executor = ThreadPoolExecutor(1)
    else:
        # fork, not spawn: it starts at once and does not re-run the caller's script (which may lack an
        # `if __name__ == "__main__"` guard); the child runs pure-Python code only, none of the encoder's threads.
        runner = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("fork"), initializer=_follow_parent, initargs=(os.getpid(),)
        )
    try:
        yield runner
    except BaseException:
        runner.shutdown(wait=False, cancel_futures=True)  # an error or Ctrl-C: don't finish the whole corpus first
        raise
    runner.shutdown()


def _wait_through_interrupts(saving: Future | None) -> None:
    """Wait for a save to end, even through a second Ctrl-C (the first is already on its way up)."""
    while saving is not None and not saving.done():
        try:
            saving.exception()
        except KeyboardInterrupt:
            continue


def _statement_rows_of(articles: list[tuple[str, str, list[tuple[int, int]]]]) -> list[list[dict]]:
    """statement_rows of several (article id, text, sentence spans): one task of the statements runner."""
    return [statement_rows(*article) for article in articles]


def _follow_parent(parent: int) -> None:
    """In the statements process: Ctrl-C is the ingest's to handle, and a killed ingest takes this process along."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _chunks(pending: list, size: int):
    """Split (article, passages, token ids) triples into runs of about `size` passages."""
    chunk, count = [], 0
    for item in pending:
        chunk.append(item)
        count += len(item[1])
        if count >= size:
            yield chunk
            chunk, count = [], 0
    if chunk:
        yield chunk
