"""Threshold checks on a run's metrics, and what got better or worse against a previous results.json."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.evaluation.questions import EvalSetError, Threshold

# Metrics where lower is better; they are timings and sizes, so noisy: a change counts only beyond 10 %.
_LOWER_IS_BETTER = ("_ms", "_mb", "_seconds")
_NOISE = 0.10
# Counts describe the run rather than its quality; they are compared but never called better or worse.
_NEUTRAL = {"questions", "answerable", "unanswerable", "k", "citations", "abstention_rate"}


def flat_metrics(results: dict) -> dict[str, float | None]:
    """The metrics thresholds refer to: the primary mode's aggregate, resources and attribution."""
    primary = results["modes"][results["primary_mode"]]["aggregate"]
    metrics = {name: v for name, v in primary.items() if isinstance(v, int | float) or v is None}
    metrics.update(results.get("resources", {}))
    attribution = results.get("attribution") or {}
    if attribution.get("available"):
        for name in ("precision", "recall", "f1"):
            if isinstance(attribution.get(name), int | float):
                metrics[f"attribution_{name}"] = attribution[name]
    return metrics


def check_thresholds(metrics: dict[str, float | None], thresholds: list[Threshold]) -> list[dict]:
    """One row per threshold: metric, value, bound, passed, and a message when it is missed."""
    rows = []
    for t in thresholds:
        value = metrics.get(t.metric)
        row = {"metric": t.metric, "value": value, "min": t.minimum, "max": t.maximum, "passed": True, "message": ""}
        if value is None:
            reason = "unknown metric" if t.metric not in metrics else "not measured in this run"
            row.update(passed=False, message=f"{t.metric}: {reason} (threshold {t.describe()})")
        elif (t.minimum is not None and value < t.minimum) or (t.maximum is not None and value > t.maximum):
            row.update(passed=False, message=f"{t.metric} = {value:.4g}, threshold {t.describe()}")
        rows.append(row)
    return rows


def load_results(path: Path | str) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalSetError(f"cannot read the previous results {path}: {exc}") from None
    if not isinstance(data, dict) or "modes" not in data:
        raise EvalSetError(f"{path} is not a results.json written by 'assistant eval'")
    return data


def _direction(name: str, before: float, after: float) -> str:
    if name in _NEUTRAL:
        return "changed" if abs(after - before) > 1e-9 else "same"
    if name.endswith(_LOWER_IS_BETTER):
        if abs(after - before) <= _NOISE * max(abs(before), 1e-9):
            return "same"
        return "better" if after < before else "worse"
    if abs(after - before) <= 1e-9:
        return "same"
    return "better" if after > before else "worse"


def compare_metrics(before: dict, after: dict) -> list[dict]:
    """Metric by metric: before, after, delta and better/worse/same (see the noise rule for timings)."""
    rows = []
    for name in after:
        old, new = before.get(name), after.get(name)
        if not isinstance(new, int | float) or not isinstance(old, int | float):
            if name in before and old != new:
                rows.append({"metric": name, "before": old, "after": new, "delta": None, "change": "changed"})
            continue
        rows.append(
            {"metric": name, "before": old, "after": new, "delta": new - old, "change": _direction(name, old, new)}
        )
    return rows


def compare_questions(before: list[dict], after: list[dict]) -> dict[str, list[str]]:
    """Question ids by what happened to their pass/fail: fixed, broke, new, dropped."""
    old = {r["id"]: r["passed"] for r in before}
    new = {r["id"]: r["passed"] for r in after}
    return {
        "fixed": [q for q in new if q in old and new[q] and not old[q]],
        "broke": [q for q in new if q in old and old[q] and not new[q]],
        "new": [q for q in new if q not in old],
        "dropped": [q for q in old if q not in new],
    }


def compare_runs(current: dict, previous: dict, previous_path: str = "") -> dict:
    """Comparison of every retrieval mode both runs have, plus resources and attribution."""
    modes = {}
    for mode, run in current["modes"].items():
        if mode not in previous.get("modes", {}):
            continue
        old = previous["modes"][mode]
        modes[mode] = {
            "metrics": compare_metrics(old["aggregate"], run["aggregate"]),
            "questions": compare_questions(old["questions"], run["questions"]),
        }
    flat_before = {
        k: v for k, v in flat_metrics(previous).items() if k.startswith(("attribution_", "peak_", "ingest_"))
    }
    flat_after = {k: v for k, v in flat_metrics(current).items() if k.startswith(("attribution_", "peak_", "ingest_"))}
    return {
        "previous": previous_path,
        "previous_created": previous.get("created", ""),
        "modes": modes,
        "other": compare_metrics(flat_before, flat_after),
        "modes_not_compared": sorted(set(current["modes"]) ^ set(previous.get("modes", {}))),
    }
