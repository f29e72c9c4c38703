"""News question-answering assistant: ingest articles, ask questions, get answers citing their sentences."""

from assistant.settings import Settings

__all__ = ["Settings"]
