"""Speaker attribution scored against gold statements (precision and recall)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.quotes.matching import match_speaker
from assistant.quotes.statement import Statement


def _fold(s: str) -> str:
    """Quote marks and apostrophes folded, whitespace collapsed: gold files are typed by hand."""
    s = s.translate(str.maketrans("“”‘’–—", "\"\"''--"))
    return re.sub(r"\s+", " ", s).strip()


def _same_speaker(gold_speaker: str, st: Statement, statements: Sequence[Statement]) -> bool:
    if _fold(gold_speaker).lower() == _fold(st.speaker).lower():
        return True
    return match_speaker(gold_speaker, statements) == st.speaker


def score_attribution(statements: list[Statement], gold: list[dict]) -> dict:
    """Precision/recall of extracted statements against gold items {speaker, kind, contains}.

    An extracted statement matches a gold one when the gold `contains` string lies within its text and the
    speakers are the same person (canonical name or a variant).
    """
    matched_gold: set[int] = set()
    matched_st: set[int] = set()
    for g, item in enumerate(gold):
        needle = _fold(item["contains"])
        for s, st in enumerate(statements):
            if needle in _fold(st.text) and _same_speaker(item["speaker"], st, statements):
                matched_gold.add(g)
                matched_st.add(s)
    misses = []
    for g, item in enumerate(gold):
        if g in matched_gold:
            continue
        needle = _fold(item["contains"])
        found = [st.speaker for st in statements if needle in _fold(st.text)]
        misses.append({**item, "extracted_speakers": found})
    false_positives = [
        {"speaker": st.speaker, "kind": st.kind, "text": st.text, "cue": st.cue}
        for s, st in enumerate(statements)
        if s not in matched_st
    ]
    return {
        "precision": len(matched_st) / len(statements) if statements else 0.0,
        "recall": len(matched_gold) / len(gold) if gold else 0.0,
        "matched": len(matched_gold),
        "extracted": len(statements),
        "gold": len(gold),
        "misses": misses,
        "false_positives": false_positives,
    }
