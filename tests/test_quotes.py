"""Speaker attribution (assistant.quotes) on the sample article, its gold file and small made-up articles."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assistant.ingest import read_file
from assistant.quotes import (
    Statement,
    extract_statements,
    match_speaker,
    parse_speaker_question,
    score_attribution,
    speaker_names,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "dmitriev-us-russia-relations-2025-04-05.txt"
GOLD = ROOT / "evals" / "sample_attribution.yaml"

DMITRIEV, TRUMP = "Kirill Dmitriev", "Donald Trump"

# Made-up articles; each string is one paragraph.
TWO_SPEAKERS = "\n\n".join(
    [
        "Finance Minister Jane Holloway said on Monday that inflation would fall below 3% by the end of the "
        'year. "We are confident the worst is behind us," she told reporters in London.',
        'Opposition leader Mark Benton disagreed. "The plan will fail, and families will pay for it," he '
        'said. "Nobody believes these numbers."',
        "Holloway, 52, dismissed the criticism. The budget is balanced, she said, and the deficit will "
        "shrink next year.",
        '"I have heard this before," the minister added.',
        "According to the Office for Budget Responsibility, growth will reach 1.5% next year.",
    ]
)

OTHER_STYLES = "\n\n".join(
    [
        "MOSCOW (Reuters) - The Kremlin on Friday dismissed a report that President Vladimir Putin was ill. "
        '"He is in perfect health," Kremlin spokesman Dmitry Peskov told reporters.',
        'The report, published by a British tabloid, cited "sources close to the Kremlin". It said Putin had '
        "cancelled several meetings.",
        "A senior Western diplomat, who spoke on condition of anonymity, said the rumours were "
        '"not credible". "We see no sign of it," the diplomat said.',
        "“There is nothing to discuss,” Peskov said. “The matter is closed.",  # the quote runs on
        "“We will not comment on fantasies.”",
        "“The numbers do not add up,” said Clara Weiss, chief economist at Deka Bank.",
        "The company’s chief executive, Maria Lopez, told investors that sales had doubled. "
        "The chancellor, Merz said, had “no plan at all for growth.”",
    ]
)

# Lower-case descriptions of the speaker around the name ("union leader Maria Lopez"); one paragraph each.
DESCRIBED = "\n\n".join(
    [
        "Port strike ends",
        "Dock workers voted on Saturday to accept a 6 percent pay rise.",
        "“This is a fair deal for our members,” union leader Maria Lopez said at a press conference on Sunday.",
        "“We are still angry about the delays,” said spokesman John Smith of the port authority.",
        "“The vote was clear,” said union leader Maria Lopez.",
        '"Nobody wanted a long strike," union leader Maria Lopez said.',
        "“Ships will dock again on Monday,” said the port authority’s chief executive Tom Reed.",
        "“We lost money every day,” Anna Berg, president of the shippers association, told CNN’s Kasie Hunt.",
        "“We will watch the deal closely,” the union said.",
        "“It took far too long,” said union members.",
        "The deal, which union leader Maria Lopez said was overdue, ends a month of disruption.",
    ]
)


@pytest.fixture(scope="module")
def article() -> str:
    return SAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def statements(article) -> list[Statement]:
    return extract_statements(article)


def _containing(statements: list[Statement], words: str) -> list[Statement]:
    return [st for st in statements if words in st.text]


def _speaker_of(statements: list[Statement], words: str) -> str:
    found = _containing(statements, words)
    assert found, f"no statement contains {words!r}"
    assert len({st.speaker for st in found}) == 1, found
    return found[0].speaker


def test_spans_index_the_article(article, statements):
    assert len(statements) > 30
    assert [st.start for st in statements] == sorted(st.start for st in statements)
    for st in statements:
        assert st.text == article[st.start : st.end]
        assert st.kind in ("direct", "reported") and st.cue


def test_what_dmitriev_said_about_sanctions(statements):
    assert _speaker_of(statements, "did not ask for relief from Western sanctions") == DMITRIEV
    lifted = _containing(statements, "sanctions can be lifted when American companies want to come back")
    assert [st.speaker for st in lifted] == [DMITRIEV]
    assert lifted[0].kind == "direct" and lifted[0].cue == "he said"
    assert not lifted[0].text.startswith("“")  # the quote's words, without the quote marks


def test_trump_and_miroshnik(statements):
    assert _speaker_of(statements, "I believe that President Putin is willing to make a deal") == TRUMP
    assert _speaker_of(statements, "wants to make a deal") == TRUMP  # Zelensky is only the subject
    assert _speaker_of(statements, "Kyiv is reacting nervously") == "Rodion Miroshnik"
    assert _speaker_of(statements, "there is progress in the settlement") == TRUMP  # "The Republican"


def test_no_quote_goes_to_the_wrong_side(statements):
    trump_words = ["President Putin is willing", "European leaders have not succeeded", "very big problems"]
    dmitriev_words = ["We are having productive discussions", "Trump wants Ukraine", "crazy idea"]
    for words in trump_words:
        assert DMITRIEV not in {st.speaker for st in _containing(statements, words)}
    for words in dmitriev_words:
        assert TRUMP not in {st.speaker for st in _containing(statements, words)}
    # Bloomberg's report (citing an anonymous source) mentions Dmitriev but is not his.
    assert _speaker_of(statements, "the US is waiting for Dmitriev to report back") == "Bloomberg"


def test_reported_view_keeps_its_speaker(statements):
    many = _containing(statements, "Many Russians believe that sanctions are good")
    assert [(st.speaker, st.kind) for st in many] == [(DMITRIEV, "direct")]
    assert not any(st.speaker.lower().startswith("many") for st in statements)


def test_roles_and_pronouns_resolve_to_people_of_the_article(statements):
    assert _speaker_of(statements, "absolutely impossible") == DMITRIEV  # Putin’s special envoy
    assert _speaker_of(statements, "have taken three steps forward") == DMITRIEV  # the president’s envoy
    assert _speaker_of(statements, "Moscow prefers to continue") == DMITRIEV  # the Kremlin official
    assert _speaker_of(statements, "grain deal") == DMITRIEV  # the Russian Direct Investment Fund head
    assert _speaker_of(statements, "We made three steps forward today") == DMITRIEV  # "Dmitriev also added:"
    assert _speaker_of(statements, "Both sides would prefer not to fight") == DMITRIEV  # "He also claimed:"
    assert _speaker_of(statements, "very angry") == TRUMP  # the Republican
    # "Ukraine’s accession to NATO, as our president said, …": cited inside Dmitriev's quote.
    assert "Vladimir Putin" in {st.speaker for st in _containing(statements, "is not possible at all")}


def test_speaker_names_group_variants(statements):
    names = speaker_names(statements)
    assert names[DMITRIEV] == {"Kirill Dmitriev", "Dmitriev"}
    assert names[TRUMP] == {"Donald Trump", "Trump"}
    assert "the Kremlin" in names


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Dmitriev", DMITRIEV),
        ("kirill dmitriev", DMITRIEV),
        ("Trump's", TRUMP),
        ("President Trump", TRUMP),
        ("Miroshnik", "Rodion Miroshnik"),
        ("Kremlin", "the Kremlin"),
        ("Russian Defence Ministry", "the Russian Defence Ministry"),
        ("Zelensky", None),  # never speaks in the article
        ("Smith", None),
    ],
)
def test_match_speaker(statements, name, canonical):
    assert match_speaker(name, statements) == canonical


@pytest.mark.parametrize(
    ("question", "parsed"),
    [
        ("What did Dmitriev say about sanctions?", ("Dmitriev", "sanctions")),
        ("What did Trump say?", ("Trump", "")),
        ("What did Kirill Dmitriev claim about the US economy?", ("Kirill Dmitriev", "the US economy")),
        ("What does Putin think of NATO?", ("Putin", "NATO")),
        ("What does the Kremlin believe about the talks?", ("the Kremlin", "the talks")),
        ("What was Trump's view on the ceasefire?", ("Trump", "the ceasefire")),
        ("What has Miroshnik said on Kyiv?", ("Miroshnik", "Kyiv")),
        ("What did Dmitriev tell CNN about sanctions?", ("Dmitriev", "sanctions")),
        ("What did Dmitriev say to reporters about the talks?", ("Dmitriev", "the talks")),
        ("Did Trump say anything about tariffs?", ("Trump", "tariffs")),
        ("What is the capital of France?", None),
        ("What does the article say about sanctions?", None),
        ("Who is Dmitriev?", None),
        ("What happened in Washington?", None),
    ],
)
def test_parse_speaker_question(question, parsed):
    assert parse_speaker_question(question) == parsed


def test_two_speakers_with_pronouns():
    found = extract_statements(TWO_SPEAKERS)
    assert _speaker_of(found, "inflation would fall below 3%") == "Jane Holloway"
    assert _speaker_of(found, "We are confident the worst is behind us") == "Jane Holloway"  # she
    assert _speaker_of(found, "The plan will fail") == "Mark Benton"  # he: not Holloway, who is "she"
    assert _speaker_of(found, "Nobody believes these numbers") == "Mark Benton"  # the quote goes on
    assert _speaker_of(found, "The budget is balanced") == "Jane Holloway"  # cue inside the sentence
    assert _speaker_of(found, "I have heard this before") == "Jane Holloway"  # the minister
    assert _speaker_of(found, "growth will reach 1.5%") == "the Office for Budget Responsibility"
    assert len(found) == 7


def test_other_house_styles():
    found = extract_statements(OTHER_STYLES)
    health = _containing(found, "He is in perfect health")
    assert [(st.speaker, st.text) for st in health] == [("Dmitry Peskov", "He is in perfect health")]
    assert not _containing(found, "Putin had cancelled")  # "It said": nobody this module can name
    assert _speaker_of(found, "not credible") == "a senior Western diplomat"
    assert _speaker_of(found, "We see no sign of it") == "a senior Western diplomat"  # the diplomat
    assert _speaker_of(found, "We will not comment on fantasies") == "Dmitry Peskov"  # multi-paragraph quote
    weiss = _containing(found, "The numbers do not add up")
    assert [(st.speaker, st.text) for st in weiss] == [("Clara Weiss", "The numbers do not add up")]
    assert _speaker_of(found, "sales had doubled") == "Maria Lopez"
    assert _speaker_of(found, "no plan at all for growth") == "Merz"


@pytest.fixture(scope="module")
def described() -> list[Statement]:
    return extract_statements(DESCRIBED)


@pytest.mark.parametrize(
    "quote, speaker",
    [
        ("This is a fair deal for our members", "Maria Lopez"),  # “…,” union leader Maria Lopez said at …
        ("We are still angry about the delays", "John Smith"),  # “…,” said spokesman John Smith of the …
        ("The vote was clear", "Maria Lopez"),  # “…,” said union leader Maria Lopez.
        ("Nobody wanted a long strike", "Maria Lopez"),  # straight quotes: "…," union leader Maria Lopez said.
        ("Ships will dock again on Monday", "Tom Reed"),  # said the port authority’s chief executive Tom Reed
        ("We lost money every day", "Anna Berg"),  # Anna Berg, president of …, told CNN’s Kasie Hunt
    ],
)
def test_lower_case_description_of_the_speaker(described, quote, speaker):
    found = _containing(described, quote)
    assert [(st.speaker, st.kind, st.text) for st in found] == [(speaker, "direct", quote)]


def test_a_description_without_a_name_names_nobody(described):
    assert not _containing(described, "We will watch the deal closely")  # “…,” the union said: no person
    assert not _containing(described, "It took far too long")  # said union members
    assert not _containing(described, "The deal")  # "which union leader … said was": not a statement
    assert {st.speaker for st in described} == {"Maria Lopez", "John Smith", "Tom Reed", "Anna Berg"}
    assert match_speaker("the union leader", described) == "Maria Lopez"


def test_score_attribution_counts_matches_misses_and_false_positives(statements):
    gold = [
        {"speaker": "Dmitriev", "kind": "reported", "contains": "did not ask for relief from Western"},
        {"speaker": "Trump", "kind": "direct", "contains": "Many Russians believe"},  # wrong on purpose
    ]
    scores = score_attribution(statements, gold)
    assert (scores["matched"], scores["gold"], scores["extracted"]) == (1, 2, len(statements))
    assert scores["recall"] == 0.5
    assert scores["precision"] == pytest.approx(1 / len(statements))
    assert scores["misses"][0]["extracted_speakers"] == [DMITRIEV]
    assert len(scores["false_positives"]) == len(statements) - 1


@pytest.mark.skipif(not GOLD.exists(), reason="no gold attribution file")
@pytest.mark.parametrize("source", ["file", "ingested"])
def test_gold_precision_and_recall(source):
    gold = yaml.safe_load(GOLD.read_text(encoding="utf-8"))
    path = (GOLD.parent / gold["article"]).resolve()
    # "ingested": the text as the index holds it (dateline, breadcrumb and page furniture removed).
    ingested = read_file(path, 50_000_000, 1).articles[0].text
    text = ingested if source == "ingested" else path.read_text(encoding="utf-8")
    scores = score_attribution(extract_statements(text), gold["statements"])
    assert scores["precision"] >= 0.9, scores["false_positives"]
    assert scores["recall"] >= 0.8, scores["misses"]
