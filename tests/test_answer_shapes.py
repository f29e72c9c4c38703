"""How answers read: the kind of answer a question asks for, quotes kept whole, datelines dropped, dates shown."""

from __future__ import annotations

import pytest

from assistant.answers.chronology import dated, with_prefix
from assistant.answers.extractive import answer_type, carries, readable_span


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many ships are waiting?", ("a number", False)),
        ("When do the polls close?", ("a date", False)),
        ("Where were the truce talks held?", ("a place", True)),
        ("Who brokered the agreement?", ("a name", True)),
        ("Why did the ceasefire collapse?", ("a reason", True)),
        ("What did Dmitriev say about sanctions?", None),
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert answer_type(question) == kind


def test_a_name_answer_is_one_the_question_does_not_already_name():
    question = "Who brokered the agreement for Tom Reed?"
    assert carries("a name", question, "The talks were led by mediator Birgit Sorensen.")
    assert not carries("a name", question, "The deal was welcomed by Tom Reed on Friday.")
    assert carries("a place", "", "The talks were held in Esterholm.")
    assert not carries("a number", "", "The talks were long.")


def test_a_quote_is_never_cut_after_its_first_sentence():
    text = "“This is the worst damage in a decade. Crews will work all night,” she said. Next sentence."
    first = text.index(".") + 1
    start, end = readable_span(text, 0, first, len(text))
    assert text[start:end] == "“This is the worst damage in a decade. Crews will work all night,”"


def test_a_wire_dateline_is_not_quoted():
    text = "CALDERWICK, March 15 (Meridian Wire) – Dockworkers ended their strike on Friday."
    start, end = readable_span(text, 0, len(text), len(text))
    assert text[start:end] == "Dockworkers ended their strike on Friday."


def test_sentences_of_different_dates_carry_them_newest_first():
    items = [("old", "2025-02-10"), ("new", "2025-09-22")]
    shown = [(item[0], prefix) for item, prefix in dated(items, lambda i: i[1], keep_order=False)]
    assert shown == [("new", "On 22 September 2025, "), ("old", "On 10 February 2025, ")]
    assert [p for _, p in dated(items, lambda i: i[1], keep_order=True)][0] == "On 10 February 2025, "
    assert [p for _, p in dated([("a", "2025-01-01"), ("b", "2025-01-01")], lambda i: i[1], False)] == ["", ""]
    assert with_prefix("On 1 May 2025, ", "According to X, it rained.") == "On 1 May 2025, according to X, it rained."
    assert with_prefix("On 1 May 2025, ", "Tom Reed said so.") == "On 1 May 2025, Tom Reed said so."


@pytest.mark.parametrize(
    ("cue", "text", "shown"),
    [
        ("He expressed", "gratitude to the US side", "Kirill Dmitriev expressed gratitude to the US side."),
        (
            "Trump accused",
            "him of not being ready for peace",
            "Kirill Dmitriev accused him of not being ready for peace.",
        ),
        ("Zelensky pointed", "to a recent breakthrough", "Kirill Dmitriev pointed to a recent breakthrough."),
        ("Dmitriev told CNN", "he did not ask for relief", "According to Kirill Dmitriev, he did not ask for relief."),
    ],
)
def test_reported_words_are_rebuilt_into_a_sentence(cue, text, shown):
    from assistant.answers.speaker import render_statement
    from assistant.quotes import Statement

    assert render_statement(Statement("Kirill Dmitriev", "reported", 0, len(text), text, cue)) == shown


def test_an_undated_question_over_a_long_collection_says_all_dates_were_searched(new_fake_assistant, tmp_path):
    import json

    rows = [
        {"title": "Port strike begins", "published": "2024-03-12", "text": "Dockworkers at the port began a strike "
         "on Tuesday over pay, the union said, halting every ship in the harbour for the day."},
        {"title": "Port strike ends", "published": "2024-09-15", "text": "Dockworkers at the port ended their strike "
         "on Friday after the union accepted a new pay offer from the port authority."},
    ]  # fmt: skip
    (tmp_path / "news.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assistant = new_fake_assistant()
    assistant.ingest([tmp_path / "news.jsonl"])
    undated = assistant.ask("Why did the dockworkers strike?")
    assert "the question names no time: articles of every date (2024-03-12 to 2024-09-15) were ranked alike" in (
        undated.notes
    )
    dated = assistant.ask("Why did the dockworkers strike in March 2024?")
    assert not any("names no time" in note for note in dated.notes)


def test_a_speakers_next_statement_is_grouped_with_the_first():
    from assistant.answers.speaker import render_statement
    from assistant.quotes import Statement

    direct = Statement("Kirill Dmitriev", "direct", 0, 10, "Talks went well", "he said")
    reported = Statement("Kirill Dmitriev", "reported", 0, 10, "Talks will go on", "he said")
    assert render_statement(direct, again=True) == "Dmitriev also said: “Talks went well.”"
    assert render_statement(reported, "talks", again=True) == "Dmitriev also said that talks will go on."
    kremlin = Statement("the Kremlin", "reported", 0, 10, "talks will go on", "the Kremlin said")
    assert render_statement(kremlin, again=True) == "The Kremlin also said that talks will go on."
