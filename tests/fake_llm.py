"""A scripted LLM for deterministic pipeline tests: it replies from a queue and records the prompts it got."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.llms import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CustomLLM,
    LLMMetadata,
    MessageRole,
)
from pydantic import PrivateAttr


class FakeLLM(CustomLLM):
    """Replies with the queued texts in order (streamed word by word); an Exception in the queue is raised.

    refuse_schema makes it answer a chat call that carries a response_format with the error a server that
    cannot follow a JSON schema gives (HTTP 400), before taking a reply from the queue.
    """

    refuse_schema: bool = False
    _replies: list = PrivateAttr(default_factory=list)
    _formats: list = PrivateAttr(default_factory=list)
    _prompts: list = PrivateAttr(default_factory=list)
    _streamed: list = PrivateAttr(default_factory=list)

    @property
    def streamed(self) -> str:
        """The text of the current reply streamed so far (what a consumer has pulled from the stream)."""
        return "".join(self._streamed)

    def queue(self, *replies: str | Exception) -> None:
        self._replies.extend(replies)

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    @property
    def formats(self) -> list:
        """The response_format of every chat call (None when it had none)."""
        return self._formats

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="fake")

    def _next(self, prompt: str) -> str:
        self._prompts.append(prompt)
        if not self._replies:
            raise AssertionError("FakeLLM: no reply queued")
        reply = self._replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._next(prompt))

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        text = self._next(prompt)
        words = text.split(" ")

        def gen():
            so_far = ""
            self._streamed.clear()
            for i, word in enumerate(words):
                delta = word if i == 0 else " " + word
                so_far += delta
                self._streamed.append(delta)
                yield CompletionResponse(text=so_far, delta=delta)

        return gen()

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any):
        prompt = "\n".join(f"[{m.role.value}] {m.content}" for m in messages)
        self._formats.append(kwargs.get("response_format"))
        if self.refuse_schema and kwargs.get("response_format"):
            from assistant.errors import LLMError

            raise LLMError("http://127.0.0.1:9/v1 failed with HTTP 400: 'response_format' is not supported")

        def gen():
            for response in self.stream_complete(prompt):
                message = ChatMessage(role=MessageRole.ASSISTANT, content=response.text)
                yield ChatResponse(message=message, delta=response.delta)

        return gen()

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        *_, last = self.stream_chat(messages)
        return last
