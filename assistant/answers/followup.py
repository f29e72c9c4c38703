"""Rule-based rewrite of a follow-up question into a standalone one, using the earlier questions."""

from __future__ import annotations

import re

_TOPIC_SHIFT = re.compile(
    r"^(?:and|but|also|so)?\s*(?:what|how)?\s*(?:about|regarding|on|of)\s+(?P<topic>.+?)\??$", re.IGNORECASE
)
_AND_QUESTION = re.compile(r"^(?:and|but|also)\s+(?P<rest>.+)$", re.IGNORECASE)
_PRONOUNS = re.compile(r"\b(he|him|his|she|her|hers|they|them|their)\b", re.IGNORECASE)
_DEICTIC = re.compile(r"\b(that|this|those|these|it|there|then)\b", re.IGNORECASE)
_ABOUT = re.compile(r"^(?P<head>.*?\babout\b)\s+.+$", re.IGNORECASE)
# Capitalised words that are not names when they start a question.
_NOT_NAMES = {"What", "Who", "Whom", "When", "Where", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Are",
              "Was", "Were", "And", "But", "The", "A", "An", "In", "On", "About", "Has", "Have", "Can", "Could",
              "Would", "Will", "Tell", "Me", "I"}  # fmt: skip


def last_name_mentioned(questions: list[str]) -> str:
    """The subject of the most recent question that names someone: its first proper name.

    In "What did Trump say about Zelensky?" a following "he" means Trump, the one asked about, so the first name
    of the question wins over the last.
    """
    for question in reversed(questions):
        names = re.findall(r"\b[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*", question)
        names = [" ".join(w for w in n.split() if w not in _NOT_NAMES) for n in names]
        names = [re.sub(r"(’s|'s)$", "", n) for n in names if n]
        if names:
            return names[0]
    return ""


def rewrite_followup(question: str, history: list[str]) -> str:
    """Standalone form of `question` given the earlier (standalone) questions, oldest first.

    "And about NATO?" after "What did Dmitriev say about sanctions?" -> "What did Dmitriev say about NATO?";
    "Who did he meet?" after a question naming Dmitriev -> "Who did Dmitriev meet?". A question that needs no
    context is returned unchanged.
    """
    question = question.strip()
    if not history:
        return question
    previous = history[-1].strip()
    shift = _TOPIC_SHIFT.match(question)
    if shift and len(shift.group("topic").split()) <= 6:
        head = _ABOUT.match(previous)
        topic = shift.group("topic").rstrip("?").strip()
        if head:
            return f"{head.group('head')} {topic}?"
        name = last_name_mentioned(history)
        return f"What about {topic} and {name}?" if name else question
    anded = _AND_QUESTION.match(question)
    if anded:
        question = anded.group("rest")[0].upper() + anded.group("rest")[1:]
    if _PRONOUNS.search(question):
        name = last_name_mentioned(history)
        if name:
            possessive = f"{name}’s" if "’" in previous else f"{name}'s"

            def replace(m: re.Match) -> str:
                word = m.group(1).lower()
                return possessive if word in ("his", "hers", "their") else name

            return _PRONOUNS.sub(replace, question, count=1)
    # "Who asked for that meeting?", "Since when?": too little to search on alone, so the earlier question comes
    # along as a second sentence ("Since when? What did Dmitriev say about sanctions?"): it finds the story.
    if _DEICTIC.search(question) or len(question.split()) <= 3:
        return f"{question.rstrip()} {previous}"
    return question
