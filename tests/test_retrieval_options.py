"""Each retrieval and embedding option does what its setting says: real embedder, real FAISS, tiny corpora."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import faiss
import numpy as np
import pytest

from assistant.embedding import Embedder
from assistant.ingest.passages import passage_search_text
from assistant.pipeline import Assistant
from assistant.retrieval.retriever import Filters
from assistant.settings import EmbeddingSettings, Settings

STORM = (
    "A powerful storm flooded the coastal town of Marlow on Tuesday. Emergency crews evacuated four hundred "
    "residents from the harbour district as the river rose. The mayor said the flood barrier failed overnight."
)
BUDGET = (
    "The city council approved the school budget on Monday after a long debate. Teachers welcomed the extra "
    "money for classrooms, while parents asked for more buses."
)


def write_corpus(folder: Path, records: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "articles.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder


def make_assistant(tmp_path: Path, embedder: Embedder, records: list[dict], **passages) -> Assistant:
    settings = Settings()
    settings.index.dir = tmp_path / "index"
    for name, value in passages.items():
        setattr(settings.passages, name, value)
    assistant = Assistant(settings, embedder)
    assistant.ingest([write_corpus(tmp_path / "corpus", records)])
    return assistant


@pytest.fixture
def twin_storms(tmp_path, embedder) -> Assistant:
    """Two reports of the same storm with the same text, one published in March and one in September."""
    records = [
        {"title": "Storm floods Marlow", "text": STORM, "source": "early.example", "published": "2022-03-01"},
        {"title": "Storm floods Marlow again", "text": STORM, "source": "late.example", "published": "2022-09-01"},
        {"title": "Council passes school budget", "text": BUDGET, "source": "city.example", "published": "2022-06-01"},
    ]
    return make_assistant(tmp_path, embedder, records)


def sources(hits) -> list[str]:
    return [h.article.source for h in hits]


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_date_prior_prefers_the_article_published_near_the_question_date(twin_storms, mode):
    settings = twin_storms.settings.retrieval
    settings.dedup = False  # the two reports are copies: keep both to see their order
    retriever = twin_storms.retriever
    question = "Which town did the storm flood?"
    in_march = retriever.retrieve(question, k=2, mode=mode, filters=Filters(as_of="2022-03-03"))
    in_september = retriever.retrieve(question, k=2, mode=mode, filters=Filters(as_of="2022-09-02"))
    assert sources(in_march) == ["early.example", "late.example"]
    assert sources(in_september) == ["late.example", "early.example"]
    # The prior prefers, it does not exclude: both reports are still found, and as_of is not a filter.
    assert not Filters(as_of="2022-03-03")
    # The retrieve() argument does the same as the filter field.
    assert sources(retriever.retrieve(question, k=2, mode=mode, as_of="2022-09-02")) == sources(in_september)


def test_date_prior_off_ignores_the_question_date(twin_storms):
    twin_storms.settings.retrieval.dedup = False
    twin_storms.settings.retrieval.date_prior = False
    retriever = twin_storms.retriever
    question = "Which town did the storm flood?"
    march = retriever.retrieve(question, k=2, mode="bm25", as_of="2022-03-03")
    september = retriever.retrieve(question, k=2, mode="bm25", as_of="2022-09-02")
    assert [h.score for h in march] == [h.score for h in september]
    assert sources(march) == sources(september)


def test_date_prior_window_and_penalty(twin_storms):
    settings = twin_storms.settings.retrieval
    retriever = twin_storms.retriever

    def prior(as_of: str) -> dict[str, float]:
        return dict(zip(retriever._source, retriever.prior(retriever.time_frame("", as_of)), strict=True))

    lead = settings.lead_boost
    assert prior("2022-03-05")["early.example"] == pytest.approx(lead)  # 4 days after March 1
    assert prior("2022-03-05")["late.example"] == pytest.approx(lead * settings.date_penalty)
    settings.date_window_before = 3  # now March 1 is outside the window
    assert prior("2022-03-05")["early.example"] == pytest.approx(lead * settings.date_penalty)
    assert retriever.time_frame("", "") is None
    assert np.allclose(retriever.prior(None), lead)  # no date, no date prior


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_a_time_named_in_the_question_prefers_articles_published_then(twin_storms, mode):
    twin_storms.settings.retrieval.dedup = False
    retriever = twin_storms.retriever
    assert sources(retriever.retrieve("Which town did the storm flood in March 2022?", k=2, mode=mode)) == [
        "early.example",
        "late.example",
    ]
    assert sources(retriever.retrieve("Which town did the storm flood in September 2022?", k=2, mode=mode)) == [
        "late.example",
        "early.example",
    ]
    # With the question's date (as_of), a time named inside its week narrows it; one outside it (mostly a past
    # event the news looks back on) leaves the week alone.
    assert retriever.time_frame("Which town did the storm flood on Sept. 1?", "2022-09-05").phrase == "on Sept. 1"
    assert retriever.time_frame("Was the March 1, 2022 storm the worst?", "2022-09-02").phrase == ""
    assert sources(retriever.retrieve("Was the March 1, 2022 storm the worst?", k=1, as_of="2022-09-02")) == [
        "late.example"
    ]
    twin_storms.settings.retrieval.question_dates = False
    assert retriever.time_frame("Which town did the storm flood in September 2022?") is None


def test_relative_words_count_back_from_today(tmp_path, embedder):
    records = [
        {"title": "Storm floods Marlow", "text": STORM, "source": "recent.example", "published": "2022-11-30"},
        {"title": "Storm floods Marlow again", "text": STORM, "source": "old.example", "published": "2021-06-15"},
    ]
    assistant = make_assistant(tmp_path, embedder, records)
    assistant.settings.retrieval.dedup = False
    retriever = assistant.retriever
    retriever.today = lambda: date(2022, 12, 9)  # a Friday: last week is November 28 to December 4
    last_week = retriever.retrieve("Which town did the storm flood last week?", k=2)
    assert sources(last_week) == ["recent.example", "old.example"]
    last_year = retriever.retrieve("Which town did the storm flood last year?", k=2)
    assert sources(last_year) == ["old.example", "recent.example"]


def test_the_answer_says_which_dates_the_question_was_read_as(twin_storms):
    twin_storms.settings.retrieval.dedup = False
    answer = twin_storms.ask("Which town did the storm flood in September 2022?")
    assert answer.citations[0].source == "late.example"
    assert 'articles published 2022-09-01 to 2022-09-30 ("September 2022") ranked first' in answer.notes
    answer = twin_storms.ask("Which town did the storm flood in May 2021?")
    assert any("no article in the index was published 2021-05-01 to 2021-05-31" in n for n in answer.notes)
    undated = twin_storms.ask("Which town did the storm flood?").notes  # the two storms are months apart
    assert undated == [
        "the question names no time: articles of every date (2022-03-01 to 2022-09-01) were ranked alike"
    ]


def test_dedup_drops_wire_copies(twin_storms):
    retriever = twin_storms.retriever
    question = "Which town did the storm flood?"
    twin_storms.settings.retrieval.dedup = True
    deduped = retriever.retrieve(question, k=2, mode="hybrid")
    assert len(deduped) == 2 and deduped[0].passage.text == STORM and deduped[1].passage.text == BUDGET
    twin_storms.settings.retrieval.dedup = False
    both = retriever.retrieve(question, k=2, mode="hybrid")
    assert [h.passage.text for h in both] == [STORM, STORM]


def test_fusion_weights_and_kinds(twin_storms):
    settings = twin_storms.settings.retrieval
    settings.dedup = False
    settings.article_weight = 0.0  # checked on its own below
    retriever = twin_storms.retriever
    question = "council vote on money for schools"
    dense = retriever.retrieve(question, k=3, mode="dense")
    bm25 = retriever.retrieve(question, k=3, mode="bm25")
    for fusion in ("score", "rrf"):
        settings.fusion = fusion
        settings.dense_weight, settings.bm25_weight = 1.0, 0.0
        only_dense = retriever.retrieve(question, k=3, mode="hybrid")
        assert [h.passage.id for h in only_dense] == [h.passage.id for h in dense]
        settings.dense_weight, settings.bm25_weight = 0.0, 1.0
        only_bm25 = retriever.retrieve(question, k=len(bm25), mode="hybrid")
        assert [h.passage.id for h in only_bm25] == [h.passage.id for h in bm25]
    settings.fusion, settings.dense_weight, settings.bm25_weight = "score", 0.5, 1.0
    fused = retriever.retrieve(question, k=3, mode="hybrid")
    assert fused[0].article.source == "city.example"
    assert fused[0].bm25_rank == 0 and fused[0].dense_rank == 0
    # score fusion: (1.0 x BM25/best BM25 + 0.5 x cosine) x prior, exactly; the top passage has the best BM25
    top = fused[0]
    embedder = twin_storms.embedder
    passage_vector = embedder.embed([passage_search_text(top.passage, top.article, True)])[0]
    cosine = float(embedder.embed_query(question) @ passage_vector)
    # (int8 activations are quantized per batch, so a vector varies by ~1e-3 with the texts embedded beside it)
    assert top.score == pytest.approx((1.0 + 0.5 * cosine) * settings.lead_boost, rel=2e-3)
    # + article_weight x the cosine of the whole article (here one passage long: the same vector)
    settings.article_weight = 0.25
    with_article = retriever.retrieve(question, k=1, mode="hybrid")[0]
    assert with_article.passage.id == top.passage.id
    assert with_article.score == pytest.approx((1.0 + 0.75 * cosine) * settings.lead_boost, rel=2e-3)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_article_vectors_are_the_mean_of_their_passages(tmp_path, embedder, kind):
    records = [
        {"title": "Storm floods Marlow", "text": STORM, "source": "a", "published": "2022-03-01"},
        {"title": "Council passes school budget", "text": BUDGET, "source": "b", "published": "2022-06-01"},
    ]
    settings = Settings()
    settings.index.dir, settings.index.kind = tmp_path / "index", kind
    settings.passages.max_tokens, settings.passages.overlap_sentences = 40, 0
    assistant = Assistant(settings, embedder)
    assistant.ingest([write_corpus(tmp_path / "corpus", records)])
    storm = next(a.id for a in assistant.store.articles.values() if a.source == "a")
    assert sum(1 for p in assistant.store.passages.values() if p.article_id == storm) >= 2

    def assert_means(store):
        article_ids = sorted(store.articles)
        vectors = store.article_vectors(article_ids)
        for row, article_id in enumerate(article_ids):
            ids = [pid for pid, p in store.passages.items() if p.article_id == article_id]
            mean = store.vectors_for(ids).mean(axis=0)
            assert vectors[row] == pytest.approx(mean / np.linalg.norm(mean), abs=1e-6)

    assert_means(assistant.store)
    # Removing the first article's rows shifts the rest inside FAISS; the ids must still line up.
    assistant.ingest([write_corpus(tmp_path / "more", [{**records[0], "title": "Storm floods Marlow, again"}])])
    assistant.remove([storm])
    assert len(assistant.store.articles) == 2
    assert_means(assistant.store)


def test_lead_boost_lifts_the_first_passage(tmp_path, embedder):
    # Small passages: the article splits into several; the third passage matches the question a little better.
    text = (
        "The harbour festival returns to Marlow this summer. "
        "Organisers expect large crowds at the waterfront on the opening weekend. "
        "Food stalls and music stages will line the promenade for the whole week. "
        "Tickets for the harbour festival go on sale on Friday, and harbour festival passes cost twenty pounds."
    )
    other = {"title": "Council passes school budget", "text": BUDGET, "source": "city", "published": "2022-06-01"}
    records = [{"title": "Summer in Marlow", "text": text, "source": "town", "published": "2022-05-01"}, other]
    assistant = make_assistant(tmp_path, embedder, records, max_tokens=40, overlap_sentences=0)
    settings = assistant.settings.retrieval
    retriever = assistant.retriever
    festival = next(a.id for a in assistant.store.articles.values() if a.source == "town")
    assert sum(1 for p in assistant.store.passages.values() if p.article_id == festival) >= 3
    settings.lead_boost = 1.0
    plain = retriever.retrieve("harbour festival tickets", k=1, mode="bm25")[0]
    assert plain.passage.start > 0
    settings.lead_boost = 3.0
    boosted = retriever.retrieve("harbour festival tickets", k=1, mode="bm25")[0]
    assert boosted.passage.start == 0


def test_bm25_parameters_reach_the_index(twin_storms):
    settings = twin_storms.settings.retrieval
    settings.bm25_k1, settings.bm25_b = 0.9, 0.4
    retriever = twin_storms.retriever
    index = retriever._bm25_index()
    assert (index.k1, index.b) == (0.9, 0.4)
    assert retriever.bm25_build_seconds > 0


def test_token_ids_match_the_tokenizer(embedder):
    texts = ["Zelensky's 2022 speech", "naïve café — “quoted”", "", STORM]
    assert embedder.token_ids(texts) == embedder.tokenizer(texts, add_special_tokens=False)["input_ids"]


SENTENCES = [
    "What did the central bank decide about interest rates this week?",
    "Emergency crews evacuated four hundred residents from the harbour district as the river rose.",
    "Ukraine",
    STORM + " " + BUDGET,
]


@pytest.mark.parametrize(("backend", "floor"), [("onnx", 0.999), ("onnx-int8", 0.98), ("openvino-int8", 0.98)])
def test_onnx_backends_agree_with_torch(backend, floor):
    embedder = Embedder(EmbeddingSettings(backend="torch"))
    other = Embedder(EmbeddingSettings(backend=backend))
    assert (other.dimension, other.max_tokens) == (embedder.dimension, embedder.max_tokens)
    reference = embedder.embed(SENTENCES)
    vectors = other.embed(SENTENCES)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = (reference * vectors).sum(axis=1)
    assert cosines.min() >= floor, cosines
    assert cosines.mean() >= 0.99, cosines
    assert other.token_ids(SENTENCES) == embedder.token_ids(SENTENCES)


def test_openvino_bulk_embedding_reports_progress_and_lets_questions_through(embedder):
    """A bulk embed (an upload) runs on OpenVINO's request queue while questions embed from other threads."""
    from concurrent.futures import ThreadPoolExecutor

    from assistant.embedding import calibration_texts

    assert embedder.backend == "openvino-int8"  # the default backend
    texts = calibration_texts()  # 60 different news paragraphs and runs of them
    alone = np.stack([embedder.embed_query(t) for t in texts])
    reported: list[int] = []
    with ThreadPoolExecutor(4) as pool:
        bulk = pool.submit(embedder.embed, texts, reported.append)
        questions = list(pool.map(embedder.embed_query, texts[:8] * 3))
        vectors = bulk.result()
    assert sum(reported) == len(texts) and len(reported) > 1
    assert np.allclose(np.stack(questions), np.tile(alone[:8], (3, 1)), atol=1e-5)
    # Each bulk vector is its own text's (rows not mixed up between batches), up to int8 rounding.
    similarity = vectors @ alone.T
    assert (similarity.argmax(axis=1) == np.arange(len(texts))).all()
    assert (np.diag(similarity) > 0.995).all()


def test_onnx_export_is_cached(tmp_path):
    from assistant.embedding import onnx_files, resolve_model_path

    cache = Path(os.path.expanduser(str(EmbeddingSettings().onnx_cache)))
    model_dir = Path(resolve_model_path(EmbeddingSettings().model))
    first = onnx_files(model_dir, cache)
    stamps = {name: path.stat().st_mtime_ns for name, path in first.items()}
    again = onnx_files(model_dir, cache)
    assert again == first and {n: p.stat().st_mtime_ns for n, p in again.items()} == stamps


def test_question_focus_is_the_asking_sentence_of_a_scene_setting_question():
    from assistant.retrieval.retriever import question_focus

    assert question_focus("Nichelle Nichols died Sunday. Which character did she play?") == (
        "Which character did she play?"
    )
    assert question_focus("Which character did Nichelle Nichols play?") == ""


def test_focus_weight_ranks_the_passage_answering_the_asking_sentence_first(tmp_path, embedder):
    records = [
        {
            "title": "Actress dies",
            "text": "Nichelle Nichols died on Sunday at home, her son said. "
            "Nichelle Nichols, who died on Sunday, was 89.",
            "published": "2022-07-31",
        },
        {
            "title": "A career in space",
            "text": "Nichols played Uhura in the series Star Trek for three seasons, her son said.",
            "published": "2022-07-31",
        },
    ]
    assistant = make_assistant(tmp_path, embedder, records)
    question = "Nichelle Nichols died Sunday. Which Star Trek character did she play?"
    settings = assistant.settings.retrieval
    settings.lead_boost = 1.0  # both are lead passages; keep the comparison to the focus alone

    def first(weight: float) -> str:
        settings.focus_weight = weight
        return assistant.retriever.retrieve(question, k=2, mode="bm25")[0].article.title

    assert first(0.0) == "Actress dies"
    assert first(1.0) == "A career in space"


def test_hnsw_index_finds_what_flat_finds_and_survives_remove_and_reload(tmp_path, embedder):
    records = [
        {"title": "Storm floods Marlow", "text": STORM, "source": "a.example", "published": "2022-03-01"},
        {"title": "Council passes school budget", "text": BUDGET, "source": "b.example", "published": "2022-06-01"},
    ]
    corpus = write_corpus(tmp_path / "corpus", records)
    found = {}
    for kind in ("flat", "hnsw"):
        settings = Settings()
        settings.index.dir, settings.index.kind = tmp_path / f"index-{kind}", kind
        Assistant(settings, embedder).ingest([corpus])
        reopened = Assistant(settings, embedder)  # the HNSW graph is read back from disk
        base = faiss.downcast_index(reopened.store.faiss.index)
        assert type(base).__name__ == ("IndexHNSWFlat" if kind == "hnsw" else "IndexFlatIP")
        hits = reopened.retriever.retrieve("Which river flooded the harbour?", k=2, mode="dense")
        found[kind] = [(h.article.title, round(h.score, 4)) for h in hits]
        if kind == "hnsw":
            (storm,) = [a for a in reopened.articles() if a.title == "Storm floods Marlow"]
            reopened.remove([storm.id])  # HNSW cannot delete in place: the graph is rebuilt without it
            after = Assistant(settings, embedder).retriever.retrieve("Which river flooded the harbour?", mode="dense")
            assert [h.article.title for h in after] == ["Council passes school budget"]
    assert found["hnsw"] == found["flat"] and found["flat"][0][0] == "Storm floods Marlow"
