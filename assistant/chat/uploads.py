"""Uploaded files: copied beside the index, checked, and ingested as `assistant ingest` would."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.chat.collection import warm_up_in_background
from assistant.chat.render import render_ingest_report, render_notice, render_refusals
from assistant.chat.security import max_upload_bytes, upload_name, upload_refusal
from assistant.errors import AssistantError
from assistant.ingest import SIDECAR_SUFFIX
from assistant.pipeline import Assistant, IngestReport
from assistant.progress import Progress
from assistant.settings import Settings

UPLOADS_DIR = "uploads"  # inside the index folder: uploaded files stay beside the index they fed


def store_uploads(paths: list[str], target: Path, max_bytes: int) -> tuple[list[Path], list[str]]:
    """Copy uploads into one folder under their own names (so NAME.meta.json sits beside NAME.txt).

    Returns the copies and a note per refused file. A re-upload of the same name replaces that file, and
    ingestion then replaces its articles, as `assistant ingest` does for a changed file.
    """
    target.mkdir(parents=True, exist_ok=True)
    copies, refused = [], []
    for raw in paths:
        source = Path(raw)
        refusal = upload_refusal(source.name, source.stat().st_size, max_bytes)
        if refusal:
            refused.append(refusal)
            continue
        name = upload_name(source.name)
        copy = target / name
        shutil.copyfile(source, copy)
        if not name.endswith(SIDECAR_SUFFIX):
            copies.append(copy)
    return copies, refused


def upload(
    assistant: Assistant, settings: Settings, paths: list[str] | str | None, progress: Callable | None = None
) -> str:
    """Ingest uploaded files through Assistant.ingest and report per file, as `assistant ingest` does."""
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    if not paths:
        return ""
    target = Path(settings.index.dir) / UPLOADS_DIR
    copies, refused = store_uploads(paths, target, max_upload_bytes(settings.chat))
    report = IngestReport()
    if copies:
        try:
            report = assistant.ingest(copies, progress_hooks(progress))
            if report.articles_added or report.articles_removed:
                warm_up_in_background(assistant)  # the new generation gets its own BM25 ranking
        except AssistantError as exc:
            return render_notice(str(exc))
        except OSError as exc:
            return render_notice(f"the index could not be saved: {exc}")
    return (render_ingest_report(report) if copies else "") + render_refusals(refused)


def progress_hooks(progress: Callable | None) -> Progress:
    """pipeline.Progress hooks that drive a gr.Progress bar (no-op hooks without one)."""
    if progress is None:
        return Progress()
    state: dict[str, Any] = {"label": "", "total": 0, "done": 0}

    def start(label: str, total: int) -> None:
        state.update(label=label, total=max(total, 1), done=0)
        progress((0, state["total"]), desc=label)

    def advance(n: int) -> None:
        state["done"] += n
        progress((min(state["done"], state["total"]), state["total"]), desc=state["label"])

    return Progress(start, advance)
