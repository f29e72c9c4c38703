"""CI smoke of the load test (evals/load_test.py): concurrent clients against the chat app served on 127.0.0.1.

No speed is asserted: only that every request ends answered or refused with Gradio's "Queue is full", and that a
page with a one-place queue does refuse some while answering the others.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

from assistant.pipeline import Assistant
from evals.load_test import QUEUE_FULL, ask_once, load_questions, main, run_load, serve_app
from tests.conftest import make_settings

CLIENTS = 4


class SlowAssistant(Assistant):
    """The real Assistant, a little slower to start each answer, so simultaneous questions surely overlap."""

    delay = 0.3

    def ask_stream(self, *args, **kwargs):
        time.sleep(self.delay)
        yield from super().ask_stream(*args, **kwargs)


@pytest.fixture(scope="module")
def questions():
    return load_questions()


@pytest.fixture(scope="module")
def page(sample_index, embedder):
    """The chat app with its default queue (2 at a time, 32 waiting) over the sample index."""
    with serve_app(sample_index, embedder=embedder) as url:
        yield url


def test_concurrent_clients_are_all_answered(page, questions):
    report = run_load(page, questions, clients=CLIENTS, seconds=8, requests_per_client=50, server_pid=os.getpid())
    print(report.text())
    assert report.errors == []
    assert report.refused == 0  # 4 clients never fill a queue of 32
    assert report.answered == report.requests >= CLIENTS  # every client's first question at least
    assert report.ok
    assert report.rss_before_mb and report.rss_after_mb  # read from /proc/self/status


def test_requests_that_fail_are_counted_as_errors(page):
    question = "What did Dmitriev say about sanctions?"
    with httpx.Client() as http:
        assert ask_once(http, page, question).kind == "answered"
        bad_input = ask_once(http, page, question, k="many")
        notice = ask_once(http, page, "   ")  # a notice ("Please type a question"), not an answer
    assert bad_input.kind == "error" and bad_input.detail
    assert notice.kind == "error" and "no answer" in notice.detail


def test_full_queue_refuses_and_answers_the_rest(sample_index, embedder, questions):
    slow = SlowAssistant(make_settings(sample_index), embedder)
    with serve_app(assistant=slow, concurrency=1, max_queue=1) as url:
        report = run_load(url, questions, clients=CLIENTS, seconds=4, requests_per_client=20)
    print(report.text())
    assert report.errors == []
    assert report.refused >= 1 and report.answered >= 1
    assert report.requests == report.answered + report.refused
    refusals = [o.detail for o in report.outcomes if o.kind == "refused"]
    assert all(QUEUE_FULL in detail for detail in refusals), refusals[:3]


def test_script_refuses_a_url_off_this_machine(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["--url", "http://192.0.2.1:7860", "--seconds", "1"])
    assert refused.value.code == 2 and "127.0.0.1" in capsys.readouterr().err
