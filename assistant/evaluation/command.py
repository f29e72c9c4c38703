"""What `assistant eval` does: load the set or benchmark, run with a progress bar, write outputs, check thresholds."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.errors import AssistantError
from assistant.evaluation.compare import load_results
from assistant.evaluation.questions import EvalSetError, load_benchmark, load_set
from assistant.evaluation.report import METRICS, fmt, write_outputs
from assistant.evaluation.runner import resolve_modes, run_evaluation
from assistant.progress import progress_bar
from assistant.settings import load_settings

SUMMARY_METRICS = (
    "hit_at_1", "hit_at_5", "hit_at_10", "mrr_at_10", "evidence_recall", "citation_precision", "citation_validity",
    "fact_recall", "answer_contains_gold", "mc_accuracy", "abstention_precision", "abstention_recall", "pass_rate",
    "latency_total_p50_ms", "latency_total_p95_ms",
)  # fmt: skip


def eval_command(
    set_file: Path | None,
    benchmark: Path | None,
    index: Path | str | None,  # a folder or milvus:URI
    out: Path | None,
    compare: Path | None,
    limit: int | None,
    seed: int,
    mode: str | None,
    all_questions: bool,
    out_console: Console,
    err_console: Console,
) -> int:
    """Run one evaluation; returns the exit code: 0 ok, 1 a threshold missed, 2 bad input."""
    if (set_file is None) == (benchmark is None):
        err_console.print("[red]error:[/red] give either a question set (SET.yaml) or --benchmark DIR")
        return 2
    if set_file is not None and (limit is not None or all_questions):
        err_console.print("[red]error:[/red] --limit and --all-questions apply to --benchmark only")
        return 2
    try:
        if set_file is not None:
            eval_set = load_set(set_file)
        else:
            assert benchmark is not None  # exactly one of the two was given (checked above)
            eval_set = load_benchmark(benchmark, limit, seed, all_questions)
        settings = load_settings()
        modes = resolve_modes(mode, settings)
        previous = load_results(compare) if compare else None
        if out is not None and out.exists() and not out.is_dir():
            raise EvalSetError(f"--out {out} is a file; give a folder")
    except AssistantError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        return 2
    if eval_set.kind == "benchmark":
        err_console.print(f"questions: {eval_set.selection['selected']} where {eval_set.selection['filter']}")
    bar, hooks = progress_bar(err_console)
    try:
        with bar:
            results = run_evaluation(
                eval_set, settings, modes, index, hooks, previous=previous, previous_path=str(compare or ""),
                command=_command_line(set_file, benchmark, index, out, compare, limit, seed, mode, all_questions),
            )  # fmt: skip
    except AssistantError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        return 2
    except OSError as exc:  # e.g. a read-only index folder that needs building
        err_console.print(f"[red]error:[/red] the index could not be built or saved: {exc}")
        return 1
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = out or Path("evals") / "runs" / f"{eval_set.name}-{stamp}"
    try:
        paths = write_outputs(results, out_dir)
    except OSError as exc:
        err_console.print(f"[red]error:[/red] the results could not be written to {out_dir}: {exc}")
        return 1
    _print_summary(results, out_console)
    for note in results["index"]["notes"]:
        err_console.print(f"[yellow]note:[/yellow] {note}")
    for path in paths.values():
        err_console.print(f"wrote {path}")
    missed = [t for t in results["thresholds"] if not t["passed"]]
    for t in missed:
        err_console.print(f"[red]threshold missed:[/red] {t['message']}")
    if results["thresholds"] and not missed:
        err_console.print(f"all {len(results['thresholds'])} thresholds met")
    return 1 if missed else 0


def _command_line(set_file, benchmark, index, out, compare, limit, seed, mode, all_questions) -> list[str]:
    """The command that reproduces this run, for results.json."""
    words = ["assistant", "eval"] + ([str(set_file)] if set_file else ["--benchmark", str(benchmark)])
    for flag, value in (("--index", index), ("--out", out), ("--compare", compare), ("--limit", limit),
                        ("--mode", mode)):  # fmt: skip
        if value is not None:
            words += [flag, str(value)]
    if limit is not None:
        words += ["--seed", str(seed)]
    return words + (["--all-questions"] if all_questions else [])


def _print_summary(results: dict, console: Console) -> None:
    modes = list(results["modes"])
    index = results["index"]
    built = "reused" if index["reused"] else f"built in {index['ingest_seconds']:.1f} s"
    table = Table(title=f"{results['name']}: index {index['dir']} ({built})", title_justify="left")
    table.add_column("metric")
    for m in modes:
        table.add_column(m, justify="right")
    for name in SUMMARY_METRICS:
        if any(name in results["modes"][m]["aggregate"] for m in modes):
            table.add_row(METRICS[name], *(fmt(results["modes"][m]["aggregate"].get(name)) for m in modes))
    attribution = results.get("attribution")
    if attribution and attribution.get("available"):
        table.add_row("Attribution precision", fmt(attribution.get("precision")), *[""] * (len(modes) - 1))
        table.add_row("Attribution recall", fmt(attribution.get("recall")), *[""] * (len(modes) - 1))
    console.print(table)
    comparison = results.get("comparison")
    if comparison:
        for mode, c in comparison["modes"].items():
            for r in c["metrics"]:
                if r["change"] in ("better", "worse"):
                    colour = "green" if r["change"] == "better" else "red"
                    console.print(f"[{colour}]{r['change']}[/{colour}] ({mode}) {r['metric']}: "
                                  f"{fmt(r['before'])} → {fmt(r['after'])}")  # fmt: skip
            for kind in ("fixed", "broke"):
                if c["questions"][kind]:
                    console.print(f"({mode}) questions {kind}: {', '.join(c['questions'][kind])}")
