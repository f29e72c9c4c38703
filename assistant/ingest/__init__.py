"""Ingestion: article files read into clean Article records and split into sentence-aligned passages."""

from assistant.ingest.articles import Article, FileResult, content_id
from assistant.ingest.cleaning import clean_text
from assistant.ingest.discovery import SIDECAR_SUFFIX, SUPPORTED_SUFFIXES, expand_paths
from assistant.ingest.layout import GENERATION_NAME, INDEX_LOCK, INDEX_MANIFEST
from assistant.ingest.passages import Passage, passage_header, tokenized_passages
from assistant.ingest.readers import read_file

__all__ = [
    "GENERATION_NAME",
    "INDEX_LOCK",
    "INDEX_MANIFEST",
    "SIDECAR_SUFFIX",
    "SUPPORTED_SUFFIXES",
    "Article",
    "FileResult",
    "Passage",
    "clean_text",
    "content_id",
    "expand_paths",
    "passage_header",
    "read_file",
    "tokenized_passages",
]
