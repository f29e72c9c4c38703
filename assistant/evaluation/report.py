"""Write a run's outputs: results.json, summary.md and one self-contained report.html with inline SVG plots."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from assistant.evaluation.plots import bar_chart, histograms
from assistant.evaluation.scoring import STAGES

# Display order and labels of the aggregate metrics; a metric a run does not have is skipped.
METRICS = {
    "hit_at_1": "Hit@1",
    "hit_at_5": "Hit@5",
    "hit_at_10": "Hit@10",
    "mrr_at_10": "MRR@10",
    "evidence_recall": "Evidence recall@k",
    "citation_precision": "Citation precision",
    "citation_quote_precision": "Citation quote precision",
    "citation_validity": "Citation validity",
    "fact_recall": "Fact recall",
    "answer_contains_gold": "Answer contains gold",
    "mc_accuracy": "Grounded MC accuracy",
    "mc_decided": "MC decided (a single best choice)",
    "abstention_precision": "Abstention precision",
    "abstention_recall": "Abstention recall",
    "abstention_rate": "Abstention rate",
    "pass_rate": "Pass rate",
    **{f"latency_{s}_p{q}_ms": f"Latency {s} p{q} (ms)" for s in STAGES for q in (50, 95)},
    "questions": "Questions",
    "answerable": "Answerable",
    "unanswerable": "Unanswerable",
    "citations": "Citations",
    "errors": "Errors",
}
TAG_METRICS = ("pass_rate", "hit_at_5", "fact_recall", "citation_precision", "mc_accuracy", "abstention_recall")


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.0f}"
    return str(value)


def _metric_rows(results: dict) -> list[tuple[str, list]]:
    modes = list(results["modes"])
    rows = []
    for name, label in METRICS.items():
        values = [results["modes"][m]["aggregate"].get(name) for m in modes]
        if any(name in results["modes"][m]["aggregate"] for m in modes):
            rows.append((label, values))
    return rows


def _selection_text(results: dict) -> str:
    s = results.get("selection") or {}
    if not s:
        return f"{len(results['modes'][results['primary_mode']]['questions'])} questions from {results['source']}"
    text = (
        f"{s['selected']} of the {s['eligible']} questions where {s['filter']} ({s['questions_in_benchmark']} in all)"
    )
    if s.get("seed") is not None:
        text += f"; a seeded sample (--limit {s['limit']} --seed {s['seed']})"
    return text


def _index_text(results: dict) -> str:
    i = results["index"]
    how = (
        f"reused (built {i['built']} in {i['ingest_seconds']:.1f} s)"
        if i["reused"]
        else f"built in {i['ingest_seconds']:.1f} s"
    )
    return f"{i['dir']} (key {i['key']}; {i['articles']} articles, {i['passages']} passages; {how})"


def summary_markdown(results: dict) -> str:
    """The run as Markdown: metrics per mode, thresholds, comparison, per-tag table and the failed questions."""
    modes = list(results["modes"])
    primary = results["primary_mode"]
    lines = [
        f"# Evaluation of {results['name']} ({results['kind']}), {results['created']}",
        "",
        f"- questions: {_selection_text(results)}",
        f"- index: {_index_text(results)}",
        f"- retrieval modes: {', '.join(modes)} (thresholds and per-question details: {primary}); "
        f"k = {results['settings']['retrieval']['top_k']} passages answered from, 10 ranked for Hit@10/MRR@10",
        f"- answerer: {results['settings']['llm']['backend']} LLM backend"
        + (" (extractive)" if results["settings"]["llm"]["backend"] == "none" else ""),
        f"- peak memory {results['resources']['peak_memory_mb']:.0f} MB, "
        f"evaluation {results['resources']['eval_seconds']:.0f} s",
    ]
    lines += [f"- note: {n}" for n in results["index"].get("notes", [])]
    lines += ["", "## Metrics", "", "| metric | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes)]
    lines += [f"| {label} | " + " | ".join(fmt(v) for v in values) + " |" for label, values in _metric_rows(results)]
    attribution = results.get("attribution")
    if attribution:
        lines += ["", "## Speaker attribution", ""]
        if attribution.get("available"):
            lines.append(
                f"precision {fmt(attribution.get('precision'))}, recall {fmt(attribution.get('recall'))} "
                f"({attribution.get('statements_found')} statements found, {attribution.get('statements_gold')} gold)"
            )
        else:
            lines.append(f"not scored: {attribution.get('reason')}")
    if results.get("thresholds"):
        lines += ["", "## Thresholds", "", "| metric | value | bound | |", "|---|---:|---|---|"]
        for t in results["thresholds"]:
            bound = " and ".join(x for x in (f">= {t['min']}" if t["min"] is not None else "",
                                             f"<= {t['max']}" if t["max"] is not None else "") if x)  # fmt: skip
            lines.append(f"| {t['metric']} | {fmt(t['value'])} | {bound} | {'ok' if t['passed'] else '**MISSED**'} |")
    comparison = results.get("comparison")
    if comparison:
        lines += ["", f"## Compared with {comparison['previous']} ({comparison['previous_created']})", ""]
        for mode, c in comparison["modes"].items():
            changed = [r for r in c["metrics"] if r["change"] in ("better", "worse")]
            lines.append(f"**{mode}**: " + ("no metric changed" if not changed else ""))
            lines += [f"- {r['change']}: {r['metric']} {fmt(r['before'])} → {fmt(r['after'])}" for r in changed]
            q = c["questions"]
            for kind in ("fixed", "broke", "new", "dropped"):
                if q[kind]:
                    lines.append(f"- questions {kind}: {', '.join(q[kind])}")
        for r in comparison.get("other", []):
            if r["change"] in ("better", "worse"):
                lines.append(f"- {r['change']}: {r['metric']} {fmt(r['before'])} → {fmt(r['after'])}")
    run = results["modes"][primary]
    if run["by_tag"]:
        lines += ["", f"## Per tag ({primary})", "", "| tag | n | " + " | ".join(TAG_METRICS) + " |"]
        lines.append("|---|---:|" + "---:|" * len(TAG_METRICS))
        for tag, m in run["by_tag"].items():
            lines.append(f"| {tag} | {m['questions']} | " + " | ".join(fmt(m.get(x)) for x in TAG_METRICS) + " |")
    failed = [r for r in run["questions"] if not r["passed"]]
    lines += ["", f"## Failed questions ({primary}): {len(failed)} of {len(run['questions'])}", ""]
    for r in failed:
        lines.append(f"- **{r['id']}** — {r['question']}")
        lines += [f"  - {f}" for f in r["failures"]]
        lines += [f"  - ({d})" for d in r["diagnostics"]]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td.status { background: #fde2e2; } tr.pass td.status { background: #e3f6e3; }
.better { color: #1a7f37; font-weight: bold; } .worse { color: #c62828; font-weight: bold; }
.failure { color: #c62828; } .diag { color: #777; } .invalid { color: #c62828; font-weight: bold; }
blockquote { margin: 2px 0 2px 8px; padding-left: 6px; border-left: 3px solid #ccc; font-size: 12px; }
.chart { display: block; margin: 1em 0; } .small { font-size: 12px; color: #555; }
"""

_FILTER_JS = """
document.getElementById('only-failed').addEventListener('change', function (e) {
  document.querySelectorAll('#questions tr.pass').forEach(function (row) { row.hidden = e.target.checked; });
});
"""


def _plots(results: dict) -> list[str]:
    primary = results["primary_mode"]
    run = results["modes"][primary]
    plots = []
    if len(results["modes"]) > 1:
        names = [n for n in ("hit_at_1", "hit_at_5", "hit_at_10", "mrr_at_10", "fact_recall", "mc_accuracy",
                             "answer_contains_gold", "pass_rate") if n in run["aggregate"]]  # fmt: skip
        series = {m: [r["aggregate"].get(n) for n in names] for m, r in results["modes"].items()}
        plots.append(bar_chart("Metrics per retrieval mode", [METRICS[n] for n in names], series))
    if run["by_tag"]:
        tags = list(run["by_tag"])
        series = {METRICS[n]: [run["by_tag"][t].get(n) for t in tags] for n in TAG_METRICS}
        series = {name: values for name, values in series.items() if any(v is not None for v in values)}
        groups = [f"{t} ({run['by_tag'][t]['questions']})" for t in tags]
        plots.append(bar_chart(f"Metrics per tag ({primary}; number of questions in brackets)", groups, series))
    samples = {s: [r["timings_ms"][s] for r in run["questions"] if s in r["timings_ms"]] for s in STAGES}
    plots.append(histograms(f"Latency per stage ({primary}; after one warm-up question)", samples))
    return plots


def _citation_html(c: dict) -> str:
    flags = []
    if not c["in_retrieved"]:
        flags.append("passage not retrieved")
    if not c["verbatim"]:
        flags.append("quote not verbatim")
    if not c["inside_passage"]:
        flags.append("quote outside passage")
    if c.get("has_evidence") is False:
        flags.append("no evidence in passage")
    flag = f' <span class="invalid">{escape("; ".join(flags))}</span>' if flags else ""
    speaker = f" — {escape(c['speaker'])}" if c.get("speaker") else ""
    return (
        f"<div>[{c['n']}] <i>{escape(c['title'][:80])}</i>{speaker} <span class='small'>chars "
        f"{c['start']}–{c['end']}</span>{flag}<blockquote>{escape(c['quote'])}</blockquote></div>"
    )


def _question_rows(results: dict) -> str:
    run = results["modes"][results["primary_mode"]]
    other_modes = [m for m in results["modes"] if m != results["primary_mode"]]
    comparison = (results.get("comparison") or {}).get("modes", {}).get(results["primary_mode"], {})
    flips = {q: kind for kind, ids in comparison.get("questions", {}).items() for q in ids}
    rows = []
    for r in run["questions"]:
        question = escape(r["question"])
        if r["history"]:
            question = "<span class='small'>after: " + escape(" / ".join(r["history"])) + "</span><br>" + question
        if r["standalone_question"] != r["question"]:
            question += f"<br><span class='small'>searched as: {escape(r['standalone_question'])}</span>"
        if r.get("choices"):
            question += "<br><span class='small'>choices: " + escape(" | ".join(r["choices"]))
            question += f"; gold: {escape(r['gold'])}; picked: {escape(str(r['mc_prediction']))}</span>"
        retrieval = r.get("retrieval")
        rank = fmt(retrieval["first_relevant_rank"]) if retrieval else "n/a"
        for m in other_modes:
            other = next((x for x in results["modes"][m]["questions"] if x["id"] == r["id"]), None)
            if other and other.get("retrieval"):
                rank += f"<br><span class='small'>{m}: {fmt(other['retrieval']['first_relevant_rank'])}</span>"
        facts = ""
        if r.get("facts"):
            facts = "<br>".join(
                ("✓ " if f["found"] else "✗ ") + escape(" / ".join(f["alternatives"])) for f in r["facts"]
            )
        problems = "".join(f"<div class='failure'>{escape(f)}</div>" for f in r["failures"])
        problems += "".join(f"<div class='diag'>{escape(d)}</div>" for d in r["diagnostics"])
        status = "pass" if r["passed"] else "FAIL"
        if r["id"] in flips:
            status += f"<br><span class='{'better' if flips[r['id']] == 'fixed' else 'worse'}'>{flips[r['id']]}</span>"
        rows.append(
            f"<tr class='{'pass' if r['passed'] else 'fail'}'><td>{escape(r['id'])}<br>"
            f"<span class='small'>{escape(', '.join(r['tags']))}</span></td><td>{question}</td>"
            f"<td>{escape(r['answer'])}{''.join(_citation_html(c) for c in r['citations'])}</td>"
            f"<td class='small'>{facts}</td><td class='num'>{rank}</td><td class='status'>{status}</td>"
            f"<td>{problems}</td><td class='num'>{fmt(r['timings_ms'].get('total'))}</td></tr>"
        )
    return "\n".join(rows)


def report_html(results: dict) -> str:
    """The whole run as one HTML page: summary, plots, metrics, thresholds, comparison and every question."""
    modes = list(results["modes"])
    metric_rows = "".join(
        f"<tr><td>{escape(label)}</td>" + "".join(f"<td class='num'>{fmt(v)}</td>" for v in values) + "</tr>"
        for label, values in _metric_rows(results)
    )
    comparison_html = ""
    if results.get("comparison"):
        c = results["comparison"]
        parts = [f"<h2>Compared with {escape(c['previous'])} ({escape(c['previous_created'])})</h2>"]
        for mode, data in c["modes"].items():
            changed = [r for r in data["metrics"] if r["change"] in ("better", "worse")]
            items = "".join(
                f"<li class='{r['change']}'>{r['change']}: {escape(METRICS.get(r['metric'], r['metric']))} "
                f"{fmt(r['before'])} → {fmt(r['after'])}</li>"
                for r in changed
            )
            q = data["questions"]
            items += "".join(
                f"<li class='{'better' if kind == 'fixed' else 'worse' if kind == 'broke' else ''}'>questions {kind}: "
                f"{escape(', '.join(q[kind]))}</li>"
                for kind in ("fixed", "broke", "new", "dropped")
                if q[kind]
            )
            parts.append(f"<h3>{escape(mode)}</h3><ul>{items or '<li>nothing changed</li>'}</ul>")
        comparison_html = "".join(parts)
    thresholds_html = ""
    if results.get("thresholds"):
        rows = "".join(
            f"<tr class='{'pass' if t['passed'] else 'fail'}'><td>{escape(t['metric'])}</td><td class='num'>"
            f"{fmt(t['value'])}</td><td>{'&ge; ' + fmt(t['min']) if t['min'] is not None else ''}"
            f"{' &le; ' + fmt(t['max']) if t['max'] is not None else ''}</td>"
            f"<td class='status'>{'ok' if t['passed'] else 'MISSED'}</td></tr>"
            for t in results["thresholds"]
        )
        thresholds_html = (
            f"<h2>Thresholds</h2><table><tr><th>metric</th><th>value</th><th>bound</th><th></th></tr>{rows}</table>"
        )
    attribution = results.get("attribution")
    attribution_html = ""
    if attribution:
        text = (
            f"precision {fmt(attribution.get('precision'))}, recall {fmt(attribution.get('recall'))} "
            f"({attribution.get('statements_found')} statements found, {attribution.get('statements_gold')} gold)"
            if attribution.get("available")
            else f"not scored: {attribution.get('reason')}"
        )
        details = "".join(
            f"<li>missed: {escape(m.get('speaker', ''))} — “{escape(m.get('contains', ''))}”"
            f" (extracted speakers: {escape(', '.join(m.get('extracted_speakers') or []) or 'none')})</li>"
            for m in attribution.get("misses") or []
        ) + "".join(
            f"<li>false positive: {escape(f.get('speaker', ''))} — “{escape(f.get('text', '')[:160])}”</li>"
            for f in attribution.get("false_positives") or []
        )
        details = (
            f"<details><summary>misses and false positives</summary><ul>{details}</ul></details>" if details else ""
        )
        attribution_html = f"<h2>Speaker attribution</h2><p>{escape(text)}</p>{details}"
    notes = "".join(f"<li>note: {escape(n)}</li>" for n in results["index"].get("notes", []))
    primary = results["primary_mode"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation of {escape(results["name"])}</title>
<style>{_CSS}</style></head><body>
<h1>Evaluation of {escape(results["name"])}
<span class="small">({escape(results["kind"])}, {escape(results["created"])})</span></h1>
<ul>
<li>questions: {escape(_selection_text(results))}</li>
<li>index: {escape(_index_text(results))}</li>
<li>retrieval modes: {escape(", ".join(modes))}; per-question details below are for <b>{escape(primary)}</b></li>
<li>peak memory {results["resources"]["peak_memory_mb"]:.0f} MB;
evaluation took {results["resources"]["eval_seconds"]:.0f} s</li>
<li class="small">versions: {escape(", ".join(f"{k} {v}" for k, v in results["versions"].items()))}</li>
{notes}
</ul>
{thresholds_html}
{comparison_html}
<h2>Metrics</h2>
<table><tr><th>metric</th>{"".join(f"<th>{escape(m)}</th>" for m in modes)}</tr>{metric_rows}</table>
{attribution_html}
<h2>Plots</h2>
{"".join(_plots(results))}
<h2>Questions ({escape(primary)})</h2>
<label><input type="checkbox" id="only-failed"> show failed questions only</label>
<table id="questions"><tr><th>id</th><th>question</th><th>answer and citations</th><th>facts</th>
<th>first relevant rank</th><th>result</th><th>what failed</th><th>ms</th></tr>
{_question_rows(results)}
</table>
<script>{_FILTER_JS}</script>
</body></html>
"""


def write_outputs(results: dict, out_dir: Path) -> dict[str, Path]:
    """Write results.json, summary.md and report.html into out_dir; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"results": out_dir / "results.json", "summary": out_dir / "summary.md", "report": out_dir / "report.html"}
    paths["results"].write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    paths["summary"].write_text(summary_markdown(results), encoding="utf-8")
    paths["report"].write_text(report_html(results), encoding="utf-8")
    return paths
