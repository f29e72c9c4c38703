"""The chat page: the Gradio Blocks of the page, how it is served, and `assistant chat`."""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

# The network is closed and questions are private: Gradio must never phone home. Set before gradio is imported.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from assistant.chat.collection import (  # noqa: E402
    checkout_root,
    ensure_index,
    example_questions,
    index_sources,
    index_status,
    warm_up_in_background,
)
from assistant.chat.conversation import EXTRACTIVE_MODE, respond  # noqa: E402
from assistant.chat.security import (  # noqa: E402
    UPLOAD_TYPES,
    check_bind,
    check_port,
    free_port,
    is_loopback,
    load_auth,
    max_upload_bytes,
)
from assistant.chat.uploads import upload  # noqa: E402
from assistant.errors import AssistantError  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    import gradio as gr

MAX_PASSAGES = 20


def static_text(name: str) -> str:
    """A file of the page's static/ folder (chat.css, chat.js), from the installed package."""
    return (files("assistant.chat") / "static" / name).read_text(encoding="utf-8")


def build_app(assistant: Assistant, settings: Settings, notice: str = "") -> gr.Blocks:
    """The chat page; `notice` is shown above the chat (e.g. that the sample corpus was just indexed)."""
    import gradio as gr

    def ask(question, messages, history, sources, since, until, k, mode):
        yield from respond(assistant, question, messages, history, sources, since, until, k, mode)

    def ingest_files(paths, progress=gr.Progress()):  # noqa: B008 - gradio injects progress via the default
        report = upload(assistant, settings, paths, progress)
        return report, gr.update(choices=_safe_sources()), index_status(assistant), None

    def _safe_sources() -> list[str]:
        try:
            return index_sources(assistant)
        except AssistantError:
            return []

    def on_load():
        # The page may open long after an `assistant ingest` elsewhere: re-read the sources each time.
        return gr.update(choices=_safe_sources()), " ".join(filter(None, [notice, index_status(assistant)]))

    examples = example_questions(assistant)
    # Upload copies live in Gradio's temporary folder only until ingested: clear them hourly.
    with gr.Blocks(title="News assistant", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## Ask your news articles\nEvery answer cites the sentences it rests on; click a [n] marker.")
        status = gr.Markdown(elem_id="index-status")  # filled on page load
        history = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    label="Chat",
                    show_label=False,
                    height="68vh",
                    min_height=420,
                    render_markdown=False,  # we send finished, escaped HTML; no markdown or LaTeX on article text
                    latex_delimiters=[],
                    sanitize_html=True,
                    allow_tags=False,
                    buttons=["copy"],
                    feedback_options=None,
                    layout="panel",
                    placeholder="Ask about the indexed articles" + (f", e.g. “{examples[0]}”" if examples else "."),
                )
                with gr.Row():
                    question = gr.Textbox(
                        "",
                        placeholder="Ask a question about the articles…",
                        show_label=False,
                        scale=6,
                        elem_id="question",
                        max_lines=4,
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    if examples:
                        gr.Examples([[q] for q in examples], inputs=[question], label="Try")
                    clear = gr.Button("New conversation", size="sm", scale=0)
            with gr.Column(scale=1, min_width=260):
                sources = gr.Dropdown(choices=_safe_sources(), multiselect=True, label="Sources (all if empty)")
                since = gr.Textbox("", label="Published since", placeholder="YYYY-MM-DD", elem_id="since")
                until = gr.Textbox("", label="Published until", placeholder="YYYY-MM-DD", elem_id="until")
                k = gr.Slider(
                    1, MAX_PASSAGES, value=min(settings.retrieval.top_k, MAX_PASSAGES), step=1, label="Passages"
                )
                llm = settings.llm
                llm_mode = f"LLM ({llm.backend}: {llm.model or (llm.path.name if llm.path else 'default')})"
                mode = gr.Radio(
                    [llm_mode, EXTRACTIVE_MODE],
                    value=llm_mode if llm.backend != "none" else EXTRACTIVE_MODE,
                    label="Answer with",
                    visible=llm.backend != "none",  # the choice exists only once an LLM is configured
                    elem_id="answer-mode",
                )
                with gr.Accordion("Add articles", open=False):
                    files = gr.File(
                        file_count="multiple",
                        file_types=UPLOAD_TYPES,
                        type="filepath",
                        label=f"Articles ({' '.join(UPLOAD_TYPES)}; up to {settings.chat.max_upload_mb:g} MB each)",
                    )
                    report = gr.HTML(elem_id="ingest-report")

        inputs = [question, chatbot, history, sources, since, until, k, mode]
        outputs = [chatbot, question, history]
        question.submit(ask, inputs, outputs, api_name="ask")
        send.click(ask, inputs, outputs, api_visibility="undocumented")
        clear.click(lambda: ([], "", []), None, [chatbot, question, history], api_visibility="private")
        chatbot.clear(lambda: [], None, [history], api_visibility="private")
        files.upload(ingest_files, [files], [report, sources, status, files], api_name="upload", concurrency_limit=1)
        demo.load(on_load, None, [sources, status], api_visibility="private")
    return demo


def launch(
    demo: gr.Blocks,
    settings: Settings,
    auth: tuple[str, str] | None = None,
    *,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
):
    """Serve the page with the safe defaults; returns Gradio's (app, local_url, share_url)."""
    import gradio as gr

    chat = settings.chat
    check_bind(chat.host, auth)
    port = chat.port or free_port(chat.host if is_loopback(chat.host) else "0.0.0.0")
    demo.queue(default_concurrency_limit=chat.concurrency, max_size=chat.max_queue)
    # Gradio serves only its upload/cache folders; block the index and the checkout even if those change.
    blocked = {str(Path(settings.index.dir).resolve()), str(checkout_root())}
    theme = gr.themes.Soft(  # local fonts only: the page must not wait on Google Fonts behind a closed network
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    return demo.launch(
        server_name=chat.host,
        server_port=port,
        auth=auth,
        share=False,
        max_file_size=max_upload_bytes(chat),
        state_session_capacity=chat.session_capacity,
        blocked_paths=sorted(blocked),
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        show_error=False,
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        run_history=False,
        footer_links=["api"],
        theme=theme,
        css=static_text("chat.css"),
        head=f"<script>\n{static_text('chat.js')}</script>",
    )


def serve(settings: Settings, log: Callable[[str], None] = print) -> None:
    """`assistant chat`: check the bind first (before loading any model), fill an empty index, serve."""
    auth = load_auth(settings.chat)
    check_bind(settings.chat.host, auth)
    check_port(settings.chat.host, settings.chat.port)
    assistant = Assistant(settings)
    notice = ensure_index(assistant, log)
    warm_up_in_background(assistant)
    launch(build_app(assistant, settings, notice), settings, auth)
