"""The `assistant` command as a user runs it: real subprocesses, JSON output, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import SAMPLE_DIR

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
    ],
)
def test_errors_are_messages_not_tracebacks(args, message, cli_index, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(cli_index, damaged)
    (damaged / "manifest.json").write_text("{not json")
    paths = {"index": cli_index, "empty": tmp_path / "none", "damaged": damaged}
    result = run(*[a.format(**paths) for a in args])
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_from_environment(cli_index):
    result = run("ask", EXAMPLE, "--json", env={"ASSISTANT_INDEX_DIR": str(cli_index)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["citations"]
