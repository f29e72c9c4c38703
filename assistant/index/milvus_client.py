"""One connection to Milvus (a server or an embedded milvus-lite file); each failure becomes a one-line error."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import IndexProblemError
from assistant.index.store import hold_lock
from assistant.text.dates import day_number

if TYPE_CHECKING:  # pymilvus is imported on the first connection
    from pymilvus import MilvusClient

PREFIX = "milvus:"
SCAN_BATCH = 2000
_CLIENTS: dict[tuple[str, str, str], MilvusClient] = {}  # (uri, database, token) -> MilvusClient, see client
_CLIENTS_LOCK = threading.Lock()


def is_milvus(location) -> bool:
    """Does an --index value name a Milvus index ('milvus:./news.db', 'milvus:http://host:19530')?"""
    return str(location).startswith(PREFIX)


def expression_string(values: list[str]) -> str:
    """A list of strings as a Milvus expression literal: ["a", "b\\"c"] (JSON's escapes are Milvus's)."""
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def filter_expression(sources: list[str], since: str, until: str, extra: str = "") -> str:
    """The Milvus filter of the retrieval filters (lower-case sources, inclusive ISO dates); '' for none."""
    parts = [f"source in {expression_string([s.lower() for s in sources])}"] if sources else []
    if since:
        parts.append(f"published >= {max(day_number(since), 1)}")
    if until:
        parts.append(f"published > 0 and published <= {day_number(until)}")
    if extra:
        parts.append(extra)
    return " and ".join(f"({p})" for p in parts)


@contextlib.contextmanager
def _quiet_stderr(enabled: bool) -> Iterator[None]:
    """milvus-lite starts its server process with our stderr, where its search engine logs every commit at INFO:
    the child gets /dev/null instead (errors still come back through the client)."""
    if not enabled:
        yield
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class MilvusConnection:
    """A MilvusClient for one URI; every failure becomes an IndexProblemError that names the index."""

    def __init__(self, uri: str, settings) -> None:
        self.uri = uri
        self.settings = settings
        self.embedded = not uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))
        if self.embedded:  # one spelling per file: the process's client and lock are found by it
            uri = str(Path(uri).expanduser().resolve())
            self.uri = uri
        self.label = f"{PREFIX}{uri}"
        self._client: MilvusClient | None = None
        self._lock_fd: int | None = None

    @property
    def client(self) -> MilvusClient:
        """One client per URI and process, shared by every store opened on it (a reopened index, a copy's source
        and its manifest check): an embedded file's lock must be taken once per process."""
        if self._client is None:
            key = (
                self.uri,
                self.settings.database,
                self.settings.token.get_secret_value() if self.settings.token else "",
            )
            with _CLIENTS_LOCK:
                if key not in _CLIENTS:
                    _CLIENTS[key] = self._connect()
                self._client = _CLIENTS[key]
        return self._client

    def _connect(self):
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexProblemError(
                "a milvus: index needs pymilvus and milvus-lite: pip install -e '.[milvus]'"
            ) from None
        # After the import, which configures its logger: pymilvus warns at every scan of milvus-lite (no server
        # timestamp); its failures reach us as exceptions anyway.
        logging.getLogger("pymilvus").setLevel(logging.ERROR)
        kwargs = {"timeout": self.settings.timeout}
        uri = self.uri
        if self.embedded:
            path = Path(uri).expanduser().resolve()
            if path.is_dir():
                raise IndexProblemError(f"{self.label} is a folder; an embedded Milvus index is a file such as news.db")
            path.parent.mkdir(parents=True, exist_ok=True)
            self._hold(path)
            uri = str(path)
        elif self.settings.token is not None:
            kwargs["token"] = self.settings.token.get_secret_value()
        if self.settings.database:
            kwargs["db_name"] = self.settings.database
        try:
            with _quiet_stderr(self.embedded):
                return MilvusClient(uri, **kwargs)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds; each becomes one line
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
            raise self._problem(exc, "cannot be opened") from None

    def _hold(self, path: Path) -> None:
        """Lock an embedded file for this process, or fail at once: milvus-lite serves a file to one process, and a
        second one that fails to open it deletes the first one's lock file (milvus-lite 2.5.1), so it is not relied
        on. Held until close() or the process ends."""
        self._lock_fd = hold_lock(
            path.parent / f".{path.name}.assistant-lock",
            f"{self.label} is open in another process (an embedded Milvus file serves one process: an ingest, chat "
            "or ask); wait for it to finish, or serve the file over gRPC (docs/scale-out.md)",
        )

    def _problem(self, exc: Exception, doing: str) -> IndexProblemError:
        text = str(getattr(exc, "message", "") or exc).splitlines()[0] if str(exc) else type(exc).__name__
        low = text.lower()
        if any(w in low for w in ("auth", "credential", "token", "permission", "denied", "unauthenticated")):
            return IndexProblemError(f"the Milvus server {self.uri} refused the token (ASSISTANT_MILVUS_TOKEN): {text}")
        if any(w in low for w in ("connect", "unavailable", "deadline", "timeout", "timed out", "fail to")):
            return IndexProblemError(
                f"the Milvus server {self.uri} cannot be reached ({text}); check the address and that it runs"
            )
        return IndexProblemError(f"the Milvus index {self.label} {doing}: {text}")

    def call(self, doing: str, method: str, *args, **kwargs):
        """client.method(*args, **kwargs), its failure as one IndexProblemError."""
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except IndexProblemError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._problem(exc, doing) from None

    # ---- the calls the store makes -----------------------------------------------------------------------
    def has(self, collection: str) -> bool:
        return bool(self.call("cannot be read", "has_collection", collection))

    def query_ids(self, collection: str, ids: list, fields: list[str]) -> list[dict]:
        if not ids:
            return []
        return list(self.call("cannot be read", "query", collection, ids=ids, output_fields=fields))

    def scan(self, collection: str, expression: str, fields: list[str]) -> Iterator[dict]:
        """Every row matching the expression, in batches (no limit on how many)."""
        iterator = self.call(
            "cannot be read", "query_iterator", collection, batch_size=SCAN_BATCH, filter=expression,
            output_fields=fields,
        )  # fmt: skip
        try:
            while True:
                try:
                    rows = iterator.next()
                except Exception as exc:  # noqa: BLE001
                    raise self._problem(exc, "cannot be read") from None
                if not rows:
                    return
                yield from rows
        finally:
            iterator.close()

    def count(self, collection: str, expression: str) -> int:
        rows = self.call("cannot be read", "query", collection, filter=expression, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def upsert(self, collection: str, rows: list[dict], batch: int = 500) -> None:
        for first in range(0, len(rows), batch):
            self.call("cannot be written", "upsert", collection, rows[first : first + batch])

    def insert(self, collection: str, rows: list[dict], batch: int = 500) -> None:
        for first in range(0, len(rows), batch):
            self.call("cannot be written", "insert", collection, rows[first : first + batch])

    def delete(self, collection: str, expression: str) -> None:
        self.call("cannot be written", "delete", collection, filter=expression)

    def search(self, collection: str, data: list, field: str, limit: int, expression: str, params: dict, fields):
        found = self.call(
            "cannot be searched", "search", collection, data=data, anns_field=field, limit=limit, filter=expression,
            search_params=params, output_fields=fields,
        )  # fmt: skip
        return found[0] if found else []

    def close(self) -> None:
        """Close this process's client of the URI (other stores on it reconnect) and release the file lock."""
        with _CLIENTS_LOCK:
            for key in [k for k, c in _CLIENTS.items() if k[0] == self.uri]:
                with contextlib.suppress(Exception):
                    _CLIENTS.pop(key).close()
        self._client = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
