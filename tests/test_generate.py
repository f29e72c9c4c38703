"""LLM answers: a scripted FakeLLM for exact cases, the real small GGUF over HTTP for streaming."""

from __future__ import annotations

import json
import re

import pytest
from fake_llm import FakeLLM

from assistant.answers.generate import LLMAnswerer
from assistant.answers.llm import stream_answer
from assistant.answers.prompting import fence, format_passages, render_messages
from assistant.answers.structured import StructuredReply, response_format
from assistant.answers.types import ABSTAIN_ANSWER
from assistant.errors import LLMError
from assistant.pipeline import Assistant
from tests.conftest import make_settings

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
        f"The Russian economy is fine, Dmitriev said [{n}]. "
        "Sanctions can be lifted when American companies want to come back [9]."
    )
    answer = sample_assistant.ask(QUESTION)
    assert answer.mode == "llm" and not answer.abstained
    # Only the supported sentences are shown: Japan is in no passage, and [9] named no retrieved passage.
    first, second = answer.sentences
    assert first.citations == [n] and first.text.startswith("Dmitriev said he did not ask")
    assert second.text.startswith("The Russian economy is fine") and first.supported and second.supported
    assert "Japan" not in answer.answer and "[9]" not in answer.answer and "lifted" not in answer.answer
    assert [c.n for c in answer.citations] == [n]
    assert "relief from Western sanctions" in answer.citations[0].passage
    assert answer.citations[0].quote in ("The Russian economy is fine" + answer.citations[0].passage)
    assert "2 sentence(s) of the LLM's answer left out" in " ".join(answer.notes)


def test_streamed_text_is_only_checked_sentences(sample_assistant, fake_llm):
    hits = sample_assistant.retriever.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, 1) if "relief from Western sanctions" in h.passage.text)
    fake_llm.queue(
        f"He also said Japan will pay for a new gas pipeline to Tokyo [{n}]. "
        f"Dmitriev said he did not ask for relief from Western sanctions during the talks in Washington [{n}]. "
        f"The Russian economy is fine, Dmitriev said [{n}]. "
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
    boundaries = [re.search(r"BEGIN DATA ([0-9a-f]{16})", p).group(1) for p in fake_llm.prompts]
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


# --- structured (JSON) answers --------------------------------------------------------------------------------


def structured(*sentences: tuple[list[int], str]) -> str:
    """A reply in the JSON answer format, as a grammar-constrained model writes it."""
    return json.dumps({"sentences": [{"passages": p, "text": t} for p, t in sentences]})


def test_structured_answer_cites_by_structure_and_streams_each_sentence_once_closed(sample_assistant, fake_llm):
    hits = sample_assistant.retriever.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, 1) if "relief from Western sanctions" in h.passage.text)
    fake_llm.queue(
        structured(
            ([n], "Dmitriev did not ask for relief from Western sanctions."),
            ([n], "The Russian economy is fine, he said."),
        )
    )
    stream = sample_assistant.ask_stream(QUESTION)
    first = next(e for e in stream if e.delta)
    assert first.delta == f"Dmitriev did not ask for relief from Western sanctions. [{n}]"
    assert "economy" not in fake_llm.streamed  # shown while the model was still writing the next sentence
    *rest, last = list(stream)
    answer = last.answer
    assert answer.mode == "llm" and [s.citations for s in answer.sentences] == [[n], [n]]
    assert all(s.supported for s in answer.sentences)
    assert first.delta + "".join(e.delta for e in rest) == answer.answer
    # The model was sent the JSON schema, its passage numbers limited to the passages it was shown.
    (schema,) = [f for f in fake_llm.formats if f]
    items = schema["json_schema"]["schema"]["properties"]["sentences"]["items"]
    assert items["properties"]["passages"]["items"]["enum"] == list(range(1, min(3, len(hits)) + 1))
    assert answer.to_json()["sentences"][0]["supported"] is True


def test_structured_empty_list_is_an_abstention(sample_assistant, fake_llm):
    fake_llm.queue('{"sentences": []}')
    answer = sample_assistant.ask(QUESTION)
    assert answer.abstained and answer.mode == "llm" and answer.citations == []


def test_answer_that_copies_the_prompt_falls_back(sample_assistant, fake_llm):
    hits = sample_assistant.retriever.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, 1) if "relief from Western sanctions" in h.passage.text)
    title = hits[n - 1].article.title
    fake_llm.queue(
        structured(
            ([n], "Dmitriev did not ask for relief from Western sanctions."),
            ([n], title),
            ([n], "BEGIN DATA 0123456789abcdef"),
        )
    )
    answer = sample_assistant.ask(QUESTION)
    # Two of three sentences copy the prompt (a title line, the fence): most are unsupported, so the whole
    # answer falls back rather than showing the one good line beside an echo.
    assert answer.mode == "extractive-fallback"
    assert any("2 of 3 sentences" in note for note in answer.notes)
    assert all(s.supported for s in answer.sentences)  # extractive sentences are supported by construction
    checks = LLMAnswerer(None, sample_assistant.embedder, None).check_reply(
        structured(([n], title), ([n], "Dmitriev said BEGIN DATA 0123 fine.")), hits
    )
    assert "repeats a passage title" in checks[0].reason and "copies the prompt's fence" in checks[1].reason


def test_server_that_refuses_the_schema_gets_the_marker_prompt_and_it_is_said_once(sample_assistant, fake_llm):
    hits = sample_assistant.retriever.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, 1) if "relief from Western sanctions" in h.passage.text)
    fake_llm.refuse_schema = True
    fake_llm.queue(f"Dmitriev did not ask for relief from Western sanctions [{n}].", ABSTAIN_ANSWER)
    answer = sample_assistant.ask(QUESTION)
    assert answer.mode == "llm" and answer.sentences[0].citations == [n]
    assert sum("refused the JSON schema" in note for note in answer.notes) == 1
    assert "End every sentence with the number" in fake_llm.prompts[-1]
    again = sample_assistant.ask(QUESTION)
    assert again.abstained and not any("JSON schema" in note for note in again.notes)
    assert fake_llm.formats[-1] is None  # not sent the schema again


def test_condensed_follow_up_that_copies_the_fence_or_is_no_question_is_replaced_by_rules(sample_assistant, fake_llm):
    earlier = ["What did Dmitriev say about sanctions?"]
    for condensed in ("BEGIN DATA 0123456789abcdef", "The text between the lines is data to read."):
        fake_llm.queue(condensed, ABSTAIN_ANSWER)
        answer = sample_assistant.ask("And about NATO?", history=earlier)
        assert answer.standalone_question == "What did Dmitriev say about NATO?"
        assert any("rewritten by rules" in note for note in answer.notes)


# --- the structured path with the real small model (SmolLM2-135M), in-process and over HTTP ---------------------


def _grammar_reply(llm) -> StructuredReply:
    """The model's reply to a real answer prompt sent with the JSON schema, read as it streams."""
    fenced, boundary = fence(format_passages(["Dmitriev met Witkoff in Washington on Wednesday."]))
    messages = render_messages("answer", passages=fenced, boundary=boundary, question="Where did Dmitriev meet?")
    reply = StructuredReply()
    for delta in stream_answer(llm, messages, response_format=response_format(1)):
        reply.feed(delta)
    return reply


def _assert_checked_structured_answers(assistant: Assistant) -> None:
    """Ask a plain and a follow-up question: whatever the tiny model wrote, nothing unchecked or echoed is shown."""
    titles = {h.article.title.lower() for h in assistant.retriever.retrieve(QUESTION)}
    for question, history in ((QUESTION, []), ("And about NATO?", ["What did Dmitriev say about sanctions?"])):
        events = list(assistant.ask_stream(question, history=history))
        answer, streamed = events[-1].answer, "".join(e.delta for e in events)
        broken = [n for n in answer.notes if "LLM failed" in n or "not available" in n or "JSON schema" in n]
        assert not broken, broken  # the model answered through the schema; the test did not pass on a fallback alone
        assert "BEGIN DATA" not in answer.standalone_question and "END DATA" not in answer.standalone_question
        assert all(s.supported for s in answer.sentences)
        if answer.mode == "llm" and not answer.abstained:
            assert streamed == answer.answer
            assert not any(t in s.text.lower() for s in answer.sentences for t in titles)
            assert "DATA" not in answer.answer


@pytest.mark.llm
def test_gguf_backend_follows_the_json_schema_in_process(sample_index, embedder, gguf_path):
    pytest.importorskip("xllamacpp")
    settings = make_settings(sample_index)
    settings.llm.backend, settings.llm.path, settings.llm.context_window = "gguf", gguf_path, 2048
    settings.llm.max_tokens, settings.llm.temperature, settings.llm.timeout = 96, 0.0, 180
    assistant = Assistant(settings, embedder)
    llm = assistant.router.load_llm([])
    try:
        reply = _grammar_reply(llm)
        assert reply.is_json and reply.text.lstrip().startswith("{")  # llama.cpp's grammar made it JSON
        assert all(p == [1] for _, p in reply.sentences)  # the schema allows passage 1 only
        _assert_checked_structured_answers(assistant)
    finally:
        llm.close()


@pytest.mark.llm
def test_openai_backend_sends_the_json_schema_to_a_real_server(sample_index, embedder, llm_server_url):
    settings = make_settings(sample_index)
    settings.llm.backend, settings.llm.base_url = "openai", llm_server_url
    settings.llm.max_tokens, settings.llm.temperature, settings.llm.timeout = 96, 0.0, 180
    assistant = Assistant(settings, embedder)
    reply = _grammar_reply(assistant.router.load_llm([]))
    assert reply.is_json and all(p == [1] for _, p in reply.sentences)
    _assert_checked_structured_answers(assistant)


def test_a_looping_answer_falls_back_and_a_repeat_is_shown_once(sample_assistant, fake_llm):
    hits = sample_assistant.retriever.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, 1) if "relief from Western sanctions" in h.passage.text)
    said = ([n], "Dmitriev did not ask for relief from Western sanctions.")
    fake_llm.queue(structured(said, said, said), structured(said, ([n], "The Russian economy is fine, he said."), said))
    looping = sample_assistant.ask(QUESTION)
    assert looping.mode == "extractive-fallback"
    once = sample_assistant.ask(QUESTION)
    assert once.mode == "llm" and [s.text for s in once.sentences] == [said[1], "The Russian economy is fine, he said."]
