"""Retrieval: the passages that answer a question, ranked by BM25 and dense scores with priors and filters."""
