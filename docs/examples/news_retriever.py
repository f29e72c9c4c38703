"""Use the assistant's retrieval inside a llama-index query engine.

    python docs/examples/news_retriever.py --index index "What did Dmitriev say about sanctions?"

Prints the retrieved passages with their sources, then the query engine's response. Without an LLM configured
(`ASSISTANT_LLM_BASE_URL`, any OpenAI-compatible server) the engine uses llama-index's MockLLM, which only
echoes its prompt: plug in your own LLM.
"""

from __future__ import annotations

import argparse

from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from assistant import NewsRetriever, Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question")
    parser.add_argument("--index", default="index", help="an index folder built by `assistant ingest`")
    parser.add_argument("-k", type=int, default=3, help="passages to retrieve")
    args = parser.parse_args(argv)

    retriever = NewsRetriever(args.index, k=args.k)
    for node in retriever.retrieve(args.question):
        meta = node.metadata
        print(f"{node.score:.3f}  {meta['title']} ({meta['source']}, {meta['published']})  {node.text[:80]}…")

    settings = Settings()
    if settings.llm.base_url:
        from llama_index.llms.openai_like import OpenAILike

        llm = OpenAILike(api_base=settings.llm.base_url, model=settings.llm.model or "default", api_key="none")
    else:
        llm = MockLLM(max_tokens=32)
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm)
    print(engine.query(args.question))


if __name__ == "__main__":
    main()
