"""Benchmark LLM-written answers against the extractive answerer on a question set (a script, not a test).

    python evals/llm_benchmark.py [--set evals/sample.yaml] [--model PATH|qwen|smollm2]... [--llm gguf|openai]
                                  [--limit N] [--out FILE.json]

Every question (with its history) is answered once by the extractive answerer and once per GGUF model over the
same index of the set's corpus: in-process (`--llm gguf`, the default), or through xllamacpp's OpenAI-compatible
HTTP server on 127.0.0.1 (`--llm openai`, the server started here in a child process). The metrics come from
assistant.evaluation (fact recall, citation precision, abstention precision/recall, latency percentiles); this
script adds what only LLM answers have: answers shown in llm mode, sentences the support check flags, fallbacks,
time to the first shown sentence, tokens per second and prompt-cache reuse (llama.cpp's own counts, in-process
only), truncated answers and replies that are neither JSON nor carry [n] markers. It prints a Markdown table and
writes a JSON file (and the table beside it as .md). Models come from evals/llm_models.py (no download here);
llama.cpp's reports are kept by evals/llm_recorder.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llm_models import QWEN_FILE, gguf_header, resolve_model
from llm_recorder import RecordingProxy, RecordingServer, record_calls

from assistant.answers.generate import LLMAnswerer
from assistant.answers.structured import StructuredReply
from assistant.answers.support import split_cited_sentences
from assistant.answers.types import Answer
from assistant.embedding import Embedder
from assistant.errors import AssistantError
from assistant.evaluation.indexing import ensure_index, index_key
from assistant.evaluation.metrics import mean, percentile, ratio
from assistant.evaluation.questions import EvalQuestion, load_set
from assistant.evaluation.scoring import aggregate, score_question
from assistant.pipeline import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX_ROOT = Path(tempfile.gettempdir()) / "news-assistant-llm-benchmark" / "index"


# ---- running ---------------------------------------------------------------------------------------------


def _ask(assistant: Assistant, q: EvalQuestion, recorder: Any) -> tuple[Answer | None, dict]:
    """One question through ask_stream: the Answer and what the stream showed (text, client-side timings)."""
    seen: dict[str, Any] = {"streamed": "", "error": ""}
    calls_before = len(recorder.calls) if recorder else 0
    started = time.perf_counter()
    answer = None
    try:
        for event in assistant.ask_stream(q.question, history=q.history):
            if "first_delta_ms" not in seen and event.delta:
                seen["first_delta_ms"] = (time.perf_counter() - started) * 1000
            seen["streamed"] += event.delta
            answer = event.answer or answer
    except AssistantError as exc:
        seen["error"] = f"{type(exc).__name__}: {exc}"
    seen["wall_ms"] = (time.perf_counter() - started) * 1000
    if recorder:
        seen["llm_calls"] = recorder.calls[calls_before:]
    return answer, seen


_FENCE = re.compile(r"\b(?:BEGIN|END)\s+DATA\b", re.IGNORECASE)


def _reply_format(raw: str) -> str:
    """'json' (the structured answer), 'markers' ([n] in the text), or 'none' (neither)."""
    reply = StructuredReply()
    reply.feed(raw)
    if reply.is_json:
        return "json"
    return "markers" if re.search(r"\[\d+", raw) else "none"


def _llm_record(record: dict, answer: Answer | None, seen: dict, checker: LLMAnswerer) -> None:
    """Add what only LLM answers have to a scored record."""
    calls = seen.get("llm_calls") or []
    answer_call = calls[-1] if calls else {}  # a follow-up first has the condense call
    timings = answer_call.get("timings") or {}
    sentences = answer.sentences if answer is not None else []
    raw = answer_call.get("text", "")  # the model's own text, also when the answer fell back
    shown_llm = answer is not None and answer.mode == "llm" and not answer.abstained
    titles = [h.article.title for h in answer.retrieved] if answer is not None else []
    record.update(
        {
            "streamed": seen["streamed"],
            "first_token_ms": answer.timings_ms.get("first_token") if answer else None,
            "first_delta_ms": seen.get("first_delta_ms"),
            # When nothing streamed, the answer is shown whole at the end (fallbacks, abstentions).
            "first_shown_ms": seen.get("first_delta_ms") or seen["wall_ms"],
            "condense_calls": len(calls) - 1 if calls else 0,
            "standalone": answer.standalone_question if answer else "",
            "condensed_with_fence": bool(answer and _FENCE.search(answer.standalone_question or "")),
            "completion_tokens": timings.get("predicted_n"),
            "generation_ms": timings.get("predicted_ms"),
            "prompt_tokens": (answer_call.get("usage") or {}).get("prompt_tokens"),
            "prompt_tokens_cached": timings.get("cache_n"),
            "retrieved": len(answer.retrieved) if answer else 0,
            "prompt_ms": timings.get("prompt_ms"),
            "finish_reason": answer_call.get("finish_reason"),
            "structured_request": answer_call.get("structured"),
            "reply_format": _reply_format(raw),
            "raw_sentences_without_citation": sum(1 for _, cited in split_cited_sentences(raw, 50) if not cited),
            "raw": raw,
            "sentences": [{"text": s.text, "citations": s.citations, "supported": s.supported} for s in sentences],
            "shown_llm": shown_llm,
            "shown_unsupported": sum(1 for s in sentences if not s.supported) if shown_llm else 0,
            # An answer shown in llm mode that echoes the prompt: the fence, or a title line of a retrieved passage.
            "shown_echo": shown_llm
            and any(_FENCE.search(s.text) or any(t and t.lower() in s.text.lower() for t in titles) for s in sentences),
        }
    )
    record["model_sentences"] = []
    if answer is not None and answer.mode in ("llm", "extractive-fallback") and raw.strip():
        # Only supported sentences are shown: check the model's text again to see which failed and why.
        speaker = answer.retrieved[0].speaker if answer.retrieved and answer.retrieved[0].speaker else None
        checks = checker.check_reply(raw, answer.retrieved, speaker)
        record["model_sentences"] = [
            {"text": c.text, "citations": c.citations, "supported": c.supported, "reason": c.reason} for c in checks
        ]


def run_answerer(
    label: str,
    assistant: Assistant,
    questions: list[EvalQuestion],
    k: int,
    llm: bool,
    checkpoint: Callable[[dict], Any] | None = None,
    recorder: RecordingServer | RecordingProxy | None = None,
) -> dict:
    """Ask every question with one configured Assistant; the scored records and this answerer's metrics.

    checkpoint, if given, receives the run so far after every question (so an interrupted run keeps its records).
    """
    checker = LLMAnswerer(None, assistant.embedder, None, assistant.settings.answer.min_similarity)
    if llm:
        model = assistant.router.load_llm(notes := [])
        if model is None:
            raise SystemExit(f"{label}: the model did not load: {'; '.join(notes)}")
        if recorder is None and hasattr(model, "_server"):  # in-process: record what llama.cpp reports
            recorder = record_calls(model)
    # Warm-up outside the timings (BM25 index, embedder kernels, the model's first evaluation).
    try:
        assistant.ask(questions[0].question)
    except AssistantError as exc:
        print(f"{label}: warm-up failed: {exc}", file=sys.stderr)
    if recorder:
        recorder.calls.clear()
    store = assistant.store

    def article_text(article_id: str) -> str | None:
        article = store.articles.get(article_id)
        return article.text if article else None

    records = []
    for number, q in enumerate(questions, 1):
        answer, seen = _ask(assistant, q, recorder)
        record = score_question(q, answer, answer.retrieved if answer else [], article_text, k, seen["error"])
        record["answer_mode"] = answer.mode if answer else None
        record["notes"] = answer.notes if answer else []
        record["wall_ms"] = round(seen["wall_ms"], 1)
        if llm:
            _llm_record(record, answer, seen, checker)
        records.append(record)
        if checkpoint is not None:
            checkpoint(_summarise(label, records, k, llm))
        flags = sum(1 for s in record.get("model_sentences", []) if not s["supported"])
        print(
            f"[{label}] {number}/{len(questions)} {q.id}: {record['answer_mode']}"
            f"{' abstained' if record['abstained'] else ''}, {seen['wall_ms'] / 1000:.1f} s"
            f"{f', {flags} flagged' if llm and flags else ''}{' ERROR ' + seen['error'] if seen['error'] else ''}",
            file=sys.stderr,
            flush=True,
        )
    return _summarise(label, records, k, llm)


def _summarise(label: str, records: list[dict], k: int, llm: bool) -> dict:
    metrics = aggregate(records, k)
    if llm:
        metrics.update(llm_metrics(records))
    else:
        metrics["first_delta_p50_ms"] = percentile([r["wall_ms"] for r in records], 50)
        metrics["first_shown_p50_ms"] = metrics["first_delta_p50_ms"]
    metrics["wall_p50_ms"] = percentile([r["wall_ms"] for r in records], 50)
    return {"label": label, "aggregate": metrics, "questions": records}


_REASON_KINDS = {
    "number": "number",
    "name": "name",
    "names": "name",
    "speaker": "speaker",
    "low": "low similarity",
    "no": "no citation",
    "cites": "cites no retrieved passage",
}


def llm_metrics(records: list[dict]) -> dict:
    """Support flags, fallbacks, first token, tokens per second, truncation and marker problems."""
    written = [r for r in records if r["answer_mode"] == "llm" and not r["abstained"]]
    sentences = [s for r in written for s in r["model_sentences"]]  # as the model wrote them, before the check
    flagged = [s for s in sentences if not s["supported"]]
    reasons: dict[str, int] = {}
    for s in (s for r in records for s in r.get("model_sentences", []) if not s["supported"]):
        for reason in s["reason"].split("; "):
            kind = _REASON_KINDS.get(reason.split(" ")[0].rstrip(":"), reason)  # "number 400 not in [2]" -> number
            reasons[kind] = reasons.get(kind, 0) + 1
    model_sentences = [s for r in records for s in r.get("model_sentences", [])]
    tokens = [r["completion_tokens"] for r in records if r.get("completion_tokens")]
    gen_ms = [r["generation_ms"] for r in records if r.get("completion_tokens")]
    # Replies the model wrote that are not its abstention sentence (those carry no marker by design).
    replies = [
        r
        for r in records
        if r["answer_mode"] in ("llm", "extractive-fallback")
        and r["raw"].strip()
        and not (r["answer_mode"] == "llm" and r["abstained"])
    ]
    return {
        "llm_answers": len(written),
        "llm_abstentions": sum(1 for r in records if r["answer_mode"] == "llm" and r["abstained"]),
        "sentences": len(sentences),
        "unsupported_share": ratio(len(flagged), len(sentences)),
        "answers_with_unsupported": ratio(
            sum(1 for r in written if any(not s["supported"] for s in r["model_sentences"])), len(written)
        ),  # fmt: skip
        "model_sentences": len(model_sentences),
        "model_unsupported_share": ratio(sum(1 for s in model_sentences if not s["supported"]), len(model_sentences)),
        "unsupported_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "fallback_rate": ratio(sum(1 for r in records if r["answer_mode"] == "extractive-fallback"), len(records)),
        "fallbacks_llm_failed": sum(1 for r in records if any("the LLM failed" in n for n in r["notes"])),
        "fallbacks_unsupported": sum(1 for r in records if any("was not supported" in n for n in r["notes"])),
        "first_token_p50_ms": percentile([r["first_token_ms"] for r in records if r.get("first_token_ms")], 50),
        "first_delta_p50_ms": percentile([r["first_delta_ms"] for r in records if r.get("first_delta_ms")], 50),
        "completion_tokens_p50": percentile(tokens, 50),
        "tokens_per_second": ratio(sum(tokens), sum(gen_ms) / 1000),
        "prompt_tokens_p50": percentile([r["prompt_tokens"] for r in records if r.get("prompt_tokens")], 50),
        "prompt_tokens_max": max((r["prompt_tokens"] for r in records if r.get("prompt_tokens")), default=None),
        "truncated": sum(1 for r in records if r.get("finish_reason") == "length"),
        "replies": len(replies),
        "raw_without_markers": sum(1 for r in replies if r.get("reply_format") == "none"),
        "replies_json": sum(1 for r in replies if r.get("reply_format") == "json"),
        "answerable_shown_llm": ratio(
            sum(1 for r in records if r["answerable"] and r.get("shown_llm") and r["sentences"]),
            sum(1 for r in records if r["answerable"]),
        ),
        "shown_unsupported": sum(r.get("shown_unsupported", 0) for r in records),
        "shown_echo": sum(1 for r in records if r.get("shown_echo")),
        "condensed_with_fence": sum(1 for r in records if r.get("condensed_with_fence")),
        "first_shown_p50_ms": percentile([r["first_shown_ms"] for r in records if r.get("first_shown_ms")], 50),
        "first_shown_llm_p50_ms": percentile(
            [r["first_delta_ms"] for r in records if r.get("shown_llm") and r.get("first_delta_ms")], 50
        ),
        "prompt_tokens_cached_p50": percentile(
            [r["prompt_tokens_cached"] for r in records if r.get("prompt_tokens_cached") is not None], 50
        ),
        "raw_sentences_without_citation": sum(r.get("raw_sentences_without_citation", 0) for r in replies),
        "context_errors": sum(1 for r in records for n in r["notes"] if "do not fit the model's context" in n),
        "condense_calls": sum(r.get("condense_calls", 0) for r in records),
        "fact_recall_llm_only": mean(r.get("fact_recall") for r in written if r["answerable"]),
    }


# ---- output ----------------------------------------------------------------------------------------------

ROWS = (
    ("Answerable questions answered in llm mode (≥1 supported sentence)", "answerable_shown_llm", "pct"),
    ("Fact recall (answerable; abstaining = 0; fallbacks included)", "fact_recall", "pct"),
    ("Citation precision (cited passages holding evidence)", "citation_precision", "pct"),
    ("Unsupported sentences shown", "shown_unsupported", "int"),
    ("Answers shown in llm mode that echo the prompt", "shown_echo", "int"),
    ("Condensed follow-ups containing the fence", "condensed_with_fence", "int"),
    ("Model sentences left out as unsupported (LLM-written answers)", "unsupported_share", "pct"),
    ("Model sentences flagged, fallbacks included", "model_unsupported_share", "pct"),
    ("Abstention precision (unanswerable)", "abstention_precision", "pct"),
    ("Abstention recall (unanswerable)", "abstention_recall", "pct"),
    ("Fallback rate (mode extractive-fallback)", "fallback_rate", "pct"),
    ("Time to first shown sentence p50 (from ask; whole answer when nothing streamed)", "first_shown_p50_ms", "s"),
    ("Time to first shown sentence p50, answers shown in llm mode", "first_shown_llm_p50_ms", "s"),
    ("Time to first token p50 (generation start)", "first_token_p50_ms", "s"),
    ("Tokens per second (generation, model tokenizer)", "tokens_per_second", "num"),
    ("Generated tokens p50", "completion_tokens_p50", "num"),
    ("Prompt tokens p50 / max", ("prompt_tokens_p50", "prompt_tokens_max"), "pair"),
    ("Prompt tokens reused from the cache p50", "prompt_tokens_cached_p50", "num"),
    ("Total time per question p50", "latency_total_p50_ms", "s"),
    ("Total time per question p95", "latency_total_p95_ms", "s"),
    ("Truncated at max_tokens", "truncated", "int"),
    ("Replies in JSON", ("replies_json", "replies"), "of"),
    ("Replies neither JSON nor with any [n] marker", ("raw_without_markers", "replies"), "of"),
    ("Errors", "errors", "int"),
)


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "s":
        return f"{value / 1000:.2f} s"
    if kind == "int":
        return str(int(value))
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def markdown_table(runs: list[dict]) -> str:
    lines = ["| Metric | " + " | ".join(r["label"] for r in runs) + " |", "| --- |" + " ---: |" * len(runs)]
    for title, key, kind in ROWS:
        cells = []
        for run in runs:
            m = run["aggregate"]
            if kind == "of":
                cells.append("–" if m.get(key[1]) is None else f"{m.get(key[0])} of {m.get(key[1])}")
            elif kind == "pair":
                cells.append(" / ".join(_fmt(m.get(k), "num") for k in key))
            else:
                cells.append(_fmt(m.get(key), kind))
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def merge_results(files: list[Path], out: Path) -> str:
    """Runs of the same label from several result files (a set split with --start/--limit) as one result, every
    aggregate recomputed from the joined per-question records over the questions all runs answered; writes out
    (+ .md) and returns the table."""
    results = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    labels: dict[str, dict] = {}
    for result in results:
        for run in result["runs"]:
            joined = labels.setdefault(run["label"], {**run, "questions": []})
            have = {r["id"] for r in joined["questions"]}  # a question two chunks both answered counts once
            joined["questions"] += [r for r in run["questions"] if r["id"] not in have]
    # Every column over the same questions: those every joined run answered.
    common = set.intersection(*({r["id"] for r in run["questions"]} for run in labels.values()))
    runs = []
    for label, run in labels.items():
        run["questions"] = [r for r in run["questions"] if r["id"] in common]
        llm = label != "extractive"
        k = results[0].get("k") or Settings().retrieval.top_k
        runs.append({**run, **_summarise(label, run["questions"], k, llm)})
    table = markdown_table(runs)
    merged = {**results[0], "merged_from": [str(f) for f in files], "runs": runs, "table": table}
    merged["questions"] = max(len(r["questions"]) for r in runs)
    out.write_text(json.dumps(merged, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    out.with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    return table


@contextlib.contextmanager
def _backend(settings: Settings, backend: str, path: Path, args: argparse.Namespace) -> Iterator[Any]:
    """Point settings at the model: in-process, or xllamacpp's HTTP server (a child process) behind a
    recording proxy, both on 127.0.0.1. Yields the proxy's recorder, or None (in-process is recorded later)."""
    if backend == "gguf":
        settings.llm.backend = "gguf"
        yield None
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from llm_server import running_server  # the tests' launcher of xllamacpp's server, in a child process

    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)
    with running_server(path, n_ctx=args.context_window, threads=threads, timeout=300) as upstream:
        proxy = RecordingProxy(upstream)
        with proxy.running() as base_url:
            settings.llm.backend, settings.llm.base_url = "openai", base_url
            yield proxy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=ROOT / "evals" / "sample.yaml", help="question set (YAML)")
    parser.add_argument("--model", action="append", help="GGUF path, 'qwen' or 'smollm2'; repeat for several "
                        "(default: qwen when fetched, else smollm2)")  # fmt: skip
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--stride", type=int, default=1, help="every K-th question (a spread-out subset)")
    parser.add_argument("--start", type=int, default=1, help="begin at question N (1-based; to split a run)")
    parser.add_argument("--merge", type=Path, nargs="+", help="join the runs of these JSON results (split runs of "
                        "one set) into --out, recomputing every metric, then exit")  # fmt: skip
    parser.add_argument("--out", type=Path, help="JSON results (default evals/runs/llm-benchmark-<time>.json)")
    parser.add_argument("--index", type=Path, help=f"index folder (default {DEFAULT_INDEX_ROOT}/<set>-<key>)")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: all cores but one)")
    parser.add_argument("--llm", choices=["gguf", "openai"], default="gguf",
                        help="in-process, or through xllamacpp's HTTP server on 127.0.0.1")  # fmt: skip
    parser.add_argument("--context-window", type=int, default=2048, help="tokens; the prompts need about 900")
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the next token")
    parser.add_argument("--no-extractive", action="store_true", help="skip the extractive baseline")
    args = parser.parse_args(argv)
    if args.merge:
        if not args.out:
            parser.error("--merge needs --out")
        print(merge_results(args.merge, args.out))
        return 0

    models = [resolve_model(m) for m in (args.model or ["qwen" if QWEN_FILE.exists() else "smollm2"])]
    eval_set = load_set(args.set)
    questions = eval_set.questions[max(0, args.start - 1) :: max(1, args.stride)]
    questions = questions[: args.limit] if args.limit else questions
    base = Settings()
    base.llm.backend = "none"
    key = index_key(eval_set.corpus, base)
    base.index.dir = args.index or DEFAULT_INDEX_ROOT / f"{eval_set.name}-{key}"
    embedder = Embedder(base.embedding)
    info = ensure_index(Assistant(base, embedder), eval_set.corpus, key)
    print(f"index {info.dir}: {info.articles} articles, {info.passages} passages "
          f"({'reused' if info.reused else f'built in {info.ingest_seconds:.1f} s'})", file=sys.stderr)  # fmt: skip
    k = base.retrieval.top_k
    started = time.perf_counter()
    out = args.out or ROOT / "evals" / "runs" / f"llm-benchmark-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "set": str(args.set),
        "questions": len(questions),
        "limit": args.limit,
        "stride": args.stride,
        "command": [Path(sys.executable).name, *sys.argv],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "index": info.__dict__,
        "llm_settings": {
            "context_window": args.context_window,
            "max_tokens": args.max_tokens,
            "threads": args.threads,
            "timeout": args.timeout,
            "backend": args.llm,
            "temperature": base.llm.temperature,
        },
        "runs": [],
    }

    def save(partial: dict | None = None) -> str:  # after every question, so a stopped run keeps what it did
        runs = result["runs"] + ([partial] if partial else [])
        table = markdown_table(runs)
        result["partial"] = None if partial is None else f"{partial['label']}: {len(partial['questions'])} questions"
        result.update(seconds=round(time.perf_counter() - started, 1), table=table)
        dumped = {**result, "runs": runs}
        out.write_text(json.dumps(dumped, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        out.with_suffix(".md").write_text(table + "\n", encoding="utf-8")
        return table

    if not args.no_extractive:
        result["runs"].append(run_answerer("extractive", Assistant(base, embedder), questions, k, False, save))
        save()
    for path in models:
        settings = base.model_copy(deep=True)
        settings.llm.path = path
        settings.llm.context_window = args.context_window
        settings.llm.max_tokens = args.max_tokens
        settings.llm.threads = args.threads
        settings.llm.timeout = args.timeout
        model = {"path": str(path), "size_mb": round(path.stat().st_size / 1e6, 1), **gguf_header(path)}
        checkpoint = lambda partial, m=model: save({**partial, "model": m})  # noqa: E731
        label = f"{path.name} ({args.llm})"
        with _backend(settings, args.llm, path, args) as recorder:
            assistant = Assistant(settings, embedder)
            run = run_answerer(label, assistant, questions, k, True, checkpoint, recorder)
            if assistant.router.llm is not None and hasattr(assistant.router.llm, "close"):
                assistant.router.llm.close()
        result["runs"].append({**run, "model": model})
        save()
    print(save())
    print(f"\n{len(questions)} questions in {result['seconds']:.0f} s; results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
