"""A Milvus server on 127.0.0.1 for tests: milvus-lite's engine serving one file over gRPC, in a child process.

milvus-lite 2.5.1 has no `server` command (3.x has); its Server class takes an address, which is all a test needs
to reach the same client path as a Milvus cluster (http://127.0.0.1:PORT).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVE = """
import signal, sys, time
from milvus_lite.server import Server
server = Server(sys.argv[1], sys.argv[2])
if not server.start():
    sys.exit(1)
signal.signal(signal.SIGTERM, lambda *_: (server.stop(), sys.exit(0)))
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def milvus_server(db_file: Path) -> Iterator[str]:
    """The URI (http://127.0.0.1:PORT) of a Milvus server over db_file, stopped on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(db_file), f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"milvus-lite did not start (exit {process.poll()})")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
