"""Ingestion: article files read into clean Article records and split into sentence-aligned passages."""
