"""Load test of the chat page: N concurrent clients drive its /ask API for a bounded time (a script, not a test).

    python evals/load_test.py [--clients 20] [--seconds 60] [--requests-per-client 100] [--index DIR] [--url URL]
                              [--server-pid PID] [--set evals/sample.yaml] [--json FILE]

Without --url it serves the chat app itself, in this process, on a free port of 127.0.0.1 over --index (default:
a temporary index of data/sample), with the chat settings of ASSISTANT_CHAT_* (concurrency 2, queue 32 by
default). With --url it drives a running `assistant chat` (on 127.0.0.1 only: see allowed_url), and reads that
server's memory from /proc/PID only when --server-pid is given.

Each client is a thread with its own HTTP connection, sending the standalone questions of the question set
(--set; follow-ups are skipped: the API holds no conversation) in a seeded random order through Gradio's
documented API: POST /gradio_api/call/v2/ask joins the queue, GET /gradio_api/call/ask/EVENT streams the answer.
A client stops at the deadline (a request already sent is waited for, up to --timeout) or after
--requests-per-client requests. Every request ends as exactly one of:

  answered  the stream completed with an answer message (an answer or an abstention);
  refused   Gradio's "Queue is full" (HTTP 503): the expected answer of a busy page, counted apart;
  error     anything else: an HTTP error, an error event, a timeout, a notice instead of an answer.

The report gives requests, answered, refused, errors (with the first few reasons), p50/p95 latency of the answered
requests, throughput (answered per second of the run) and the server's resident memory (VmRSS of /proc/PID/status)
before and after the run, after one warm-up request. In-process, that RSS includes the clients' threads (a few MB).
Exit code: 0 when every request was answered or refused, 1 when any failed otherwise, 2 when the run cannot start.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = ROOT / "evals" / "sample.yaml"
QUEUE_FULL = "Queue is full"  # the detail of Gradio's 503 when the queue holds chat.max_queue events
REFUSED_PAUSE = 0.2  # seconds a refused client waits before its next question, as a user would
MAX_SHOWN_ERRORS = 5


# ---- one request ----------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str  # answered, refused or error
    seconds: float
    detail: str = ""


def _sse_events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent-events stream."""
    event, data = "", []
    for line in response.iter_lines():
        if not line:
            if event or data:
                yield event, "\n".join(data)
            event, data = "", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    if event or data:
        yield event, "\n".join(data)


def _last_message_text(data: str) -> str:
    """The text of the last chat message in the outputs of a completed /ask event."""
    outputs = json.loads(data)
    messages = outputs[0] if outputs else []
    if not messages or messages[-1].get("role") != "assistant":
        return ""
    content = messages[-1].get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def ask_once(http: httpx.Client, url: str, question: str, timeout: float = 60.0, **inputs) -> Outcome:
    """Ask one question through the page's API; `inputs` are other /ask inputs by name (k, sources, mode...)."""
    started = time.perf_counter()

    def done(kind: str, detail: str = "") -> Outcome:
        return Outcome(kind, time.perf_counter() - started, detail[:300])

    try:
        joined = http.post(f"{url}/gradio_api/call/v2/ask", json={"question": question, **inputs}, timeout=timeout)
        if joined.status_code == 503 and QUEUE_FULL in joined.text:
            return done("refused", joined.json().get("detail", joined.text))
        if joined.status_code != 200:
            return done("error", f"HTTP {joined.status_code} on joining the queue: {joined.text}")
        event_id = joined.json()["event_id"]
        with http.stream("GET", f"{url}/gradio_api/call/ask/{event_id}", timeout=timeout) as stream:
            if stream.status_code != 200:
                return done("error", f"HTTP {stream.status_code} on the answer stream")
            for event, data in _sse_events(stream):
                if event == "error":
                    return done("error", f"error event: {data}")
                if event == "complete":
                    text = _last_message_text(data)
                    if 'class="answer' in text:
                        return done("answered")
                    return done("error", f"no answer in the reply: {text or data}")
                if time.perf_counter() - started > timeout:
                    return done("error", f"no answer within {timeout:g} s")
        return done("error", "the answer stream ended without a complete event")
    except httpx.TimeoutException:
        return done("error", f"timed out after {timeout:g} s")
    except Exception as exc:  # anything else is a failed request to count, not a reason to stop the client
        return done("error", f"{type(exc).__name__}: {exc}")


# ---- many clients ---------------------------------------------------------------------------------------------
@dataclass
class LoadReport:
    url: str
    clients: int
    seconds: float  # the run's wall-clock time, from the first request to the last answer
    outcomes: list[Outcome] = field(default_factory=list)
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None
    rss_peak_mb: float | None = None  # VmHWM: the highest RSS the server process ever had
    rss_mid_mb: float | None = None  # RSS halfway through the run: growth after it hints at a leak, not warm-up

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)

    @property
    def requests(self) -> int:
        return len(self.outcomes)

    @property
    def answered(self) -> int:
        return self.count("answered")

    @property
    def refused(self) -> int:
        return self.count("refused")

    @property
    def errors(self) -> list[str]:
        return [o.detail for o in self.outcomes if o.kind == "error"]

    def latency(self, q: float) -> float | None:
        from assistant.evaluation.metrics import percentile

        return percentile([o.seconds for o in self.outcomes if o.kind == "answered"], q)

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    @property
    def rss_growth_mb(self) -> float | None:
        if self.rss_before_mb is None or self.rss_after_mb is None:
            return None
        return self.rss_after_mb - self.rss_before_mb

    @property
    def ok(self) -> bool:
        return not self.errors and self.requests == self.answered + self.refused

    def summary(self) -> dict:
        def rounded(value: float | None, digits: int = 3) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "url": self.url,
            "clients": self.clients,
            "seconds": rounded(self.seconds, 1),
            "requests": self.requests,
            "answered": self.answered,
            "refused_queue_full": self.refused,
            "errors": len(self.errors),
            "error_examples": sorted(set(self.errors))[:MAX_SHOWN_ERRORS],
            "latency_p50_s": rounded(self.latency(50)),
            "latency_p95_s": rounded(self.latency(95)),
            "latency_max_s": rounded(self.latency(100)),
            "throughput_rps": rounded(self.throughput, 2),
            "rss_before_mb": rounded(self.rss_before_mb, 1),
            "rss_after_mb": rounded(self.rss_after_mb, 1),
            "rss_growth_mb": rounded(self.rss_growth_mb, 1),
            "rss_mid_mb": rounded(self.rss_mid_mb, 1),
            "rss_peak_mb": rounded(self.rss_peak_mb, 1),
        }

    def text(self) -> str:
        s = self.summary()

        def fmt(value, unit: str = "") -> str:
            return "n/a" if value is None else f"{value}{unit}"

        lines = [
            f"load test of {s['url']}: {s['clients']} clients for {s['seconds']} s",
            f"  requests {s['requests']}: answered {s['answered']}, refused (queue full) {s['refused_queue_full']}, "
            f"errors {s['errors']}",
            f"  latency of answered requests: p50 {fmt(s['latency_p50_s'], ' s')}, p95 {fmt(s['latency_p95_s'], ' s')}"
            f", max {fmt(s['latency_max_s'], ' s')}",
            f"  throughput: {s['throughput_rps']} answers/s",
            f"  server RSS: {fmt(s['rss_before_mb'], ' MB')} before, {fmt(s['rss_after_mb'], ' MB')} after "
            f"(growth {fmt(s['rss_growth_mb'], ' MB')}; {fmt(s['rss_mid_mb'], ' MB')} halfway; "
            f"peak {fmt(s['rss_peak_mb'], ' MB')})",
        ]
        lines += [f"  error: {e}" for e in s["error_examples"]]
        return "\n".join(lines)


def proc_status_mb(pid: int, key: str = "VmRSS") -> float | None:
    """A memory figure of /proc/PID/status (VmRSS, VmHWM) in MB; None where /proc is missing or the pid is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def load_questions(set_file: Path | str = DEFAULT_SET) -> list[str]:
    """The standalone questions (no history) of a question set."""
    from assistant.evaluation.questions import load_set

    questions = [q.question for q in load_set(set_file).questions if not q.history]
    if not questions:
        raise ValueError(f"{set_file} holds no standalone question")
    return questions


def run_load(
    url: str,
    questions: list[str],
    clients: int = 20,
    seconds: float = 60.0,
    requests_per_client: int = 100,
    timeout: float = 60.0,
    server_pid: int | None = None,
    seed: int = 0,
    warm_up: bool = True,
    inputs: dict | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> LoadReport:
    """Drive the /ask API of `url` with `clients` threads for `seconds`; see the module docstring."""
    url = url.rstrip("/")
    inputs = inputs or {}
    with httpx.Client() as http:
        http.get(f"{url}/gradio_api/info", timeout=timeout).raise_for_status()  # also caches the API description
        if warm_up:  # load the models and the index before the memory baseline
            first = ask_once(http, url, questions[0], timeout, **inputs)
            if first.kind != "answered":
                raise RuntimeError(f"the warm-up question was not answered: {first.kind} {first.detail}")
    report = LoadReport(url, clients, 0.0)
    if server_pid:
        report.rss_before_mb = proc_status_mb(server_pid)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)  # every client sends its first question at the same moment
    deadline = [0.0]

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        order = questions[:]
        rng.shuffle(order)
        with httpx.Client() as http:
            start.wait()
            for i in range(requests_per_client):
                if time.monotonic() >= deadline[0]:
                    break
                outcome = ask_once(http, url, order[i % len(order)], timeout, **inputs)
                with lock:
                    outcomes.append(outcome)
                if outcome.kind == "refused":
                    time.sleep(REFUSED_PAUSE)

    threads = [threading.Thread(target=client, args=(n,), name=f"load-client-{n}", daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    log(f"{clients} clients asking {url} for {seconds:g} s ...")
    began = time.monotonic()
    deadline[0] = began + seconds
    start.wait()
    if server_pid:  # the RSS halfway through (the clients run meanwhile)
        halfway = threading.Timer(seconds / 2, lambda: setattr(report, "rss_mid_mb", proc_status_mb(server_pid)))
        halfway.daemon = True
        halfway.start()
    for thread in threads:
        thread.join(seconds + 2 * timeout + 10)
    report.seconds = time.monotonic() - began
    stuck = sum(thread.is_alive() for thread in threads)
    report.outcomes = list(outcomes)
    report.outcomes += [Outcome("error", report.seconds, "client still waiting at the end")] * stuck
    if server_pid:
        report.rss_after_mb = proc_status_mb(server_pid)
        report.rss_peak_mb = proc_status_mb(server_pid, "VmHWM")
    return report


# ---- serving the app in this process ----------------------------------------------------------------------------
def allowed_url(url: str) -> bool:
    """Only loopback addresses: this script sends a burst of requests and must not load someone else's server."""
    from assistant.chat import is_loopback

    return urlsplit(url).scheme in ("http", "https") and is_loopback(urlsplit(url).hostname or "")


@contextlib.contextmanager
def serve_app(
    index_dir: Path | str | None = None,
    *,
    concurrency: int | None = None,
    max_queue: int | None = None,
    assistant=None,
    embedder=None,
    log: Callable[[str], None] = lambda message: None,
) -> Iterator[str]:
    """The chat app served in this process on a free port of 127.0.0.1; yields its URL, closes it on exit.

    Without index_dir (or assistant), the sample corpus is indexed into a temporary folder first. `assistant`
    replaces the Assistant built over index_dir (tests pass a slowed-down one).
    """
    from assistant.chat import build_app, ensure_index, launch
    from assistant.pipeline import Assistant
    from assistant.settings import Settings

    with contextlib.ExitStack() as stack:
        settings = assistant.settings.model_copy(deep=True) if assistant is not None else Settings()
        if assistant is None:
            if index_dir is None:
                index_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-test-"))) / "index"
            settings.index.dir = Path(index_dir)
            assistant = Assistant(settings, embedder)
            ensure_index(assistant, log)
        settings.chat.host, settings.chat.port = "127.0.0.1", 0
        if concurrency is not None:
            settings.chat.concurrency = concurrency
        if max_queue is not None:
            settings.chat.max_queue = max_queue
        demo = build_app(assistant, settings)
        _, url, _ = launch(demo, settings, prevent_thread_lock=True, quiet=True)
        stack.callback(demo.close)
        log(f"serving {settings.index.dir} on {url} (concurrency {settings.chat.concurrency}, "
            f"queue {settings.chat.max_queue})")  # fmt: skip
        yield url.rstrip("/")


# ---- command line -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long clients send questions (default 60)")
    parser.add_argument("--requests-per-client", type=int, default=100, help="most requests per client (100)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one request may take (default 120)")
    parser.add_argument("--index", type=Path, help="index folder to serve (default: a temporary sample index)")
    parser.add_argument("--url", help="drive this running chat page (127.0.0.1 only) instead of serving one")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's pid, to read its memory")
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="question set to draw questions from")
    parser.add_argument("--seed", type=int, default=0, help="seed of each client's question order")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.requests_per_client < 1 or args.timeout <= 0:
        parser.error("--clients, --seconds, --requests-per-client and --timeout must be positive")
    if args.url and args.index:
        parser.error("--index serves a page itself; it cannot be combined with --url")
    if args.url and not allowed_url(args.url):
        parser.error(f"--url must be an http(s) address on this machine (127.0.0.1, ::1, localhost): {args.url}")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    from assistant.errors import AssistantError

    try:
        questions = load_questions(args.set)
        with contextlib.ExitStack() as stack:
            if args.url:
                url, pid = args.url, args.server_pid
            else:
                url, pid = stack.enter_context(serve_app(args.index, log=log)), os.getpid()
            report = run_load(
                url, questions, args.clients, args.seconds, args.requests_per_client, args.timeout, pid, args.seed,
                log=log,
            )  # fmt: skip
    except (AssistantError, OSError, ValueError, RuntimeError, httpx.HTTPError) as exc:
        log(f"error: the load test could not run: {exc}")
        return 2
    print(report.text())
    if args.json:
        summary = {**report.summary(), "outcomes": [asdict(o) for o in report.outcomes]}
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
