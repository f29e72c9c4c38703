"""Abstention precision and recall over answer.min_support thresholds, from a run answered with no threshold.

    ASSISTANT_ANSWER_MIN_SUPPORT=0 assistant eval evals/paraphrase.yaml --out /tmp/para0
    python evals/abstention_curve.py /tmp/para0/results.json [/tmp/sample0/results.json ...]

With min_support 0 the extractive answerer answers every question it has a candidate sentence for and records
its best support score (the `support` of each question in results.json); abstaining at threshold t is then
"support < t". Questions answered another way (a speaker answer, an LLM) keep their own outcome at every t.
Prints, per threshold: abstention precision (of the abstentions, the share on unanswerable questions), recall
(of the unanswerable questions, the share abstained on) and the share of answerable questions still answered.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def outcomes(results: Path) -> list[tuple[bool, float | None, bool]]:
    """(answerable, support or None, abstained) per question of the run's primary mode."""
    run = json.loads(results.read_text(encoding="utf-8"))
    records = run["modes"][run["primary_mode"]]["questions"]
    return [(r["answerable"], r.get("support"), r["abstained"]) for r in records]


def curve(rows: list[tuple[bool, float | None, bool]], thresholds: list[float]) -> list[dict]:
    table = []
    for t in thresholds:
        abstains = [
            (answerable, abstained if support is None else support < t) for answerable, support, abstained in rows
        ]
        said = [answerable for answerable, a in abstains if a]
        unanswerable = sum(1 for answerable, _, _ in rows if not answerable)
        answerable = len(rows) - unanswerable
        table.append(
            {
                "threshold": t,
                "precision": sum(1 for a in said if not a) / len(said) if said else 1.0,
                "recall": sum(1 for a in said if not a) / unanswerable if unanswerable else 1.0,
                "answered": sum(1 for a, ab in abstains if a and not ab) / answerable if answerable else 0.0,
            }
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="results.json of runs made with min_support 0")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.35 + 0.025 * i for i in range(13)])
    args = parser.parse_args()
    for path in args.results:
        rows = outcomes(path)
        print(f"\n{path}: {len(rows)} questions, {sum(1 for a, _, _ in rows if not a)} unanswerable")
        print("| min_support | abstention precision | abstention recall | answerable answered |")
        print("|---|---|---|---|")
        for row in curve(rows, args.thresholds):
            print(f"| {row['threshold']:.3f} | {row['precision']:.3f} | {row['recall']:.3f} | {row['answered']:.3f} |")


if __name__ == "__main__":
    main()
