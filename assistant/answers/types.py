"""What an answer is: its sentences, their citations, and the events of a streamed answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from assistant.retrieval.retriever import Hit

# The one sentence the assistant says when the articles don't answer; tests and the chat page match on it.
ABSTAIN_ANSWER = "The articles in the index don't answer this question."


@dataclass
class Citation:
    """Passage n of an answer, the sentence(s) quoted from it and their offsets in the article text."""

    n: int
    article_id: str
    title: str
    published: str
    source: str
    url: str
    quote: str
    passage: str
    start: int  # offsets of the quote in the article text
    end: int
    passage_start: int
    passage_end: int
    speaker: str = ""  # set when the quote is a statement attributed to someone (quotes.py)


@dataclass
class AnswerSentence:
    """One sentence of an answer with the citations it carries (only sentences the passages support are shown)."""

    text: str
    citations: list[int]
    # Whether the cited passages support it: an extractive or speaker sentence is a passage sentence, so always;
    # an LLM sentence is shown only once support.py has found it supported. Every answer carries the field.
    supported: bool = True


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    sentences: list[AnswerSentence] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_question: str = ""  # the question actually searched (after a follow-up rewrite)
    mode: str = "extractive"
    notes: list[str] = field(default_factory=list)  # e.g. "the LLM failed: ...; extractive answer shown"
    retrieved: list[Hit] = field(default_factory=list, repr=False)
    # The extractive answerer's best support score, which it compares with answer.min_support (None on other
    # paths): evals/abstention_curve.py calibrates that threshold from it.
    support: float | None = None

    def to_json(self) -> dict:
        """The JSON shape of `assistant ask --json`."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question or self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "mode": self.mode,
            "citations": [asdict(c) for c in self.citations],
            "sentences": [asdict(s) for s in self.sentences],
            "notes": self.notes,
            "support": None if self.support is None else round(self.support, 4),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


def make_citation(n: int, hit: Hit, start: int, end: int, speaker: str = "") -> Citation:
    """Citation n quoting article text [start, end) inside the passage of a hit."""
    article, passage = hit.article, hit.passage
    return Citation(
        n=n,
        article_id=article.id,
        title=article.title,
        published=article.published,
        source=article.source,
        url=article.url,
        quote=article.text[start:end],
        passage=passage.text,
        start=start,
        end=end,
        passage_start=passage.start,
        passage_end=passage.end,
        speaker=speaker,
    )


def abstain(question: str) -> Answer:
    """The answer that says the articles don't answer (ABSTAIN_ANSWER), citing nothing."""
    return Answer(question=question, answer=ABSTAIN_ANSWER, abstained=True)


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: text to show now (`delta`), and on the last event the whole `answer`."""

    delta: str = ""
    answer: Answer | None = None
