"""The example questions on the sample article, answered end to end with the real embedder and FAISS."""

from __future__ import annotations

import pytest

from assistant.answers.types import ABSTAIN_ANSWER
from assistant.errors import QuestionError
from assistant.retrieval.retriever import Filters


def cited_passages(answer) -> list[str]:
    return [c.passage for c in answer.citations]


def test_sanctions_question_cites_both_statements(sample_assistant):
    answer = sample_assistant.ask("What did Dmitriev say about sanctions?")
    assert not answer.abstained
    passages = cited_passages(answer)
    assert any("did not ask for relief from Western sanctions" in p for p in passages)
    assert any("sanctions can be lifted when American companies want to come back" in p for p in passages)


def test_every_answer_sentence_carries_a_valid_marker(sample_assistant):
    answer = sample_assistant.ask("What did Dmitriev say about sanctions?")
    numbers = {c.n for c in answer.citations}
    assert answer.sentences
    for sentence in answer.sentences:
        assert sentence.citations and set(sentence.citations) <= numbers
        assert all(f"[{n}]" in answer.answer for n in sentence.citations)


def test_quotes_sit_at_their_offsets_in_the_article(sample_assistant):
    answer = sample_assistant.ask("Who did Dmitriev meet in Washington?")
    store = sample_assistant.store
    for c in answer.citations:
        text = store.articles[c.article_id].text
        assert text[c.start : c.end] == c.quote
        assert text[c.passage_start : c.passage_end] == c.passage
        assert c.passage_start <= c.start < c.end <= c.passage_end


def test_meeting_question_cites_witkoff(sample_assistant):
    answer = sample_assistant.ask("Who did Dmitriev meet in Washington?")
    assert not answer.abstained
    assert any("Witkoff" in c.quote or "Whitkoff" in c.quote for c in answer.citations)


@pytest.mark.parametrize("question", ["What is the capital of Australia?", "Who won the 2022 World Cup final?"])
def test_off_topic_questions_abstain(sample_assistant, question):
    answer = sample_assistant.ask(question)
    assert answer.abstained
    assert answer.answer == ABSTAIN_ANSWER
    assert answer.citations == []


def test_follow_up_uses_the_conversation(sample_assistant):
    answer = sample_assistant.ask("And about NATO?", history=["What did Dmitriev say about sanctions?"])
    assert answer.standalone_question == "What did Dmitriev say about NATO?"
    assert any("NATO" in c.quote for c in answer.citations)


def test_filters_exclude_other_sources_and_dates(sample_assistant):
    question = "What did Dmitriev say about sanctions?"
    assert sample_assistant.retriever.retrieve(question, filters=Filters(sources=["sample"]))
    assert sample_assistant.retriever.retrieve(question, filters=Filters(sources=["cnn.com"])) == []
    assert sample_assistant.retriever.retrieve(question, filters=Filters(since="2025-04-06")) == []
    assert sample_assistant.retriever.retrieve(question, filters=Filters(until="2025-04-05"))


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_retrieval_mode_finds_the_sanctions_passage(sample_assistant, mode):
    hits = sample_assistant.retriever.retrieve("Dmitriev relief from Western sanctions", k=3, mode=mode)
    assert any("relief from Western sanctions" in h.passage.text for h in hits)


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_empty_or_overlong_questions_get_a_message(sample_assistant, question):
    with pytest.raises(QuestionError):
        sample_assistant.ask(question)


@pytest.mark.parametrize(
    "question, word",
    [("Что сказал Дмитриев?", None), ("德米特里耶夫说了什么？", None), ("🙂 sanctions?", "sanction"),
     ("\ud800 sanctions", "sanction")],
)  # fmt: skip
def test_unusual_text_gets_an_answer_or_abstains(sample_assistant, question, word):
    """A question in a script the article does not use abstains; an emoji or a lone surrogate beside an English
    word is noise: the answer quotes sentences with that word."""
    answer = sample_assistant.ask(question)
    if word is None:
        assert answer.abstained and answer.answer == ABSTAIN_ANSWER and answer.citations == []
    else:
        assert not answer.abstained and answer.citations
        assert all(word in c.quote.lower() for c in answer.citations), [c.quote for c in answer.citations]


def test_a_sentence_that_asks_is_never_the_answer(tmp_path, embedder):
    from assistant.pipeline import Assistant
    from assistant.settings import Settings

    text = (
        "What does it mean when the Federal Reserve raises interest rates? Many readers asked us this week. "
        "The Federal Reserve raised interest rates by three quarters of a point on Wednesday to fight inflation. "
        "Officials said further increases were likely before the end of the year."
    )
    (tmp_path / "fed.txt").write_text("Fed raises rates\n\n" + text, encoding="utf-8")
    settings = Settings()
    settings.index.dir = tmp_path / "index"
    assistant = Assistant(settings, embedder)
    assistant.ingest([tmp_path / "fed.txt"])
    answer = assistant.ask("What does the Federal Reserve do when it raises interest rates?")
    assert not answer.abstained
    assert all(not c.quote.endswith("?") for c in answer.citations)
    assert any("raised interest rates by three quarters" in c.quote for c in answer.citations)


def test_a_word_the_collection_lacks_does_not_sink_an_answer(tmp_path, embedder):
    from assistant.pipeline import Assistant
    from assistant.settings import Settings

    (tmp_path / "storm.txt").write_text(
        "Storm hits coast\n\nA powerful storm hit the coast of Marlow on Tuesday, cutting power to 30,000 homes and "
        "flooding the harbour district. Emergency crews evacuated four hundred residents as the river rose. The mayor "
        "said the flood barrier failed overnight and that repairs would take weeks.\n",
        encoding="utf-8",
    )
    settings = Settings()
    settings.index.dir = tmp_path / "index"
    assistant = Assistant(settings, embedder)
    assistant.ingest([tmp_path / "storm.txt"])
    answer = assistant.ask("How many homes lost power?")  # "lost" is in no article
    assert not answer.abstained and "30,000 homes" in answer.citations[0].quote
    for question in ("What is the capital of Mongolia?", "Who won the football match?", "What is the price of oil?"):
        assert assistant.ask(question).abstained
