"""Scripted evaluation: metric functions on hand-made cases, a tiny benchmark run and `assistant eval` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assistant.cli import app
from assistant.evaluation import (
    EvalSetError,
    check_thresholds,
    compare_runs,
    load_benchmark,
    load_set,
    run_evaluation,
    write_outputs,
)
from assistant.evaluation.indexing import default_index_dir, index_key
from assistant.evaluation.metrics import (
    abstention_scores,
    choice_counts,
    contains_evidence,
    contains_phrase,
    first_relevant_rank,
    hit_at,
    multiple_choice,
    percentile,
    reciprocal_rank,
    strip_quotes,
)
from assistant.evaluation.questions import Threshold
from tests.conftest import SAMPLE_ARTICLE, SAMPLE_DIR, make_settings

# ---- matching ----------------------------------------------------------------------------------------------


def test_whole_phrase_matching_ignores_case_quotes_and_spacing():
    assert contains_phrase("Netflix renewed “Squid Game” for season 2.", "“Squid Game”")
    assert contains_phrase("netflix renewed squid   game.", '"Squid Game"')
    assert contains_phrase("US companies have lost about $300bn in lost profits", "$300bn")
    assert contains_phrase("It was Trump’s request.", "Trump's request")
    assert not contains_phrase("Squid Games is a different show", "Squid Game")
    assert not contains_phrase("European leaders", "Europe")
    assert not contains_phrase("anything", "“ ”")  # nothing left after stripping the quotes
    assert strip_quotes("“Squid Game”") == "Squid Game" and strip_quotes("'Europe'") == "Europe"


def test_evidence_is_a_verbatim_substring_up_to_quote_style_and_spacing():
    text = "Some security guarantees for Ukraine “may be acceptable” to the Kremlin, but joining NATO is"
    assert contains_evidence(text, "guarantees for Ukraine “may be acceptable” to")
    assert contains_evidence(text, 'guarantees for Ukraine "may be acceptable"  to')
    assert not contains_evidence(text, "Guarantees for Ukraine")  # case is kept: evidence is byte-exact
    assert not contains_evidence(text, "")


# ---- ranks, abstention, percentiles ------------------------------------------------------------------------


def test_first_relevant_rank_hits_and_mrr():
    assert first_relevant_rank([False, False, True, True]) == 3
    assert first_relevant_rank([False, False]) is None
    assert (hit_at(3, 1), hit_at(3, 5), hit_at(None, 10)) == (0.0, 1.0, 0.0)
    assert reciprocal_rank(1) == 1.0 and reciprocal_rank(4) == 0.25
    assert reciprocal_rank(11, 10) == 0.0 and reciprocal_rank(None) == 0.0


def test_abstention_precision_and_recall():
    abstained = [True, True, False, False, True]
    answerable = [False, True, False, True, False]
    # right abstentions: 0 and 4; abstained 3 times; 3 unanswerable questions
    assert abstention_scores(abstained, answerable) == (2 / 3, 2 / 3)
    assert abstention_scores([False, False], [False, True]) == (None, 0.0)  # never abstained: precision undefined
    assert abstention_scores([True], [True]) == (0.0, None)


def test_percentiles_interpolate():
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([5], 95) == 5
    assert percentile([], 50) is None
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)


# ---- multiple choice ---------------------------------------------------------------------------------------


def test_choice_inside_a_longer_choice_counts_for_the_longer_one():
    assert choice_counts("He moved to New York City last year.", ["New York", "New York City", "Boston"]) == [0, 1, 0]
    assert choice_counts("New York and New York City", ["New York", "New York City"]) == [1, 1]


def test_grounded_multiple_choice():
    choices = ["“Game of Thrones”", "“Squid Game”", "“Friends”"]
    scores, picked = multiple_choice(choices, "Squid Game is back [1]", ["Squid Game is back"], ["Squid Game..."])
    assert picked == 1 and scores == [0.0, 2.25, 0.0]
    # a tie is no prediction (wrong); so is naming no choice at all, and abstaining
    assert multiple_choice(choices, "Friends and Squid Game", [], [])[1] is None
    assert multiple_choice(choices, "Nothing relevant", [], [])[1] is None
    assert multiple_choice(choices, "Squid Game", ["Squid Game"], [], abstained=True)[1] is None
    # the cited passages only break a tie that the answer and quotes leave
    _, picked = multiple_choice(choices, "The show returns.", ["The show returns."], ["Friends ended; Friends"])
    assert picked == 2


# ---- thresholds and comparison -----------------------------------------------------------------------------


def test_thresholds_minimum_maximum_and_unmeasured():
    metrics = {"hit_at_5": 0.9, "latency_total_p50_ms": 120.0, "abstention_precision": None}
    rows = check_thresholds(
        metrics,
        [
            Threshold("hit_at_5", minimum=0.85),
            Threshold("latency_total_p50_ms", maximum=100),
            Threshold("abstention_precision", minimum=0.5),
            Threshold("attribution_recall", minimum=0.5),
        ],
    )
    assert [r["passed"] for r in rows] == [True, False, False, False]
    assert "<= 100" in rows[1]["message"]
    assert "not measured" in rows[2]["message"] and "unknown metric" in rows[3]["message"]


def _results(passed: dict[str, bool], fact_recall: float, p50: float) -> dict:
    questions = [{"id": q, "passed": ok} for q, ok in passed.items()]
    aggregate = {"fact_recall": fact_recall, "latency_total_p50_ms": p50, "questions": len(questions)}
    return {"primary_mode": "hybrid", "modes": {"hybrid": {"aggregate": aggregate, "questions": questions}}}


def test_compare_marks_metric_changes_and_pass_fail_flips():
    before = _results({"a": True, "b": False, "c": True, "gone": True}, fact_recall=0.8, p50=100.0)
    after = _results({"a": True, "b": True, "c": False, "new": False}, fact_recall=0.7, p50=105.0)
    comparison = compare_runs(after, before, "before.json")
    mode = comparison["modes"]["hybrid"]
    assert mode["questions"] == {"fixed": ["b"], "broke": ["c"], "new": ["new"], "dropped": ["gone"]}
    change = {r["metric"]: r["change"] for r in mode["metrics"]}
    assert change["fact_recall"] == "worse"
    assert change["latency_total_p50_ms"] == "same"  # within the 10 % noise allowed for timings
    assert change["questions"] == "same"
    faster = compare_runs(_results({}, 0.8, 50.0), before)["modes"]["hybrid"]["metrics"]
    assert {r["metric"]: r["change"] for r in faster}["latency_total_p50_ms"] == "better"


# ---- loading -----------------------------------------------------------------------------------------------


def test_load_set_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "corpus": str(SAMPLE_DIR), "questions": [{"id": "a"}]}))
    with pytest.raises(EvalSetError, match="needs an 'id' and a 'question'"):
        load_set(bad)
    twice = [{"id": "a", "question": "Q?"}, {"id": "a", "question": "Q2?"}]
    bad.write_text(yaml.safe_dump({"name": "x", "corpus": str(SAMPLE_DIR), "questions": twice}))
    with pytest.raises(EvalSetError, match="used twice"):
        load_set(bad)
    bad.write_text(yaml.safe_dump({"name": "x", "corpus": "missing-folder", "questions": twice[:1]}))
    with pytest.raises(EvalSetError, match="does not exist"):
        load_set(bad)


def test_the_sample_set_loads_with_thresholds_and_attribution():
    sample = load_set(SAMPLE_DIR.parent.parent / "evals" / "sample.yaml")
    assert sample.name == "sample" and sample.corpus == [SAMPLE_DIR.resolve()]
    assert len({q.id for q in sample.questions}) == len(sample.questions) > 50
    assert any(not q.answerable for q in sample.questions) and any(q.history for q in sample.questions)
    assert sample.attribution is not None and sample.attribution.exists()
    assert {t.metric for t in sample.thresholds} >= {"hit_at_5", "citation_validity", "fact_recall"}


def _tiny_benchmark(directory):
    """A benchmark folder in the RealTime QA format whose corpus is the sample article."""
    directory.mkdir()
    text = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    article = {"id": "a1", "title": "Dmitriev in Washington", "text": text, "url": "", "source": "example.org",
               "published": "2025-04-05", "authors": []}  # fmt: skip
    (directory / "articles.jsonl").write_text(json.dumps(article) + "\n", encoding="utf-8")
    questions = [
        ("q1", "How many Ukrainian drones did Russian air defences destroy?", ["58", "107", "300"], "107", True),
        ("q2", "Which US state does Senator Markwayne Mullin represent?", ["Texas", "Oklahoma", "Ohio"], "Oklahoma",
         True),
        ("q3", "Who won the 2022 football World Cup?", ["“Argentina”", "“France”"], "“Argentina”", False),
    ]  # fmt: skip
    with (directory / "questions.jsonl").open("w", encoding="utf-8") as f:
        for qid, question, choices, answer, in_corpus in questions:
            row = {"id": qid, "question": question, "asked_on": "2025-04-06", "choices": choices, "answer": answer,
                   "evidence": "", "article_ids": ["a1"], "answer_in_corpus": in_corpus}  # fmt: skip
            f.write(json.dumps(row) + "\n")
    return directory


def test_load_benchmark_filters_and_samples_with_a_seed(tmp_path):
    directory = _tiny_benchmark(tmp_path / "bench")
    default = load_benchmark(directory)
    assert [q.id for q in default.questions] == ["q1", "q2"]  # answer_in_corpus only
    assert default.selection["filter"] == "answer_in_corpus is true"
    everything = load_benchmark(directory, all_questions=True)
    assert len(everything.questions) == 3 and "answer not in corpus" in everything.questions[2].tags
    one = load_benchmark(directory, limit=1, seed=3)
    assert [q.id for q in one.questions] == [q.id for q in load_benchmark(directory, limit=1, seed=3).questions]
    assert one.selection["selected"] == 1 and one.selection["seed"] == 3


def test_index_key_follows_the_corpus_and_the_shaping_settings(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("An article about something.", encoding="utf-8")
    settings = make_settings(tmp_path / "index")
    key = index_key([corpus], settings)
    settings.retrieval.top_k = 9  # applied at question time: same index
    settings.answer.min_support = 0.9
    assert index_key([corpus], settings) == key
    settings.passages.max_tokens = 128
    assert index_key([corpus], settings) != key
    settings.passages.max_tokens = make_settings(tmp_path).passages.max_tokens
    settings.embedding.backend = "onnx-int8"  # other vectors: an index of its own
    assert index_key([corpus], settings) != key
    settings.embedding.backend = make_settings(tmp_path).embedding.backend
    assert index_key([corpus], settings) == key
    (corpus / "a.txt").write_text("An article about something else.", encoding="utf-8")
    assert index_key([corpus], settings) != key
    assert default_index_dir("set", "sample", "abc") == Path("index/evals/sample-abc")
    assert default_index_dir("benchmark", "rtqa", "abc") == Path("index/benchmarks/rtqa-abc")


# ---- real runs ---------------------------------------------------------------------------------------------


def test_benchmark_run_scores_every_mode_and_reuses_its_index(tmp_path, embedder):
    directory = _tiny_benchmark(tmp_path / "bench")
    index_dir = tmp_path / "index"
    settings = make_settings(index_dir)
    results = run_evaluation(load_benchmark(directory), settings, ["dense", "bm25", "hybrid"], index_dir,
                             embedder=embedder)  # fmt: skip
    assert set(results["modes"]) == {"dense", "bm25", "hybrid"} and results["primary_mode"] == "hybrid"
    assert not results["index"]["reused"] and results["index"]["passages"] > 5
    for run in results["modes"].values():
        aggregate = run["aggregate"]
        assert aggregate["questions"] == 2 and aggregate["hit_at_10"] == 1.0
        assert 0 <= aggregate["mrr_at_10"] <= 1 and aggregate["mc_accuracy"] is not None
        q1 = run["questions"][0]
        assert q1["retrieval"]["first_relevant_rank"] is not None and len(q1["mc_scores"]) == 3
        assert all(c["valid"] for c in q1["citations"])
    assert results["modes"]["hybrid"]["questions"][0]["mc_prediction"] == "107"
    paths = write_outputs(results, tmp_path / "out")
    html = paths["report"].read_text(encoding="utf-8")
    assert "Metrics per retrieval mode" in html and html.count("<svg") >= 3
    again = run_evaluation(load_benchmark(directory, limit=1), settings, ["bm25"], index_dir, embedder=embedder)
    assert again["index"]["reused"] and again["index"]["key"] == results["index"]["key"]


def test_assistant_eval_end_to_end_writes_outputs_and_fails_on_a_missed_threshold(tmp_path, sample_index):
    sample = yaml.safe_load((SAMPLE_DIR.parent.parent / "evals" / "sample.yaml").read_text(encoding="utf-8"))
    wanted = ["sanctions-dmitriev", "where-met", "drones-107", "fu-nato", "capital-australia"]
    questions = [q for q in sample["questions"] if q["id"] in wanted]
    small = {
        "name": "tiny",
        "corpus": str(SAMPLE_DIR),
        "questions": questions,
        # citation_validity is always met; no answer is that fast, so the latency bound is always missed
        "thresholds": {"citation_validity": 0.0, "latency_total_p50_ms": {"max": 0.001}},
    }
    set_file = tmp_path / "tiny.yaml"
    set_file.write_text(yaml.safe_dump(small, allow_unicode=True), encoding="utf-8")
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    out = tmp_path / "run"
    # In-process (torch is loaded already), but through the real command line: options, output and exit code.
    result = CliRunner().invoke(app, ["eval", str(set_file), "--index", str(index), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert "threshold missed: latency_total_p50_ms" in result.stderr
    assert "Hit@5" in result.stdout
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {"kind", "name", "index", "settings", "versions", "primary_mode", "modes", "resources", "thresholds"} <= (
        results.keys()
    )
    run = results["modes"][results["primary_mode"]]
    assert [q["id"] for q in run["questions"]] == wanted
    assert {"hit_at_1", "hit_at_5", "hit_at_10", "mrr_at_10", "evidence_recall", "citation_precision",
            "citation_validity", "fact_recall", "abstention_precision", "abstention_recall",
            "latency_total_p50_ms", "latency_answer_p95_ms"} <= run["aggregate"].keys()  # fmt: skip
    assert run["aggregate"]["citation_validity"] == 1.0 and run["aggregate"]["answerable"] == 4
    record = run["questions"][0]
    assert {"answer", "citations", "facts", "retrieval", "passed", "failures", "timings_ms"} <= record.keys()
    assert results["resources"]["peak_memory_mb"] > 0 and results["versions"]["torch"]
    assert [t["passed"] for t in results["thresholds"]] == [True, False]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Metrics per tag" in html and "Latency per stage" in html and html.count("<svg") >= 2
    assert "What did Dmitriev say about sanctions?" in html
    assert "Failed questions" in (out / "summary.md").read_text(encoding="utf-8")
