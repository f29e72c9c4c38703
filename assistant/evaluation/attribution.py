"""Speaker-attribution scores against a gold YAML (article + statements), when assistant.quotes is there."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import yaml

from assistant.index import Store
from assistant.ingest import read_file


def _article_text(article_path: Path, store: Store) -> str | None:
    """The article's text as indexed (the gold strings are substrings of it); read from the file otherwise."""
    for article in store.articles.values():
        if article.path and Path(article.path) == article_path:
            return article.text
    result = read_file(article_path, 50_000_000, 1)
    return result.articles[0].text if result.articles else None


def evaluate_attribution(gold_path: Path, store: Store) -> dict:
    """{available, precision, recall, ...}; available is False (with a reason) when it cannot be scored."""
    try:
        quotes = importlib.import_module("assistant.quotes")
    except ImportError:
        return {"available": False, "reason": "assistant.quotes is not there (yet)", "gold": str(gold_path)}
    missing = [f for f in ("extract_statements", "score_attribution") if not hasattr(quotes, f)]
    if missing:
        return {
            "available": False,
            "reason": f"assistant.quotes lacks {', '.join(missing)}",
            "gold": str(gold_path),
        }
    gold = yaml.safe_load(Path(gold_path).read_text(encoding="utf-8")) or {}
    article_path = (Path(gold_path).parent / str(gold.get("article", ""))).resolve()
    text = _article_text(article_path, store)
    if text is None:
        return {"available": False, "reason": f"cannot read the article {article_path}", "gold": str(gold_path)}
    try:
        statements = quotes.extract_statements(text)
        scores = quotes.score_attribution(statements, list(gold.get("statements") or []))
    except Exception as exc:  # another team's module: its failure must not sink the whole evaluation
        return {"available": False, "reason": f"assistant.quotes failed: {exc!r}", "gold": str(gold_path)}
    plain = {k: v for k, v in dict(scores).items() if _json_ready(v)}  # e.g. its misses and false positives
    return {
        "available": True,
        "gold": str(gold_path),
        "article": str(article_path),
        "statements_found": len(statements),
        "statements_gold": len(gold.get("statements") or []),
        **plain,
    }


def _json_ready(value) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
