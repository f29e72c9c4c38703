"""Prompt templates, shipped inside the installed package as ``assistant.prompts``."""
