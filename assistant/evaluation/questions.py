"""Load question sets (YAML) and benchmarks (articles.jsonl + questions.jsonl) into one EvalSet shape."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.errors import AssistantError


class EvalSetError(AssistantError):
    """A question set or benchmark folder cannot be read; the message says what is wrong and where."""


@dataclass
class Threshold:
    """A bound a metric must meet: at least `minimum` and/or at most `maximum`."""

    metric: str
    minimum: float | None = None
    maximum: float | None = None

    def describe(self) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        return " and ".join(parts)


@dataclass
class EvalQuestion:
    """One question with what a good answer needs; benchmark questions also carry choices and a gold answer."""

    id: str
    question: str
    history: list[str] = field(default_factory=list)
    answerable: bool = True
    evidence: list[str] = field(default_factory=list)  # strings a cited passage must contain
    facts: list[list[str]] = field(default_factory=list)  # each fact: acceptable alternatives
    tags: list[str] = field(default_factory=list)
    gold: str = ""  # benchmark: the correct choice's text
    choices: list[str] = field(default_factory=list)
    asked_on: str = ""
    answer_in_corpus: bool | None = None


@dataclass
class EvalSet:
    """Questions plus the corpus they are asked about; kind is 'set' (YAML) or 'benchmark' (folder)."""

    name: str
    kind: str
    source: Path
    corpus: list[Path]
    questions: list[EvalQuestion]
    description: str = ""
    thresholds: list[Threshold] = field(default_factory=list)
    attribution: Path | None = None  # gold speaker attributions (YAML), scored when assistant.quotes.extract exists
    selection: dict = field(default_factory=dict)  # how benchmark questions were chosen


def _strings(value, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise EvalSetError(f"{where}: expected a list of strings")
    return [str(v) for v in value]


def parse_thresholds(raw, where: str) -> list[Threshold]:
    """`metric: 0.8` means at least 0.8; `metric: {min: .., max: ..}` sets either bound."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise EvalSetError(f"{where}: 'thresholds' must map metric names to minimums")
    found = []
    for metric, bound in raw.items():
        if isinstance(bound, bool) or not isinstance(bound, int | float | dict):
            raise EvalSetError(f"{where}: threshold '{metric}' must be a number or {{min: .., max: ..}}")
        if isinstance(bound, dict):
            unknown = set(bound) - {"min", "max"}
            if unknown or not bound:
                raise EvalSetError(f"{where}: threshold '{metric}' takes only 'min' and 'max'")
            found.append(Threshold(str(metric), bound.get("min"), bound.get("max")))
        else:
            found.append(Threshold(str(metric), float(bound)))
    return found


def _question(raw: dict, number: int, where: str) -> EvalQuestion:
    here = f"{where}, question {number}"
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("question"):
        raise EvalSetError(f"{here}: every question needs an 'id' and a 'question'")
    here = f"{where}, question '{raw['id']}'"
    facts = raw.get("facts") or []
    if not isinstance(facts, list):
        raise EvalSetError(f"{here}: 'facts' must be a list of lists of alternatives")
    return EvalQuestion(
        id=str(raw["id"]),
        question=str(raw["question"]),
        history=_strings(raw.get("history"), f"{here} history"),
        answerable=bool(raw.get("answerable", True)),
        evidence=_strings(raw.get("evidence"), f"{here} evidence"),
        facts=[_strings(f, f"{here} facts") for f in facts],
        tags=_strings(raw.get("tags"), f"{here} tags"),
    )


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalSetError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise EvalSetError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise EvalSetError(f"{path}: expected a mapping with name, corpus and questions")
    return data


def load_set(path: Path | str) -> EvalSet:
    """A question set file; or an attribution gold file (article + statements), which scores attribution only."""
    path = Path(path)
    data = _read_yaml(path)
    if "statements" in data and "questions" not in data:  # an attribution gold file on its own
        if not data.get("article"):
            raise EvalSetError(f"{path}: an attribution file needs an 'article'")
        article = (path.parent / str(data["article"])).resolve()
        return EvalSet(path.stem, "set", path, [article], [], "speaker attribution only", attribution=path)
    for key in ("name", "corpus", "questions"):
        if not data.get(key):
            raise EvalSetError(f"{path}: missing '{key}'")
    corpus = [(path.parent / str(c)).resolve() for c in _strings(data["corpus"], f"{path} corpus")]
    for c in corpus:
        if not c.exists():
            raise EvalSetError(f"{path}: the corpus {c} does not exist")
    if not isinstance(data["questions"], list):
        raise EvalSetError(f"{path}: 'questions' must be a list")
    questions = [_question(q, i, str(path)) for i, q in enumerate(data["questions"], 1)]
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise EvalSetError(f"{path}: the question id '{q.id}' is used twice")
        seen.add(q.id)
    attribution = (path.parent / str(data["attribution"])).resolve() if data.get("attribution") else None
    if attribution is not None and not attribution.exists():
        raise EvalSetError(f"{path}: the attribution file {attribution} does not exist")
    return EvalSet(
        name=str(data["name"]),
        kind="set",
        source=path,
        corpus=corpus,
        questions=questions,
        description=str(data.get("description") or ""),
        thresholds=parse_thresholds(data.get("thresholds"), str(path)),
        attribution=attribution,
    )


def load_benchmark(
    directory: Path | str, limit: int | None = None, seed: int = 0, all_questions: bool = False
) -> EvalSet:
    """A benchmark folder; by default only questions whose gold answer occurs in the corpus (answer_in_corpus)."""
    directory = Path(directory)
    articles, questions_file = directory / "articles.jsonl", directory / "questions.jsonl"
    for path in (articles, questions_file):
        if not path.is_file():
            raise EvalSetError(f"{directory} is not a benchmark folder: {path.name} is missing")
    rows = []
    with questions_file.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise EvalSetError(f"{questions_file}, line {number}: not JSON") from None
            if not row.get("id") or not row.get("question") or not row.get("answer"):
                raise EvalSetError(f"{questions_file}, line {number}: needs id, question and answer")
            rows.append(row)
    total = len(rows)
    if not all_questions:
        rows = [r for r in rows if r.get("answer_in_corpus", True)]
    eligible = len(rows)
    rows.sort(key=lambda r: str(r["id"]))
    if limit is not None and limit < len(rows):
        # A seeded sample, kept in id order, so the same --limit/--seed always asks the same questions.
        rows = sorted(random.Random(seed).sample(rows, limit), key=lambda r: str(r["id"]))
    questions = []
    for r in rows:
        tags = [f"asked {str(r.get('asked_on') or '')[:7] or 'unknown'}"]
        if all_questions:
            tags.append("answer in corpus" if r.get("answer_in_corpus") else "answer not in corpus")
        questions.append(
            EvalQuestion(
                id=str(r["id"]),
                question=str(r["question"]),
                gold=str(r["answer"]),
                choices=[str(c) for c in r.get("choices") or []],
                asked_on=str(r.get("asked_on") or ""),
                answer_in_corpus=r.get("answer_in_corpus"),
                tags=tags,
            )
        )
    selection = {
        "questions_in_benchmark": total,
        "filter": "all questions" if all_questions else "answer_in_corpus is true",
        "eligible": eligible,
        "limit": limit,
        "seed": seed if limit is not None and limit < eligible else None,
        "selected": len(questions),
    }
    return EvalSet(
        name=directory.resolve().name,
        kind="benchmark",
        source=directory,
        corpus=[articles.resolve()],
        questions=questions,
        description=f"benchmark {directory}",
        selection=selection,
    )
