"""Progress of long work (ingest, evaluation): callbacks the work calls, and the terminal's bar behind them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich import progress as rich
from rich.console import Console


@dataclass
class Progress:
    """Callbacks for long work; the CLI, the evaluation and the chat page plug their progress display in here."""

    start: Callable[[str, int], None] = lambda label, total: None
    advance: Callable[[int], None] = lambda n: None


def progress_bar(console: Console) -> tuple[rich.Progress, Progress]:
    """A rich progress bar on `console` (quiet when it is not a terminal) and the callbacks that drive it: each
    start() replaces the stage shown with a new one."""
    bar = rich.Progress(
        rich.TextColumn("{task.description:>10}"),
        rich.BarColumn(),
        rich.MofNCompleteColumn(),
        rich.TimeElapsedColumn(),
        rich.TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task: list[rich.TaskID] = []

    def start(label: str, total: int) -> None:
        if task:
            bar.remove_task(task.pop())
        task.append(bar.add_task(label, total=total))

    def advance(n: int) -> None:
        if task:
            bar.advance(task[0], n)

    return bar, Progress(start, advance)
