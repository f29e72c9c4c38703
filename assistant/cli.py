"""The `assistant` command line: a thin layer over Assistant that prints results and clear errors."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape as esc  # article text must never be read as rich markup

from assistant.errors import AssistantError
from assistant.progress import progress_bar
from assistant.settings import Settings, load_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ask questions about your news articles; every answer cites the sentences it rests on.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # a message is one line, also in a log

# A string, not a Path: a Path would fold milvus:http://host into milvus:http:/host.
IndexOpt = Annotated[
    str | None,
    typer.Option("--index", help="Index folder (default: ./index), or milvus:FILE.db / milvus:http://host:19530."),
]
LLMOpt = Annotated[
    str | None,
    typer.Option("--llm", help="Answer with: none (extractive, default), openai (any compatible server), gguf."),
]
LLMBaseUrlOpt = Annotated[
    str | None, typer.Option("--llm-base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")
]
LLMModelOpt = Annotated[str | None, typer.Option("--llm-model", help="Model name on that server.")]
LLMPathOpt = Annotated[Path | None, typer.Option("--llm-path", help="GGUF file for --llm gguf.")]
# The API key is deliberately not a flag (flags leak into shell history and process lists): set
# ASSISTANT_LLM_API_KEY or OPENAI_API_KEY.


def _llm_section(llm: str | None, base_url: str | None, model: str | None, path: Path | None) -> dict:
    if llm is not None and llm not in ("none", "openai", "gguf"):
        raise _fail(f"--llm must be none, openai or gguf, not '{llm}'", 2)
    return {"backend": llm, "base_url": base_url, "model": model, "path": path}


def json_line(obj: dict) -> str:
    """One JSON object on one line: Unicode kept readable, but line separators escaped so no reader splits it."""
    text = json.dumps(obj, ensure_ascii=False)
    # Line separators would split the line; lone surrogates (a file name that is not UTF-8) cannot be written
    # as UTF-8. Both become JSON \u escapes, which every reader decodes back.
    return re.sub("[\u2028\u2029\x85\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)


def _settings(index: str | None = None, **sections: dict[str, object]) -> Settings:
    """Settings from the environment and the given flags (None: not given), validated alike; exit 2 if bad."""
    try:
        return load_settings(index={"dir": index}, **sections)
    except AssistantError as exc:
        raise _fail(str(exc), 2) from None


def _assistant(settings: Settings):
    from assistant.pipeline import Assistant  # imported late: loading torch makes --help slow

    return Assistant(settings)


def _require_index(assistant):
    """The assistant, once its index is known to exist: listing a mistyped --index must not say '0 articles'."""
    if not assistant.store.generation:
        raise AssistantError(f"there is no index in {assistant.settings.index.dir}: run 'assistant ingest PATH' first")
    return assistant


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {esc(message)}")
    return typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Article files or folders (.txt .md .html .json .jsonl).")],
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the per-file report as JSON lines.")] = False,
) -> None:
    """Add articles to the index (unchanged files cost nothing; changed files replace their old passages)."""
    assistant = _assistant(_settings(index))
    bar, hooks = progress_bar(err)
    try:
        with bar:
            report = assistant.ingest(paths, hooks)
    except AssistantError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"the index could not be saved: {exc}") from None
    except KeyboardInterrupt:  # caught here: typer turns it into a silent exit 130 before main() could see it
        from assistant.index.indexer import CHECKPOINT_PASSAGES

        err.print(
            f"interrupted: the index keeps what was saved (every {CHECKPOINT_PASSAGES:,} passages); "
            "run the same command again to go on where it stopped"
        )
        raise typer.Exit(130) from None
    colours = {"ingested": "green", "unchanged": "dim", "skipped": "yellow", "failed": "red"}
    for f in report.files:
        if as_json:
            print(json_line({"path": f.path, "status": f.status, "reason": f.reason, "notes": f.notes,
                             "articles": [a.id for a in f.articles]}))  # fmt: skip
            continue
        detail = f.reason or "; ".join(f.notes)
        count = f" ({len(f.articles)} articles)" if len(f.articles) > 1 else ""
        out.print(
            f"[{colours[f.status]}]{f.status:>9}[/] {esc(f.path)}{count}" + (f"  — {esc(detail)}" if detail else "")
        )
    err.print(report.summary())
    if report.count("failed") or not (report.count("ingested") or report.count("unchanged")):
        raise typer.Exit(1)  # what could be read is kept; the exit code tells a script that something failed


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, or '-' to read one question per line from stdin.")],
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per question per line.")] = False,
    k: Annotated[int | None, typer.Option("-k", help="Passages to retrieve.", min=1, max=50)] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only articles from this source.")] = None,
    since: Annotated[str | None, typer.Option(help="Only articles published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Only articles published on or before (YYYY-MM-DD).")] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The date the question is asked from: articles published near it rank higher."),
    ] = None,
    llm: LLMOpt = None,
    llm_base_url: LLMBaseUrlOpt = None,
    llm_model: LLMModelOpt = None,
    llm_path: LLMPathOpt = None,
) -> None:
    """Answer a question from the indexed articles, citing the sentences the answer rests on."""
    from assistant.retrieval.retriever import Filters
    from assistant.text.dates import DateRangeError, date_range, parse_date

    try:
        first, last = date_range(since, until)
    except DateRangeError as exc:
        raise _fail(str(exc), 2) from None
    if as_of and not parse_date(as_of):
        raise _fail(f"--as-of expects a date like 2025-04-05, not '{as_of}'", 2)
    filters = Filters(sources=source or [], since=first, until=last, as_of=parse_date(as_of))
    assistant = _assistant(_settings(index, llm=_llm_section(llm, llm_base_url, llm_model, llm_path)))
    # Questions from stdin are decoded leniently: one undecodable byte must not end a batch of questions.
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace") if question == "-" else None
    questions = (line for line in stdin) if stdin else iter([question])
    failed = False
    for text in questions:
        if question == "-" and not text.strip():
            continue
        try:
            answer = _ask_streaming(assistant, text, filters, k, live=not as_json and err.is_terminal)
        except AssistantError as exc:
            if question != "-":
                raise _fail(str(exc)) from None
            err.print(f"[red]error:[/red] {exc}")
            if as_json:
                print(json_line({"question": text.strip(), "error": str(exc)}))
            failed = True
            continue
        if as_json:
            print(json_line(answer.to_json()))
        else:
            _print_answer(answer)
    if failed:
        raise typer.Exit(1)


def _ask_streaming(assistant, question: str, filters, k: int | None, live: bool):
    """Ask, showing the answer live on the terminal (stderr) as it is written; returns the checked Answer."""
    answer = None
    for event in assistant.ask_stream(question, filters=filters, k=k):
        if live and event.delta:
            err.print(event.delta, end="", style="dim")
        answer = event.answer or answer
    if live:
        err.print("\r\033[K" if err.is_terminal else "")
    return answer


def _print_answer(answer) -> None:
    if answer.standalone_question and answer.standalone_question != answer.question:
        out.print(f"[dim](understood as: {esc(answer.standalone_question)})[/dim]")
    style = "yellow" if answer.abstained else "bold"
    out.print(f"[{style}]{esc(answer.answer)}[/{style}]")
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.published, c.url) if x)
        speaker = f" — {c.speaker}" if c.speaker else ""
        out.print(f"  [cyan][{c.n}][/cyan] {esc(c.title)}" + (f" ({esc(meta)})" if meta else "") + esc(speaker))
        out.print(f"      “{esc(c.quote)}”  [dim]chars {c.start}–{c.end}[/dim]")
    for note in answer.notes:
        out.print(f"[dim]note: {esc(note)}[/dim]")
    out.print("")


@app.command("list")
def list_articles(
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per article.")] = False,
) -> None:
    """Show the indexed articles."""
    try:
        articles = _require_index(_assistant(_settings(index))).articles()
    except AssistantError as exc:
        raise _fail(str(exc)) from None
    for a in articles:
        if as_json:
            print(json_line({k: v for k, v in a.to_dict().items() if k != "text"}))
        else:
            date, source = a.published or "----------", esc(a.source or "-")
            out.print(f"{a.id}  {date}  {source:<14.14} {esc(a.title[:70])}  [dim]{esc(a.path)}[/dim]")
    if not as_json:
        err.print(f"{len(articles)} articles")


@app.command()
def remove(
    targets: Annotated[list[str], typer.Argument(help="Article ids (see 'assistant list') or file paths.")],
    index: IndexOpt = None,
) -> None:
    """Delete articles from the index by id or by the file they came from."""
    try:
        removed = _assistant(_settings(index)).remove(targets)
    except AssistantError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"the index could not be saved (nothing was removed): {exc}") from None
    for a in removed:
        out.print(f"removed {a.id}  {esc(a.title[:70])}")


@app.command()
def quotes(
    index: IndexOpt = None,
    speaker: Annotated[str | None, typer.Option(help="Only statements by this person (any name variant).")] = None,
    about: Annotated[str | None, typer.Option(help="Rank statements by relevance to this topic.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per statement.")] = False,
    limit: Annotated[int, typer.Option(help="Most statements to show.", min=1)] = 50,
) -> None:
    """List who said what: quotes and reported statements with their speakers, exact spans and articles."""
    from assistant.answers.speaker import list_statements

    try:
        assistant = _require_index(_assistant(_settings(index)))
        found = list_statements(assistant.store, assistant.embedder, assistant.retriever.idf, speaker, about)
    except AssistantError as exc:
        raise _fail(str(exc)) from None
    for item in found[:limit]:
        s, a = item.statement, item.article
        if as_json:
            row = {"speaker": s.speaker, "kind": s.kind, "text": s.text, "cue": s.cue, "start": s.start, "end": s.end,
                   "article_id": a.id, "title": a.title, "published": a.published, "source": a.source}  # fmt: skip
            print(json_line(row))
        else:
            mark = "“”" if s.kind == "direct" else "  "
            said = f"[bold]{esc(s.speaker)}[/bold] ({esc(s.cue)}): {mark[0]}{esc(s.text)}{mark[1]}"
            out.print(f"{said}  [dim]{a.published} {a.id}[/dim]")
    if not as_json:
        err.print(f"{min(len(found), limit)} of {len(found)} statements")


@app.command()
def chat(
    index: IndexOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1); any other needs a user and password.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port of the page (default 7860; 0 picks a free one).", min=0, max=65535)
    ] = None,
    llm: LLMOpt = None,
    llm_base_url: LLMBaseUrlOpt = None,
    llm_model: LLMModelOpt = None,
    llm_path: LLMPathOpt = None,
) -> None:
    """Open the chat page in the browser: ask questions, follow up, and see each answer's cited passages."""
    from assistant.chat import serve  # imported late: gradio is slow to import

    try:
        llm_section = _llm_section(llm, llm_base_url, llm_model, llm_path)
        serve(_settings(index, chat={"host": host, "port": port}, llm=llm_section), log=err.print)
    except AssistantError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"the chat page could not start: {exc}") from None


index_app = typer.Typer(no_args_is_help=True, help="Manage indexes: copy one between backends.")
app.add_typer(index_app, name="index")


@index_app.command("copy")
def index_copy(
    source: Annotated[str, typer.Argument(help="The index to copy: a folder, or milvus:FILE.db / milvus:http://...")],
    destination: Annotated[str, typer.Argument(help="Where to copy it (created, or completed when it exists).")],
) -> None:
    """Copy an index with its vectors to another backend (FAISS folder <-> Milvus); nothing is embedded again."""
    from assistant.index.copy import copy_index

    settings = _settings()
    bar, hooks = progress_bar(err)
    try:
        with bar:
            report = copy_index(settings, source, destination, hooks)
    except AssistantError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"the index could not be saved: {exc}") from None
    except KeyboardInterrupt:
        err.print("interrupted: the destination keeps what was saved; run the same command again to go on")
        raise typer.Exit(130) from None
    err.print(report.summary())


@app.command("eval")
def evaluate(
    set_file: Annotated[Path | None, typer.Argument(help="Question set, e.g. evals/sample.yaml.")] = None,
    benchmark: Annotated[
        Path | None, typer.Option(help="Benchmark folder with articles.jsonl and questions.jsonl.")
    ] = None,
    index: Annotated[
        str | None,
        typer.Option(help="Index folder (default: index/evals/SET-KEY, reused while unchanged), or milvus:URI."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: evals/runs/SET-TIMESTAMP).")
    ] = None,
    compare: Annotated[Path | None, typer.Option(help="A previous results.json to compare with.")] = None,
    limit: Annotated[int | None, typer.Option(help="Benchmark: a seeded sample of N questions.", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Benchmark: seed of the --limit sample.")] = 0,
    mode: Annotated[
        str | None, typer.Option(help="Retrieval mode: dense, bm25, hybrid or all (default: the setting).")
    ] = None,
    all_questions: Annotated[
        bool, typer.Option("--all-questions", help="Benchmark: also questions with answer_in_corpus false.")
    ] = False,
) -> None:
    """Score the assistant on a question set or benchmark; exits 1 when a threshold of the set is missed."""
    from assistant.evaluation.command import eval_command

    code = eval_command(set_file, benchmark, index, out_dir, compare, limit, seed, mode, all_questions, out, err)
    if code:
        raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; the index keeps its last saved state")
        sys.exit(130)
