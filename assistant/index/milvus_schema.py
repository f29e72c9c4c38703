"""The Milvus collections of an index: typed, indexed passage fields with a BM25 function, and the records."""

from __future__ import annotations

from assistant.errors import IndexProblemError

# BM25's analyzer in Milvus: the tokens of text.terms.search_terms as nearly as Milvus's filters allow (lower case,
# bm25s' English stop words, Snowball English stems). The retriever scores every candidate again with
# search_terms, so Milvus's BM25 only picks candidates; the stop words matter for which ones.
_STEMMER = {"type": "stemmer", "language": "english"}


def analyzer_params() -> dict:
    from bm25s.stopwords import STOPWORDS_EN

    return {
        "tokenizer": "standard",
        "filter": ["lowercase", {"type": "stop", "stop_words": list(STOPWORDS_EN)}, _STEMMER],
    }


def vector_index(settings, embedded: bool) -> tuple[str, dict]:
    """(index type, build params) of the passage vectors for milvus.index_type."""
    kind = settings.index_type
    if embedded and kind == "HNSW":
        raise IndexProblemError("an embedded Milvus file cannot build HNSW: set ASSISTANT_MILVUS_INDEX_TYPE=FLAT")
    if kind == "AUTOINDEX" and embedded:
        kind = "FLAT"
    params = {"IVF_FLAT": {"nlist": settings.nlist}, "HNSW": {"M": 16, "efConstruction": 200}}.get(kind, {})
    return kind, params


def search_params(settings, embedded: bool) -> dict:
    kind, _ = vector_index(settings, embedded)
    params = {"IVF_FLAT": {"nprobe": settings.nprobe}, "HNSW": {"ef": settings.hnsw_ef}}.get(kind, {})
    return {"metric_type": "IP", "params": params}


def ensure_collections(store) -> None:
    """Create (and load) the index's two collections when they do not exist yet."""
    from pymilvus import DataType, Function, FunctionType

    db = store.db
    if getattr(store, "_collections_ready", False):
        return
    client = db.client
    if not db.has(store.passages_name):
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("article_id", DataType.VARCHAR, max_length=128)
        schema.add_field("published", DataType.INT64)
        schema.add_field("source", DataType.VARCHAR, max_length=512)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("sentences", DataType.VARCHAR, max_length=65535)
        schema.add_field(
            "search_text", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=analyzer_params()
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=store.dimension)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["search_text"],
                output_field_names=["sparse"],
            )  # fmt: skip
        )
        index = client.prepare_index_params()
        kind, params = vector_index(store.settings, db.embedded)
        index.add_index("vector", index_type=kind, metric_type="IP", params=params)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        for name in ("article_id", "published", "source"):
            index.add_index(name, index_type="INVERTED")
        extra = {} if db.embedded else {"num_shards": store.settings.shards}
        db.call(
            "cannot be created", "create_collection", store.passages_name, schema=schema, index_params=index,
            consistency_level="Strong", **extra,
        )  # fmt: skip
    if not db.has(store.records_name):
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("kind", DataType.VARCHAR, max_length=16)
        schema.add_field("article_id", DataType.VARCHAR, max_length=128)
        schema.add_field("number", DataType.INT64)
        schema.add_field("body", DataType.VARCHAR, max_length=65535)
        schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field in every collection
        index = client.prepare_index_params()
        index.add_index("dummy", index_type="FLAT", metric_type="L2")
        for name in ("kind", "article_id"):
            index.add_index(name, index_type="INVERTED")
        db.call(
            "cannot be created", "create_collection", store.records_name, schema=schema, index_params=index,
            consistency_level="Strong",
        )  # fmt: skip
    for name in (store.passages_name, store.records_name):
        db.call("cannot be loaded", "load_collection", name)
    store._collections_ready = True
