"""NewsRetriever: this assistant's retrieval as a llama-index retriever, for your own query engines and agents."""

from __future__ import annotations

from pathlib import Path

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from assistant.pipeline import Assistant
from assistant.retrieval.retriever import Filters, Hit
from assistant.settings import Settings, load_settings


class NewsRetriever(BaseRetriever):
    """Passages of an index folder for a query, ranked as `assistant ask` ranks them (BM25 + dense, date prior,
    wire-copy dedup), as llama-index nodes: the passage text, with the article's id, title, published date, source,
    url and the passage's offsets in the article text in each node's metadata.

        retriever = NewsRetriever("index", k=5)
        engine = RetrieverQueryEngine.from_args(retriever, llm=your_llm)
    """

    def __init__(
        self,
        index: str | Path | None = None,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        settings: Settings | None = None,
        assistant: Assistant | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        if assistant is None:
            settings = settings or load_settings()
            if index is not None:
                settings.index.dir = Path(index)
            assistant = Assistant(settings)
        self.assistant = assistant
        self.k = k
        self.filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.assistant.retriever.retrieve(query_bundle.query_str, k=self.k, filters=self.filters)
        return [NodeWithScore(node=_node(hit), score=hit.score) for hit in hits]


def _node(hit: Hit) -> TextNode:
    article, passage = hit.article, hit.passage
    return TextNode(
        id_=f"{article.id}:{passage.id}",
        text=passage.text,
        metadata={
            "article_id": article.id,
            "title": article.title,
            "published": article.published,
            "source": article.source,
            "url": article.url,
            "start": passage.start,  # offsets of the passage in the article's text
            "end": passage.end,
        },
        # The LLM sees where a passage comes from; embedding keys are irrelevant (the index embeds on its own).
        excluded_llm_metadata_keys=["article_id", "start", "end"],
    )
