"""The `assistant` command line: a thin layer over Assistant that prints results and clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from assistant.errors import AssistantError
from assistant.settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ask questions about your news articles; every answer cites the sentences it rests on.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

IndexOpt = Annotated[Path | None, typer.Option("--index", help="Index folder (default: ./index).")]


def _settings(index: Path | None = None, **sections) -> Settings:
    settings = Settings()
    if index is not None:
        settings.index.dir = index
    for section, values in sections.items():
        for key, value in values.items():
            if value is not None:
                setattr(getattr(settings, section), key, value)
    return settings


def _assistant(settings: Settings):
    from assistant.pipeline import Assistant  # imported late: loading torch makes --help slow

    return Assistant(settings)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


class _RichProgress:
    """Adapts rich's progress bar to pipeline.Progress; quiet when stderr is not a terminal."""

    def __init__(self) -> None:
        self.bar = Progress(
            TextColumn("{task.description:>10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        self.task = None

    def start(self, label: str, total: int) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(label, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Article files or folders (.txt .md .html .json .jsonl).")
    ],
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the per-file report as JSON lines.")] = False,
) -> None:
    """Add articles to the index (unchanged files cost nothing; changed files replace their old passages)."""
    from assistant.pipeline import Progress as Hooks

    assistant = _assistant(_settings(index))
    rich_progress = _RichProgress()
    try:
        with rich_progress.bar:
            report = assistant.ingest(paths, Hooks(rich_progress.start, rich_progress.advance))
    except AssistantError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"the index could not be saved: {exc}") from None
    colours = {"ingested": "green", "unchanged": "dim", "skipped": "yellow", "failed": "red"}
    for f in report.files:
        if as_json:
            out.print(json.dumps({"path": f.path, "status": f.status, "reason": f.reason, "notes": f.notes,
                                  "articles": [a.id for a in f.articles]}))  # fmt: skip
            continue
        detail = f.reason or "; ".join(f.notes)
        count = f" ({len(f.articles)} articles)" if len(f.articles) > 1 else ""
        out.print(
            f"[{colours[f.status]}]{f.status:>9}[/] {f.path}{count}" + (f"  — {detail}" if detail else "")
        )
    err.print(report.summary())
    if not report.count("ingested") and not report.count("unchanged"):
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[
        str, typer.Argument(help="The question, or '-' to read one question per line from stdin.")
    ],
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per question per line.")] = False,
    k: Annotated[int | None, typer.Option("-k", help="Passages to retrieve.", min=1, max=50)] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only articles from this source.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only articles published on or after (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only articles published on or before (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Answer a question from the indexed articles, citing the sentences the answer rests on."""
    from assistant.ingestion import parse_date
    from assistant.retrieval import Filters

    for name, value in (("--since", since), ("--until", until)):
        if value and not parse_date(value):
            raise _fail(f"{name} expects a date like 2025-04-05, not '{value}'", 2)
    filters = Filters(sources=source or [], since=parse_date(since), until=parse_date(until))
    assistant = _assistant(_settings(index))
    questions = (line for line in sys.stdin) if question == "-" else iter([question])
    failed = False
    for text in questions:
        if question == "-" and not text.strip():
            continue
        try:
            answer = assistant.ask(text, filters=filters, k=k)
        except AssistantError as exc:
            if question != "-":
                raise _fail(str(exc)) from None
            err.print(f"[red]error:[/red] {exc}")
            if as_json:
                out.print(json.dumps({"question": text.strip(), "error": str(exc)}, ensure_ascii=False))
            failed = True
            continue
        if as_json:
            out.print(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            _print_answer(answer)
    if failed:
        raise typer.Exit(1)


def _print_answer(answer) -> None:
    if answer.standalone_question and answer.standalone_question != answer.question:
        out.print(f"[dim](understood as: {answer.standalone_question})[/dim]")
    style = "yellow" if answer.abstained else "bold"
    out.print(f"[{style}]{answer.answer}[/{style}]")
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.published, c.url) if x)
        speaker = f" — {c.speaker}" if c.speaker else ""
        out.print(f"  [cyan][{c.n}][/cyan] {c.title}" + (f" ({meta})" if meta else "") + speaker)
        out.print(f"      “{c.quote}”  [dim]chars {c.start}–{c.end}[/dim]")
    for note in answer.notes:
        out.print(f"[dim]note: {note}[/dim]")
    out.print("")


@app.command("list")
def list_articles(
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per article.")] = False,
) -> None:
    """Show the indexed articles."""
    try:
        articles = _assistant(_settings(index)).articles()
    except AssistantError as exc:
        raise _fail(str(exc)) from None
    for a in articles:
        if as_json:
            out.print(json.dumps({k: v for k, v in a.to_dict().items() if k != "text"}, ensure_ascii=False))
        else:
            out.print(
                f"{a.id}  {a.published or '----------'}  {a.source or '-':<14.14} {a.title[:70]}  [dim]{a.path}[/dim]"
            )
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
    for a in removed:
        out.print(f"removed {a.id}  {a.title[:70]}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; the index keeps its last saved state")
        sys.exit(130)
