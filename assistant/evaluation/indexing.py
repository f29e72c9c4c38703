"""The evaluation's own index of a corpus: keyed by the corpus files and the settings that shape the index."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import assistant as assistant_package
from assistant.errors import AssistantError
from assistant.index import is_milvus
from assistant.index.store import FORMAT_VERSION, WriteLock, file_sha256
from assistant.ingest import expand_paths
from assistant.pipeline import Assistant
from assistant.progress import Progress
from assistant.quotes import statement_rows
from assistant.settings import Settings
from assistant.text.sentences import sentence_spans

META = "eval-index.json"  # written beside the index's manifest once a build has finished
# Code that shapes an index beyond the settings. A change of the passage code is only reported (re-embedding a
# benchmark takes half an hour); statements are cheap to redo, so they are re-extracted in place.
# The packages whose code shapes an index's passages and its statements: a change to either rebuilds that part.
PASSAGE_CODE = ("text", "ingest")
STATEMENT_CODE = ("text", "quotes")


@dataclass
class IndexInfo:
    """Where the index is, whether it was reused, and what building it cost."""

    dir: str
    key: str
    reused: bool
    ingest_seconds: float
    built: str
    articles: int = 0
    passages: int = 0
    notes: list[str] = field(default_factory=list)


def code_fingerprint(names: tuple[str, ...]) -> str:
    """12 hex digits hashing the source of the named assistant packages (every .py file in them, by path)."""
    digest = hashlib.sha256()
    root = Path(assistant_package.__file__).parent
    for name in names:
        for path in sorted((root / name).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def refresh_statements(assistant: Assistant, progress: Progress) -> float:
    """Re-extract every article's statements with the current quotes code and save; returns the seconds taken."""
    started = time.perf_counter()
    with WriteLock(Path(assistant.settings.index.dir)):
        store = assistant.store
        progress.start("statements", len(store.articles))
        for article in store.articles.values():
            # The same row builder as `assistant ingest`, so the index matches what a fresh ingest writes.
            store.statements[article.id] = statement_rows(article.id, article.text, sentence_spans(article.text))
            progress.advance(1)
        store.save(assistant.indexer.snapshot())
    return time.perf_counter() - started


def shaping_settings(settings: Settings) -> dict:
    """The settings an index's content depends on (retrieval and answer settings are applied at query time)."""
    return {
        "embedding_model": settings.embedding.model,
        "embedding_backend": settings.embedding.backend,  # int8 backends move vectors slightly: measured apart
        "passages": settings.passages.model_dump(mode="json"),
        "min_chars": settings.ingest.min_chars,
        "index_kind": settings.index.kind,
        "hnsw_m": settings.index.hnsw_m if settings.index.kind == "hnsw" else None,
        "store_format": FORMAT_VERSION,
    }


def index_key(corpus: list[Path], settings: Settings) -> str:
    """12 hex digits hashing every corpus file's name and content plus the shaping settings."""
    files = []
    for root in corpus:
        for path in expand_paths([root]):
            name = path.relative_to(root).as_posix() if root.is_dir() else path.name
            files.append([name, file_sha256(path)])
    body = json.dumps({"files": files, "settings": shaping_settings(settings)}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:12]


def default_index_dir(kind: str, name: str, key: str) -> Path:
    """index/evals/<set>-<key> or index/benchmarks/<folder>-<key>, relative to the working directory."""
    return Path("index") / ("benchmarks" if kind == "benchmark" else "evals") / f"{name}-{key}"


def _read_meta(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def ensure_index(assistant: Assistant, corpus: list[Path], key: str, progress: Progress | None = None) -> IndexInfo:
    """Reuse the index when it was built for this key; otherwise ingest the corpus (incrementally) and record it."""
    progress = progress or Progress()
    directory = assistant.settings.index.dir
    # A Milvus index has no folder for this bookkeeping: it is never reused as is, but ingested again (unchanged
    # files cost nothing).
    meta_path = None if is_milvus(directory) else Path(directory) / META
    meta = _read_meta(meta_path) if meta_path else {}
    passage_code, statement_code = code_fingerprint(PASSAGE_CODE), code_fingerprint(STATEMENT_CODE)
    store = assistant.store
    if meta_path is not None and meta.get("key") == key and store.passages:
        notes = []
        if meta.get("passage_code") != passage_code:
            notes.append(
                f"the index in {directory} was built by other versions of {' and '.join(PASSAGE_CODE)}; "
                "delete the folder to rebuild it if their changes matter"
            )
        if meta.get("statement_code") != statement_code:
            try:
                seconds = refresh_statements(assistant, progress)
            except AttributeError:  # the pipeline no longer has the row builder this relies on
                notes.append(f"the quotes code changed since {directory} was built; delete the folder to rebuild it")
            else:
                notes.append(f"statements re-extracted with the current quotes code in {seconds:.1f} s")
                meta_path.write_text(json.dumps({**meta, "statement_code": statement_code}, indent=2), "utf-8")
        store = assistant.store
        return IndexInfo(
            str(directory), key, True, float(meta.get("ingest_seconds", 0.0)), str(meta.get("built", "")),
            len(store.articles), len(store.passages), notes,
        )  # fmt: skip
    notes = []
    if meta.get("key"):
        # We never delete a folder we were pointed at; files that did not change keep their old passages.
        notes.append(
            f"the index in {directory} was built from another corpus or other settings (key {meta['key']}, "
            f"now {key}); unchanged files keep their old passages: use a fresh --index folder (or none) "
            "for a clean build"
        )
    elif store.articles:  # an interrupted build (ingest goes on from its last checkpoint), or a user's index
        notes.append(
            f"{directory} already held {len(store.articles)} articles (an interrupted build, or an index not "
            "built by 'assistant eval'); the ingest time covers only what this run added"
        )
    started = time.perf_counter()
    report = assistant.ingest(corpus, progress)
    seconds = time.perf_counter() - started
    notes += [f"{f.path}: {f.status} ({f.reason})" for f in report.files if f.status in ("skipped", "failed")]
    store = assistant.store
    if not store.passages:
        raise AssistantError(f"nothing could be indexed from the corpus {', '.join(map(str, corpus))}")
    corpus_paths = {str(p) for root in corpus for p in expand_paths([root])}
    extra = sum(1 for a in store.articles.values() if a.path not in corpus_paths)
    if extra:
        notes.append(f"the index also holds {extra} articles that are not in the corpus")
    built = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if not meta.get("key"):  # an index built for another key keeps that key, so the note above comes back
        meta = {
            "key": key,
            "built": built,
            "ingest_seconds": round(seconds, 2),
            "passage_code": passage_code,
            "statement_code": statement_code,
            "corpus": sorted(corpus_paths),
            "settings": shaping_settings(assistant.settings),
            "articles": len(store.articles),
            "passages": len(store.passages),
            "ingest_summary": report.summary(),
        }
        if meta_path:
            meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return IndexInfo(
        str(directory), key, False, round(seconds, 2), built, len(store.articles), len(store.passages), notes
    )
