"""Splitting articles into passages: sizes measured once, and the token ids handed to the encoder, real embedder."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.ingest import Article, read_file
from assistant.ingest.passages import passage_header, passage_search_text, tokenized_passages
from tests.conftest import SAMPLE_ARTICLE

LONG_SENTENCE = " ".join(f"clause {i}, with Zelensky's naïve “quoted” words" for i in range(60)) + "."
ODD_GAPS = "The vote was close.\u2028Officials counted again.\x0cThe result stood. Critics (“loudly”) objected."


@pytest.fixture(scope="module")
def article() -> Article:
    """The sample article with a sentence too long for one passage and sentences parted by unusual spaces."""
    sample = read_file(SAMPLE_ARTICLE, 1 << 30, 1).articles[0]
    return Article(sample.title, f"{sample.text}\n{LONG_SENTENCE}\n{ODD_GAPS}", published=sample.published)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(254, 0), (64, 1), (40, 0)])
def test_passages_are_packed_by_fresh_counts_of_their_sentences(embedder, article, max_tokens, overlap):
    """The sizes tokenized_passages reuses from cutting long sentences pack passages as counting each sentence anew."""
    passages = tokenized_passages(article, embedder.token_ids, max_tokens, overlap)[0]
    header = len(embedder.token_ids([passage_header(article)])[0])
    budget = max(max_tokens - header - 2, 16)
    spans = sorted({s for p in passages for s in p.sentences})
    fresh = dict(zip(spans, map(len, embedder.token_ids([article.text[s:e] for s, e in spans])), strict=True))
    for passage in passages:
        assert passage.text == article.text[passage.start : passage.end]
        used = sum(fresh[s] for s in passage.sentences)
        assert len(passage.sentences) == 1 or used <= budget
        after = spans.index(passage.sentences[-1]) + 1
        assert after == len(spans) or used + fresh[spans[after]] > budget  # greedy: the next sentence did not fit
    start = article.text.index(LONG_SENTENCE)
    pieces = [s for p in passages for s in p.sentences if start <= s[0] < start + len(LONG_SENTENCE)]
    assert len(set(pieces)) > 1  # the long sentence was cut


@pytest.mark.parametrize(("max_tokens", "with_header"), [(254, True), (40, False)])
def test_passage_token_ids_are_the_tokenizers_and_give_the_same_vectors(embedder, article, max_tokens, with_header):
    """The ids put together from the sentences' are what the tokenizer makes of each passage's search text, and the
    encoder fed them gives the very vectors it gives for the texts."""
    passages, ids = tokenized_passages(article, embedder.token_ids, max_tokens, 0, with_header)
    texts = [passage_search_text(p, article, with_header) for p in passages]
    expected = embedder.tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert [row.tolist() for row in ids] == expected
    assert np.array_equal(embedder.embed(texts, token_ids=ids), embedder.embed(texts))


def test_encoder_input_from_ids_is_the_tokenizers_also_when_truncated(embedder, article):
    texts = [LONG_SENTENCE * 3, "Ukraine", ODD_GAPS, ""]
    inputs = embedder.runtime.inputs
    from_ids = inputs.from_ids([np.array(ids, dtype=np.int32) for ids in embedder.token_ids(texts)])
    from_texts = inputs.from_texts(texts)
    assert from_ids[0].keys() == from_texts[0].keys()
    for name, value in from_texts[0].items():
        assert np.array_equal(from_ids[0][name], value), name
    assert np.array_equal(from_ids[1], from_texts[1])


def test_token_ids_are_ignored_where_they_do_not_add_up(embedder, monkeypatch):
    texts = ["The vote was close.", "Officials counted the ballots again on Tuesday."]
    expected = embedder.embed(texts)
    monkeypatch.setattr(embedder, "_composes", False)  # as for a byte-level BPE or SentencePiece tokenizer
    wrong = [np.array([1000, 1001], dtype=np.int32)] * 2
    assert np.array_equal(embedder.embed(texts, token_ids=wrong), expected)
