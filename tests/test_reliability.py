"""A crash-safe index, with real processes, signals, disks and FAISS: kills, full disks, damage, two writers.

What each test shows:
- `assistant ingest` (the real command, checkpointing every few passages) killed with SIGKILL at fixed points,
  before its first save and after its first, second or third save, and at random moments (adds and replaces
  alternating): the index always opens in the state before that ingest, after it, or at one of its checkpoints,
  and answers a question; both a kill before a save and one after a save must be seen, and the same ingest run
  again goes on from the checkpoint to the new state;
- a crash at every step of a save (simulated in-process, nothing after the step runs): the same, and the next
  ingest recovers and clears the debris;
- a full disk or an I/O error while saving (a real full device, /dev/full, or a real small tmpfs): the previous
  index stays loadable, and the CLI says "the index could not be saved";
- a flipped byte in any index file is reported with that file's name;
- a second writer is refused at once while the first holds the index, and readers keep answering during an
  ingest and see its articles once it has finished.
The in-process tests use the fake embedder (what they test is the store, not the vectors); the tests that run the
command use the real model, as a user does.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import assistant.index.store as store_module
from assistant.errors import IndexProblemError
from assistant.index.store import FILES, MANIFEST, PassageStore, WriteLock
from assistant.ingest import read_file
from assistant.pipeline import Assistant
from tests.conftest import make_settings
from tests.hostile_corpus import news_articles, write_jsonl

QUESTION = "What did Dmitriev say about sanctions?"
BATCH_ARTICLES = 30  # per ingest in the kill test: a few seconds of work after the model has loaded
CHECKPOINT_PASSAGES = 5  # the kill test's ingests save every 5 passages (about 6 saves per run), not every 5,000
# Where each run of the kill test is killed, in turn: once it holds the index's lock (its model is loading: before
# any save), once its Nth save has switched the manifest (with saves still to come: an add run saves 6 times, a
# replace run, with 10-20 changed articles, 2-4 times), or at a random moment of an ingest's duration.
ADD_KILL_POINTS = ["before the first save", "after save 1", "random", "after save 4"]
REPLACE_KILL_POINTS = ["after save 1", "random", "before the first save"]
KILL_RUNS = 12
SEED = 20250405
# The real command, with the indexer's checkpoint size set from the first argument (there is no setting for it).
CHECKPOINTED_INGEST = (
    "import sys; import assistant.index.indexer as indexer; indexer.CHECKPOINT_PASSAGES = int(sys.argv.pop(1)); "
    "from assistant.cli import main; sys.argv[0] = 'assistant'; main()"
)


def ingest_process(path: Path, index: Path, checkpoint_passages: int | None = None) -> subprocess.Popen:
    """`assistant ingest PATH --index INDEX` as a user runs it (one torch thread, to share the CPU)."""
    command = (
        ["-m", "assistant"] if checkpoint_passages is None else ["-c", CHECKPOINTED_INGEST, str(checkpoint_passages)]
    )
    return subprocess.Popen(
        [sys.executable, *command, "ingest", str(path), "--index", str(index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ASSISTANT_EMBEDDING_THREADS": "1"},
    )


def article_ids(index: Path, embedder) -> set[str]:
    """The articles of the index as a new reader opens it (raises what a reader would get)."""
    return set(Assistant(make_settings(index), embedder).store.articles)


def expected_after(index: Path, embedder, path: Path) -> set[str]:
    """The article ids the index must hold once `path` has been ingested: its old articles replaced by its new ones."""
    store = Assistant(make_settings(index), embedder).store
    result = read_file(path.resolve(), 20_000_000, 40)
    old = set(store.article_ids_for_path(str(path.resolve())))
    return (set(store.articles) - old) | {a.id for a in result.articles}


def assert_answers(index: Path, embedder) -> None:
    answer = Assistant(make_settings(index), embedder).ask(QUESTION)
    assert not answer.abstained and answer.citations


def debris(index: Path) -> list[str]:
    """Folders a save left behind: temp folders and generations the manifest does not name."""
    current = generation(index)
    gens = sorted(p.name for p in index.glob("gen-*"))
    extra = [g for g in gens if g > current]  # written, but the manifest never switched to it
    return [p.name for p in index.glob(".tmp-*")] + extra


def generation(index: Path) -> str:
    """The generation the manifest names now (it is replaced atomically: a read sees the old or the new one)."""
    return json.loads((index / MANIFEST).read_text())["generation"]


@pytest.fixture
def index(tmp_path, fake_index) -> Path:
    """A private copy of the sample index (one article, the Dmitriev interview) made with the fake embedder."""
    target = tmp_path / "index"
    shutil.copytree(fake_index, target)
    return target


@pytest.fixture
def real_index(tmp_path, sample_index) -> Path:
    """A private copy of the sample index made with the real model, for the tests that run the real command."""
    target = tmp_path / "real-index"
    shutil.copytree(sample_index, target)
    return target


# ---- 1. SIGKILL at fixed points and at random moments -----------------------------------------------------------


def feed_rows(round_no: int) -> list[dict]:
    """The changing file of the replace runs: a third of its articles change each round, and its length varies."""
    rows = news_articles(BATCH_ARTICLES, seed=99, tag="feed")
    for i, row in enumerate(rows):
        if (i + round_no) % 3 == 0:
            row["text"] += f" The figures were revised in round {round_no}."
    return rows[: BATCH_ARTICLES - round_no % 2]


def kill_at(proc: subprocess.Popen, index: Path, point: str, random_delay: float) -> tuple[bool, str]:
    """SIGKILL the ingest at `point`; returns whether the kill landed (it had not ended) and the generation the
    manifest named just before the kill."""
    start_generation = generation(index)
    deadline = time.monotonic() + 300
    if point == "random":
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=random_delay)
    else:
        saves = 0 if point == "before the first save" else int(point.rsplit(" ", 1)[1])
        seen, last = 0, start_generation
        while proc.poll() is None and time.monotonic() < deadline:
            if saves == 0 and (index / ".lock").exists() and holds_flock(proc.pid, index / ".lock"):
                break
            current = generation(index)
            if current != last:
                seen, last = seen + 1, current
                if seen == saves:
                    break
            time.sleep(0.002)
    before_kill = generation(index)
    if proc.poll() is not None:
        return False, before_kill
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return True, before_kill


def test_sigkill_during_ingest_leaves_the_previous_a_checkpoint_or_the_new_index(
    real_index, tmp_path, embedder, capsys
):
    index = real_index
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = random.Random(SEED)

    # One uninterrupted run, timed: the random kill moments are drawn over [0, its duration].
    first = write_jsonl(corpus / "batch-00.jsonl", news_articles(BATCH_ARTICLES, seed=0, tag="b0"))
    after = expected_after(index, embedder, first)
    started = time.monotonic()
    proc = ingest_process(first, index, CHECKPOINT_PASSAGES)
    _, stderr = proc.communicate(timeout=600)
    duration = time.monotonic() - started
    assert proc.returncode == 0, stderr
    assert article_ids(index, embedder) == after

    outcomes: Counter[str] = Counter()
    for run in range(1, KILL_RUNS + 1):
        if run % 2:  # add a new file
            point = ADD_KILL_POINTS[run // 2 % len(ADD_KILL_POINTS)]
            path = write_jsonl(
                corpus / f"batch-{run:02d}.jsonl", news_articles(BATCH_ARTICLES, seed=run, tag=f"b{run}")
            )
        else:  # replace the articles of a changed file
            point = REPLACE_KILL_POINTS[(run // 2 - 1) % len(REPLACE_KILL_POINTS)]
            path = write_jsonl(corpus / "feed.jsonl", feed_rows(run))
        before = article_ids(index, embedder)
        after = expected_after(index, embedder, path)
        assert after != before
        started_at = generation(index)
        proc = ingest_process(path, index, CHECKPOINT_PASSAGES)
        killed, generation_at_kill = kill_at(proc, index, point, rng.uniform(0, duration))
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode in (0, -signal.SIGKILL), f"run {run}: {stderr}"
        if killed and debris(index):
            outcomes["killed while saving"] += 1
        now = article_ids(index, embedder)  # any error opening the index fails the test here
        # A checkpoint holds the articles the file keeps and some of its new ones (its old ones went first).
        checkpoint = before & after <= now <= after
        assert now == before or checkpoint, f"run {run} (killed {point}) left a state that is none of them"
        assert_answers(index, embedder)
        saved = generation_at_kill != started_at
        outcomes[f"killed {'after' if saved else 'before'} a save" if killed else "finished"] += 1
        if point != "random":  # the fixed points are where they say they are
            assert killed, f"run {run}: the ingest ended before it could be killed {point}"
            assert saved == (point != "before the first save"), f"run {run}: killed {point}, but saved={saved}"
            assert (now == before) == (not saved), f"run {run}: killed {point}, the index holds {len(now)} articles"
        if now != after:  # the same command again goes on from where the killed one stopped
            outcomes["previous" if now == before else "checkpoint"] += 1
            report = Assistant(make_settings(index), embedder).ingest([path])
            assert article_ids(index, embedder) == after
            assert report.articles_added == len(after - now), "articles saved at a checkpoint were embedded again"
            assert debris(index) == []
        else:
            outcomes["new"] += 1

    # The next writer clears what the killed ones left, and the index is whole.
    last = write_jsonl(corpus / "batch-last.jsonl", news_articles(3, seed=777, tag="last"))
    after = expected_after(index, embedder, last)
    Assistant(make_settings(index), embedder).ingest([last])
    assert article_ids(index, embedder) == after
    assert debris(index) == [] and len(list(index.glob("gen-*"))) <= 2
    with capsys.disabled():
        print(f"\nkill test: {KILL_RUNS} runs, uninterrupted ingest {duration:.1f} s; outcomes {dict(outcomes)}")
    assert outcomes["killed before a save"] >= 1 and outcomes["previous"] >= 1
    assert outcomes["killed after a save"] >= 1 and outcomes["checkpoint"] >= 1


# ---- 2. a crash at each step of a save (in-process: the step's caller never returns) ----------------------------


class Crash(BaseException):
    """Stands for the process dying: raised at a step, with the save's own cleanup disabled."""


def crash_at(monkeypatch, owner, name: str, call: int, when: str) -> None:
    """Make call number `call` of owner.name crash, before or after doing its work."""
    real = getattr(owner, name)
    calls = Counter()

    def wrapper(*args, **kwargs):
        calls[name] += 1
        if calls[name] == call and when == "before":
            raise Crash(name)
        result = real(*args, **kwargs)
        if calls[name] == call:
            raise Crash(name)
        return result

    monkeypatch.setattr(owner, name, wrapper)
    monkeypatch.setattr(store_module.shutil, "rmtree", lambda *a, **k: None)  # a dead process cleans nothing


SAVE_STEPS = {
    # step: (what to wrap, which call, before/after it, state the index must show)
    "before articles.jsonl": ((store_module, "_write_jsonl"), 1, "before", "previous"),
    "articles.jsonl written": ((store_module, "_write_jsonl"), 1, "after", "previous"),
    "statements.jsonl written": ((store_module, "_write_jsonl"), 3, "after", "previous"),
    "vectors.faiss written": ((store_module.faiss, "write_index"), 1, "after", "previous"),
    "generation fsynced": ((store_module, "_fsync_dir"), 1, "after", "previous"),
    "generation renamed": ((store_module.os, "rename"), 1, "after", "previous"),
    "manifest written, not switched": ((store_module.os, "replace"), 1, "before", "previous"),
    "manifest switched": ((store_module.os, "replace"), 1, "after", "new"),
    "old generations being removed": ((PassageStore, "_collect_garbage"), 1, "before", "new"),
}


@pytest.mark.parametrize("step", list(SAVE_STEPS))
def test_crash_at_each_step_of_a_save(step, index, tmp_path, fake_embedder, monkeypatch):
    (owner, name), call, when, state = SAVE_STEPS[step]
    path = write_jsonl(tmp_path / "new.jsonl", news_articles(2, seed=5, tag="crash"))
    before = article_ids(index, fake_embedder)
    after = expected_after(index, fake_embedder, path)
    with monkeypatch.context() as patch:
        crash_at(patch, owner, name, call, when)
        with pytest.raises(Crash):
            Assistant(make_settings(index), fake_embedder).ingest([path])
    assert article_ids(index, fake_embedder) == (before if state == "previous" else after)
    assert_answers(index, fake_embedder)
    # The next writer goes through the debris: same result as if nothing had happened.
    Assistant(make_settings(index), fake_embedder).ingest([path])
    assert article_ids(index, fake_embedder) == after
    assert debris(index) == [] and len(list(index.glob("gen-*"))) <= 2


# ---- 3. full disk and I/O errors while saving ------------------------------------------------------------------


def redirect_to_dev_full(monkeypatch, file_name: str) -> None:
    """Writes of one index file go to /dev/full, where the kernel answers every write with ENOSPC."""
    real_write_jsonl, real_open = store_module._write_jsonl, builtins.open

    def write_jsonl_(path, rows):
        return real_write_jsonl(Path("/dev/full") if path.name == file_name else path, rows)

    def open_(path, mode="r", *args, **kwargs):
        full = Path(path).name == file_name and "w" in mode
        return real_open("/dev/full" if full else path, mode, *args, **kwargs)

    monkeypatch.setattr(store_module, "_write_jsonl", write_jsonl_)
    monkeypatch.setattr(store_module, "open", open_, raising=False)


def fail_always(error: int):
    def fail(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    return fail


FAULTS = {
    "articles.jsonl on a full disk": lambda mp: redirect_to_dev_full(mp, "articles.jsonl"),
    "passages.jsonl on a full disk": lambda mp: redirect_to_dev_full(mp, "passages.jsonl"),
    "vectors.faiss on a full disk": lambda mp: redirect_to_dev_full(mp, "vectors.faiss"),
    "fsync reports ENOSPC": lambda mp: mp.setattr(store_module.os, "fsync", fail_always(errno.ENOSPC)),
    "manifest switch fails with EIO": lambda mp: mp.setattr(store_module.os, "replace", fail_always(errno.EIO)),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_io_error_while_saving_keeps_the_previous_index(fault, index, tmp_path, fake_embedder, monkeypatch):
    path = write_jsonl(tmp_path / "new.jsonl", news_articles(2, seed=6, tag="io"))
    before = article_ids(index, fake_embedder)
    with monkeypatch.context() as patch:
        FAULTS[fault](patch)
        with pytest.raises(OSError):
            Assistant(make_settings(index), fake_embedder).ingest([path])
    assert article_ids(index, fake_embedder) == before
    assert_answers(index, fake_embedder)
    assert not list(index.glob(".tmp-*"))  # the failed save removed its temp folder
    Assistant(make_settings(index), fake_embedder).ingest([path])  # and once there is room again, it saves
    assert article_ids(index, fake_embedder) > before


def test_cli_says_the_index_could_not_be_saved(index, tmp_path, fake_embedder, monkeypatch):
    from typer.testing import CliRunner

    import assistant.cli as cli

    path = write_jsonl(tmp_path / "new.jsonl", news_articles(2, seed=7, tag="cli"))
    before = article_ids(index, fake_embedder)
    monkeypatch.setattr(cli, "_assistant", lambda settings: Assistant(settings, fake_embedder))  # no model to load
    redirect_to_dev_full(monkeypatch, "passages.jsonl")
    result = CliRunner().invoke(cli.app, ["ingest", str(path), "--index", str(index)])
    assert result.exit_code == 1
    assert "the index could not be saved" in result.output and "No space left on device" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, OSError)
    monkeypatch.undo()
    assert article_ids(index, fake_embedder) == before


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB tmpfs (needs root and mount rights; skipped elsewhere)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_really_full_disk_at_every_point_of_a_save(small_disk, sample_index, tmp_path, embedder):
    """Fill the disk so that 0, 1, 2... pages are free, then ingest: each save fails somewhere else, never badly."""
    index = small_disk / "index"
    shutil.copytree(sample_index, index)
    path = write_jsonl(tmp_path / "new.jsonl", news_articles(8, seed=8, tag="disk"))
    before = article_ids(index, embedder)
    after = expected_after(index, embedder, path)
    filler = small_disk / "filler"
    page = os.statvfs(small_disk).f_frsize
    failures: Counter[str] = Counter()
    for free_pages in range(0, 64):
        filler.unlink(missing_ok=True)
        stat = os.statvfs(small_disk)
        with filler.open("wb") as f:
            f.write(b"\0" * (stat.f_bavail * stat.f_frsize - free_pages * page))
        try:
            Assistant(make_settings(index), embedder).ingest([path])
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
            failures[str(exc)[:60]] += 1
            assert article_ids(index, embedder) == before, f"{free_pages} free pages"
            assert_answers(index, embedder)
            continue
        assert article_ids(index, embedder) == after, f"{free_pages} free pages"
        assert_answers(index, embedder)
        break
    else:
        pytest.fail("the save never fitted on the disk")
    assert sum(failures.values()) >= 5, failures  # the sweep failed at several points before it fitted


# ---- 4. damage is reported with the file's name ---------------------------------------------------------------


@pytest.fixture
def damaged_copies(index, tmp_path, fake_embedder):
    """Give the index a statement (so statements.jsonl has bytes), then hand out copies to damage."""
    store = Assistant(make_settings(index), fake_embedder).store
    article_id = next(iter(store.articles))
    store.statements[article_id] = [{"article_id": article_id, "speaker": "Kirill Dmitriev", "start": 0, "end": 10}]
    with WriteLock(index):
        store.save()
    counter = iter(range(10**6))

    def copy() -> tuple[Path, dict]:
        target = tmp_path / f"copy-{next(counter)}"
        shutil.copytree(index, target)
        return target, json.loads((target / MANIFEST).read_text())

    return copy


def open_index(index: Path, embedder) -> PassageStore:
    return PassageStore.open(index, embedder.name, embedder.dimension)


def flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", FILES)
def test_flipped_byte_in_a_generation_file_is_named(name, damaged_copies, fake_embedder):
    target, manifest = damaged_copies()
    size = (target / manifest["generation"] / name).stat().st_size
    assert size > 0
    open_index(target, fake_embedder)  # the undamaged copy opens
    for position in sorted({0, 1, size // 3, size // 2, size - 2, size - 1}):
        target, manifest = damaged_copies()
        flip(target / manifest["generation"] / name, position)
        with pytest.raises(IndexProblemError, match=re.escape(name)):
            open_index(target, fake_embedder)
    target, manifest = damaged_copies()
    (target / manifest["generation"] / name).write_bytes(b"")  # truncated to nothing
    with pytest.raises(IndexProblemError, match=re.escape(name)):
        open_index(target, fake_embedder)


def test_flipped_byte_anywhere_in_the_manifest_is_named(damaged_copies, fake_embedder):
    target, _ = damaged_copies()
    original = (target / MANIFEST).read_bytes()
    for position in range(len(original)):
        damaged = bytearray(original)
        damaged[position] ^= 0x01
        (target / MANIFEST).write_bytes(bytes(damaged))
        with pytest.raises(IndexProblemError, match=MANIFEST):
            open_index(target, fake_embedder)
    (target / MANIFEST).write_bytes(original[: len(original) // 2])
    with pytest.raises(IndexProblemError, match=MANIFEST):
        open_index(target, fake_embedder)


# ---- 5. two writers, and readers during an ingest ---------------------------------------------------------------


def holds_flock(pid: int, path: Path) -> bool:
    """Whether process `pid` holds a flock on `path` (read from /proc/locks, without touching the lock)."""
    inode = str(os.stat(path).st_ino)
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()  # e.g. "1: FLOCK  ADVISORY  WRITE 4242 00:2e:1234567 0 EOF"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[4] == str(pid) and fields[5].endswith(":" + inode):
            return True
    return False


def wait_until(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the first writer ended before {what}: {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.02)


def test_second_writer_is_refused_at_once(real_index, tmp_path, embedder):
    index = real_index
    path = write_jsonl(tmp_path / "slow.jsonl", news_articles(60, seed=11, tag="slow"))
    after = expected_after(index, embedder, path)
    other = write_jsonl(tmp_path / "other.jsonl", news_articles(2, seed=12, tag="other"))
    first = ingest_process(path, index)
    try:
        wait_until(lambda: holds_flock(first.pid, index / ".lock"), first, "it held the lock")
        second = subprocess.run(
            [sys.executable, "-m", "assistant", "ingest", str(other), "--index", str(index)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        first_still_running = first.poll() is None
        _, first_stderr = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 1
    assert "another" in second.stderr and "Traceback" not in second.stderr
    assert first_still_running, "the second writer returned only after the first had finished"
    assert first.returncode == 0, first_stderr
    assert article_ids(index, embedder) == after


def test_readers_keep_answering_during_an_ingest_and_then_see_the_new_article(real_index, tmp_path, embedder):
    index = real_index
    path = tmp_path / "keeper.txt"
    path.write_text(
        "Lighthouse keeper retires\n\nThe last lighthouse keeper of Penrith retired on Friday after forty years. "
        "She said she retired because the lamp is now run from a control room in the city."
    )
    new_question = "Why did the lighthouse keeper of Penrith retire?"
    reader = Assistant(make_settings(index), embedder)
    assert all(c.title != "Lighthouse keeper retires" for c in reader.ask(new_question).citations)
    proc = ingest_process(path, index)
    asked = 0
    try:
        while proc.poll() is None:
            answer = reader.ask(QUESTION)  # any exception fails the test
            assert not answer.abstained and answer.citations
            reader.ask(new_question)
            asked += 1
            time.sleep(0.1)  # pacing only: leave the CPU to the writer
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, proc.communicate()[1]
    assert asked >= 1
    answer = reader.ask(new_question)  # the same reader, no restart
    assert any(c.title == "Lighthouse keeper retires" for c in answer.citations)
    assert not reader.ask(QUESTION).abstained
