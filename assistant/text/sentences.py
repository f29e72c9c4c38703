"""Sentences: one splitter (nltk's Punkt, a line break always ends a sentence) for every stage that needs them."""

from __future__ import annotations

import re
from functools import cache


@cache
def _punkt():
    """nltk's Punkt sentence tokenizer; its parameters ship with llama-index-core, so nothing is downloaded."""
    import importlib.util
    import os

    import nltk

    # Only llama-index-core's folder is needed: found without importing the package (about 1 s of CPU that an
    # ingest has no other use for).
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("llama-index-core, which ships Punkt's parameters, is not installed")
    cache_dir = os.path.join(spec.submodule_search_locations[0], "_static", "nltk_cache")
    if cache_dir not in nltk.data.path:
        nltk.data.path.append(cache_dir)
    from nltk.tokenize.punkt import PunktTokenizer

    return PunktTokenizer("english")


def load_sentence_splitter() -> None:
    """Load Punkt now: its imports (nltk, llama-index) take about 2 s of CPU, which a process forked after this
    call does not pay again."""
    _punkt()


_QUOTE_CONTINUATION = re.compile(r"^[”\"’']\s*$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a text; a line break always ends a sentence."""
    spans: list[tuple[int, int]] = []
    tokenizer = _punkt()
    for m in re.finditer(r"[^\n]+", text):
        line_start = m.start()
        for start, end in tokenizer.span_tokenize(m.group()):
            piece = m.group()[start:end]
            # Punkt sometimes leaves a closing quote on its own; glue it to the sentence before.
            if spans and _QUOTE_CONTINUATION.match(piece) and spans[-1][1] <= line_start + start:
                spans[-1] = (spans[-1][0], line_start + end)
                continue
            spans.append((line_start + start, line_start + end))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of a text, stripped."""
    return [text[s:e].strip() for s, e in sentence_spans(text) if text[s:e].strip()]
