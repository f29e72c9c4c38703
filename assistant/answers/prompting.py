"""Strict prompt templates from the shipped prompts/ folder, and fencing of retrieved text as data."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import files

from llama_index.core.llms import ChatMessage, MessageRole

__all__ = ["PromptError", "fence", "format_passages", "render_messages", "render_prompt"]

# A line holding only "[system]", "[user]" or "[assistant]" starts that role's section of a template.
_ROLE_LINE = re.compile(r"^\[(system|user|assistant)\][ \t]*$", re.MULTILINE)
_NAME = re.compile(r"[a-z0-9_]+")


class PromptError(ValueError):
    """A template is missing or malformed, or was rendered with missing or unknown variables (a bug)."""


class _BracedTemplate(string.Template):
    # Only ${name} is a placeholder: a bare "$word" is an error (write "$$" for a dollar sign), so a
    # typo cannot silently leave text unrendered.
    idpattern = r"(?!)"
    braceidpattern = r"(?a:[_a-z][_a-z0-9]*)"


@lru_cache(maxsize=32)
def _sections(name: str) -> tuple[tuple[str, _BracedTemplate], ...]:
    """The template's (role, template) sections, split on role lines before any variable is substituted.

    Splitting first means a variable's value (a passage, a question) can never open a new role section.
    """
    if not _NAME.fullmatch(name):
        raise PromptError(f"bad prompt name {name!r}: use lowercase letters, digits and '_' only")
    resource = files("assistant.prompts").joinpath(f"{name}.txt")
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"no prompt template '{name}.txt' in assistant.prompts (the prompts/ folder)") from None
    parts = _ROLE_LINE.split(text)
    # parts = [text before the first role line, role, body, role, body, ...]
    sections = [("user", parts[0])] if parts[0].strip() else []
    sections += list(zip(parts[1::2], parts[2::2], strict=True))
    if not sections:
        raise PromptError(f"prompt template '{name}.txt' is empty")
    compiled = []
    for role, body in sections:
        template = _BracedTemplate(body.strip("\n"))
        if not template.is_valid():
            raise PromptError(
                f"prompt template '{name}.txt' has a '$' that is not a ${{name}} placeholder; write '$$' for '$'"
            )
        compiled.append((role, template))
    return tuple(compiled)


def _render(name: str, variables: dict[str, object]) -> list[tuple[str, str]]:
    sections = _sections(name)
    wanted = {ident for _, template in sections for ident in template.get_identifiers()}
    missing = sorted(wanted - variables.keys())
    unknown = sorted(variables.keys() - wanted)
    if missing:
        raise PromptError(f"prompt '{name}' needs variable(s) {', '.join(missing)}")
    if unknown:
        raise PromptError(f"prompt '{name}' has no variable(s) {', '.join(unknown)}")
    values = {key: str(value) for key, value in variables.items()}
    return [(role, template.substitute(values)) for role, template in sections]


def render_prompt(name: str, **variables: object) -> str:
    """prompts/<name>.txt rendered as one plain text (role lines dropped), for completion-style models.

    Every ${var} must be given and every given variable must be used; otherwise PromptError names it.
    """
    return "\n\n".join(body for _, body in _render(name, variables))


def render_messages(name: str, **variables: object) -> list[ChatMessage]:
    """prompts/<name>.txt rendered as chat messages, one per [system]/[user]/[assistant] section."""
    return [ChatMessage(role=MessageRole(role), content=body) for role, body in _render(name, variables)]


def fence(text: str) -> tuple[str, str]:
    """Wrap text as data between BEGIN/END lines carrying a boundary that is random per call.

    Returns (fenced text, boundary). The boundary never occurs inside text, so the text cannot fake the
    end of the fence; the prompt tells the model that whatever is between the lines is data.
    """
    boundary = secrets.token_hex(8)
    while boundary in text:  # 2^-64 odds per try, but the guarantee must not rest on luck
        boundary = secrets.token_hex(8)
    return f"BEGIN DATA {boundary}\n{text}\nEND DATA {boundary}", boundary


def format_passages(passages: Sequence[str]) -> str:
    """Passages numbered as the model must cite them: passages[i] is [i+1]."""
    return "\n\n".join(f"[{number}] {passage.strip()}" for number, passage in enumerate(passages, start=1))
