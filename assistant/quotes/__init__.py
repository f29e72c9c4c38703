"""Who said what: quotes and reported speech in news articles, each with its resolved speaker."""

from assistant.quotes.extract import extract_statements, statement_rows
from assistant.quotes.gold import score_attribution
from assistant.quotes.matching import (
    asks_for_own_words,
    match_speaker,
    match_speakers,
    parse_speaker_question,
    speaker_names,
)
from assistant.quotes.statement import Kind, Statement

__all__ = [
    "asks_for_own_words",
    "Kind",
    "Statement",
    "extract_statements",
    "match_speaker",
    "match_speakers",
    "parse_speaker_question",
    "score_attribution",
    "speaker_names",
    "statement_rows",
]
