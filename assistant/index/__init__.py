"""The index: articles, passages, statements and their vectors, stored crash-safely."""
