"""Recorders for benchmarks: keep what llama.cpp reports of every chat call, in-process or over HTTP.

RecordingServer stands in for xllamacpp's Server inside GGUFLLM; RecordingProxy is an HTTP proxy on 127.0.0.1 in
front of an OpenAI-compatible server (the `openai` backend talks to the proxy). Both ask for the usage chunk
(true prompt size) and keep, per call: the model's text, llama.cpp's timings (prompt/generation time, tokens,
tokens reused from the prompt cache), usage, why it stopped, and whether a response_format was sent.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _new_call(request: dict) -> dict:
    return {"messages": len(request.get("messages") or []), "structured": "response_format" in request}


def _record_chunk(call: dict, chunk: Any) -> None:
    """Fold one streamed chunk (OpenAI chat-completion chunk as llama.cpp sends it) into the call's record."""
    if not isinstance(chunk, dict):
        return
    for key in ("timings", "usage"):
        if chunk.get(key):
            call[key] = chunk[key]
    for choice in chunk.get("choices") or []:
        call["text"] = call.get("text", "") + ((choice.get("delta") or {}).get("content") or "")
        if choice.get("finish_reason"):
            call["finish_reason"] = choice["finish_reason"]
    if "error" in chunk:
        call["error"] = chunk["error"]


class RecordingServer:
    """Stands in for xllamacpp's Server inside GGUFLLM and records every chat call (see the module docstring)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.calls: list[dict] = []

    def handle_chat_completions(self, request: dict, callback) -> Any:
        call = _new_call(request)
        self.calls.append(call)
        request = {**request, "stream_options": {"include_usage": True}}

        def record(chunk: Any) -> bool:
            _record_chunk(call, chunk)
            return callback(chunk)

        return self.server.handle_chat_completions(request, record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


def record_calls(llm: Any) -> RecordingServer:
    """Put a RecordingServer between a loaded GGUFLLM and its xllamacpp Server; returns the recorder."""
    recorder = RecordingServer(llm._server)
    llm._server = recorder
    return recorder


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards to upstream (a base URL ending in /v1) and records chat calls.

    Written on the standard library: it only has to pass one streamed POST through at a time, unchanged but
    for the usage request, so a proxy library would add more than it saves.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.calls: list[dict] = []
        self._httpd: ThreadingHTTPServer | None = None

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve until the block ends; yields the proxy's base URL (ending in /v1)."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # no access log on the benchmark's terminal
                pass

            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                call = _new_call(body)
                if self.path.endswith("/chat/completions"):
                    proxy.calls.append(call)
                    if body.get("stream"):
                        body["stream_options"] = {"include_usage": True}
                path = self.path.removeprefix("/v1")
                request = urllib.request.Request(
                    proxy.upstream + path,
                    data=json.dumps(body).encode(),
                    headers={k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")},
                    method="POST",
                )
                try:
                    upstream = urllib.request.urlopen(request, timeout=600)
                except urllib.error.HTTPError as exc:
                    upstream = exc
                with upstream:
                    self.send_response(upstream.status if hasattr(upstream, "status") else upstream.code)
                    for key, value in upstream.headers.items():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for line in upstream:
                        self.wfile.write(line)
                        self.wfile.flush()
                        text = line.decode("utf-8", "replace").strip().removeprefix("data:").strip()
                        if text.startswith("{"):  # a streamed chunk, a whole reply or an error body
                            with suppress(ValueError):
                                _record_chunk(call, json.loads(text))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._httpd.serve_forever, name="recording-proxy", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
