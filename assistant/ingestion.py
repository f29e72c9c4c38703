"""Read article files (.txt, .md, .html, .json, .jsonl) into clean Article records, with a reason for each skip."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

SUPPORTED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".json", ".jsonl"}
SIDECAR_SUFFIX = ".meta.json"  # NAME.meta.json beside NAME.txt holds its metadata; never an article itself

# Invisible characters that can hide text from a reader but not from a model: zero-width, bidirectional
# controls, Unicode tag characters and the other C0/C1 controls except newline and tab; also lone surrogates
# (a "\ud83d" escape in a JSON record cut mid-emoji), which cannot be encoded, embedded or saved.
_INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f"
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]"
)
_FURNITURE_LINE = re.compile(
    r"^(related articles?|most popular|most read|advertisement|share this( article)?|read more|"
    r"sign up for our newsletter|follow us on .*|skip to (main )?content|cookie settings)\s*:?$",
    re.IGNORECASE,
)
# A furniture line after which nothing is article text (lists of other stories, footers).
_TAIL_MARKERS = {"related articles", "related article", "most popular", "most read"}
# A breadcrumb glued together by the page's markup, e.g. "HomeWorldEuropeTop Russian official ...".
_BREADCRUMB = re.compile(r"^(Home|News)([A-Z][a-z]+){1,4}[A-Z]")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATELINE = re.compile(
    rf"^(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),?\s+)?"
    rf"(?:({_MONTHS})\s+(\d{{1,2}}),?\s+(\d{{4}})|(\d{{1,2}})\s+({_MONTHS}),?\s+(\d{{4}})|(\d{{4}}-\d{{2}}-\d{{2}}))$",
    re.IGNORECASE,
)


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


def clean_text(text: str) -> tuple[str, int]:
    """Normalise text for indexing; returns the text and how many invisible/control characters were removed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text, removed = _INVISIBLE.subn("", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip(), removed


def parse_date(value: object) -> str:
    """ISO date (YYYY-MM-DD) from a date, an ISO timestamp or a dateline such as 'Saturday, April 5, 2025'."""
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if not isinstance(value, str) or not value.strip():
        return ""
    value = value.strip()
    m = re.match(r"^(\d{4}-\d{2}-\d{2})", value)
    if m:
        try:
            return date.fromisoformat(m.group(1)).isoformat()
        except ValueError:
            return ""
    m = _DATELINE.match(value)
    if not m:
        return ""
    if m.group(7):
        return m.group(7)
    month, day, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(4), m.group(6))
    try:
        return datetime.strptime(f"{month} {day} {year}", "%B %d %Y").date().isoformat()
    except ValueError:
        return ""


def _strip_furniture(lines: list[str]) -> tuple[list[str], str, str]:
    """Drop dateline, breadcrumb and footer lines; return (lines, dateline date, headline)."""
    published, headline, kept = "", "", []
    for i, line in enumerate(lines):
        stripped = line.strip()
        lowered = stripped.lower().rstrip(":")
        if lowered in _TAIL_MARKERS:
            break
        if i < 5 and not published and parse_date(stripped):
            published = parse_date(stripped)
            continue
        if i < 5 and _BREADCRUMB.match(stripped):
            continue
        if _FURNITURE_LINE.match(stripped):
            continue
        kept.append(line)
    # The headline is the first non-empty line when it reads like one (short, no final full stop).
    for j, line in enumerate(kept):
        if line.strip():
            if len(line) < 200 and not line.rstrip().endswith((".", "?", "!", "”", '"')):
                headline = line.strip()
                kept = kept[j + 1 :]
            break
    return kept, published, headline


def _read_sidecar(path: Path) -> dict:
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def decode_bytes(raw: bytes) -> tuple[str | None, str]:
    """Decode file bytes as UTF-8; (None, reason) for binary data or text that is mostly not UTF-8."""
    if b"\x00" in raw[:65536]:
        return None, "binary file (contains NUL bytes)"
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad and bad > max(3, len(text) // 100):
        return None, f"not UTF-8 text ({bad} undecodable bytes)"
    return text, (f"replaced {bad} undecodable bytes" if bad else "")


def read_text_article(path: Path, text: str) -> Article:
    """A .txt/.md article: dateline, breadcrumb and footer removed; metadata from NAME.meta.json if present."""
    meta = _read_sidecar(path)
    lines, published, headline = _strip_furniture(text.split("\n"))
    body = "\n".join(lines)
    if path.suffix == ".md":
        body = re.sub(r"^#{1,6}\s*", "", body, flags=re.MULTILINE)
        headline = headline.lstrip("# ").strip()
    return Article(
        title=str(meta.get("title") or headline or path.stem),
        text=body,
        url=str(meta.get("url") or ""),
        source=str(meta.get("source") or ""),
        published=parse_date(meta.get("published")) or published,
        authors=list(meta.get("authors") or []),
        path=str(path),
    )


def _drop_hidden_html(html: str) -> str:
    """Remove elements a browser would not show (hidden attribute, display:none...), so they are not indexed."""
    from lxml import etree
    from lxml import html as lxml_html

    # lxml refuses a str that starts with an XML declaration naming an encoding; the text is decoded already.
    html = re.sub(r"^\s*<\?xml[^>]*>", "", html.lstrip("\ufeff"))
    try:
        tree = lxml_html.fromstring(html)
    except (ValueError, TypeError, SyntaxError, etree.ParserError):  # ParserError: an empty or comment-only page
        return html
    # CSS property names and keywords are case-insensitive and may be spaced with tabs or newlines.
    style = "translate(@style,'ABCDEFGHIJKLMNOPQRSTUVWXYZ \t\n\r','abcdefghijklmnopqrstuvwxyz')"
    hidden = tree.xpath(
        f"//*[@hidden or @aria-hidden='true' or contains({style},'display:none')"
        f" or contains({style},'visibility:hidden') or self::template or self::noscript]"
    )
    for element in hidden:
        element.drop_tree()
    return lxml_html.tostring(tree, encoding="unicode")


def read_html_article(path: Path, html: str) -> Article:
    """Main text of an HTML page (trafilatura drops scripts, styles and navigation) with its meta tags."""
    import trafilatura

    visible = _drop_hidden_html(html)
    text = trafilatura.extract(visible, output_format="txt", include_comments=False, favor_recall=True) or ""
    meta = trafilatura.extract_metadata(html)
    authors = [a.strip() for a in re.split(r";|,| and ", meta.author or "") if a.strip()] if meta else []
    return Article(
        title=(meta.title if meta and meta.title else path.stem),
        text=text,
        url=(meta.url or "") if meta else "",
        source=(meta.sitename or meta.hostname or "") if meta else "",
        published=parse_date(meta.date) if meta else "",
        authors=authors,
        path=str(path),
    )


def _record_to_article(record: dict, path: Path) -> Article:
    authors = record.get("authors") or []
    if isinstance(authors, str):
        authors = [authors]
    return Article(
        title=str(record.get("title") or ""),
        text=str(record.get("text") or ""),
        url=str(record.get("url") or ""),
        source=str(record.get("source") or ""),
        published=parse_date(record.get("published")),
        authors=[str(a) for a in authors],
        path=str(path),
    )


def read_json_articles(path: Path, text: str) -> list[Article]:
    """Records with title, text, url, source, published, authors: a .jsonl line each, or a .json object/list."""
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as exc:
                    raise ValueError(f"line {number} is not JSON: {exc.msg}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc.msg} (line {exc.lineno})") from None
        records = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in records):
        raise ValueError("expected JSON objects with title and text fields")
    return [_record_to_article(r, path) for r in records]


def expand_paths(paths: list[Path]) -> Iterator[Path]:
    """Files to ingest: the given files, and supported files inside given folders (sorted, recursive)."""
    for path in paths:
        path = path.resolve()  # articles remember absolute paths, so re-ingesting from elsewhere matches
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and _is_article_file(child) and not child.name.startswith("."):
                    yield child
        else:
            yield path


def _is_article_file(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.endswith(SIDECAR_SUFFIX)


def read_file(path: Path, max_bytes: int, min_chars: int) -> FileResult:
    """Read one file into articles, or say why it was skipped or failed; never raises for bad input."""
    result = FileResult(path=str(path), status="ingested")
    if not path.exists():
        return FileResult(str(path), "failed", "no such file")
    if not _is_article_file(path):
        return FileResult(str(path), "skipped", f"unsupported file type '{path.suffix or path.name}'")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return FileResult(str(path), "skipped", f"too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB)")
        raw = path.read_bytes()
    except OSError as exc:
        return FileResult(str(path), "failed", f"cannot read: {exc.strerror or exc}")
    text, note = decode_bytes(raw)
    if text is None:
        return FileResult(str(path), "skipped", note)
    if note:
        result.notes.append(note)
    suffix = path.suffix.lower()
    try:
        if suffix in {".json", ".jsonl"}:
            articles = read_json_articles(path, text)
        elif suffix in {".html", ".htm"}:
            articles = [read_html_article(path, text)]
        else:
            articles = [read_text_article(path, text)]
    except ValueError as exc:
        return FileResult(str(path), "failed", str(exc))
    except RecursionError:  # e.g. JSON nested 100,000 levels deep
        return FileResult(str(path), "failed", "nested too deeply to read")
    kept, removed, records_cleaned = [], 0, 0
    for article in articles:
        article.text, cleaned = clean_text(article.text)
        removed, records_cleaned = removed + cleaned, records_cleaned + bool(cleaned)
        article.title, _ = clean_text(article.title)
        article.url, article.source = _INVISIBLE.sub("", article.url), _INVISIBLE.sub("", article.source)
        article.authors = [_INVISIBLE.sub("", a) for a in article.authors]
        if len(article.text) >= min_chars:
            article.id = content_id(article.title, article.text)  # hash of the cleaned text
            kept.append(article)
    if not kept:
        reason = "no article text" if len(articles) == 1 else f"none of {len(articles)} records has article text"
        return FileResult(str(path), "skipped", reason)
    if removed:  # one note per file, however many records it holds
        where = f" in {records_cleaned} of {len(articles)} records" if len(articles) > 1 else ""
        result.notes.append(f"removed {removed} invisible/control characters{where}")
    if len(kept) < len(articles):
        result.notes.append(f"{len(articles) - len(kept)} records without text skipped")
    result.articles = kept
    return result
