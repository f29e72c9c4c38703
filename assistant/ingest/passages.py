"""Split articles into sentence-aligned passages that fit the embedder, keeping character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from assistant.ingest.articles import Article
from assistant.text.sentences import sentence_spans


@dataclass
class Passage:
    """A run of whole sentences of one article; offsets index the article's text."""

    article_id: str
    start: int
    end: int
    text: str
    sentences: list[tuple[int, int]] = field(default_factory=list)  # article offsets of each sentence
    id: int = -1  # assigned by the index


def passage_header(article: Article) -> str:
    """Title and date put in front of each passage for embedding and BM25 (not part of the cited text)."""
    return f"{article.title} ({article.published})" if article.published else article.title


def passage_search_text(passage: Passage, article: Article, with_header: bool) -> str:
    """The text that is embedded and BM25-indexed for a passage: its header (with_header) and its text."""
    return f"{passage_header(article)}\n{passage.text}" if with_header else passage.text


def tokenized_passages(
    article: Article,
    token_ids: Callable[[list[str]], list[list[int]]],
    max_tokens: int,
    overlap_sentences: int = 1,
    with_header: bool = True,
    sentences: list[tuple[int, int]] | None = None,
) -> tuple[list[Passage], list[np.ndarray]]:
    """Greedy packing of whole sentences into passages of at most max_tokens word pieces (header included), and
    the word-piece ids of each one's search text (header, newline, passage), put together from the ids its
    sentences were measured with, so the encoder need not tokenize the passage again.

    token_ids gives the word-piece ids of each text (Embedder.token_ids); sentences are the text's sentence_spans,
    when the caller has them already. We pack sentences ourselves rather than use llama-index's SentenceSplitter
    because every passage must know the exact article offsets of each of its sentences, which citations point at.
    """
    text = article.text
    if sentences is None:
        sentences = sentence_spans(text)
    spans, ids = _split_long_sentences(text, sentences, token_ids, max_tokens // 2)
    if not spans:
        return [], []
    header = token_ids([passage_header(article)])[0] if with_header else []
    budget = max(max_tokens - (len(header) + 2 if with_header else 0), 16)
    passages: list[Passage] = []
    passage_ids: list[np.ndarray] = []
    i = 0
    while i < len(spans):
        j, used = i, 0
        while j < len(spans) and (j == i or used + len(ids[j]) <= budget):
            used += len(ids[j])
            j += 1
        chosen = spans[i:j]
        start, end = chosen[0][0], chosen[-1][1]
        passages.append(Passage(article.id, start, end, text[start:end], list(chosen)))
        # The sentences' ids add up to the passage's when only plain whitespace lies between them (a word-piece
        # tokenizer splits words there); anything else between them, and the passage is tokenized on its own.
        if all(_PLAIN_GAP.fullmatch(text, a[1], b[0]) for a, b in zip(chosen, chosen[1:], strict=False)):
            pieces = [*header, *chain.from_iterable(ids[i:j])]
        else:
            pieces = [*header, *token_ids([text[start:end]])[0]]
        passage_ids.append(np.array(pieces, dtype=np.int32))  # 4 bytes an id: 1 KB a passage, held till embedded
        if j >= len(spans):
            break
        # Overlap: the next passage repeats the last sentences, unless that would stall progress.
        i = max(j - overlap_sentences, i + 1)
    return passages, passage_ids


_PLAIN_GAP = re.compile(r"[ \t\r\n]+")


def _split_long_sentences(
    text: str, spans: list[tuple[int, int]], token_ids: Callable[[list[str]], list[list[int]]], limit: int
) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """Cut sentences longer than limit word pieces at word boundaries, so no passage is ever truncated; returns
    the spans and their word-piece ids (only the pieces of cut sentences are tokenized a second time)."""
    ids = token_ids([text[s:e] for s, e in spans]) if spans else []
    result, result_ids, cut = [], [], []  # cut: positions in result of the pieces of cut sentences
    for (start, end), pieces in zip(spans, ids, strict=True):
        if len(pieces) <= limit:
            result.append((start, end))
            result_ids.append(pieces)
            continue
        words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
        per_piece = max(1, int(len(words) * limit / len(pieces)))
        for k in range(0, len(words), per_piece):
            chunk = words[k : k + per_piece]
            cut.append(len(result))
            result.append((chunk[0][0], chunk[-1][1]))
            result_ids.append([])
    if cut:
        for i, pieces in zip(cut, token_ids([text[s:e] for s, e in (result[i] for i in cut)]), strict=True):
            result_ids[i] = pieces
    return result, result_ids
