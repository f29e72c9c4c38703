"""Shared fixtures: the real packaged embedder and an index of the sample article, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.embedding import Embedder
from assistant.pipeline import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
SAMPLE_ARTICLE = SAMPLE_DIR / "dmitriev-us-russia-relations-2025-04-05.txt"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


def make_settings(index_dir: Path) -> Settings:
    settings = Settings()
    settings.index.dir = index_dir
    return settings


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Path:
    """An index folder holding the sample article (read-only for tests: copy it to change it)."""
    index_dir = tmp_path_factory.mktemp("sample-index")
    Assistant(make_settings(index_dir), embedder).ingest([SAMPLE_DIR])
    return index_dir


@pytest.fixture(scope="session")
def sample_assistant(sample_index, embedder) -> Assistant:
    return Assistant(make_settings(sample_index), embedder)


@pytest.fixture
def new_assistant(tmp_path, embedder):
    """A factory of Assistants over a fresh, empty index folder in tmp_path."""

    def make(index_dir: Path | None = None) -> Assistant:
        return Assistant(make_settings(index_dir or tmp_path / "index"), embedder)

    return make
