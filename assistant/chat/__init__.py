"""The chat page: a local Gradio app that answers from the index and shows each cited passage highlighted."""

from assistant.chat.app import build_app, launch, serve
from assistant.chat.collection import SAMPLE_QUESTIONS, ensure_index, example_questions, warm_up_in_background
from assistant.chat.conversation import EXTRACTIVE_MODE, parse_date_range, respond
from assistant.chat.render import render_answer, render_message, render_refusals, render_sources
from assistant.chat.security import check_bind, check_port, is_loopback, load_auth, upload_name, upload_refusal
from assistant.chat.uploads import upload
from assistant.text.dates import DateRangeError

__all__ = [
    "EXTRACTIVE_MODE",
    "SAMPLE_QUESTIONS",
    "DateRangeError",
    "build_app",
    "check_bind",
    "check_port",
    "ensure_index",
    "example_questions",
    "is_loopback",
    "launch",
    "load_auth",
    "parse_date_range",
    "render_answer",
    "render_message",
    "render_refusals",
    "render_sources",
    "respond",
    "serve",
    "upload",
    "upload_name",
    "upload_refusal",
    "warm_up_in_background",
]
