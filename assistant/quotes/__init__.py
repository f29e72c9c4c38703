"""Who said what: quotes and reported speech in news articles, each with its resolved speaker."""
