"""Read article files (.txt, .md, .html, .json, .jsonl) into clean Article records, with a reason for each skip."""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

from assistant.ingest.articles import Article, FileResult, content_id
from assistant.ingest.cleaning import clean_text, strip_furniture, strip_invisible
from assistant.ingest.discovery import SIDECAR_SUFFIX, index_holding, is_article_file
from assistant.text.dates import parse_date

# The keys a .json/.jsonl record (or a sidecar) may give each article field under, read in this order: the first
# that is present and not empty wins. docs/input-format.md lists them.
FIELDS = {
    "title": ("title", "headline"),
    "text": ("text", "body", "content", "article"),
    "url": ("url",),
    "source": ("source",),
    "published": ("published", "date"),
    "authors": ("authors", "author"),
}


def _read_sidecar(path: Path, notes: list[str]) -> dict:
    """NAME.meta.json beside NAME.txt or NAME.md: a JSON object of metadata fields, {} when absent; a sidecar that
    cannot be used is ignored with a note."""
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError) as exc:
        problem = f"not JSON: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else "cannot be read"
        notes.append(f"{sidecar.name} ignored: {problem}")
        return {}
    if not isinstance(data, dict):
        notes.append(f"{sidecar.name} ignored: not a JSON object")
        return {}
    return data


def _field(record: dict, name: str) -> object:
    """The value of an article field in a JSON record or sidecar: the first of its FIELDS keys that is not empty."""
    for key in FIELDS[name]:
        value = record.get(key)
        if value is not None and value != "" and value != []:
            return value
    return None


def _metadata(record: dict) -> dict:
    """Article metadata (title, url, source, published, authors) from a JSON record or sidecar."""
    authors = _field(record, "authors") or []
    if not isinstance(authors, list):
        authors = [authors]
    return {
        "title": str(_field(record, "title") or ""),
        "url": str(_field(record, "url") or ""),
        "source": str(_field(record, "source") or ""),
        "published": parse_date(_field(record, "published")),
        "authors": [str(a) for a in authors if a],
    }


def _date_not_understood(record: dict) -> object:
    """The date a record or sidecar gives that parse_date does not understand, or None."""
    value = _field(record, "published")
    return value if value is not None and not parse_date(value) else None


def _shown(value: object) -> str:
    """A value from a file, quoted and shortened for a note."""
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text[:40] + "…" if len(text) > 40 else text)


def decode_bytes(raw: bytes) -> tuple[str | None, str]:
    """Decode file bytes as UTF-8; (None, reason) for binary data or text that is mostly not UTF-8."""
    if b"\x00" in raw[:65536]:
        return None, "binary file (contains NUL bytes)"
    text = raw.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="replace")  # a BOM is no part of the text
    bad = text.count("\ufffd")
    if bad and bad > max(3, len(text) // 100):
        return None, f"not UTF-8 text ({bad} undecodable bytes)"
    return text, (f"replaced {bad} undecodable bytes" if bad else "")


def read_text_article(path: Path, text: str, notes: list[str] | None = None) -> Article:
    """A .txt/.md article: dateline, breadcrumb and footer removed; metadata from NAME.meta.json if present (its
    problems, and a date in it that is not understood, are added to notes)."""
    notes = [] if notes is None else notes
    meta = _read_sidecar(path, notes)
    lines, published, headline = strip_furniture(text.split("\n"))
    body = "\n".join(lines)
    if path.suffix.lower() == ".md":
        body = re.sub(r"^#{1,6}\s*", "", body, flags=re.MULTILINE)
        headline = headline.lstrip("# ").strip()
    fields = _metadata(meta)
    bad_date = _date_not_understood(meta)
    if bad_date is not None:
        used = f"the dateline's {published} is used" if published else "the article is undated"
        notes.append(f"date {_shown(bad_date)} in {path.stem}{SIDECAR_SUFFIX} not understood; {used}")
    return Article(
        title=fields["title"] or headline or path.stem,
        text=body,
        url=fields["url"],
        source=fields["source"],
        published=fields["published"] or published,
        authors=fields["authors"],
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


class NothingToRead(ValueError):
    """A readable file that holds no article (e.g. JSON records without a text field): skipped, not failed."""


def _lines_note(numbers: list[int], problem: str, word: str) -> str:
    """'line 2 is not JSON', 'lines 2, 5 and 9 are ...', or '12 lines are ... (lines 2, 5, 9, 11, 14, …)'."""
    if len(numbers) == 1:
        return f"{word} {numbers[0]} is {problem}"
    if len(numbers) <= 5:
        return f"{word}s {', '.join(map(str, numbers[:-1]))} and {numbers[-1]} are {problem}"
    return f"{len(numbers)} {word}s are {problem} ({word}s {', '.join(map(str, numbers[:5]))}, …)"


def _json_error(exc: ValueError) -> str:
    """What json.loads found wrong: a JSONDecodeError's message, or a plain ValueError's (a number of over 4300
    digits, which Python refuses to convert)."""
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)


def _parse_records(path: Path, text: str, notes: list[str]) -> list[dict]:
    """The JSON objects of a .jsonl file (one a line) or a .json file (an object or a list of objects). Lines that
    are not JSON, and lines or list items that are not objects, are skipped with a note; when nothing is left, the
    file fails with the same words."""
    problems = []
    if path.suffix.lower() == ".jsonl":
        word, items, not_json, error = "line", [], [], ""
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((number, json.loads(line.lstrip("\ufeff"))))  # a BOM where two files were joined
                except ValueError as exc:
                    not_json.append(number)
                    error = error or _json_error(exc)
        if not_json:
            where = "" if len(not_json) == 1 else f"line {not_json[0]}: "
            problems.append(_lines_note(not_json, f"not JSON ({where}{error})", word))
    else:
        word = "item"
        try:
            data = json.loads(text)
        except ValueError as exc:
            where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
            raise ValueError(f"not JSON: {_json_error(exc)}{where}") from None
        if not isinstance(data, dict | list):
            raise ValueError("expected a JSON object, or a list of them, with title and text fields")
        items = list(enumerate(data, 1)) if isinstance(data, list) else [(1, data)]
    records = [item for _, item in items if isinstance(item, dict)]
    if len(records) < len(items):
        problems.append(_lines_note([n for n, item in items if not isinstance(item, dict)], "not a JSON object", word))
    if problems and not records:
        raise ValueError("; ".join(problems))
    notes += [f"{problem}: skipped" for problem in problems]
    return records


def read_json_articles(path: Path, text: str, notes: list[str] | None = None) -> list[Article]:
    """A .jsonl line or a .json object/list item each, its article fields read under the keys in FIELDS. Records
    without a text field, lines that are not JSON and dates not understood are noted."""
    notes = [] if notes is None else notes
    records = _parse_records(path, text, notes)
    with_text = [r for r in records if any(key in r for key in FIELDS["text"])]
    if len(with_text) < len(records):
        keys = " / ".join(FIELDS["text"])
        first = next(r for r in records if not any(key in r for key in FIELDS["text"]))
        has = ", ".join(map(str, list(first)[:8])) + (", …" if len(first) > 8 else "") or "no fields"
        if len(records) == 1:
            raise NothingToRead(f"no text field ({keys}); the record has: {has}")
        if not with_text:
            raise NothingToRead(f"none of {len(records)} records has a text field ({keys}); the first has: {has}")
        missing = len(records) - len(with_text)
        notes.append(f"{missing} record(s) without a text field ({keys}) skipped; the first has: {has}")
    bad_dates = [d for d in map(_date_not_understood, with_text) if d is not None]
    if len(bad_dates) == 1:
        notes.append(f"1 date not understood ({_shown(bad_dates[0])}); that article is undated")
    elif bad_dates:
        notes.append(f"{len(bad_dates)} dates not understood (e.g. {_shown(bad_dates[0])}); those articles are undated")
    articles = []
    for record in with_text:
        body = _field(record, "text")
        articles.append(Article(**_metadata(record), text=body if isinstance(body, str) else "", path=str(path)))
    return articles


def read_file(path: Path, max_bytes: int, min_chars: int) -> FileResult:
    """Read one file into articles, or say why it was skipped or failed; never raises for bad input."""
    result = FileResult(path=str(path), status="ingested")
    if not path.exists():
        return FileResult(str(path), "failed", "no such file")
    # Only a folder or a .json/.jsonl file can be part of an index that would pass for articles.
    index = index_holding(path) if path.is_dir() or path.suffix.lower() in {".json", ".jsonl"} else None
    if index is not None:
        where = "an index folder" if index == path else f"part of the index folder {index}"
        return FileResult(str(path), "skipped", f"{where}: index files are not articles")
    if path.name.endswith(SIDECAR_SUFFIX):
        stem = path.name.removesuffix(SIDECAR_SUFFIX)
        return FileResult(str(path), "skipped", f"metadata for {stem}.txt or .md (a sidecar), not an article")
    if not is_article_file(path):
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
            articles = read_json_articles(path, text, result.notes)
        elif suffix in {".html", ".htm"}:
            articles = [read_html_article(path, text)]
        else:
            articles = [read_text_article(path, text, result.notes)]
    except NothingToRead as exc:
        return FileResult(str(path), "skipped", str(exc))
    except ValueError as exc:
        return FileResult(str(path), "failed", str(exc))
    except RecursionError:  # e.g. JSON nested 100,000 levels deep
        return FileResult(str(path), "failed", "nested too deeply to read")
    kept, removed, records_cleaned = [], 0, 0
    for article in articles:
        article.text, cleaned = clean_text(article.text)
        removed, records_cleaned = removed + cleaned, records_cleaned + bool(cleaned)
        article.title, _ = clean_text(article.title)
        article.url, article.source = strip_invisible(article.url), strip_invisible(article.source)
        article.authors = [strip_invisible(a) for a in article.authors]
        if len(article.text) >= min_chars:
            article.id = content_id(article.title, article.text)  # hash of the cleaned text
            kept.append(article)
    if not kept:
        reason = "no article text" if len(articles) == 1 else f"none of {len(articles)} records has article text"
        reason = "no records" if not articles else reason
        return FileResult(str(path), "skipped", reason)
    if removed:  # one note per file, however many records it holds
        where = f" in {records_cleaned} of {len(articles)} records" if len(articles) > 1 else ""
        result.notes.append(f"removed {removed} invisible/control characters{where}")
    if len(kept) < len(articles):
        result.notes.append(f"{len(articles) - len(kept)} records without text skipped")
    result.articles = kept
    return result
