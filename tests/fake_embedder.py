"""A model-free embedder for logic tests: hashed bags of words as normalised vectors, deterministic, instant."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable

import numpy as np

from assistant.text.terms import search_terms as bm25_tokens

WORD = re.compile(r"\w+|[^\w\s]")  # a "word piece": a run of letters/digits, or one other visible character


class FakeEmbedder:
    """What the pipeline uses of assistant.embedding.encoder.Embedder (name, dimension, max_tokens, token_ids,
    embed, embed_query), without a model: texts sharing words get a high cosine, texts sharing none about 0.

    Its name differs from the real model's, so an index built with it is refused by the real embedder and the
    other way round (the store checks the manifest's embedder name and dimension).
    """

    name = "fake-hashed-words"
    backend = "fake"
    dimension = 256
    max_tokens = 256

    @staticmethod
    def _bucket(word: str) -> int:
        return zlib.crc32(word.encode("utf-8", "surrogatepass")) & 0x7FFFFFFF  # stable across runs, unlike hash()

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """One id per word or punctuation mark (about as many as MiniLM's word pieces for English news text)."""
        return [[self._bucket(piece) % 30_000 for piece in WORD.findall(text)] for text in texts]

    def _vector(self, words: list[str]) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in words:
            h = self._bucket(word)
            vector[h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
        if not vector.any():  # no content word (or words that cancel out): one fixed direction, still unit length
            vector[0] = 1.0
        return vector / np.linalg.norm(vector)

    def embed(
        self,
        texts: list[str],
        progress: Callable[[int], None] | None = None,
        token_ids: list | None = None,
    ) -> np.ndarray:
        """Normalised vectors, one row per text; token_ids (given by the indexer) are checked and ignored."""
        if token_ids is not None and len(token_ids) != len(texts):
            raise ValueError(f"{len(token_ids)} token id lists for {len(texts)} texts")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # BM25's words (stemmed, without stop words and question words): without stop words' weight two unrelated
        # English sentences are nearly orthogonal, as they are for the real model.
        for i, words in enumerate(bm25_tokens(texts)):
            out[i] = self._vector(words)
        if progress and texts:
            progress(len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
