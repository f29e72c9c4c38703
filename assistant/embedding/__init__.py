"""The sentence embedder: normalised vectors from a packaged model on one of several CPU runtimes."""
