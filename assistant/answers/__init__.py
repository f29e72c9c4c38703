"""Answers: extractive, speaker and LLM answerers, the support check, and the router that picks one."""
