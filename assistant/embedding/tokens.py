"""Word pieces and encoder inputs: a text's ids without re-tokenizing, and the feeds an exported graph takes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np


def raw_tokenizer(tokenizer):
    """An independent copy of a fast tokenizer's Rust backend without truncation or padding (None if slow)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        from tokenizers import Tokenizer

        raw = Tokenizer.from_str(backend.to_str())
    except Exception:  # noqa: BLE001 - any failure just means the slower generic path is used
        return None
    raw.no_truncation()
    raw.no_padding()
    return raw


def ids_compose(tokenizer, raw) -> bool:
    """Whether a text's encoder input is [CLS] + its word pieces + [SEP] and the word pieces of a text are those of
    its whitespace-separated parts one after the other: true of BERT's WordPiece (it normalizes character by
    character and splits words at whitespace first), not of byte-level BPE or SentencePiece, which mark spaces."""
    if raw is None or tokenizer.padding_side != "right" or None in (tokenizer.cls_token_id, tokenizer.sep_token_id):
        return False
    backend = tokenizer.backend_tokenizer
    if (type(backend.normalizer).__name__, type(backend.pre_tokenizer).__name__) != (
        "BertNormalizer",
        "BertPreTokenizer",
    ):
        return False
    probe = "Zelensky's naïve “probe”, 2022."
    expected = [tokenizer.cls_token_id, *raw.encode(probe, add_special_tokens=False).ids, tokenizer.sep_token_id]
    encoded = tokenizer([probe])
    return encoded["input_ids"][0] == expected and not any(encoded.get("token_type_ids", [[0]])[0])


def max_seq_length(model_dir: Path, tokenizer) -> int:
    """The model's input limit in tokens: its sentence-transformers setting, else the tokenizer's (at most 512)."""
    config = model_dir / "sentence_bert_config.json"
    if config.exists():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return int(min(getattr(tokenizer, "model_max_length", 512), 512))


class EncoderInputs:
    """The inputs of an exported graph (ids, attention mask, token types) for a batch, and its pooling mask."""

    def __init__(self, tokenizer, max_tokens: int, names: list[str]) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.names = names  # the graph's input names
        self._tokenizer_lock = threading.Lock()

    def for_batch(self, texts: list[str], ids: list[np.ndarray] | None, batch: list[int]):
        """The encoder's inputs for texts[batch]: from the caller's token ids when there are any."""
        if ids is None:
            return self.from_texts([texts[i] for i in batch])
        return self.from_ids([ids[i] for i in batch])

    def from_ids(self, ids: list[np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """What from_texts makes of the texts these word pieces come from: [CLS] ids [SEP], truncated and padded
        on the right to the longest row."""
        tokenizer = self.tokenizer
        keep = self.max_tokens - 2
        width = min(max(len(row) for row in ids), keep) + 2
        input_ids = np.full((len(ids), width), tokenizer.pad_token_id, dtype=np.int64)
        attention = np.zeros((len(ids), width), dtype=np.int64)
        for r, row in enumerate(ids):
            n = min(len(row), keep)
            input_ids[r, 0] = tokenizer.cls_token_id
            input_ids[r, 1 : n + 1] = row[:n]
            input_ids[r, n + 1] = tokenizer.sep_token_id
            attention[r, : n + 2] = 1
        encoded = {"input_ids": input_ids, "attention_mask": attention, "token_type_ids": np.zeros_like(input_ids)}
        return {name: encoded[name] for name in self.names}, attention.astype(np.float32)[..., None]

    def from_texts(self, texts: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        with self._tokenizer_lock:  # a fast tokenizer sets its padding state per call: one thread at a time
            encoded = self.tokenizer(
                texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="np"
            )
        feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.names}
        return feeds, np.asarray(encoded["attention_mask"], dtype=np.float32)[..., None]
