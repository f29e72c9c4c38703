"""What the chat page lets in: the address it binds, its user and password, its port, and the files uploaded."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

from assistant.errors import AssistantError
from assistant.ingest import SIDECAR_SUFFIX, SUPPORTED_SUFFIXES
from assistant.settings import ChatSettings

UPLOAD_TYPES = [".txt", ".md", ".html", ".json", ".jsonl"]


# ---- binding and authentication --------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach; host names other than localhost are not trusted."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_auth(chat: ChatSettings) -> tuple[str, str] | None:
    """User and password from chat.user/chat.password, else the 'user:password' line of chat.auth_file; None if
    neither is set. No message repeats the password or the file's content."""
    password = chat.password.get_secret_value() if chat.password is not None else ""
    if chat.user or password:
        if not (chat.user and password):
            raise AssistantError("set both ASSISTANT_CHAT_USER and ASSISTANT_CHAT_PASSWORD, or neither")
        return chat.user, password
    if chat.auth_file is None:
        return None
    try:
        lines = Path(chat.auth_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AssistantError(f"the chat auth file {chat.auth_file} cannot be read: {exc.strerror}") from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if sep and user and password:
            return user, password
        break
    raise AssistantError(f"the chat auth file {chat.auth_file} must hold one 'user:password' line")


def check_bind(host: str, auth: tuple[str, str] | None) -> None:
    """Refuse to serve a non-loopback address without a password: the page would be open to the network."""
    if is_loopback(host) or auth:
        return
    raise AssistantError(
        f"refusing to bind {host!r} without authentication: anyone on the network could use the chat page. "
        "Set ASSISTANT_CHAT_USER and ASSISTANT_CHAT_PASSWORD (or ASSISTANT_CHAT_AUTH_FILE, a file with one "
        "'user:password' line), or bind 127.0.0.1."
    )


# ---- the port ----------------------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (tests and `--port 0`)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_port(host: str, port: int) -> None:
    """Fail early, before any model loads, when the page's port is taken (Gradio's own message is about itself)."""
    if not port:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a closing socket is no conflict
        try:
            s.bind((host, port))
        except OSError:
            raise AssistantError(
                f"port {port} on {host} is in use (another 'assistant chat'?); choose another with --port, "
                "or --port 0 for a free one"
            ) from None


# ---- uploads -----------------------------------------------------------------------------------------
def max_upload_bytes(chat: ChatSettings) -> int:
    """The largest upload accepted, both by Gradio's upload route and by the page's own check."""
    return int(chat.max_upload_mb * 1e6)


def upload_name(client_name: str) -> str:
    """The name an upload is stored under: no folder parts from the client, no hidden file."""
    return Path(client_name).name.lstrip(".")


def upload_refusal(name: str, size: int, max_bytes: int) -> str:
    """Why the upload `name` (as given by the client) of `size` bytes is refused; "" when it is accepted."""
    stored = upload_name(name)
    suffixes = "".join(Path(stored).suffixes[-2:]).lower()
    if not stored or not (Path(stored).suffix.lower() in SUPPORTED_SUFFIXES or suffixes == SIDECAR_SUFFIX):
        return f"{name}: unsupported file type (use {' '.join(UPLOAD_TYPES)})"
    if size > max_bytes:
        return f"{name}: larger than the {max_bytes / 1e6:g} MB upload limit"
    return ""
