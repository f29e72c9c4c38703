"""The text layer: sentences, dates, time frames and the vocabulary every later stage reads text with."""
