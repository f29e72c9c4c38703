"""NewsRetriever: the assistant's ranking as a llama-index retriever, and the documented example run as is."""

from __future__ import annotations

import runpy
import sys

from conftest import ROOT, make_settings
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore

from assistant import NewsRetriever
from assistant.pipeline import Assistant

QUESTION = "What did Dmitriev say about sanctions?"


def test_nodes_are_the_assistants_passages_with_their_sources(sample_index, embedder):
    assistant = Assistant(make_settings(sample_index), embedder)
    retriever = NewsRetriever(assistant=assistant, k=3)
    nodes = retriever.retrieve(QUESTION)
    hits = assistant.retriever.retrieve(QUESTION, k=3)
    assert [n.node.get_content() for n in nodes] == [h.passage.text for h in hits]  # the same ranking
    assert all(isinstance(n, NodeWithScore) for n in nodes)
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    article = assistant.store.articles[nodes[0].metadata["article_id"]]
    meta = nodes[0].metadata
    assert article.text[meta["start"] : meta["end"]] == nodes[0].node.get_content()
    assert (meta["title"], meta["published"], meta["source"]) == (article.title, article.published, article.source)
    assert any("sanctions" in n.node.get_content() for n in nodes)


def test_a_query_engine_answers_from_its_nodes(sample_index, embedder):
    from llama_index.core.llms import MockLLM

    retriever = NewsRetriever(assistant=Assistant(make_settings(sample_index), embedder), k=2)
    response = RetrieverQueryEngine.from_args(retriever, llm=MockLLM(max_tokens=8)).query(QUESTION)
    assert len(response.source_nodes) == 2
    assert response.source_nodes[0].metadata["title"].startswith("Top Russian official Dmitriev")


def test_the_documented_example_runs_against_the_sample_index(sample_index, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["news_retriever.py", "--index", str(sample_index), "-k", "2", QUESTION])
    runpy.run_path(str(ROOT / "docs" / "examples" / "news_retriever.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 3 and all("Dmitriev" in line for line in lines[:2])  # two passages, then the response
