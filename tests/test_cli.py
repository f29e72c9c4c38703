"""The `assistant` command: in this process through typer's CliRunner over an index of the fake embedder (JSON
shapes, error lines, exit codes), and end to end as a user runs it (real subprocesses and the real model: slow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

import assistant.cli as cli_module
from assistant.pipeline import Assistant
from tests.conftest import SAMPLE_DIR

ROOT = Path(__file__).resolve().parent.parent

EXAMPLE = "What did Dmitriev say about sanctions?"


@pytest.fixture
def cli(monkeypatch, fake_embedder):
    """`assistant ARGS...` run in this process; its Assistants embed with the fake embedder."""
    monkeypatch.setattr(cli_module, "_assistant", lambda settings: Assistant(settings, fake_embedder))

    def invoke(*args: str, stdin: str | None = None, env: dict | None = None) -> Result:
        result = CliRunner().invoke(cli_module.app, [str(a) for a in args], input=stdin, env=env)
        # Anything but the command's own exit would reach a user as a traceback.
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"assistant {' '.join(map(str, args))} raised") from result.exception
        return result

    return invoke


def listed(result: Result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, fake_index) -> Path:
    target = tmp_path_factory.mktemp("cli") / "index"
    shutil.copytree(fake_index, target)
    return target


# ---- in this process, with the fake embedder -------------------------------------------------------------------


def test_ask_json_has_the_documented_shape(cli, cli_index):
    result = cli("ask", EXAMPLE, "--index", cli_index, "--json")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"question", "answer", "abstained", "citations", "timings_ms"} <= answer.keys()
    assert set(answer["timings_ms"]) >= {"retrieve", "answer", "total"}
    fields = {"n", "article_id", "title", "published", "source", "url", "quote", "passage", "start", "end"}
    assert answer["citations"] and all(fields <= c.keys() for c in answer["citations"])
    assert all(c["quote"] in c["passage"] for c in answer["citations"])


def test_ask_reads_questions_from_stdin_one_json_line_each(cli, cli_index):
    questions = f"{EXAMPLE}\n\n   \nWho did Dmitriev meet in Washington?\n"
    result = cli("ask", "-", "--index", cli_index, "--json", stdin=questions)
    assert result.exit_code == 0, result.stderr
    assert [a["question"] for a in listed(result)] == [EXAMPLE, "Who did Dmitriev meet in Washington?"]


def test_a_bad_question_in_a_batch_is_one_error_line_and_the_rest_are_answered(cli, cli_index):
    result = cli("ask", "-", "--index", cli_index, "--json", stdin=f"{'x' * 2001}\n{EXAMPLE}\n")
    assert result.exit_code == 1
    first, second = listed(result)
    assert first.keys() == {"question", "error"} and second["question"] == EXAMPLE and "citations" in second
    assert result.stderr.count("error:") == 1


def test_ingest_list_and_remove_in_process(cli, tmp_path):
    index = tmp_path / "index"
    ingest = cli("ingest", SAMPLE_DIR, "--index", index)
    assert ingest.exit_code == 0, ingest.stderr
    assert "ingested" in ingest.stdout and "1 ingested" in ingest.stderr
    (article,) = listed(cli("list", "--index", index, "--json"))
    assert article["published"] == "2025-04-05" and "text" not in article
    again = cli("ingest", SAMPLE_DIR, "--index", index, "--json")
    assert again.exit_code == 0 and [f["status"] for f in listed(again)] == ["unchanged"]
    removed = cli("remove", article["id"], "--index", index)
    assert removed.exit_code == 0 and article["id"] in removed.stdout
    assert cli("list", "--index", index, "--json").stdout.strip() == ""


def test_ingest_of_nothing_usable_fails_cleanly(cli, tmp_path):
    bad = tmp_path / "empty.txt"
    bad.write_text("")
    result = cli("ingest", bad, "--index", tmp_path / "index")
    assert result.exit_code == 1
    assert "skipped" in result.stdout


@pytest.mark.parametrize(
    "args, message, code",
    [
        (["ask", "", "--index", "{index}"], "Please type a question", 1),
        (["ask", EXAMPLE, "--index", "{empty}"], "empty", 1),
        (["ask", EXAMPLE, "--index", "{index}", "--since", "yesterday"], "--since", 2),
        (["ask", EXAMPLE, "--index", "{damaged}"], "damaged", 1),
        (["remove", "nope", "--index", "{index}"], "nothing indexed", 1),
        (["ask", EXAMPLE, "--index", "{index}", "--since", "2026-01-01", "--until", "2025-01-01"], "after --until", 2),
        (["ask", EXAMPLE, "--index", "{file}"], "is a file, not an index folder", 1),
        (["ask", EXAMPLE, "--index", "{index}", "--llm", "bogus"], "--llm must be none, openai or gguf", 2),
        (["list", "--index", "{empty}"], "there is no index in", 1),
        (["quotes", "--index", "{empty}"], "there is no index in", 1),
        (["list", "--index", "{no_manifest}"], "no manifest.json", 1),
        (["eval", str(ROOT / "evals" / "sample.yaml"), "--mode", "bogus", "--index", "{empty}"], "--mode must be", 2),
        (["eval", str(ROOT / "evals" / "sample.yaml"), "--index", "{empty}", "--out", "{file}"], "is a file", 2),
    ],
)
def test_errors_are_one_line_and_an_exit_code(cli, args, message, code, cli_index, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(cli_index, damaged)
    (damaged / "manifest.json").write_text("{not json")
    no_manifest = tmp_path / "no-manifest"
    shutil.copytree(cli_index, no_manifest)
    (no_manifest / "manifest.json").unlink()
    (tmp_path / "a-file").write_text("not an index")
    paths = {"index": cli_index, "empty": tmp_path / "none", "damaged": damaged, "no_manifest": no_manifest,
             "file": tmp_path / "a-file"}  # fmt: skip
    result = cli(*[a.format(**paths) for a in args])
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_settings_from_environment(cli, cli_index):
    result = cli("ask", EXAMPLE, "--json", env={"ASSISTANT_INDEX_DIR": str(cli_index)})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["citations"]


@pytest.mark.parametrize("variable", ["ASSISTANT_RETRIEVAL_TOP_K", "ASSISTANT_RETRIEVAL"])
def test_a_bad_setting_names_its_variable(cli, cli_index, variable):
    result = cli("list", "--index", cli_index, env={variable: "many"})
    assert result.exit_code == 2
    assert f"invalid setting: {variable}" in result.stderr
    assert "many" not in result.stderr  # values are never repeated: they may be secrets


def test_ingest_keeps_the_good_files_and_exits_1_when_one_failed(cli, tmp_path):
    index = tmp_path / "index"
    result = cli("ingest", SAMPLE_DIR, tmp_path / "typo.txt", "--index", index)
    assert result.exit_code == 1
    assert "failed" in result.stdout and "no such file" in result.stdout
    assert len(listed(cli("list", "--index", index, "--json"))) == 1


def test_an_index_without_its_manifest_is_refused_and_left_as_it_was(cli, cli_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(cli_index, index)
    (index / "manifest.json").unlink()
    before = sorted((p.relative_to(index), p.stat().st_size) for p in index.rglob("*") if p.is_file())
    result = cli("ingest", SAMPLE_DIR, "--index", index)
    assert result.exit_code == 1 and "no manifest.json" in result.stderr
    assert sorted((p.relative_to(index), p.stat().st_size) for p in index.rglob("*") if p.is_file()) == before


def test_remove_accepts_an_article_named_twice_and_a_folder(cli, cli_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(cli_index, index)
    (article,) = listed(cli("list", "--index", index, "--json"))
    result = cli("remove", article["id"], article["path"], "--index", index)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count(article["id"]) == 1
    assert cli("list", "--index", index, "--json").stdout.strip() == ""
    shutil.rmtree(index)
    shutil.copytree(cli_index, index)
    result = cli("remove", Path(article["path"]).parent, "--index", index)
    assert result.exit_code == 0 and article["id"] in result.stdout


def test_filters_that_leave_no_article_say_so(cli, cli_index):
    result = cli("ask", EXAMPLE, "--index", cli_index, "--source", "nosuch.example", "--json")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["abstained"] and answer["notes"] == ["no article matches the filters (sources: nosuch.example)"]


def test_ctrl_c_during_ingest_says_what_was_kept(cli, tmp_path, monkeypatch):
    def interrupted(self, paths, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Assistant, "ingest", interrupted)
    result = cli("ingest", SAMPLE_DIR, "--index", tmp_path / "index")
    assert result.exit_code == 130
    assert "interrupted: the index keeps what was saved" in result.stderr


# ---- end to end: the real command in a subprocess, with the real model (slow) ---------------------------------


def run(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_ingest_ask_list_and_remove_as_a_user_runs_them(tmp_path):
    index = tmp_path / "index"
    ingest = run("ingest", str(SAMPLE_DIR), "--index", str(index))
    assert ingest.returncode == 0, ingest.stderr
    assert "ingested" in ingest.stdout and "1 ingested" in ingest.stderr
    ask = run("ask", EXAMPLE, "--index", str(index), "--json")
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert any("did not ask for relief from Western sanctions" in c["passage"] for c in answer["citations"])
    (article,) = [json.loads(line) for line in run("list", "--index", str(index), "--json").stdout.splitlines()]
    removed = run("remove", article["id"], "--index", str(index))
    assert removed.returncode == 0 and article["id"] in removed.stdout
    assert run("list", "--index", str(index), "--json").stdout.strip() == ""


@pytest.mark.slow
def test_questions_from_stdin_are_answered_or_abstain_with_the_real_model(tmp_path, sample_index):
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    questions = f"{EXAMPLE}\nWhat is the capital of Australia?\n\nWho did Dmitriev meet in Washington?\n"
    result = run("ask", "-", "--index", str(index), "--json", stdin=questions)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["abstained"] for a in answers] == [False, True, False]


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, env, code, message",
    [
        (["list", "--index", "{index}"], {"ASSISTANT_RETRIEVAL_TOP_K": "many"}, 2, "invalid setting"),
        (["ask", EXAMPLE, "--index", "{damaged}"], {}, 1, "damaged"),
    ],
)
def test_errors_from_the_real_command_are_one_line_without_a_traceback(tmp_path, args, env, code, message):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "manifest.json").write_text("{not json")
    result = run(*[a.format(index=tmp_path / "none", damaged=damaged) for a in args], env=env)
    assert result.returncode == code
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
