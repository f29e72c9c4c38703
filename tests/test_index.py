"""The index on disk: incremental ingest, replace, remove, reload, damage and locking, with real FAISS."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant.errors import AssistantError, IndexLockedError, IndexProblemError
from assistant.index.store import WriteLock
from assistant.pipeline import Assistant, Progress
from assistant.settings import Settings
from tests.conftest import SAMPLE_ARTICLE, make_settings


def article_text(topic: str) -> str:
    return (
        f"Report on {topic}\n\nThe council met on Monday to discuss {topic}. Officials said the plan for {topic} "
        f"would be published next week. Critics of the {topic} plan called it rushed."
    )


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SAMPLE_ARTICLE, folder / "sample.txt")
    (folder / "water.txt").write_text(article_text("water prices"))
    return folder


def test_reingest_unchanged_costs_nothing(new_assistant, corpus):
    assistant = new_assistant()
    first = assistant.ingest([corpus])
    assert first.articles_added == 2 and first.passages_embedded > 0
    again = assistant.ingest([corpus])
    assert again.count("unchanged") == 2
    assert again.articles_added == 0 and again.passages_embedded == 0


def test_progress_reports_each_stage_to_its_total(new_assistant, corpus):
    stages: list[list] = []  # [label, total, advanced]
    hooks = Progress(
        lambda label, total: stages.append([label, total, 0]), lambda n: stages[-1].__setitem__(2, stages[-1][2] + n)
    )
    report = new_assistant().ingest([corpus], hooks)
    assert [s[0] for s in stages] == ["reading", "splitting", "embedding"]
    assert stages[0][1:] == [2, 2]  # files
    assert stages[1][1:] == [2, 2]  # articles
    assert stages[2][1:] == [report.passages_added, report.passages_added]


def test_big_ingests_extract_statements_in_a_process_with_the_same_result(new_assistant, corpus, monkeypatch, tmp_path):
    import assistant.index.indexer

    in_thread = new_assistant(tmp_path / "thread")
    in_thread.ingest([corpus])
    spawned: list = []
    real = assistant.index.indexer.ProcessPoolExecutor
    monkeypatch.setattr(
        assistant.index.indexer, "ProcessPoolExecutor", lambda *a, **k: spawned.append(1) or real(*a, **k)
    )
    monkeypatch.setattr(assistant.index.indexer, "STATEMENTS_PROCESS_MIN_ARTICLES", 2)
    in_process = new_assistant(tmp_path / "process")
    in_process.ingest([corpus])
    assert spawned == [1]
    assert in_process.store.statements == in_thread.store.statements
    assert sum(len(rows) for rows in in_thread.store.statements.values()) >= 3  # the sample's quotes


def test_the_statements_process_ends_with_a_killed_ingest(tmp_path):
    """SIGKILL leaves no orphan: the worker notices its parent is gone and exits."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import os, sys, time\n"
        "from assistant.index.indexer import _statements_runner\n"
        "with _statements_runner(10**6) as runner:\n"
        "    print(runner.submit(os.getpid).result(), flush=True)\n"
        "    time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    assert worker != parent.pid
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"statements process {worker} outlived its killed parent")


def test_a_failed_ingest_keeps_the_checkpoints_saved_before_it(new_assistant, embedder, monkeypatch, tmp_path):
    """Checkpoints are saved while the next chunk embeds: what was saved before a failure stays, whole."""
    import assistant.index.indexer

    folder = tmp_path / "many"
    folder.mkdir()
    topics = ["water prices", "bus fares", "school meals", "park hours", "library fees"]
    for i, topic in enumerate(topics):
        (folder / f"{i}.txt").write_text(article_text(topic))
    monkeypatch.setattr(assistant.index.indexer, "CHECKPOINT_PASSAGES", 1)  # one article a chunk
    calls = []
    real_embed = embedder.embed

    def embed_failing_on_the_fourth_chunk(texts, *args, **kwargs):
        calls.append(len(texts))
        if len(calls) == 4:
            raise RuntimeError("the encoder died")
        return real_embed(texts, *args, **kwargs)

    monkeypatch.setattr(embedder, "embed", embed_failing_on_the_fourth_chunk)
    with pytest.raises(RuntimeError, match="encoder died"):
        new_assistant().ingest([folder])
    monkeypatch.setattr(embedder, "embed", real_embed)
    reopened = new_assistant()
    store = reopened.store
    assert sorted(a.path.rsplit("/", 1)[-1] for a in store.articles.values()) == ["0.txt", "1.txt", "2.txt"]
    assert {p.article_id for p in store.passages.values()} == set(store.articles)
    again = reopened.ingest([folder])
    assert again.count("unchanged") == 3 and again.articles_added == 2


def test_a_failed_checkpoint_save_stops_the_ingest_and_the_store_stays_still_while_saving(
    new_assistant, embedder, monkeypatch, tmp_path
):
    import time

    import assistant.index.indexer
    from assistant.index.store import PassageStore

    folder = tmp_path / "many"
    folder.mkdir()
    for i, topic in enumerate(["water prices", "bus fares", "school meals", "park hours", "library fees"]):
        (folder / f"{i}.txt").write_text(article_text(topic))
    monkeypatch.setattr(assistant.index.indexer, "CHECKPOINT_PASSAGES", 1)  # one article a chunk
    embedded, saves = [], []
    real_embed, real_save = embedder.embed, PassageStore.save

    def counting_embed(texts, *args, **kwargs):
        embedded.append(len(texts))
        return real_embed(texts, *args, **kwargs)

    def slow_save_failing_the_second_time(store, *args, **kwargs):
        saves.append(1)
        before = (len(store.articles), len(store.passages), store.faiss.ntotal)
        time.sleep(0.3)  # the next chunk embeds meanwhile; the store must not change under the save
        assert (len(store.articles), len(store.passages), store.faiss.ntotal) == before
        if len(saves) == 2:
            raise OSError(28, "No space left on device")
        real_save(store, *args, **kwargs)

    monkeypatch.setattr(embedder, "embed", counting_embed)
    monkeypatch.setattr(PassageStore, "save", slow_save_failing_the_second_time)
    with pytest.raises(OSError, match="No space left"):
        new_assistant().ingest([folder])
    assert len(saves) == 2 and len(embedded) <= 3  # stopped at the latest after the chunk embedding beside it
    monkeypatch.setattr(PassageStore, "save", real_save)
    assert [a.path.rsplit("/", 1)[-1] for a in new_assistant().store.articles.values()] == ["0.txt"]


def test_changed_file_replaces_its_passages_and_reuses_vectors(new_assistant, corpus):
    assistant = new_assistant()
    assistant.ingest([corpus])
    (corpus / "water.txt").write_text(article_text("water prices") + " A final sentence was added later.")
    report = assistant.ingest([corpus / "water.txt"])
    assert report.articles_removed == 1 and report.articles_added == 1
    titles = [a.title for a in assistant.articles()]
    assert titles.count("Report on water prices") == 1
    hits = assistant.retriever.retrieve("final sentence added later", k=1, mode="bm25")
    assert "added later" in hits[0].passage.text


def test_remove_by_id_and_by_path_survives_reload(new_assistant, corpus, embedder):
    assistant = new_assistant()
    assistant.ingest([corpus])
    water = next(a for a in assistant.articles() if a.title == "Report on water prices")
    assert [a.id for a in assistant.remove([water.id])] == [water.id]
    assistant.remove([str(corpus / "sample.txt")])
    reloaded = Assistant(assistant.settings, embedder)
    assert reloaded.articles() == []
    with pytest.raises(AssistantError, match="nothing indexed"):
        reloaded.remove(["no-such-id"])


def test_duplicate_article_in_another_file_is_skipped(new_assistant, corpus):
    shutil.copy(corpus / "water.txt", corpus / "water-copy.txt")
    report = new_assistant().ingest([corpus])
    outcomes = sorted((f.status, f.reason) for f in report.files if "water" in f.path)
    assert outcomes[0] == ("ingested", "")
    assert outcomes[1][0] == "skipped" and outcomes[1][1].startswith("duplicate of ")


def test_damaged_file_is_named(new_assistant, corpus, tmp_path, embedder):
    assistant = new_assistant()
    assistant.ingest([corpus])
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    target = tmp_path / "index" / manifest["generation"] / "passages.jsonl"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(IndexProblemError, match="passages.jsonl"):
        Assistant(assistant.settings, embedder).articles()


def test_other_embedder_is_refused_before_search(new_assistant, corpus, tmp_path):
    assistant = new_assistant()
    assistant.ingest([corpus])
    manifest_path = tmp_path / "index" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["embedder"] = {"name": "some-other-model", "dimension": 768}
    from assistant.index.store import _manifest_checksum

    manifest["manifest_sha256"] = _manifest_checksum(manifest)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexProblemError, match="some-other-model"):
        assistant.ask("What did Dmitriev say about sanctions?")


def test_second_writer_is_refused(new_assistant, corpus, tmp_path):
    assistant = new_assistant()
    with WriteLock(tmp_path / "index"), pytest.raises(IndexLockedError, match="another"):
        assistant.ingest([corpus])


def test_empty_index_asks_for_ingest(new_assistant):
    with pytest.raises(AssistantError, match="empty"):
        new_assistant().ask("What did Dmitriev say?")


def test_environment_sets_the_index_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "elsewhere"))
    assert Settings().index.dir == tmp_path / "elsewhere"
    assert make_settings(tmp_path).index.dir == tmp_path
