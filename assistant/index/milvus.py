"""The index in Milvus (a server, or an embedded milvus-lite file): passages, articles, statements and its facts.

Two collections per index, named from milvus.collection (default 'news'):
    news_passages  one row per passage: id, article_id, published (day number), source, start, end, sentences,
                   search_text (analyzed; a BM25 function fills `sparse`), vector (the embedding)
    news_records   everything else, one row each: the manifest (embedder, dimension, schema version, counts, next
                   passage id), articles (their text in parts), statements, BM25 document frequencies, a writer lease

The store keeps the article records and statements in memory (the answerers scan them); passages stay in Milvus
and are read by id. Dense search, BM25 and the source/date filters run in Milvus (search.py builds the requests);
the retriever fuses, weighs and dedups the candidates as it does for FAISS.

pymilvus is called directly rather than through llama-index-vector-stores-milvus: that package keeps metadata in
one untyped JSON field (no typed filters on published/source), pins pymilvus<3, and has no place for the records
above. Writes are ordered so that an interrupted save leaves a usable index: passages first, then statements and
document frequencies, then the article records (an article is indexed once its record exists), then the manifest;
the next writer deletes passages past the manifest's next id.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections import Counter

import numpy as np

from assistant.errors import IndexLockedError, IndexProblemError
from assistant.index.milvus_client import PREFIX, MilvusConnection, expression_string
from assistant.index.milvus_passages import PASSAGE_FIELDS, MilvusPassages
from assistant.ingest import Article
from assistant.ingest.passages import Passage, passage_search_text
from assistant.text.dates import day_number
from assistant.text.terms import search_terms

SCHEMA_VERSION = 1
ARTICLE_PART_CHARS = 16_000  # article text per record row: 4 bytes per character at most, under VARCHAR's 65,535
LEASE_SECONDS = 600  # a server writer's lease; renewed at every save, taken over when older or its process is gone
BATCH = 500  # ids per query or delete expression
WRITE_BATCH = 2000  # rows per insert/upsert request
MAX_TERM_CHARS = 200
VECTOR_CACHE = 20_000
_ZERO = {"articles": 0, "passages": 0, "statements": 0, "tokens": 0}

__all__ = ["PREFIX", "SCHEMA_VERSION", "MilvusStore"]


def _vector_text(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()


def _vector_of(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32)


class MilvusStore:
    """The Store interface over Milvus; `searches_itself` tells the retriever to ask it for candidates."""

    searches_itself = True
    kind = "milvus"

    def __init__(self, location: str, embedder_name: str, dimension: int, settings, with_header: bool = True) -> None:
        self.with_header = with_header  # passages.title_prefix: BM25 indexes the title header like FAISS's BM25
        self.directory = location  # named like PassageStore's for messages; a milvus: location, not a folder
        self.embedder_name = embedder_name
        self.dimension = dimension
        self.settings = settings  # MilvusSettings
        self.db = MilvusConnection(location[len(PREFIX) :], settings)
        self.passages_name = f"{settings.collection}_passages"
        self.records_name = f"{settings.collection}_records"
        self.articles: dict[str, Article] = {}
        self.statements: dict[str, list[dict]] = {}
        self.passages = MilvusPassages(self)
        self.next_id = 0
        self.generation = ""
        self.counts = {"articles": 0, "passages": 0, "statements": 0, "tokens": 0}
        self._article_vectors: dict[str, np.ndarray] = {}
        self._pending_articles: list[tuple[Article, list[Passage], np.ndarray, list[dict]]] = []
        self._removed: set[str] = set()
        self._df_delta: Counter[str] = Counter()
        self._df_cache: dict[str, int] = {}
        self._sequence: dict[str, int] = {}
        self._vector_cache: dict[int, np.ndarray] = {}  # vectors of recent BM25 candidates
        self.lease_owner = ""  # "host:pid" while this process holds a server's writer lease

    # ---- opening -------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, location: str, embedder_name: str, dimension: int, settings, with_header: bool = True) -> MilvusStore:
        """Connect and load the article records and statements; a missing index opens empty (nothing is created
        until the first save)."""
        store = cls(location, embedder_name, dimension, settings, with_header)
        manifest = store.read_manifest()
        if manifest is None:
            return store
        store._check(manifest)
        store._take(manifest)
        for name in (store.passages_name, store.records_name):
            store.db.call("cannot be loaded", "load_collection", name)
        parts: dict[str, list[tuple[int, str]]] = {}
        heads: dict[str, dict] = {}
        for row in store.db.scan(store.records_name, 'kind in ["article", "statement"]', RECORD_FIELDS):
            if row["kind"] == "statement":
                store.statements.setdefault(row["article_id"], []).append(json.loads(row["body"]))
                continue
            body = json.loads(row["body"])
            parts.setdefault(row["article_id"], []).append((row["number"], body.pop("text")))
            if row["number"] == 0:
                heads[row["article_id"]] = body
        skipped = set(manifest.get("pending_articles", [])) | set(manifest.get("pending_removal", []))
        for aid in skipped:  # a save in progress (or interrupted) is adding or removing them
            heads.pop(aid, None)
            store.statements.pop(aid, None)
        # In the order they were added, as a FAISS folder keeps them: answerers take the first of equal statements.
        for aid, head in sorted(heads.items(), key=lambda item: (item[1].pop("seq", 0), item[0])):
            vector = head.pop("vector", "")
            if vector:
                store._article_vectors[aid] = _vector_of(vector)
            text = "".join(t for _, t in sorted(parts[aid]))
            store.articles[aid] = Article(**{**head, "text": text, "id": aid})
        statements, store.statements = store.statements, {}
        for aid in store.articles:
            if aid in statements:
                rows = sorted(statements[aid], key=lambda r: r.get("n", 0))
                store.statements[aid] = [{k: v for k, v in row.items() if k != "n"} for row in rows]
        return store

    def _check(self, manifest: dict) -> None:
        if manifest.get("schema") != SCHEMA_VERSION:
            raise IndexProblemError(
                f"the Milvus index {self.directory} ({self.settings.collection}) has schema version "
                f"{manifest.get('schema')}, this assistant writes {SCHEMA_VERSION}; copy it into a new collection"
            )
        built = manifest.get("embedder", {})
        if built.get("name") != self.embedder_name or built.get("dimension") != self.dimension:
            raise IndexProblemError(
                f"the index {self.directory} was built with the embedder '{built.get('name')}' "
                f"({built.get('dimension')} dimensions), but the settings ask for '{self.embedder_name}' "
                f"({self.dimension} dimensions); use the same embedder, or another milvus.collection"
            )

    def _take(self, manifest: dict) -> None:
        self.next_id = int(manifest["next_passage_id"])
        self.generation = str(manifest["generation"])
        self.counts = dict(manifest["counts"])

    def read_manifest(self) -> dict | None:
        """The index's facts, None when the collections hold no index yet."""
        if not self.db.has(self.records_name):
            return None
        rows = self.db.query_ids(self.records_name, ["manifest"], ["body"])
        return json.loads(rows[0]["body"]) if rows else None

    def current_generation(self) -> str:
        """Generation named by the manifest now (readers compare it to reload after an ingest)."""
        manifest = self.read_manifest()
        return str(manifest["generation"]) if manifest else self.generation

    # ---- vectors -------------------------------------------------------------------------------------------
    def vectors_for(self, ids: list[int]) -> np.ndarray:
        """Stored vectors of the given passage ids, in their order."""
        if not ids:
            return np.zeros((0, self.dimension), dtype=np.float32)
        found = {p.id: v for _, ps, vs, _ in self._pending_articles for p, v in zip(ps, vs, strict=True)}
        found.update((int(i), self._vector_cache[int(i)]) for i in ids if int(i) in self._vector_cache)
        rows = self.db.query_ids(self.passages_name, [i for i in ids if int(i) not in found], ["id", "vector"])
        found.update((int(r["id"]), np.asarray(r["vector"], dtype=np.float32)) for r in rows)
        return np.vstack([found[int(i)] for i in ids]).astype(np.float32)

    def article_vectors(self, article_ids: list[str]) -> np.ndarray:
        """Per article, the normalised mean of its passages' vectors (kept in its record; zeros when it has none)."""
        out = np.zeros((len(article_ids), self.dimension), dtype=np.float32)
        for row, aid in enumerate(article_ids):
            vector = self._article_vectors.get(aid)
            if vector is not None:
                out[row] = vector
        return out

    # ---- changing (buffered until save) ----------------------------------------------------------------------
    def add(self, article: Article, passages: list[Passage], vectors: np.ndarray, statements: list[dict]) -> None:
        """Add one article with its passages (row-aligned with vectors) and statements."""
        for offset, passage in enumerate(passages):
            passage.id = self.next_id + offset
            self.passages.pending[passage.id] = passage
        self.next_id += len(passages)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(passages), self.dimension)
        mean = vectors.sum(axis=0) if len(passages) else np.zeros(self.dimension, dtype=np.float32)
        self._article_vectors[article.id] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        self._sequence[article.id] = time.time_ns()  # the order articles were added in (see open)
        self.articles[article.id] = article
        self.statements[article.id] = statements
        self._removed.discard(article.id)
        self._pending_articles.append((article, passages, vectors, statements))
        self._count_terms([search_text(p, article, self.with_header) for p in passages], +1)
        self.counts["passages"] += len(passages)

    def remove(self, article_ids: list[str]) -> int:
        """Remove articles with their passages; returns the number of passages removed (deleted at save)."""
        ids = [aid for aid in article_ids if aid in self.articles]
        unsaved = {a.id for a, *_ in self._pending_articles} & set(ids)
        doomed = self.passages.of_articles(ids)  # saved and unsaved ones
        self._count_terms([search_text(p, self.articles[p.article_id], self.with_header) for p in doomed], -1)
        self._pending_articles = [x for x in self._pending_articles if x[0].id not in unsaved]
        for passage in doomed:
            self.passages.pending.pop(passage.id, None)
        for aid in ids:
            self.articles.pop(aid, None)
            self.statements.pop(aid, None)
            self._article_vectors.pop(aid, None)
            if aid not in unsaved:
                self._removed.add(aid)
        self.counts["passages"] -= len(doomed)
        return len(doomed)

    def passages_of(self, article_ids: list[str]) -> list[Passage]:
        """Passages of these articles (a changed file's old passages, to reuse their vectors)."""
        return self.passages.of_articles(article_ids)

    def article_ids_for_path(self, path: str) -> list[str]:
        """Articles ingested from the file `path`, or from any file under it when it is a folder."""
        folder = path.rstrip(os.sep) + os.sep
        return [a.id for a in self.articles.values() if a.path == path or a.path.startswith(folder)]

    def _count_terms(self, texts: list[str], sign: int) -> None:
        for tokens in search_terms(texts):
            self.counts["tokens"] += sign * len(tokens)
            for term in set(tokens):
                if len(term) <= MAX_TERM_CHARS:  # longer "words" (a URL, a hash) count as seen once
                    self._df_delta[term] += sign

    # ---- saving ----------------------------------------------------------------------------------------------
    def save(self, settings_snapshot: dict | None = None) -> None:
        """Write what changed since the last save; the caller holds the write lock.

        First the previous manifest again, naming the articles about to be added or removed (readers skip them, the
        next writer's recover() finishes or undoes them), then the rows, then the new manifest."""
        from assistant.index.milvus_schema import ensure_collections

        ensure_collections(self)
        self.renew_lease()
        previous = self.read_manifest()
        if previous is not None:
            self._check(previous)
        removed = sorted(self._removed)
        added = [article.id for article, *_ in self._pending_articles]
        if removed or added:
            base = previous or self._manifest(settings_snapshot, None, generation=0, counts=_ZERO, next_id=0)
            pending = {**base, "pending_removal": removed, "pending_articles": added}
            self.db.upsert(self.records_name, [_record("manifest", "meta", "", 0, json.dumps(pending))])
        self._delete_articles(removed)
        passage_rows: list[dict] = []
        record_rows: list[dict] = []
        for article, passages, vectors, statements in self._pending_articles:
            self._article_rows(article, passages, vectors, statements, passage_rows, record_rows)
        # New passage ids are unique by construction, so insert (upsert is a delete and an insert); a few large
        # requests instead of several per article: each request costs tens of ms on milvus-lite.
        self.db.insert(self.passages_name, passage_rows, WRITE_BATCH)
        self.db.upsert(self.records_name, record_rows, WRITE_BATCH)
        self._write_df()
        self._pending_articles, self._removed = [], set()
        self.passages.pending.clear()
        self.counts["articles"] = len(self.articles)
        self.counts["statements"] = sum(len(v) for v in self.statements.values())
        number = int(previous["generation"]) + 1 if previous else 1
        manifest = self._manifest(settings_snapshot, previous, number, self.counts, self.next_id)
        self.db.upsert(self.records_name, [_record("manifest", "meta", "", number, json.dumps(manifest))])
        self.generation = str(number)

    def _manifest(self, settings_snapshot, previous: dict | None, generation: int, counts: dict, next_id: int) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "generation": generation,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedder": {"name": self.embedder_name, "dimension": self.dimension},
            "settings": settings_snapshot or (previous or {}).get("settings", {}),
            "counts": dict(counts),
            "next_passage_id": next_id,
            "pending_removal": [],
            "pending_articles": [],
        }

    def _delete_articles(self, article_ids: list[str]) -> None:
        for first in range(0, len(article_ids), BATCH):
            chunk = expression_string(article_ids[first : first + BATCH])
            self.db.delete(self.records_name, f'kind == "article" and article_id in {chunk}')
            self.db.delete(self.passages_name, f"article_id in {chunk}")
            self.db.delete(self.records_name, f'kind == "statement" and article_id in {chunk}')

    def _article_rows(self, article: Article, passages, vectors, statements: list[dict], out_passages, out_records):
        """The passage rows and record rows (statements, the article's text in parts) of one article."""
        for passage, vector in zip(passages, vectors, strict=True):
            out_passages.append(
                {
                    "id": passage.id,
                    "article_id": article.id,
                    "published": day_number(article.published),
                    "source": article.source.lower()[:500],
                    "start": passage.start,
                    "end": passage.end,
                    "sentences": json.dumps(passage.sentences),
                    "search_text": _fit(search_text(passage, article, self.with_header)),
                    "vector": vector.tolist(),
                }
            )
        out_records.extend(
            _record(f"statement:{article.id}:{n}", "statement", article.id, n, json.dumps({**s, "n": n}))
            for n, s in enumerate(statements)
        )
        head = {k: v for k, v in article.to_dict().items() if k not in ("text", "id")}
        head["seq"] = self._sequence.get(article.id, 0)
        head["vector"] = _vector_text(self._article_vectors.get(article.id, np.zeros(self.dimension)))
        text = article.text
        parts = [text[i : i + ARTICLE_PART_CHARS] for i in range(0, len(text), ARTICLE_PART_CHARS)] or [""]
        for n, part in enumerate(parts):
            body = json.dumps({**(head if n == 0 else {}), "text": part}, ensure_ascii=False)
            out_records.append(_record(f"article:{article.id}:{n}", "article", article.id, n, body))

    def _write_df(self) -> None:
        changed = [t for t, d in self._df_delta.items() if d]
        if not changed:
            return
        current = self.doc_freq(changed)
        rows = []
        for term in changed:
            df = max(current.get(term, 0) + self._df_delta[term], 0)
            self._df_cache[term] = df
            rows.append(_record(f"term:{term}", "term", "", df, ""))
        self.db.upsert(self.records_name, rows, WRITE_BATCH)
        self._df_delta.clear()

    def recover(self) -> None:
        """Before writing: undo what an interrupted save began (articles it was adding, passages past the manifest's
        next id) and finish the removals it began, so the same command can go on. BM25 document frequencies of the
        interrupted batch may be off until those articles are ingested or removed again (docs/scale-out.md)."""
        manifest = self.read_manifest()
        if manifest is None:
            return
        self.db.delete(self.passages_name, f"id >= {int(manifest['next_passage_id'])}")
        added = manifest.get("pending_articles", [])
        for first in range(0, len(added), BATCH):
            chunk = expression_string(added[first : first + BATCH])
            self.db.delete(self.records_name, f'kind in ["article", "statement"] and article_id in {chunk}')
        self._removed |= set(manifest.get("pending_removal", []))

    # ---- BM25 statistics ---------------------------------------------------------------------------------------
    def doc_freq(self, terms: list[str]) -> dict[str, int]:
        """Passages holding each stemmed term (search_terms' terms), from the records (cached)."""
        missing = [t for t in terms if t not in self._df_cache]
        if missing and self.db.has(self.records_name):
            for first in range(0, len(missing), WRITE_BATCH):
                keys = [f"term:{t}" for t in missing[first : first + WRITE_BATCH]]
                for row in self.db.query_ids(self.records_name, keys, ["key", "number"]):
                    self._df_cache[row["key"][5:]] = int(row["number"])
        return {t: self._df_cache.get(t, 0) for t in terms}

    # ---- searching in Milvus ----------------------------------------------------------------------------------
    def search_dense(self, qvec: np.ndarray, limit: int, expression: str) -> list[tuple[Passage, float]]:
        """The passages nearest the query vector (inner product of normalised vectors: cosine), best first."""
        from assistant.index.milvus_schema import search_params

        params = search_params(self.settings, self.db.embedded)
        return self._search([np.asarray(qvec, dtype=np.float32).ravel().tolist()], "vector", limit, expression, params)

    def search_bm25(self, text: str, limit: int, expression: str) -> list[tuple[Passage, float]]:
        """The passages Milvus's BM25 scores best for the text (its analyzer: milvus_schema.py), best first; their
        vectors come along (kept for vectors_for: the fusion needs the cosine of every BM25 candidate)."""
        return self._search([text], "sparse", limit, expression, {"metric_type": "BM25"}, with_vectors=True)

    def _search(self, data, field: str, limit: int, expression: str, params: dict, with_vectors: bool = False):
        if not self.counts["passages"] or limit <= 0:
            return []
        fields = PASSAGE_FIELDS[1:] + (["vector"] if with_vectors else [])
        if with_vectors and len(self._vector_cache) > VECTOR_CACHE:
            self._vector_cache.clear()
        found = []
        for hit in self.db.search(self.passages_name, data, field, limit, expression, params, fields):
            row = {**hit["entity"], "id": hit["id"]}
            passage = self.passages.passage_of(row)
            self.passages.remember(passage)
            if with_vectors:
                self._vector_cache[passage.id] = np.asarray(row["vector"], dtype=np.float32)
            found.append((passage, float(hit["distance"])))
        return found

    def count(self, expression: str = "") -> int:
        """Passages matching a filter expression."""
        if not self.counts["passages"]:
            return 0
        return self.db.count(self.passages_name, expression or "id >= 0")

    # ---- the writer lease (servers; an embedded file is locked by milvus-lite itself) -----------------------
    def lease(self) -> _Lease:
        return _Lease(self)

    def renew_lease(self) -> None:
        """Write this writer's lease with the time now (taking it, and at every save while it writes)."""
        if self.lease_owner:
            body = json.dumps({"owner": self.lease_owner, "time": time.time()})
            self.db.upsert(self.records_name, [_record("lease", "meta", "", 0, body)])

    def close(self) -> None:
        self.db.close()


class _Lease:
    """One writer at a time on a server: a lease record naming the writer, renewed by saves; an embedded file needs
    none (milvus-lite lets one process open it)."""

    def __init__(self, store: MilvusStore) -> None:
        self.store = store
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    def __enter__(self) -> _Lease:
        from assistant.index.milvus_schema import ensure_collections

        store = self.store
        if store.db.embedded:
            return self
        ensure_collections(store)
        rows = store.db.query_ids(store.records_name, ["lease"], ["body"])
        if rows:
            held = json.loads(rows[0]["body"])
            host, _, pid = held["owner"].partition(":")
            gone = host == socket.gethostname() and not _alive(int(pid))
            if held["owner"] != self.owner and not gone and time.time() - held["time"] < LEASE_SECONDS:
                raise IndexLockedError(
                    f"another 'assistant ingest' or 'remove' ({held['owner']}) is writing to {store.directory}; "
                    "wait for it to finish and try again"
                )
        store.lease_owner = self.owner
        store.renew_lease()
        return self

    def __exit__(self, *exc) -> None:
        if not self.store.db.embedded:
            self.store.lease_owner = ""
            self.store.db.delete(self.store.records_name, 'key == "lease"')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


RECORD_FIELDS = ["key", "kind", "article_id", "number", "body"]


def _record(key: str, kind: str, article_id: str, number: int, body: str) -> dict:
    return {"key": key, "kind": kind, "article_id": article_id, "number": number, "body": body, "dummy": [0.0, 0.0]}


def _fit(text: str, limit: int = 65_000) -> str:
    """Text cut to fit a VARCHAR (bytes); only search text is ever cut (BM25 reads the rest of a passage's words)."""
    data = text.encode("utf-8", errors="replace")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")


def search_text(passage: Passage, article: Article, with_header: bool) -> str:
    """The text BM25 indexes for a passage: the same text the FAISS store's passages are embedded and ranked by."""
    return passage_search_text(passage, article, with_header)
