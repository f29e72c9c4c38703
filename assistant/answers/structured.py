"""Structured LLM answers: the JSON schema a model's reply must follow, and a parser that reads it while it streams.

The model answers {"sentences": [{"passages": [2], "text": "..."}, ...]}: every sentence names the passages it
rests on, so a citation no longer depends on a small model remembering to write "[n]". An empty list is the
model's abstention. Backends that can enforce the schema (llama.cpp's grammar, vLLM, Ollama, OpenAI) are sent
it as `response_format`; a reply that is not JSON is read in the older "[n]" marker format instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["StructuredReply", "answer_schema", "response_format"]

# Most sentences and passages per sentence a reply may hold: a short answer is both faster and easier to check.
MAX_SENTENCES = 3
MAX_PASSAGES_PER_SENTENCE = 2
MAX_SENTENCE_CHARS = 300

_LIST_START = re.compile(r'\{\s*"sentences"\s*:\s*\[')
_DECODER = json.JSONDecoder()


def answer_schema(n_passages: int) -> dict[str, Any]:
    """JSON schema of an answer over n_passages numbered passages (passage numbers limited to 1..n_passages).

    "passages" comes before "text": a model that picks its passage first then writes from it.
    """
    return {
        "type": "object",
        "properties": {
            "sentences": {
                "type": "array",
                "maxItems": MAX_SENTENCES,
                "items": {
                    "type": "object",
                    "properties": {
                        "passages": {
                            "type": "array",
                            "items": {"type": "integer", "enum": list(range(1, max(1, n_passages) + 1))},
                            "minItems": 1,
                            "maxItems": MAX_PASSAGES_PER_SENTENCE,
                        },
                        "text": {"type": "string", "minLength": 1, "maxLength": MAX_SENTENCE_CHARS},
                    },
                    "required": ["passages", "text"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["sentences"],
        "additionalProperties": False,
    }


def response_format(n_passages: int) -> dict[str, Any]:
    """The OpenAI-style `response_format` asking for answer_schema (llama.cpp's server and xllamacpp take it too)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": answer_schema(n_passages)},
    }


class StructuredReply:
    """Reads a streamed reply; once it is known to be JSON, hands out each sentence object as soon as it is closed.

    feed() returns the sentences completed by the new text, as (text, passage numbers). is_json is None while
    nothing but white space (or a ```json fence) has arrived, then True or False for good.
    """

    def __init__(self) -> None:
        self.text = ""
        self.is_json: bool | None = None
        self.sentences: list[tuple[str, list[int]]] = []
        self.closed = False  # the sentence list's "]" has been read
        self._pos: int | None = None  # where the next sentence object may start, once the list has opened

    def feed(self, delta: str) -> list[tuple[str, list[int]]]:
        self.text += delta
        if self.is_json is None:
            head = self.text.lstrip()
            head = head.removeprefix("```json").removeprefix("```").lstrip()
            if head and not "```json".startswith(self.text.lstrip()):  # wait while a code fence may be opening
                self.is_json = head.startswith("{")
        if not self.is_json or self.closed:
            return []
        if self._pos is None:
            opened = _LIST_START.search(self.text)
            if not opened:
                return []
            self._pos = opened.end()
        new = []
        while True:
            pos = self._skip(self._pos)
            if pos >= len(self.text):
                break
            if self.text[pos] == "]":
                self.closed = True
                break
            if self.text[pos] != "{":  # not the schema's shape: stop reading, the rest is ignored
                self.closed = True
                break
            try:
                item, end = _DECODER.raw_decode(self.text, pos)
            except json.JSONDecodeError:
                break  # the object is still being written
            self._pos = end
            sentence = _sentence(item)
            if sentence is not None:
                self.sentences.append(sentence)
                new.append(sentence)
        return new

    @property
    def abstained(self) -> bool:
        """True for a complete JSON reply with no sentence (the schema's way to say the passages don't answer)."""
        return bool(self.is_json and self.closed and not self.sentences)

    def _skip(self, pos: int) -> int:
        while pos < len(self.text) and (self.text[pos].isspace() or self.text[pos] == ","):
            pos += 1
        return pos


def _sentence(item: Any) -> tuple[str, list[int]] | None:
    """(text, passage numbers) of one sentence object, or None when it is not of the schema's shape."""
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return None
    passages = item.get("passages", item.get("passage", []))
    if isinstance(passages, int):
        passages = [passages]
    numbers = (
        [p for p in passages if isinstance(p, int) and not isinstance(p, bool)] if isinstance(passages, list) else []
    )
    return item["text"].strip(), numbers
