"""The Milvus backend through a server on 127.0.0.1 (the client path of a cluster), with the real model and the real
command: the example question cites the same sentences as over a FAISS folder; a killed ingest goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from milvus_server import milvus_server

from tests.conftest import SAMPLE_DIR

try:
    import milvus_lite  # noqa: F401
except ImportError:  # skipped here, but CI (scripts/test.sh installs the milvus extra) must run these tests
    if os.environ.get("CI"):
        raise
    pytest.skip("milvus-lite is not installed: pip install -e '.[milvus]'", allow_module_level=True)
pytestmark = pytest.mark.slow

EXAMPLE = "What did Dmitriev say about sanctions?"


def assistant(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from assistant.cli import main; main()", *map(str, args)],
        capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})},
    )  # fmt: skip


def citations(done: subprocess.CompletedProcess) -> list[tuple[str, str, int]]:
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    return [(c["article_id"], c["quote"], c["start"]) for c in answer["citations"]]


def test_the_example_question_cites_the_same_sentences_on_faiss_embedded_milvus_and_a_milvus_server(tmp_path):
    faiss_dir, embedded = tmp_path / "index", f"milvus:{tmp_path / 'news.db'}"
    for index in (faiss_dir, embedded):
        assert assistant("ingest", SAMPLE_DIR, "--index", index).returncode == 0
    expected = citations(assistant("ask", EXAMPLE, "--index", faiss_dir, "--json"))
    assert expected and all("sanction" in quote.lower() for _, quote, _ in expected)
    assert citations(assistant("ask", EXAMPLE, "--index", embedded, "--json")) == expected
    with milvus_server(tmp_path / "served.db") as uri:
        assert assistant("ingest", SAMPLE_DIR, "--index", f"milvus:{uri}").returncode == 0
        assert citations(assistant("ask", EXAMPLE, "--index", f"milvus:{uri}", "--json")) == expected
        copied = assistant("index", "copy", f"milvus:{uri}", tmp_path / "back")
        assert copied.returncode == 0 and "(0 embedded)" in copied.stderr
    assert citations(assistant("ask", EXAMPLE, "--index", tmp_path / "back", "--json")) == expected


def test_a_killed_ingest_into_a_server_leaves_it_usable_and_the_same_command_goes_on(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = (SAMPLE_DIR / "dmitriev-us-russia-relations-2025-04-05.txt").read_text(encoding="utf-8")
    records = [
        {"title": f"Report {n}", "text": f"Report number {n}. {text}", "published": "2025-04-05"} for n in range(40)
    ]
    (corpus / "reports.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with milvus_server(tmp_path / "served.db") as uri:
        index = f"milvus:{uri}"
        # A checkpoint every 20 passages, and the process SIGKILLs itself right after its second save: a kill
        # between two checkpoints at a fixed point, whatever the machine's speed (polling from outside raced it).
        code = (
            "import os, signal\n"
            "import assistant.index.indexer as indexer\n"
            "from assistant.index.milvus import MilvusStore\n"
            "indexer.CHECKPOINT_PASSAGES = 20\n"
            "save, saves = MilvusStore.save, []\n"
            "def save_then_die(self, *args, **kwargs):\n"
            "    save(self, *args, **kwargs)\n"
            "    saves.append(1)\n"
            "    if len(saves) == 2:\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "MilvusStore.save = save_then_die\n"
            "from assistant.cli import main\n"
            "main()\n"
        )
        ingest = subprocess.run(
            [sys.executable, "-c", code, "ingest", str(corpus), "--index", index],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600,
        )  # fmt: skip
        assert ingest.returncode == -signal.SIGKILL, "the ingest ended before its second save"
        kept = assistant("list", "--index", index, "--json")
        assert kept.returncode == 0
        saved = len(kept.stdout.splitlines())
        assert 0 < saved < len(records)
        resumed = assistant("ingest", corpus, "--index", index)
        assert resumed.returncode == 0, resumed.stderr
        assert "(0 embedded)" not in resumed.stderr
        final = assistant("list", "--index", index, "--json")
        assert len(final.stdout.splitlines()) == len(records)
        assert citations(assistant("ask", EXAMPLE, "--index", index, "--json"))
