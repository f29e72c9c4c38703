"""The Article record, its content id, and FileResult: what happened to one input file."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field


def content_id(title: str, text: str) -> str:
    """Stable article id: the same title and text always give the same id."""
    return hashlib.sha256(f"{title}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass
class Article:
    """One news article: clean text plus metadata. Its id is a hash of its title and text."""

    title: str
    text: str
    url: str = ""
    source: str = ""
    published: str = ""  # ISO date YYYY-MM-DD, or "" when unknown
    authors: list[str] = field(default_factory=list)
    path: str = ""  # the file it came from, "" for articles added through the API
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = content_id(self.title, self.text)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FileResult:
    """What happened to one input file; status is ingested, unchanged, skipped or failed."""

    path: str
    status: str
    reason: str = ""
    articles: list[Article] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what cleaning did, e.g. "removed 3 invisible characters"
