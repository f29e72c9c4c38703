"""Scripted evaluation: question sets and benchmarks scored on retrieval, citations, answers and abstention."""

from assistant.evaluation.compare import check_thresholds, compare_runs, load_results
from assistant.evaluation.questions import EvalQuestion, EvalSet, EvalSetError, load_benchmark, load_set
from assistant.evaluation.report import write_outputs
from assistant.evaluation.runner import run_evaluation

__all__ = [
    "EvalQuestion",
    "EvalSet",
    "EvalSetError",
    "check_thresholds",
    "compare_runs",
    "load_benchmark",
    "load_results",
    "load_set",
    "run_evaluation",
    "write_outputs",
]
