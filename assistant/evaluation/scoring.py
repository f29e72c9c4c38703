"""Score one answered question into a JSON-ready record, and aggregate records into the run's metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.answers.types import Answer
from assistant.evaluation.metrics import (
    abstention_scores,
    contains_evidence,
    contains_phrase,
    first_relevant_rank,
    hit_at,
    mean,
    multiple_choice,
    percentile,
    ratio,
    reciprocal_rank,
    strip_quotes,
)
from assistant.evaluation.questions import EvalQuestion
from assistant.retrieval.retriever import Hit

RETRIEVAL_DEPTH = 10  # passages retrieved for the ranking metrics (Hit@10, MRR@10)
STAGES = ("retrieve", "answer", "total")


def _relevant(q: EvalQuestion, text: str) -> bool:
    """A passage is relevant when it holds an expected evidence string (sets) or the gold answer (benchmarks)."""
    if q.gold:
        return contains_phrase(text, q.gold)
    return any(contains_evidence(text, e) for e in q.evidence)


def _has_relevance(q: EvalQuestion) -> bool:
    return bool(q.gold) or (q.answerable and bool(q.evidence))


def score_retrieval(q: EvalQuestion, ranked: list[Hit], k: int) -> dict | None:
    """Ranking metrics of the top-10 passages; evidence recall over the top k (the passages answered from)."""
    if not _has_relevance(q):
        return None
    relevant = [_relevant(q, h.passage.text) for h in ranked[:RETRIEVAL_DEPTH]]
    rank = first_relevant_rank(relevant)
    if q.gold:
        found, recall = [], hit_at(rank, k)
    else:
        top = [h.passage.text for h in ranked[:k]]
        found = [e for e in q.evidence if any(contains_evidence(t, e) for t in top)]
        recall = len(found) / len(q.evidence)
    return {
        "first_relevant_rank": rank,
        "hit_at_1": hit_at(rank, 1),
        "hit_at_5": hit_at(rank, 5),
        "hit_at_10": hit_at(rank, 10),
        "rr_at_10": reciprocal_rank(rank, 10),
        "evidence_found": found,
        "evidence_recall": recall,
        "top": [
            {"article_id": h.article.id, "title": h.article.title, "start": h.passage.start, "relevant": r}
            for h, r in zip(ranked[:RETRIEVAL_DEPTH], relevant, strict=True)
        ],
    }


def check_citations(answer: Answer, article_text: Callable[[str], str | None]) -> list[dict]:
    """Each citation with its validity checks: passage among the retrieved, quote verbatim at [start, end)."""
    retrieved = {(h.article.id, h.passage.start, h.passage.end) for h in answer.retrieved}
    checked = []
    for c in answer.citations:
        text = article_text(c.article_id)
        in_retrieved = (c.article_id, c.passage_start, c.passage_end) in retrieved
        verbatim = text is not None and 0 <= c.start < c.end and text[c.start : c.end] == c.quote
        inside = c.passage_start <= c.start and c.end <= c.passage_end
        checked.append(
            {
                "n": c.n,
                "article_id": c.article_id,
                "title": c.title,
                "quote": c.quote,
                "passage": c.passage,
                "start": c.start,
                "end": c.end,
                "passage_start": c.passage_start,
                "passage_end": c.passage_end,
                "speaker": c.speaker,
                "in_retrieved": in_retrieved,
                "verbatim": verbatim,
                "inside_passage": inside,
                "valid": in_retrieved and verbatim and inside,
            }
        )
    return checked


def score_question(
    q: EvalQuestion,
    answer: Answer | None,
    ranked: list[Hit],
    article_text: Callable[[str], str | None],
    k: int,
    error: str = "",
) -> dict:
    """The JSON record of one question: its answer, citations, metrics, pass/fail and what failed."""
    answer = answer or Answer(q.question, "", False)
    citations = check_citations(answer, article_text)
    record: dict = {
        "id": q.id,
        "question": q.question,
        "history": q.history,
        "standalone_question": answer.standalone_question or q.question,
        "answerable": q.answerable,
        "tags": q.tags,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "error": error,
        "timings_ms": {s: round(answer.timings_ms[s], 2) for s in STAGES if s in answer.timings_ms},
        "citations": citations,
        "retrieval": score_retrieval(q, ranked, k),
    }
    failures: list[str] = [f"error: {error}"] if error else []
    diagnostics: list[str] = []
    for c in citations:
        if not c["in_retrieved"]:
            failures.append(f"citation [{c['n']}]: its passage was not among the retrieved")
        if not c["verbatim"]:
            failures.append(f"citation [{c['n']}]: the quote is not the article text at [{c['start']}, {c['end']})")
        if not c["inside_passage"]:
            failures.append(f"citation [{c['n']}]: the quote lies outside its passage")
    retrieval = record["retrieval"]
    if retrieval is not None:
        rank = retrieval["first_relevant_rank"]
        what = "the gold answer" if q.gold else "the evidence"
        if rank is None:
            diagnostics.append(f"retrieval: no passage in the top {RETRIEVAL_DEPTH} holds {what}")
        elif rank > k:
            diagnostics.append(f"retrieval: {what} first at rank {rank}, beyond the {k} passages answered from")
    if q.gold:
        _score_benchmark(q, answer, record, failures, diagnostics)
    else:
        _score_set(q, answer, record, failures, diagnostics)
    record["passed"] = not failures
    record["failures"] = failures
    record["diagnostics"] = diagnostics
    return record


def _score_set(q: EvalQuestion, answer: Answer, record: dict, failures: list[str], diagnostics: list[str]) -> None:
    citations = record["citations"]
    if not q.answerable:
        if not answer.abstained and not record["error"]:
            failures.append("answered an unanswerable question")
        return
    # An abstention finds no fact, whatever words its fixed sentence happens to contain.
    said = "" if answer.abstained else answer.answer
    facts: list[dict[str, Any]] = [
        {"alternatives": f, "found": any(contains_phrase(said, a) for a in f)} for f in q.facts
    ]
    for c in citations:
        c["has_evidence"] = any(contains_evidence(c["passage"], e) for e in q.evidence)
        quote = c["quote"]
        c["quote_has_evidence"] = any(contains_evidence(quote, e) or contains_evidence(e, quote) for e in q.evidence)
    record["evidence"] = q.evidence
    record["facts"] = facts
    record["fact_recall"] = ratio(sum(f["found"] for f in facts), len(facts))
    record["citation_precision"] = ratio(sum(c["has_evidence"] for c in citations), len(citations))
    if answer.abstained:
        failures.append("abstained on an answerable question")
        return
    failures.extend(f"missing fact: {' / '.join(f['alternatives'])}" for f in facts if not f["found"])
    if citations and q.evidence and not any(c["has_evidence"] for c in citations):
        failures.append("no cited passage holds the expected evidence")
    elif not citations and not record["error"]:
        failures.append("the answer cites nothing")
    diagnostics.extend(
        f"citation [{c['n']}]: its passage holds none of the evidence" for c in citations if not c["has_evidence"]
    )


def _score_benchmark(
    q: EvalQuestion, answer: Answer, record: dict, failures: list[str], diagnostics: list[str]
) -> None:
    citations = record["citations"]
    for c in citations:
        c["has_evidence"] = contains_phrase(c["passage"], q.gold)
    scores, predicted = multiple_choice(
        q.choices,
        answer.answer,
        [c["quote"] for c in citations],
        [c["passage"] for c in citations],
        abstained=answer.abstained or bool(record["error"]),
    )
    gold_index = next((i for i, c in enumerate(q.choices) if strip_quotes(c) == strip_quotes(q.gold)), None)
    record.update(
        {
            "gold": q.gold,
            "choices": q.choices,
            "asked_on": q.asked_on,
            "answer_in_corpus": q.answer_in_corpus,
            "answer_contains_gold": (not answer.abstained) and contains_phrase(answer.answer, q.gold),
            "mc_scores": scores,
            "mc_prediction": q.choices[predicted] if predicted is not None else None,
            "mc_correct": predicted is not None and predicted == gold_index,
            "citation_precision": ratio(sum(c["has_evidence"] for c in citations), len(citations)),
        }
    )
    if answer.abstained:
        failures.append("abstained")
    elif predicted is None:
        failures.append("multiple choice: no single best choice (none named, or a tie)")
    elif not record["mc_correct"]:
        failures.append(f"multiple choice: picked {q.choices[predicted]!r}, the answer is {q.gold!r}")
    if not answer.abstained and not record["answer_contains_gold"]:
        diagnostics.append("the answer text does not contain the gold answer")


def aggregate(records: list[dict], k: int) -> dict:
    """The run's metrics over question records (see evals/README.md for each definition)."""
    answerable = [r for r in records if r["answerable"]]
    ranked = [r["retrieval"] for r in records if r.get("retrieval")]
    result: dict = {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(records) - len(answerable),
        "errors": sum(1 for r in records if r["error"]),
        "k": k,
        "hit_at_1": mean(x["hit_at_1"] for x in ranked),
        "hit_at_5": mean(x["hit_at_5"] for x in ranked),
        "hit_at_10": mean(x["hit_at_10"] for x in ranked),
        "mrr_at_10": mean(x["rr_at_10"] for x in ranked),
        "evidence_recall": mean(x["evidence_recall"] for x in ranked),
    }
    cited = [c for r in answerable for c in r["citations"]]
    every = [c for r in records for c in r["citations"]]
    result["citations"] = len(every)
    # Micro-averaged: every citation counts once, whichever question it belongs to.
    result["citation_precision"] = ratio(sum(bool(c.get("has_evidence")) for c in cited), len(cited))
    if any("quote_has_evidence" in c for c in cited):
        result["citation_quote_precision"] = ratio(sum(bool(c.get("quote_has_evidence")) for c in cited), len(cited))
    result["citation_validity"] = ratio(sum(c["valid"] for c in every), len(every))
    result["abstention_rate"] = ratio(sum(r["abstained"] for r in records), len(records))
    benchmark = any("mc_correct" in r for r in records)
    if not benchmark:
        result["fact_recall"] = mean(r["fact_recall"] for r in records if r["answerable"] and "fact_recall" in r)
        precision, recall = abstention_scores([r["abstained"] for r in records], [r["answerable"] for r in records])
        result["abstention_precision"], result["abstention_recall"] = precision, recall
    if benchmark:
        result["answer_contains_gold"] = mean(float(r["answer_contains_gold"]) for r in records)
        result["mc_accuracy"] = mean(float(r["mc_correct"]) for r in records)
        result["mc_decided"] = mean(float(r["mc_prediction"] is not None) for r in records)
    result["pass_rate"] = mean(float(r["passed"]) for r in records)
    for stage in STAGES:
        values = [r["timings_ms"][stage] for r in records if stage in r["timings_ms"]]
        for q in (50, 95):
            value = percentile(values, q)
            result[f"latency_{stage}_p{q}_ms"] = round(value, 1) if value is not None else None
    return result


def by_tag(records: list[dict], k: int) -> dict[str, dict]:
    """Quality metrics per tag (latency is left out: per-tag samples are too small for percentiles)."""
    tags = sorted({t for r in records for t in r["tags"]})
    result = {}
    for tag in tags:
        metrics = aggregate([r for r in records if tag in r["tags"]], k)
        result[tag] = {name: v for name, v in metrics.items() if not name.startswith("latency_")}
    return result
