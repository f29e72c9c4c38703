"""Which files to ingest: supported files in given folders, never hidden ones or an index folder's own files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from assistant.ingest.layout import GENERATION_NAME, INDEX_LOCK, INDEX_MANIFEST

SUPPORTED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".json", ".jsonl"}
SIDECAR_SUFFIX = ".meta.json"  # NAME.meta.json beside NAME.txt holds its metadata; never an article itself


def expand_paths(paths: list[Path]) -> Iterator[Path]:
    """Files to ingest: the given files, and supported files inside given folders (sorted, recursive) except hidden
    files and folders (names starting with '.') and index folders. A given folder that is an index, or is inside
    one, is yielded itself, for read_file to refuse with its reason."""
    for path in paths:
        path = path.resolve()  # articles remember absolute paths, so re-ingesting from elsewhere matches
        if path.is_dir() and index_holding(path) is None:
            yield from sorted(_article_files(path))
        else:
            yield path


def _article_files(folder: Path) -> Iterator[Path]:
    for root, folders, names in os.walk(folder):  # does not follow links to folders, as rglob did not
        here = Path(root)
        folders[:] = [name for name in folders if not name.startswith(".") and not is_index_folder(here / name)]
        for name in names:
            child = here / name
            if not name.startswith(".") and is_article_file(child) and child.is_file():
                yield child


def is_index_folder(folder: Path) -> bool:
    """Whether a folder is an index (see store.py): a manifest.json or .lock beside a gen-NNNNNN folder."""
    if not any((folder / marker).exists() for marker in (INDEX_MANIFEST, INDEX_LOCK)):
        return False
    try:
        with os.scandir(folder) as entries:
            return any(GENERATION_NAME.fullmatch(e.name) and e.is_dir() for e in entries)
    except OSError:
        return False


def index_holding(path: Path) -> Path | None:
    """The index folder that is path or holds it as one of its own files: beside manifest.json, or in a
    gen-NNNNNN folder (the chat's uploads/ folder inside an index holds articles, not index files)."""
    if path.is_dir() and is_index_folder(path):
        return path
    if is_index_folder(path.parent):
        return path.parent
    if GENERATION_NAME.fullmatch(path.parent.name) and is_index_folder(path.parent.parent):
        return path.parent.parent
    return None


def is_article_file(path: Path) -> bool:
    """Whether the file's name says it is an article (a supported type, not a NAME.meta.json sidecar)."""
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.endswith(SIDECAR_SUFFIX)
