"""The on-disk index: articles, passages, statements and their FAISS vectors, saved crash-safely with a manifest.

Layout of an index folder:
    manifest.json        which generation is current, embedder, versions, counts and a checksum per file
    gen-000007/          one complete snapshot: articles.jsonl, passages.jsonl, statements.jsonl, vectors.faiss
    .lock                held (flock) by the one writer allowed at a time

A save writes a new generation folder, fsyncs it, then atomically replaces manifest.json; a crash at any
moment leaves the previous manifest pointing at a complete previous generation. The generation before the
current one is kept, so a reader that opened it a moment ago can still finish loading.

llama-index's FaissVectorStore is not used: it cannot filter or delete, does not normalise, and its docstore
keeps no sentence offsets; here FAISS is used directly with int64 passage ids (IndexIDMap2), which allows
deletion.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np

from assistant.errors import IndexLockedError, IndexProblemError
from assistant.ingest import GENERATION_NAME, INDEX_LOCK, INDEX_MANIFEST, Article
from assistant.ingest.passages import Passage

FORMAT_VERSION = 1
MANIFEST = INDEX_MANIFEST
FILES = ("articles.jsonl", "passages.jsonl", "statements.jsonl", "vectors.faiss")


def _versions() -> dict[str, str]:
    names = ["news-assistant", "faiss-cpu", "sentence-transformers", "llama-index-core", "bm25s", "torch"]
    found = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_jsonl(path: Path, rows) -> None:
    # A lone surrogate (a file name that is not UTF-8, a "\ud800" escape in a JSON record) cannot be encoded;
    # inside a JSON string its backslash form is the JSON escape, so it reads back as the same text.
    with path.open("w", encoding="utf-8", errors="backslashreplace") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False))
            f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _manifest_checksum(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def hold_lock(path: Path, busy: str) -> int:
    """An exclusive lock on the file at path (created if absent), held until its descriptor is closed or the
    process ends (so a killed process never leaves it behind); IndexLockedError(busy) at once when it is taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise IndexLockedError(busy) from None
    return fd


class WriteLock:
    """Exclusive writer lock on an index folder; a second writer fails at once instead of waiting."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / INDEX_LOCK
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = hold_lock(
            self.path,
            f"another 'assistant ingest' or 'remove' is writing to {self.path.parent}; wait for it to finish and try "
            "again",
        )
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PassageStore:
    """The FAISS folder store: one index generation in memory (articles, passages, statements, FAISS vectors)."""

    def __init__(
        self,
        directory: Path,
        embedder_name: str,
        dimension: int,
        kind: str = "flat",
        hnsw_m: int = 32,
        hnsw_ef_construction: int = 80,
    ):
        self.directory = Path(directory)
        self.embedder_name = embedder_name
        self.dimension = dimension
        self.kind = kind
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self.articles: dict[str, Article] = {}
        self.passages: dict[int, Passage] = {}
        self.statements: dict[str, list[dict]] = {}  # article id -> statements (see quotes.py)
        self.next_id = 0
        self.generation = ""
        self.faiss = self._new_faiss()

    searches_itself = False  # the retriever searches FAISS and its own BM25 index in memory

    # ---- FAISS -------------------------------------------------------------------------------------
    def _new_faiss(self) -> faiss.Index:
        if self.kind == "hnsw":
            base = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = self.hnsw_ef_construction
        else:
            base = faiss.IndexFlatIP(self.dimension)
        return faiss.IndexIDMap2(base)

    def vectors_for(self, ids: list[int]) -> np.ndarray:
        """Stored vectors of the given passage ids (used to reuse embeddings and for filtered search)."""
        if not ids:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self.faiss.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def article_vectors(self, article_ids: list[str]) -> np.ndarray:
        """Per article, the normalised mean of its passages' vectors (zeros for an article without passages);
        read from FAISS in blocks, so a big index is never copied whole."""
        row_of = {aid: row for row, aid in enumerate(article_ids)}
        out = np.zeros((len(article_ids), self.dimension), dtype=np.float32)
        base = faiss.downcast_index(self.faiss.index)
        ids = faiss.vector_to_array(self.faiss.id_map)
        for first in range(0, self.faiss.ntotal, 50_000):
            block = base.reconstruct_n(first, min(50_000, self.faiss.ntotal - first))
            rows = [row_of[self.passages[int(pid)].article_id] for pid in ids[first : first + len(block)]]
            np.add.at(out, rows, block)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    # ---- reading -----------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        directory: Path,
        embedder_name: str,
        dimension: int,
        kind: str = "flat",
        hnsw_m: int = 32,
        hnsw_ef_construction: int = 80,
    ) -> PassageStore:
        """Load the current generation; an absent index opens empty, a damaged one raises IndexProblemError."""
        store = cls(directory, embedder_name, dimension, kind, hnsw_m, hnsw_ef_construction)
        manifest = store.read_manifest()
        if manifest is None:
            return store
        built_with = manifest.get("embedder", {})
        if built_with.get("name") != embedder_name or built_with.get("dimension") != dimension:
            raise IndexProblemError(
                f"the index in {directory} was built with the embedder '{built_with.get('name')}' "
                f"({built_with.get('dimension')} dimensions), but the settings ask for '{embedder_name}' "
                f"({dimension} dimensions); use the same embedder, or rebuild into another folder with --index"
            )
        gen_dir = store.directory / manifest["generation"]
        for name in FILES:
            path = gen_dir / name
            if not path.exists():
                raise IndexProblemError(f"index file {path} is missing; the index is damaged (re-ingest)")
            if file_sha256(path) != manifest["files"][name]:
                raise IndexProblemError(
                    f"index file {path} is damaged (its checksum does not match the manifest); "
                    "re-ingest the articles into a new index"
                )
        try:
            for row in _read_jsonl(gen_dir / "articles.jsonl"):
                store.articles[row["id"]] = Article(**row)
            for row in _read_jsonl(gen_dir / "passages.jsonl"):
                row["sentences"] = [tuple(s) for s in row["sentences"]]
                store.passages[row["id"]] = Passage(**row)
            for row in _read_jsonl(gen_dir / "statements.jsonl"):
                store.statements.setdefault(row["article_id"], []).append(row)
            index = faiss.read_index(str(gen_dir / "vectors.faiss"))
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexProblemError(f"the index in {gen_dir} cannot be read ({exc}); re-ingest") from None
        if index.ntotal != len(store.passages) or index.d != dimension:
            raise IndexProblemError(f"the index in {gen_dir} is inconsistent (vectors vs passages); re-ingest")
        store.faiss = index
        store.next_id = manifest["next_passage_id"]
        store.generation = manifest["generation"]
        return store

    def read_manifest(self) -> dict | None:
        """The current manifest, None when the folder holds no index yet."""
        path = self.directory / MANIFEST
        if self.directory.exists() and not self.directory.is_dir():
            raise IndexProblemError(f"{self.directory} is a file, not an index folder; choose another --index")
        if not path.exists():
            # saving now would overwrite the generation the lost manifest pointed to
            if self.directory.is_dir() and any(GENERATION_NAME.fullmatch(p.name) for p in self.directory.iterdir()):
                raise IndexProblemError(
                    f"the index in {self.directory} has generation folders but no {MANIFEST}: it is damaged, and "
                    "nothing was changed; restore the file, or move the folder away to start a new index"
                )
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise IndexProblemError(f"index file {path} is damaged (not valid JSON); re-ingest") from None
        if manifest.get("manifest_sha256") != _manifest_checksum(manifest):
            raise IndexProblemError(f"index file {path} is damaged (its checksum does not match); re-ingest")
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexProblemError(f"index in {self.directory} has format {manifest.get('format')}, expected 1")
        return manifest

    # ---- changing ----------------------------------------------------------------------------------
    def add(self, article: Article, passages: list[Passage], vectors: np.ndarray, statements: list[dict]) -> None:
        """Add one article with its passages (row-aligned with vectors) and statements."""
        ids = np.arange(self.next_id, self.next_id + len(passages), dtype=np.int64)
        self.next_id += len(passages)
        for pid, passage in zip(ids, passages, strict=True):
            passage.id = int(pid)
            self.passages[int(pid)] = passage
        if len(passages):
            self.faiss.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self.articles[article.id] = article
        self.statements[article.id] = statements

    def remove(self, article_ids: list[str]) -> int:
        """Remove articles with their passages and vectors; returns the number of passages removed."""
        doomed = [pid for pid, p in self.passages.items() if p.article_id in set(article_ids)]
        if doomed:
            if self.kind == "hnsw":  # HNSW cannot delete in place: rebuild from the vectors that stay
                keep = [pid for pid in self.passages if pid not in set(doomed)]
                vectors = self.vectors_for(keep)
                self.faiss = self._new_faiss()
                if keep:
                    self.faiss.add_with_ids(vectors, np.array(keep, dtype=np.int64))
            else:
                self.faiss.remove_ids(np.array(doomed, dtype=np.int64))
        for pid in doomed:
            del self.passages[pid]
        for aid in article_ids:
            self.articles.pop(aid, None)
            self.statements.pop(aid, None)
        return len(doomed)

    def passages_of(self, article_ids: list[str]) -> list[Passage]:
        """Passages of these articles, in id order."""
        wanted = set(article_ids)
        return [p for p in self.passages.values() if p.article_id in wanted]

    def article_ids_for_path(self, path: str) -> list[str]:
        """Articles ingested from the file `path`, or from any file under it when it is a folder."""
        folder = path.rstrip(os.sep) + os.sep
        return [a.id for a in self.articles.values() if a.path == path or a.path.startswith(folder)]

    # ---- saving ------------------------------------------------------------------------------------
    def save(self, settings_snapshot: dict | None = None) -> None:
        """Write a new generation and switch the manifest to it atomically; the caller holds the WriteLock."""
        self.directory.mkdir(parents=True, exist_ok=True)
        previous = self.read_manifest()
        number = int(previous["generation"].split("-")[1]) + 1 if previous else 1
        generation = f"gen-{number:06d}"
        tmp_dir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.directory))
        try:
            _write_jsonl(tmp_dir / "articles.jsonl", (a.to_dict() for a in self.articles.values()))
            # vars(), not asdict(): asdict deep-copies every sentence tuple, two thirds of a save's time on big indexes
            _write_jsonl(tmp_dir / "passages.jsonl", (vars(p) for p in self.passages.values()))
            _write_jsonl(tmp_dir / "statements.jsonl", (s for rows in self.statements.values() for s in rows))
            # Through a Python file: faiss's own writer only prints a failed close (a full disk) and leaves a
            # truncated file that the manifest would then vouch for; here any write error raises OSError.
            with open(tmp_dir / "vectors.faiss", "wb") as f:
                faiss.write_index(self.faiss, faiss.PyCallbackIOWriter(f.write))
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(tmp_dir)
            gen_dir = self.directory / generation
            if gen_dir.exists():  # left by a crash after this name was chosen but before the manifest moved
                shutil.rmtree(gen_dir)
            os.rename(tmp_dir, gen_dir)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        manifest = {
            "format": FORMAT_VERSION,
            "generation": generation,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedder": {"name": self.embedder_name, "dimension": self.dimension},
            "faiss_kind": self.kind,
            "versions": _versions(),
            "settings": settings_snapshot or {},
            "counts": {
                "articles": len(self.articles),
                "passages": len(self.passages),
                "statements": sum(len(v) for v in self.statements.values()),
            },
            "next_passage_id": self.next_id,
            "files": {name: file_sha256(gen_dir / name) for name in FILES},
        }
        manifest["manifest_sha256"] = _manifest_checksum(manifest)
        tmp_manifest = self.directory / f".{MANIFEST}.tmp"
        with tmp_manifest.open("w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_manifest, self.directory / MANIFEST)
        _fsync_dir(self.directory)
        self.generation = generation
        self._collect_garbage(keep={generation, previous["generation"] if previous else ""})

    def _collect_garbage(self, keep: set[str]) -> None:
        """Delete generations older than the previous one and temp folders left by crashed writers."""
        for child in self.directory.iterdir():
            stale = child.name.startswith(".tmp-") or child.name.startswith("gen-")
            if child.is_dir() and stale and child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)

    def current_generation(self) -> str:
        """Generation named by the manifest on disk now (readers compare it to reload after an ingest)."""
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
            return str(manifest.get("generation", ""))
        except (OSError, ValueError):
            return self.generation
