"""Errors the assistant reports to people: each carries a message fit to print, never a traceback."""


class AssistantError(Exception):
    """A problem with a clear message for the user (bad input, damaged index, busy index, ...)."""


class IndexProblemError(AssistantError):
    """The index is missing, damaged, locked or built with another embedder."""


class IndexLockedError(IndexProblemError):
    """Another writer holds the index."""


class QuestionError(AssistantError):
    """The question cannot be asked (empty, too long)."""


class LLMError(AssistantError):
    """The LLM backend failed (server down, model missing, timeout, context too long)."""
