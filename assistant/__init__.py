"""News question-answering assistant: ingest articles, ask questions, get answers citing their sentences."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.llama_index import NewsRetriever
    from assistant.pipeline import Assistant

__all__ = ["Assistant", "NewsRetriever", "Settings"]


def __getattr__(name: str) -> Any:
    """Assistant and NewsRetriever load torch and llama-index: imported on first use, so `assistant --help` is quick."""
    if name == "Assistant":
        from assistant.pipeline import Assistant

        return Assistant
    if name == "NewsRetriever":
        from assistant.llama_index import NewsRetriever

        return NewsRetriever
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
