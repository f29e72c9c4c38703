"""The names of an index folder's layout: written by the index's store, recognised by discovery to skip it."""

from __future__ import annotations

import re

# Here, in the ingest package, because ingestion comes before the index and must recognise an index folder (its
# .jsonl files would pass for articles); assistant/index/store.py takes them from here.
INDEX_MANIFEST = "manifest.json"
INDEX_LOCK = ".lock"  # the writer's lock file
GENERATION_NAME = re.compile(r"gen-\d{6}")  # a snapshot folder, gen-NNNNNN
