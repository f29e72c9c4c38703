"""What did X say about Y: answers from X's statements only, through the API, the CLI and an LLM."""

from __future__ import annotations

import json

import pytest
from fake_llm import FakeLLM
from test_cli import run

CASES = [
    ("What did Dmitriev say about sanctions?", "Kirill Dmitriev", "sanctions can be lifted when American companies"),
    ("What did Trump say about Putin?", "Donald Trump", "President Putin is willing to make a deal"),
    ("What did Miroshnik say about Kyiv?", "Rodion Miroshnik", "Kyiv is reacting nervously"),
]


@pytest.mark.parametrize("question, speaker, evidence", CASES)
def test_only_the_asked_speakers_statements_answer(sample_assistant, question, speaker, evidence):
    answer = sample_assistant.ask(question)
    assert answer.mode == "speaker" and not answer.abstained
    assert answer.citations and {c.speaker for c in answer.citations} == {speaker}
    assert any(evidence in c.quote for c in answer.citations)
    article = sample_assistant.store.articles[answer.citations[0].article_id]
    for c in answer.citations:
        assert article.text[c.start : c.end] == c.quote
        assert c.quote in c.passage


def test_sanctions_answer_quotes_both_statements_exactly(sample_assistant):
    quotes = " ".join(c.quote for c in sample_assistant.ask("What did Dmitriev say about sanctions?").citations)
    assert "did not ask for relief from Western sanctions" in quotes
    assert "sanctions can be lifted when American companies want to come back" in quotes


def test_reported_view_keeps_its_framing(sample_assistant):
    answer = sample_assistant.ask("What did Dmitriev say about sanctions?")
    many = next(c for c in answer.citations if "Many Russians believe" in c.quote)
    assert many.speaker == "Kirill Dmitriev"
    assert "Many Russians believe that sanctions are good" in answer.answer  # not "Dmitriev: sanctions are good"


@pytest.mark.parametrize(
    "question",
    ["What did Witkoff say after meeting Dmitriev?", "What did Dmitriev say about China?", "What did Zelensky say?"],
)
def test_no_statement_means_no_answer(sample_assistant, question):
    answer = sample_assistant.ask(question)
    assert answer.abstained and not answer.citations
    assert any("no statement by" in note for note in answer.notes)


def test_llm_gets_only_the_speakers_statements(sample_assistant):
    llm = FakeLLM()
    llm.queue("Trump said President Putin is willing to make a deal [1].")
    sample_assistant.router.llm, sample_assistant.settings.llm.backend = llm, "openai"
    try:
        answer = sample_assistant.ask("What did Trump say about Putin?")
    finally:
        sample_assistant.router.llm, sample_assistant.settings.llm.backend = None, "none"
    prompt = llm.prompts[0]
    assert "willing to make a deal" in prompt
    assert "sanctions can be lifted" not in prompt and "Kyiv is reacting nervously" not in prompt
    assert answer.mode == "llm" and answer.sentences[0].text == "Trump said President Putin is willing to make a deal."


def test_quotes_command_lists_a_speakers_statements(sample_index):
    result = run("quotes", "--index", str(sample_index), "--speaker", "Trump", "--about", "Putin", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and {r["speaker"] for r in rows} == {"Donald Trump"}
    assert "willing to make a deal" in rows[0]["text"]


@pytest.mark.parametrize(
    "text, rendered",
    [
        # a sentence start's capital on an ordinary word (the article also writes "some") is lowered after the comma
        ("Some guarantees were “impossible,”", "According to Ann Lee, some guarantees were “impossible.”"),
        ("Russia will not accept “any substance.”", "According to Ann Lee, Russia will not accept “any substance.”"),
        ("Talks will go on.", "According to Ann Lee, talks will go on."),
        ("Will Smith would attend.", "According to Ann Lee, Will Smith would attend."),  # a name, "will" a word
    ],
)  # fmt: skip
def test_a_reported_statement_reads_as_one_sentence(text, rendered):
    from assistant.answers.speaker import render_statement
    from assistant.quotes import Statement

    article = "She said some things. The talks were long and will go on. Russia and the US met."
    assert render_statement(Statement("Ann Lee", "reported", 0, len(text), text, "said"), article) == rendered


def test_a_statement_in_two_wire_copies_is_quoted_once(tmp_path, embedder):
    from assistant.pipeline import Assistant
    from assistant.settings import Settings

    story = (
        "Port strike ends\n\nDock workers voted on Saturday to accept a pay rise after a long strike at the port.\n\n"
        "Maria Lopez, the union leader, said: “We will not accept cuts again.”\n"
    )
    for name in ("wire.txt", "copy.txt"):
        (tmp_path / name).write_text(story.replace("Dock", "The dock" if name == "copy.txt" else "Dock"))
    settings = Settings()
    settings.index.dir = tmp_path / "index"
    assistant = Assistant(settings, embedder)
    assistant.ingest([tmp_path / "wire.txt", tmp_path / "copy.txt"])
    answer = assistant.ask("What did Maria Lopez say about cuts?")
    assert answer.mode == "speaker"
    assert answer.answer.count("We will not accept cuts again") == 1


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("What does the Kremlin think of security guarantees for Ukraine?", "may be acceptable"),
        ("What is the White House's position on sanctions?", "White House said"),
    ],
)
def test_an_institution_nobody_quotes_is_answered_from_the_articles_text(sample_assistant, question, words):
    answer = sample_assistant.ask(question)
    assert not answer.abstained and words in answer.answer
    assert any(note.startswith("no statement by the") and "articles' own sentences" in note for note in answer.notes)


@pytest.mark.parametrize(
    ("question", "speaker"),
    [
        ("What did the Russian negotiator say about NATO?", "Kirill Dmitriev"),  # a role only he has
        ("What did the Russian Foreign Ministry say?", "Rodion Miroshnik"),  # an institution, through its envoy
    ],
)
def test_a_speaker_named_by_role_or_institution_is_found(sample_assistant, question, speaker):
    answer = sample_assistant.ask(question)
    assert answer.mode == "speaker" and answer.citations
    assert all(c.speaker == speaker for c in answer.citations)


def test_an_institution_is_not_another_of_the_same_kind(sample_assistant):
    answer = sample_assistant.ask("What did the Russian Foreign Ministry say?")
    assert not any("Defence Ministry" in c.speaker for c in answer.citations)
