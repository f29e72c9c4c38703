"""A statement: words attributed to one speaker, with their span in the article and the cue that names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from assistant.quotes.cast import Entity

Kind = Literal["direct", "reported"]


@dataclass(frozen=True)
class Statement:
    """Words attributed to one speaker; start/end index the article text and text == article[start:end]."""

    speaker: str  # canonical: the fullest name of that person (or organisation) in the article
    kind: Kind  # "direct": words in quotation marks; "reported": indirect speech
    start: int
    end: int
    text: str
    cue: str  # the attribution words as written, e.g. "he stressed", "Dmitriev told reporters"
    mention: str = ""  # how the cue names the speaker: "he", "Dmitriev", "Putin’s special envoy"
    roles: str = ""  # the speaker's role and affiliation words in the article, stemmed: "envoy negotiator russian"


@dataclass
class Pending:
    """A statement found in a unit, before spans are cleaned."""

    start: int
    end: int
    speaker: Entity
    cue: str
    mention: str
