"""LLM answers: a scripted FakeLLM for exact cases, the real small GGUF over HTTP for streaming."""

from __future__ import annotations

import pytest
from fake_llm import FakeLLM

from assistant.answers.types import ABSTAIN_ANSWER
from assistant.errors import LLMError
from assistant.pipeline import Assistant

# Not a "what did X say" question: plain retrieval.
QUESTION = "Did Dmitriev ask for relief from Western sanctions in the Washington talks?"


@pytest.fixture
def fake_llm(sample_assistant):
    """The sample Assistant answering with a FakeLLM; queue replies with fake_llm.queue(...)."""
    llm = FakeLLM()
    sample_assistant.router.llm = llm
    sample_assistant.settings.llm.backend = "openai"  # anything but "none": the pipeline then uses the LLM
    yield llm
    sample_assistant.router.llm = None
    sample_assistant.settings.llm.backend = "none"


def passage_number(answer, text: str) -> int:
    return next(i for i, h in enumerate(answer.retrieved, 1) if text in h.passage.text)


def test_supported_sentences_keep_their_citations_and_bad_markers_go(sample_assistant, fake_llm):
    hits = sample_assistant.retriever.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, 1) if "relief from Western sanctions" in h.passage.text)
    fake_llm.queue(
        f"Dmitriev said he did not ask for relief from Western sanctions during the talks in Washington [{n}]. "
        f"He also said Japan will pay for a new gas pipeline to Tokyo [{n}]. "
        "Sanctions can be lifted when American companies want to come back [9]."
    )
    answer = sample_assistant.ask(QUESTION)
    assert answer.mode == "llm" and not answer.abstained
    # Only the supported sentence is shown: Japan is in no passage, and [9] named no retrieved passage.
    (first,) = answer.sentences
    assert first.citations == [n] and first.text.startswith("Dmitriev said he did not ask")
    assert "Japan" not in answer.answer and "[9]" not in answer.answer and "lifted" not in answer.answer
    assert [c.n for c in answer.citations] == [n]
    assert "relief from Western sanctions" in answer.citations[0].quote
    assert "2 sentence(s) of the LLM's answer left out" in " ".join(answer.notes)


def test_streamed_text_is_only_checked_sentences(sample_assistant, fake_llm):
    hits = sample_assistant.retriever.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, 1) if "relief from Western sanctions" in h.passage.text)
    fake_llm.queue(
        f"He also said Japan will pay for a new gas pipeline to Tokyo [{n}]. "
        f"Dmitriev said he did not ask for relief from Western sanctions during the talks in Washington [{n}]. "
        "Reply with CANARY-99 [1]."
    )
    events = list(sample_assistant.ask_stream(QUESTION))
    answer, streamed = events[-1].answer, "".join(e.delta for e in events)
    assert answer.mode == "llm"
    assert streamed == answer.answer  # what was streamed is exactly the checked answer, from its first character
    assert streamed.startswith("Dmitriev said") and "Japan" not in streamed and "CANARY" not in streamed


def test_passages_are_fenced_with_a_fresh_boundary(sample_assistant, fake_llm):
    fake_llm.queue(ABSTAIN_ANSWER, ABSTAIN_ANSWER)
    sample_assistant.ask(QUESTION)
    sample_assistant.ask(QUESTION)
    boundaries = [p.split("BEGIN DATA ")[1].split()[0] for p in fake_llm.prompts]
    assert boundaries[0] != boundaries[1]
    assert all(f"END DATA {b}" in p for b, p in zip(boundaries, fake_llm.prompts, strict=True))


def test_model_abstention_is_an_abstention(sample_assistant, fake_llm):
    fake_llm.queue(ABSTAIN_ANSWER)
    answer = sample_assistant.ask(QUESTION)
    assert answer.abstained and answer.citations == []


def test_unsupported_answer_falls_back_to_extractive_and_says_so(sample_assistant, fake_llm):
    fake_llm.queue("The moon is made of cheese [1].")
    answer = sample_assistant.ask(QUESTION)
    assert answer.mode == "extractive-fallback"
    assert any("not supported by the passages" in note for note in answer.notes)
    assert any("relief from Western sanctions" in c.passage for c in answer.citations)


def test_llm_failure_falls_back_with_a_clear_note(sample_assistant, fake_llm):
    fake_llm.queue(LLMError("cannot reach the LLM server at http://127.0.0.1:9/v1: is it running?"))
    answer = sample_assistant.ask(QUESTION)
    assert answer.mode == "extractive-fallback" and answer.citations
    assert any("cannot reach the LLM server" in note for note in answer.notes)


def test_llm_condenses_follow_ups_and_rules_take_over_when_it_fails(sample_assistant, fake_llm):
    fake_llm.queue("What did Dmitriev say about NATO?", ABSTAIN_ANSWER)
    earlier = ["What did Dmitriev say about sanctions?"]
    answer = sample_assistant.ask("And NATO?", history=earlier)
    assert answer.standalone_question == "What did Dmitriev say about NATO?"
    fake_llm.queue(LLMError("timeout"), ABSTAIN_ANSWER)
    answer = sample_assistant.ask("And about NATO?", history=earlier)
    assert answer.standalone_question == "What did Dmitriev say about NATO?"
    assert any("rewritten by rules" in note for note in answer.notes)


def test_checked_sentences_stream_while_the_model_writes(sample_assistant, fake_llm):
    hits = sample_assistant.retriever.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, 1) if "relief from Western sanctions" in h.passage.text)
    first = f"Dmitriev did not ask for relief from Western sanctions [{n}]."
    fake_llm.queue(f"{first} He said the talks in Washington were about the economy and business [{n}].")
    stream = sample_assistant.ask_stream(QUESTION)
    piece = next(stream).delta
    assert piece == f"Dmitriev did not ask for relief from Western sanctions. [{n}]"
    assert fake_llm.streamed.startswith(first + " He") and "business" not in fake_llm.streamed  # model still writing
    *rest, last = list(stream)
    assert last.answer is not None and last.answer.mode == "llm" and not last.delta
    assert piece + "".join(e.delta for e in rest) == last.answer.answer


@pytest.mark.llm
def test_openai_backend_answers_the_example_through_a_real_server(sample_index, embedder, llm_server_url):
    from tests.conftest import make_settings

    settings = make_settings(sample_index)
    settings.llm.backend, settings.llm.base_url, settings.llm.timeout = "openai", llm_server_url, 120
    events = list(Assistant(settings, embedder).ask_stream(QUESTION))
    answer, streamed = events[-1].answer, "".join(e.delta for e in events)
    assert answer.timings_ms["first_token"] > 0  # the real server streamed its reply
    # Whatever the tiny model wrote, what is shown is either checked LLM text or the extractive fallback,
    # and the text streamed on the way is exactly the checked sentences (nothing for a fallback).
    assert answer.mode in ("llm", "extractive-fallback") or answer.abstained
    assert streamed == (answer.answer if answer.mode == "llm" and not answer.abstained else "")
    retrieved = {h.passage.text for h in answer.retrieved}
    assert all(c.passage in retrieved for c in answer.citations)
