"""LLM backends behind llama-index's LLM interface (OpenAI-compatible server, or a GGUF file in-process)."""

from __future__ import annotations

import os
import queue
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms import LLM, CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.llms.openai_like import OpenAILike

from assistant.errors import LLMError
from assistant.settings import LLMSettings

__all__ = ["GGUFLLM", "OpenAICompatibleLLM", "complete_text", "make_llm", "stream_answer"]

# Local servers (llama.cpp, vLLM, Ollama) ignore the key, but the OpenAI client refuses to start without one.
_DUMMY_KEY = "not-needed"
# One retry: a local server that refused a connection is down, and a user is waiting for the answer.
_MAX_RETRIES = 1
_SHORTEN = "retrieve fewer passages (ASSISTANT_RETRIEVAL_TOP_K) or raise ASSISTANT_LLM_CONTEXT_WINDOW"
_CONTEXT_TOO_LONG = re.compile(r"context.{0,40}(length|size|window|exceed)|exceed.{0,40}context|too many tokens", re.I)


class OpenAICompatibleLLM(OpenAILike):
    """OpenAILike whose API key never shows in repr(), str() or serialised settings (they end up in logs)."""

    api_key: str | None = Field(default=None, exclude=True, repr=False, description="API key (hidden).")

    def _get_model_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        # llama-index lets the instance's max_tokens override a per-call max_tokens; a call's own wins here.
        merged = super()._get_model_kwargs(**kwargs)
        if "max_tokens" in kwargs:
            merged["max_tokens"] = kwargs["max_tokens"]
        return merged

    @classmethod
    def class_name(cls) -> str:
        return "OpenAICompatibleLLM"


def _api_key(settings: LLMSettings) -> str:
    # settings.api_key is filled by pydantic-settings from ASSISTANT_LLM_API_KEY.
    if settings.api_key is not None and settings.api_key.get_secret_value():
        return settings.api_key.get_secret_value()
    return os.environ.get("OPENAI_API_KEY") or _DUMMY_KEY


def _make_openai(settings: LLMSettings) -> OpenAICompatibleLLM:
    base_url = (settings.base_url or "").strip().rstrip("/")
    if not base_url:
        raise LLMError(
            "the 'openai' LLM backend needs the server's base URL: set ASSISTANT_LLM_BASE_URL, "
            "e.g. http://127.0.0.1:8080/v1"
        )
    if not re.match(r"https?://", base_url):
        raise LLMError(f"the LLM base URL must start with http:// or https://, got {base_url!r}")
    return OpenAICompatibleLLM(
        # llama.cpp's server answers to any model name; vLLM and hosted APIs need the real one.
        model=settings.model or "default",
        api_base=base_url,
        api_key=_api_key(settings),
        is_chat_model=True,
        is_function_calling_model=False,
        context_window=settings.context_window,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        timeout=settings.timeout,
        max_retries=_MAX_RETRIES,
    )


def _check_gguf_file(path: Path) -> None:
    if not path.exists():
        raise LLMError(f"GGUF model file not found: {path} (set ASSISTANT_LLM_PATH to a .gguf file)")
    if not path.is_file():
        raise LLMError(f"GGUF model path is not a file: {path}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise LLMError(f"cannot read the GGUF model file {path}: {exc.strerror or exc}") from None
    if magic != b"GGUF":
        raise LLMError(f"not a GGUF model file: {path} (it does not start with the GGUF signature)")


_DONE = object()  # end-of-stream marker on a GGUF streaming queue


class GGUFLLM(CustomLLM):
    """A GGUF model run in-process by xllamacpp (llama.cpp); chat uses the chat template stored in the file.

    xllamacpp's Server also opens an OpenAI-compatible HTTP port on 127.0.0.1 that cannot be turned off;
    it is locked with a random API key that is never shown, so only this object can use the model.
    """

    model_path: str = Field(description="Path of the GGUF file.")
    context_window: int = Field(default=4096, description="Context size in tokens.")
    max_tokens: int = Field(default=400, description="Most tokens written per call.")
    temperature: float = Field(default=0.1, description="Sampling temperature.")
    timeout: float = Field(default=60.0, description="Seconds to wait for the next token before giving up.")
    threads: int = Field(default=0, ge=0, description="CPU threads; 0 means all cores but one.")

    _server: Any = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        path = Path(self.model_path)
        _check_gguf_file(path)
        try:
            import xllamacpp
        except ImportError:
            raise LLMError(
                "the 'gguf' LLM backend needs the optional package xllamacpp: pip install 'news-assistant[gguf]'"
            ) from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self.context_window
        params.n_predict = self.max_tokens
        params.n_parallel = 1  # one slot gets the whole context; concurrent calls queue inside llama.cpp
        # llama.cpp's threads meet at a barrier after every layer: when they outnumber the free cores (the
        # embedder and web server share the machine) generation slows down ten-fold, so leave a core free.
        threads = self.threads or max(1, (os.cpu_count() or 2) - 1)
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # any free port: the HTTP side is unused here
        params.api_keys = [secrets.token_hex(16)]
        params.verbosity = 0  # llama.cpp's load log would flood the terminal; failures are reported below
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError:
            raise LLMError(
                f"could not load the GGUF model {path}: llama.cpp refused it (unsupported model architecture, "
                f"damaged file, or not enough memory for a {self.context_window}-token context)"
            ) from None

    @classmethod
    def class_name(cls) -> str:
        return "GGUFLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens,
            is_chat_model=True,
            is_function_calling_model=False,
            model_name=Path(self.model_path).name,
        )

    def close(self) -> None:
        """Free the model now instead of at garbage collection (xllamacpp's Server stops in its destructor)."""
        self._server = None

    def _request(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        request = {
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "stream": True,
        }
        if kwargs.get("response_format"):  # llama.cpp turns a JSON schema into a grammar the sampler must follow
            request["response_format"] = kwargs["response_format"]
        return request

    def _stream(self, method: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Chunks of one streamed call; xllamacpp blocks while it calls back, so it runs in a thread."""
        if self._server is None:
            raise LLMError("the local GGUF model was closed; load it again")
        handler = getattr(self._server, method)
        chunks: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            chunks.put(chunk)
            return stop.is_set()  # True tells llama.cpp to stop generating (the reader went away)

        def run() -> None:
            try:
                handler(request, on_chunk)
            except Exception as exc:  # reported to the reader, who turns it into an LLMError
                chunks.put(exc)
            finally:
                chunks.put(_DONE)

        threading.Thread(target=run, name="gguf-stream", daemon=True).start()
        try:
            while True:
                try:
                    item = chunks.get(timeout=self.timeout)
                except queue.Empty:
                    raise LLMError(
                        f"the local model wrote nothing for {self.timeout:g} s; raise ASSISTANT_LLM_TIMEOUT "
                        "or use a smaller model"
                    ) from None
                if item is _DONE:
                    return
                if isinstance(item, Exception):
                    raise LLMError(f"the local model rejected the request: {item}")
                if isinstance(item, dict) and "error" in item:
                    raise _server_error(item["error"])
                yield item
        finally:
            stop.set()

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """Raw text continuation of prompt (no chat template), streamed."""
        request = {"prompt": prompt, **self._request(kwargs)}

        def gen() -> CompletionResponseGen:
            text = ""
            for chunk in self._stream("handle_completions", request):
                choices = chunk.get("choices") or [{}]
                delta = choices[0].get("text") or ""
                text += delta
                yield CompletionResponse(text=text, delta=delta, raw=chunk)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Raw text continuation of prompt (no chat template)."""
        text, raw = "", None
        for response in self.stream_complete(prompt, formatted=formatted, **kwargs):
            text, raw = response.text, response.raw
        return CompletionResponse(text=text, raw=raw)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Chat through the model's own chat template, streamed."""
        request = {
            "messages": [{"role": m.role.value, "content": m.content or ""} for m in messages],
            **self._request(kwargs),
        }

        def gen() -> ChatResponseGen:
            text = ""
            for chunk in self._stream("handle_chat_completions", request):
                choices = chunk.get("choices") or [{}]
                delta = (choices[0].get("delta") or {}).get("content") or ""
                text += delta
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta, raw=chunk
                )

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Chat through the model's own chat template."""
        message, raw = ChatMessage(role=MessageRole.ASSISTANT, content=""), None
        for response in self.stream_chat(messages, **kwargs):
            message, raw = response.message, response.raw
        return ChatResponse(message=message, raw=raw)


def make_llm(settings: LLMSettings) -> LLM | None:
    """The LLM named by settings.backend, or None for 'none' (extractive answers only)."""
    if settings.backend == "none":
        return None
    if settings.backend == "openai":
        return _make_openai(settings)
    if settings.backend == "gguf":
        if settings.path is None:
            raise LLMError("the 'gguf' LLM backend needs a model file: set ASSISTANT_LLM_PATH to a .gguf file")
        return GGUFLLM(
            model_path=str(settings.path),
            context_window=settings.context_window,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            timeout=settings.timeout,
            threads=settings.threads,
        )
    raise LLMError(f"unknown LLM backend {settings.backend!r}: use none, openai or gguf")


def _server_error(error: Any) -> LLMError:
    """An LLMError for an error object returned by llama.cpp ({'code', 'message', 'type', ...})."""
    message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
    kind = str(error.get("type", "")) if isinstance(error, dict) else ""
    if "context" in kind or _CONTEXT_TOO_LONG.search(message):
        return LLMError(f"the question and passages do not fit the model's context ({message}); {_SHORTEN}")
    return LLMError(f"the local model failed: {message}")


def _explain(exc: Exception, llm: LLM) -> LLMError:
    """An LLMError a user can act on, for any failure of an LLM call."""
    import openai  # installed with llama-index-llms-openai; imported here so 'none' never needs it

    where = getattr(llm, "api_base", None) or "the LLM server"
    if isinstance(exc, openai.APITimeoutError):
        timeout = getattr(llm, "timeout", None)
        return LLMError(f"{where} did not answer within {timeout:g} s; raise ASSISTANT_LLM_TIMEOUT or check it")
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(f"cannot reach the LLM server at {where}: is it running? (check ASSISTANT_LLM_BASE_URL)")
    if isinstance(exc, openai.APIStatusError):
        detail = _status_detail(exc)
        status = exc.status_code
        if status in (401, 403):
            return LLMError(f"{where} refused the API key (HTTP {status}); set ASSISTANT_LLM_API_KEY")
        if status == 404:
            model = getattr(llm, "model", "?")
            return LLMError(
                f"{where} has no model {model!r} or no such endpoint (HTTP 404: {detail}); check "
                "ASSISTANT_LLM_MODEL, and that ASSISTANT_LLM_BASE_URL ends in /v1"
            )
        if _CONTEXT_TOO_LONG.search(detail):
            return LLMError(f"the question and passages do not fit the model's context ({detail}); {_SHORTEN}")
        if status == 429:
            return LLMError(f"{where} is busy or over its rate limit (HTTP 429); try again shortly")
        return LLMError(f"{where} failed with HTTP {status}: {detail}")
    return LLMError(f"the LLM call failed: {type(exc).__name__}: {exc}")


def _status_detail(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return str(message)[:300]
    return str(exc.message)[:300]


def stream_answer(llm: LLM, prompt: str | Sequence[ChatMessage], **kwargs: Any) -> Iterator[str]:
    """Text deltas of the LLM's reply; every failure becomes an LLMError with a message for the user.

    A str prompt is sent as one user message to chat models (both backends here are chat models, so the
    model's chat template is applied); a message list is sent as it is.
    """
    try:
        if isinstance(prompt, str) and not llm.metadata.is_chat_model:
            for response in llm.stream_complete(prompt, **kwargs):
                if response.delta:
                    yield response.delta
            return
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)] if isinstance(prompt, str) else prompt
        for message in llm.stream_chat(list(messages), **kwargs):
            if message.delta:
                yield message.delta
    except LLMError:
        raise
    except Exception as exc:
        raise _explain(exc, llm) from exc


def complete_text(llm: LLM, prompt: str | Sequence[ChatMessage], **kwargs: Any) -> str:
    """The LLM's whole reply as one string (for short calls such as condensing a follow-up question)."""
    return "".join(stream_answer(llm, prompt, **kwargs)).strip()
