"""The `assistant` command as a user runs it: real subprocesses, JSON output, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DIR

ROOT = Path(__file__).resolve().parent.parent

EXAMPLE = "What did Dmitriev say about sanctions?"


def run(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, sample_index):
    target = tmp_path_factory.mktemp("cli") / "index"
    shutil.copytree(sample_index, target)
    return target


def test_ask_json_has_the_documented_shape(cli_index):
    result = run("ask", EXAMPLE, "--index", str(cli_index), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"question", "answer", "abstained", "citations", "timings_ms"} <= answer.keys()
    assert set(answer["timings_ms"]) >= {"retrieve", "answer", "total"}
    fields = {"n", "article_id", "title", "published", "source", "url", "quote", "passage", "start", "end"}
    assert answer["citations"] and all(fields <= c.keys() for c in answer["citations"])
    assert any("did not ask for relief from Western sanctions" in c["passage"] for c in answer["citations"])


def test_ask_reads_questions_from_stdin_one_json_line_each(cli_index):
    questions = f"{EXAMPLE}\nWhat is the capital of Australia?\n\nWho did Dmitriev meet in Washington?\n"
    result = run("ask", "-", "--index", str(cli_index), "--json", stdin=questions)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["abstained"] for a in answers] == [False, True, False]


def test_ingest_list_and_remove(tmp_path):
    index = tmp_path / "index"
    ingest = run("ingest", str(SAMPLE_DIR), "--index", str(index))
    assert ingest.returncode == 0, ingest.stderr
    assert "ingested" in ingest.stdout and "1 ingested" in ingest.stderr
    listing = run("list", "--index", str(index), "--json")
    (article,) = [json.loads(line) for line in listing.stdout.splitlines()]
    assert article["published"] == "2025-04-05"
    removed = run("remove", article["id"], "--index", str(index))
    assert removed.returncode == 0 and article["id"] in removed.stdout
    assert run("list", "--index", str(index), "--json").stdout.strip() == ""


def test_ingest_of_nothing_usable_fails_cleanly(tmp_path):
    bad = tmp_path / "empty.txt"
    bad.write_text("")
    result = run("ingest", str(bad), "--index", str(tmp_path / "index"))
    assert result.returncode == 1
    assert "skipped" in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "", "--index", "{index}"], "Please type a question"),
        (["ask", EXAMPLE, "--index", "{empty}"], "empty"),
        (["ask", EXAMPLE, "--index", "{index}", "--since", "yesterday"], "--since"),
        (["ask", EXAMPLE, "--index", "{damaged}"], "damaged"),
        (["remove", "nope", "--index", "{index}"], "nothing indexed"),
        (["ask", EXAMPLE, "--index", "{index}", "--since", "2026-01-01", "--until", "2025-01-01"], "is after --until"),
        (["ask", EXAMPLE, "--index", "{file}"], "is a file, not an index folder"),
        (["list", "--index", "{empty}"], "there is no index in"),
        (["quotes", "--index", "{empty}"], "there is no index in"),
        (["list", "--index", "{no_manifest}"], "no manifest.json"),
        (["eval", str(ROOT / "evals" / "sample.yaml"), "--mode", "bogus", "--index", "{empty}"], "--mode must be"),
        (["eval", str(ROOT / "evals" / "sample.yaml"), "--index", "{empty}", "--out", "{file}"], "is a file"),
    ],
)
def test_errors_are_messages_not_tracebacks(args, message, cli_index, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(cli_index, damaged)
    (damaged / "manifest.json").write_text("{not json")
    no_manifest = tmp_path / "no-manifest"
    shutil.copytree(cli_index, no_manifest)
    (no_manifest / "manifest.json").unlink()
    (tmp_path / "a-file").write_text("not an index")
    paths = {"index": cli_index, "empty": tmp_path / "none", "damaged": damaged, "no_manifest": no_manifest,
             "file": tmp_path / "a-file"}  # fmt: skip
    result = run(*[a.format(**paths) for a in args])
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_from_environment(cli_index):
    result = run("ask", EXAMPLE, "--json", env={"ASSISTANT_INDEX_DIR": str(cli_index)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["citations"]


@pytest.mark.parametrize("variable", ["ASSISTANT_RETRIEVAL_TOP_K", "ASSISTANT_RETRIEVAL"])
def test_a_bad_setting_names_its_variable(cli_index, variable):
    result = run("list", "--index", str(cli_index), env={variable: "many"})
    assert result.returncode == 2
    assert f"invalid setting: {variable}" in result.stderr and "Traceback" not in result.stderr
    assert "many" not in result.stderr  # values are never repeated: they may be secrets


def test_ingest_keeps_the_good_files_and_exits_1_when_one_failed(tmp_path):
    index = tmp_path / "index"
    result = run("ingest", str(SAMPLE_DIR), str(tmp_path / "typo.txt"), "--index", str(index))
    assert result.returncode == 1
    assert "failed" in result.stdout and "no such file" in result.stdout
    assert len(run("list", "--index", str(index), "--json").stdout.splitlines()) == 1


def test_an_index_without_its_manifest_is_refused_and_left_as_it_was(cli_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(cli_index, index)
    (index / "manifest.json").unlink()
    before = sorted((p.relative_to(index), p.stat().st_size) for p in index.rglob("*") if p.is_file())
    result = run("ingest", str(SAMPLE_DIR), "--index", str(index))
    assert result.returncode == 1 and "no manifest.json" in result.stderr
    assert sorted((p.relative_to(index), p.stat().st_size) for p in index.rglob("*") if p.is_file()) == before


def test_remove_accepts_an_article_named_twice_and_a_folder(cli_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(cli_index, index)
    (article,) = [json.loads(line) for line in run("list", "--index", str(index), "--json").stdout.splitlines()]
    result = run("remove", article["id"], article["path"], "--index", str(index))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(article["id"]) == 1
    assert run("list", "--index", str(index), "--json").stdout.strip() == ""
    shutil.rmtree(index)
    shutil.copytree(cli_index, index)
    result = run("remove", str(Path(article["path"]).parent), "--index", str(index))
    assert result.returncode == 0 and article["id"] in result.stdout


def test_filters_that_leave_no_article_say_so(cli_index):
    result = run("ask", EXAMPLE, "--index", str(cli_index), "--source", "nosuch.example", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["abstained"] and answer["notes"] == ["no article matches the filters (sources: nosuch.example)"]


def test_ctrl_c_during_ingest_says_what_was_kept(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from assistant.cli import app
    from assistant.pipeline import Assistant

    def interrupted(self, paths, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Assistant, "ingest", interrupted)
    result = CliRunner().invoke(app, ["ingest", str(SAMPLE_DIR), "--index", str(tmp_path / "index")])
    assert result.exit_code == 130
    assert "interrupted: the index keeps what was saved" in result.output
