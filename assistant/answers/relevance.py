"""Relevance of sentences to a question: meaning (the encoder's cosine) and its rare words, half and half."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.embedding import Embedder
from assistant.text.terms import search_terms


def relevance(
    embedder: Embedder,
    idf: Callable[[str], float],
    query: str,
    texts: Sequence[str],
    contexts: Sequence[str] | None = None,
) -> list[float]:
    """0.5 x cosine(query, text) + 0.5 x the idf-weighted share of the query's search terms found in the text (rare
    words count most); a term found only in the text's context (the sentences before it, where "he said" names its
    speaker) counts half. The one relevance measure of extractive and speaker answers."""
    if not texts:
        return []
    vectors = embedder.embed([query, *texts])
    cosines = vectors[1:] @ vectors[0]
    weights = {t: idf(t) for t in set(search_terms([query])[0])}
    total = sum(weights.values()) or 1.0
    scores = []
    for i, (text, cosine) in enumerate(zip(texts, cosines, strict=True)):
        own = set(search_terms([text])[0])
        context = set(search_terms([contexts[i]])[0]) if contexts and contexts[i] else set()
        covered = sum(w if t in own else 0.5 * w if t in context else 0.0 for t, w in weights.items())
        scores.append(float(0.5 * max(cosine, 0.0) + 0.5 * (covered / total if weights else 0.0)))
    return scores
