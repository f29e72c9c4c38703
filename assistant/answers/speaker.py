"""Answers to "What did X say about Y?" built only from X's attributed statements (see quotes.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.answers.chronology import dated, with_prefix
from assistant.answers.extractive import TIME_WORDS
from assistant.answers.relevance import relevance
from assistant.answers.types import Answer, AnswerSentence, abstain, make_citation
from assistant.embedding import Embedder
from assistant.index import Store
from assistant.ingest import Article
from assistant.ingest.passages import Passage
from assistant.quotes import Statement, match_speakers, parse_speaker_question
from assistant.retrieval.retriever import Filters, Hit
from assistant.text.sentences import sentence_spans
from assistant.text.vocabulary import SPEECH_VERBS

_ACCORDING_TO = re.compile(r"^(?P<rest>.+?),?\s+according to (?P<name>[^,?]+?)\s*\??$", re.IGNORECASE)
_RECENT = 0.05  # what a statement from the newest article gains in the ranking when the question names no time
_YES_NO = re.compile(r"^\s*(did|does|do|has|have|is|was|were)\b", re.IGNORECASE)


@dataclass
class SpeakerStatement:
    """One stored statement, with its article and its relevance to the question's topic."""

    statement: Statement
    article: Article
    score: float = 0.0

    def as_hit(self) -> Hit:
        """The statement's whole sentences as a passage: what the answer cites and what an LLM is shown."""
        spans = [
            (s, e) for s, e in _sentences(self.article.text) if e > self.statement.start and s < self.statement.end
        ]
        start = min([s for s, _ in spans] + [self.statement.start])
        end = max([e for _, e in spans] + [self.statement.end])
        passage = Passage(self.article.id, start, end, self.article.text[start:end], spans or [(start, end)])
        return Hit(passage, self.article, self.score, speaker=self.statement.speaker)


@lru_cache(maxsize=256)
def _sentences(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(sentence_spans(text))


def statements_of(store: Store, name: str, filters: Filters | None = None) -> list[SpeakerStatement]:
    """Every stored statement whose speaker is `name` in its article (name variants and roles resolved there)."""
    found = []
    for article_id, rows in store.statements.items():
        article = store.articles.get(article_id)
        if article is None or (filters and not filters.allows(article)):
            continue
        statements = [Statement(**{k: v for k, v in row.items() if k != "article_id"}) for row in rows]
        speakers = match_speakers(name, statements)
        found += [SpeakerStatement(s, article) for s in statements if s.speaker in speakers]
    return found


def render_statement(s: Statement, article_text: str = "", again: bool = False) -> str:
    """One answer sentence for a statement: verbatim words in quotation marks only when they were all quoted.
    `again`: the sentence follows one of the same speaker's, so it reads "Dmitriev also said …" (their words
    grouped, not "Kirill Dmitriev said: … Kirill Dmitriev said: …")."""
    words = s.text.strip().rstrip(".,")
    who = _short_name(s.speaker) if again else s.speaker
    who = who[:1].upper() + who[1:]  # it opens the sentence: "The Kremlin also said …"
    said = f"{who} also said" if again else f"{who} said"
    if s.kind == "direct" and not any(mark in words for mark in '“”"'):
        return f"{said}: “{words}.”"
    verb = _object_verb(s)
    if verb:  # "He expressed gratitude to …": the words are the verb's object, not a clause "according to" can lead
        return f"{who} {'also ' if again else ''}{verb} {words}."
    first, second = (words.split(" ", 2) + ["", ""])[:2]
    # "According to X, Some guarantees…": lower the capital a sentence start gave an ordinary word (one the article
    # also writes in lower case), not a name's ("Will Smith" stays).
    ordinary = re.search(rf"\b{re.escape(first.lower())}\b", article_text) and not second[:1].isupper()
    if first[:1].isupper() and first[1:].islower() and ordinary:
        words = words[0].lower() + words[1:]
    lead = f"{said} that" if again else f"According to {s.speaker},"
    if words.endswith(("!”", "?”", ".”", '!"', '?"', '."')):
        return f"{lead} {words}"
    if words.endswith((",”", ',"')):  # a quote that ran on into "he said": its comma becomes the full stop
        return f"{lead} {words[:-2]}.{words[-1]}"
    return f"{lead} {words}."


def _short_name(speaker: str) -> str:
    """A person's surname once their full name has been given ("Dmitriev"); an institution keeps its name."""
    words = speaker.split()
    return words[-1] if len(words) > 1 and words[0][:1].isupper() and words[0].lower() != "the" else speaker


# Speech verbs whose reported words are a noun phrase, not a clause ("expressed gratitude", "accused him of …"):
# such words are shown after their verb, never as "According to X, gratitude to …".
_OBJECT_VERBS = frozenset(
    [
        "expressed",
        "expresses",
        "threatened",
        "threatens",
        "accused",
        "accuses",
        "blamed",
        "blames",
        "criticised",
        "criticized",
        "praised",
        "urged",
        "urges",
        "mentioned",
        "recalled",
        "recalls",
        "pointed",
        "points",
        "denied",
        "denies",
        "welcomed",
        "welcomes",
        "condemned",
        "condemns",
        "called",
        "demanded",
        "demands",
        "rejected",
        "rejects",
    ]
)
_PREPOSITION_START = re.compile(r"^(?:to|of|for|with|about|on|at|from|over)\s", re.IGNORECASE)


def _object_verb(s: Statement) -> str:
    """The cue's verb when the statement is its object ("Trump accused" + "him of …"), else ""."""
    if s.kind != "reported" or s.text.lstrip().lower().startswith("that "):
        return ""
    verbs = [w for w in re.findall(r"[a-z]+", s.cue.lower()) if w in SPEECH_VERBS]
    if not verbs:
        return ""
    verb = verbs[-1]
    return verb if verb in _OBJECT_VERBS or (verb != "according" and _PREPOSITION_START.match(s.text.lstrip())) else ""


def list_statements(
    store: Store, embedder: Embedder, idf, speaker: str | None = None, about: str | None = None
) -> list[SpeakerStatement]:
    """Statements of one speaker (or everyone), ranked by relevance to `about` when given, else in article order."""
    if speaker:
        found = statements_of(store, speaker)
    else:
        found = [
            SpeakerStatement(Statement(**{k: v for k, v in row.items() if k != "article_id"}), store.articles[aid])
            for aid, rows in store.statements.items()
            for row in rows
        ]
    if about:
        SpeakerAnswerer(store, embedder, idf).rank(about, found)
    return found


def name_in_corpus(store: Store, name: str) -> bool:
    """Whether any indexed article mentions the name (its last word, so "Lindsey Graham" finds "Graham")."""
    last = name.split()[-1].lower()
    return any(last in a.text.lower() for a in store.articles.values())


class SpeakerAnswerer:
    """Builds an answer from one speaker's statements, ranked by relevance to the topic; abstains when none fit."""

    def __init__(self, store: Store, embedder: Embedder, idf, max_sentences: int = 3, min_relevance=0.35):
        self.store = store
        self.embedder = embedder
        self.idf = idf
        self.max_sentences = max_sentences
        self.min_relevance = min_relevance

    def find(self, question: str, filters: Filters | None = None) -> tuple[str, list[SpeakerStatement]] | None:
        """(speaker, statements ranked by relevance) for a what-did-X-say question; None for other questions.

        A speaker who is mentioned in the articles but never quoted gets an empty list (the answer abstains);
        a name the articles never mention returns None, so ordinary retrieval answers instead.
        """
        according = _ACCORDING_TO.match(question)
        parsed = (according["name"], according["rest"]) if according else parse_speaker_question(question)
        if parsed is None:
            return None
        name, topic = parsed
        # "Did X comment on Y?" can be answered by "X did not comment", which is nobody's statement.
        yes_no = _YES_NO.match(question) is not None
        found = statements_of(self.store, name, filters)
        if not found:
            return (name, []) if name_in_corpus(self.store, name) and not yes_no else None
        speaker = found[0].statement.speaker
        # "earlier this week" says when, not what about: it would only lower every statement's relevance.
        topic = re.sub(r"\b(this|last|that)\b", " ", TIME_WORDS.sub(" ", topic)).strip(" ,")
        if topic:
            self.rank(topic, found)
            found = [s for s in found if s.score >= self.min_relevance]
        if not TIME_WORDS.search(question):  # "what does X say" means now: of two fitting statements, the newer
            newest = max((s.article.published for s in found), default="")
            found.sort(key=lambda s: -(s.score + (_RECENT if s.article.published == newest else 0.0)))
        return None if yes_no and not found else (speaker, found)

    def rank(self, topic: str, found: list[SpeakerStatement]) -> None:
        """Relevance of the statement's own words (not the cue around them) to the topic: half cosine
        similarity, half idf-weighted topic-word coverage, the extractive answerer's recipe."""
        scores = relevance(self.embedder, self.idf, topic, [item.statement.text for item in found])
        for item, score in zip(found, scores, strict=True):
            item.score = score
        found.sort(key=lambda s: -s.score)

    def context_hit(self, item: SpeakerStatement) -> Hit:
        """The indexed passage holding the statement (the reader sees it in context), else its own sentences."""
        start = item.statement.start
        for passage in self.store.passages_of([item.article.id]):
            if passage.start <= start < passage.end:
                return Hit(passage, item.article, item.score, speaker=item.statement.speaker)
        return item.as_hit()

    def answer(self, question: str, speaker: str, found: list[SpeakerStatement]) -> Answer:
        """The speaker's best statements, each quoted with its exact span and labelled with who said it."""
        if not found:
            result = abstain(question)
            result.notes.append(f"no statement by {speaker} on this in the articles")
            return result
        chosen: list[SpeakerStatement] = []
        seen: set[tuple[str, int] | str] = set()
        for item in found:
            # the same span, or the same words in a wire copy of the story, is quoted once
            keys: set[tuple[str, int] | str] = {
                (item.article.id, item.statement.start),
                " ".join(item.statement.text.lower().split()),
            }
            if not keys & seen:
                seen |= keys
                chosen.append(item)
            if len(chosen) == self.max_sentences:
                break
        citations, sentences, parts, hits = [], [], [], []
        names_time = bool(TIME_WORDS.search(question))
        previous = ("", "")  # (speaker, date prefix) of the sentence before
        for n, (item, prefix) in enumerate(dated(chosen, lambda i: i.article.published, names_time), 1):
            hit = self.context_hit(item)
            s = item.statement
            start, end = max(s.start, hit.passage.start), min(s.end, hit.passage.end)
            hits.append(hit)
            citations.append(make_citation(n, hit, start, end, speaker=s.speaker))
            again = previous == (s.speaker, prefix)  # the same speaker's words on the same day: grouped
            previous = (s.speaker, prefix)
            line = (
                render_statement(s, item.article.text, again)
                if again
                else with_prefix(prefix, render_statement(s, item.article.text))
            )
            sentences.append(AnswerSentence(line, [n]))
            parts.append(f"{line} [{n}]")
        return Answer(question, " ".join(parts), False, citations, sentences, mode="speaker", retrieved=hits)
