"""The encoder's CPU runtimes (`embedding.backend`): torch, onnx, onnx-int8, openvino-int8 (the default)."""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.embedding.export import onnx_files
from assistant.embedding.tokens import EncoderInputs, max_seq_length
from assistant.errors import AssistantError
from assistant.settings import EmbeddingSettings

# On CPU, bigger batches only add padding: onnxruntime runs fastest with (nearly) one text at a time; OpenVINO's
# int8 kernels want a few texts per request (8: 88 passages/s, against 79 at 2 and 86 at 16).
BEST_BATCH_SIZE = {"torch": 4, "onnx": 2, "onnx-int8": 2, "openvino-int8": 8}

Progress = Callable[[int], None] | None


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the real tokens' hidden states, L2-normalised (what the model's pooling and Normalize modules do)."""
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _one_batch_at_a_time(
    run: Callable[[list[int]], np.ndarray], batches: list[list[int]], out: np.ndarray, progress: Progress
) -> None:
    for batch in batches:
        out[batch] = run(batch)
        if progress:
            progress(len(batch))


class Runtime(Protocol):
    """What the Embedder needs of a backend: its tokenizer, its limits and the batch embedding."""

    tokenizer: Any  # a transformers tokenizer
    dimension: int
    max_tokens: int

    def embed_batches(
        self,
        texts: list[str],
        ids: list[np.ndarray] | None,
        batches: list[list[int]],
        out: np.ndarray,
        progress: Progress,
    ) -> None: ...


# All four give the same kind of vector for the same model; each class says how close to torch's and how fast.


class TorchRuntime:
    """sentence-transformers on PyTorch: the reference."""

    def __init__(self, path: str, backend: str, settings: EmbeddingSettings) -> None:
        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(path, device="cpu")
        dimension, max_tokens = self.model.get_embedding_dimension(), self.model.max_seq_length
        if dimension is None or max_tokens is None:
            raise AssistantError(f"the embedder '{path}' does not say its vector size or its token limit")
        self.dimension, self.max_tokens = int(dimension), int(max_tokens)
        self.tokenizer = self.model.tokenizer

    def embed_batches(
        self,
        texts: list[str],
        ids: list[np.ndarray] | None,
        batches: list[list[int]],
        out: np.ndarray,
        progress: Progress,
    ) -> None:
        """Normalised vectors of texts[batch] into out[batch] for each batch; token ids are not used."""

        def run(batch: list[int]) -> np.ndarray:
            vectors = self.model.encode(
                [texts[i] for i in batch],
                batch_size=len(batch),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return vectors.astype(np.float32, copy=False)

        _one_batch_at_a_time(run, batches, out, progress)


class _ExportedRuntime:
    """What the runtimes of the exported model share: the model folder's tokenizer, limits and exported files."""

    def __init__(self, path: str, backend: str, settings: EmbeddingSettings) -> None:
        missing = [
            name for name in ("onnxruntime", "onnx", "openvino", "nncf") if importlib.util.find_spec(name) is None
        ]
        if missing:  # all four make the exported files, whichever of them this backend then runs
            raise AssistantError(
                f"embedding.backend '{backend}' needs {', '.join(missing)}: pip install {' '.join(missing)}"
            )
        from transformers import AutoTokenizer

        model_dir = Path(path)
        if not model_dir.is_dir():
            raise AssistantError(f"embedding.backend '{backend}' needs the model as a local folder, not '{path}'")
        _check_mean_pooling(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.max_tokens = max_seq_length(model_dir, self.tokenizer)
        self.files = onnx_files(model_dir, Path(settings.onnx_cache).expanduser())
        self.dimension = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])


class OnnxRuntime(_ExportedRuntime):
    """onnxruntime on the exported graph. onnx: the graph fused by onnxruntime's transformer optimizer (same
    vectors, cosine 1.000 with torch, about 1.3x faster); onnx-int8: its weights quantized to int8 per output
    channel (dynamic quantization; cosine about 0.99 with torch, about 2x faster). Per-channel scales matter: one
    scale per tensor gives cosine 0.94 only."""

    def __init__(self, path: str, backend: str, settings: EmbeddingSettings) -> None:
        super().__init__(path, backend, settings)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Small batches parallelise badly inside one run: instead, each CPU core runs its own batches on one
        # thread (84.6 passages/s on 2 cores, against 77.7 for one run on both cores).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.streams = settings.threads or os.cpu_count() or 1
        model_file = self.files["int8"] if backend == "onnx-int8" else self.files["fp32"]
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.inputs = EncoderInputs(self.tokenizer, self.max_tokens, [i.name for i in self.session.get_inputs()])

    def run(self, feeds: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
        return mean_pool(self.session.run(None, feeds)[0], mask)

    def embed_batches(
        self,
        texts: list[str],
        ids: list[np.ndarray] | None,
        batches: list[list[int]],
        out: np.ndarray,
        progress: Progress,
    ) -> None:
        """Normalised vectors of texts[batch] into out[batch] for each batch, from the token ids when given."""
        if self.streams > 1 and len(batches) > 1:
            # Tokenized here (a fast tokenizer must not be used from two threads), run on one thread per core.
            with ThreadPoolExecutor(self.streams) as pool:
                running = {pool.submit(self.run, *self.inputs.for_batch(texts, ids, b)): b for b in batches}
                for done in as_completed(running):
                    out[running[done]] = done.result()
                    if progress:
                        progress(len(running[done]))
            return
        _one_batch_at_a_time(lambda batch: self.run(*self.inputs.for_batch(texts, ids, batch)), batches, out, progress)


class OpenVinoRuntime(_ExportedRuntime):
    """openvino-int8 (the default): the exported graph statically quantized by NNCF (weights and activations in
    int8, activation ranges measured on the news-like sentences of calibration.txt) and run by OpenVINO; cosine
    about 0.996 with torch, about 2.4x faster."""

    def __init__(self, path: str, backend: str, settings: EmbeddingSettings) -> None:
        super().__init__(path, backend, settings)
        import openvino as ov

        config = {
            "PERFORMANCE_HINT": "THROUGHPUT",  # one stream per core, each running its own requests
            # Kernels are cached per input shape; the default 5,000 entries grew a process by ~1 GB over the
            # benchmark's passages. 200 keeps the speed (114 vs 113 passages/s) and levels off at +0.1 GB.
            "CPU_RUNTIME_CACHE_CAPACITY": "200",
        }
        if settings.threads:
            config |= {"NUM_STREAMS": str(settings.threads), "INFERENCE_NUM_THREADS": str(settings.threads)}
        self.compiled = ov.Core().compile_model(str(self.files["openvino-int8"]), "CPU", config)
        self.inputs = EncoderInputs(self.tokenizer, self.max_tokens, [i.get_any_name() for i in self.compiled.inputs])
        self._queue = ov.AsyncInferQueue(self.compiled, self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        # One bulk embed at a time on the queue; questions use infer requests of their own.
        self._queue_lock = threading.Lock()

    def run(self, feeds: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
        # A request of its own: questions may come from several threads at once.
        return mean_pool(self.compiled.create_infer_request().infer(feeds)[0], mask)

    def embed_batches(
        self,
        texts: list[str],
        ids: list[np.ndarray] | None,
        batches: list[list[int]],
        out: np.ndarray,
        progress: Progress,
    ) -> None:
        """Normalised vectors of texts[batch] into out[batch] for each batch, from the token ids when given."""
        if len(batches) > 1:
            self._embed_queued(texts, ids, batches, out, progress)
            return
        _one_batch_at_a_time(lambda batch: self.run(*self.inputs.for_batch(texts, ids, batch)), batches, out, progress)

    def _embed_queued(
        self,
        texts: list[str],
        ids: list[np.ndarray] | None,
        batches: list[list[int]],
        out: np.ndarray,
        progress: Progress,
    ) -> None:
        """Batches run on OpenVINO's queue of infer requests (one per stream); results are pooled as they finish."""
        finished: queue.SimpleQueue = queue.SimpleQueue()  # batch sizes done, reported here on the calling thread
        errors: list[BaseException] = []

        def done(request, job) -> None:  # runs on an OpenVINO thread
            rows, mask = job
            try:
                out[rows] = mean_pool(request.get_output_tensor(0).data, mask)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread below
                errors.append(exc)
            finished.put(len(rows))

        def report() -> None:
            while not finished.empty():
                n = finished.get()
                if progress:
                    progress(n)

        with self._queue_lock:
            self._queue.set_callback(done)
            for batch in batches:
                feeds, mask = self.inputs.for_batch(texts, ids, batch)
                self._queue.start_async(feeds, (batch, mask))  # waits while every request is busy
                report()
            self._queue.wait_all()
        report()
        if errors:
            raise errors[0]


RUNTIMES: dict[str, Callable[[str, str, EmbeddingSettings], Runtime]] = {
    "torch": TorchRuntime,
    "onnx": OnnxRuntime,
    "onnx-int8": OnnxRuntime,
    "openvino-int8": OpenVinoRuntime,
}


def _check_mean_pooling(model_dir: Path) -> None:
    """The ONNX backends pool like the model's sentence-transformers config says: only mean pooling is done."""
    modules = model_dir / "modules.json"
    if not modules.exists():
        return
    for module in json.loads(modules.read_text()):
        if module.get("type", "").endswith("Pooling"):
            config = json.loads((model_dir / module["path"] / "config.json").read_text())
            others = [k for k, v in config.items() if k.startswith("pooling_mode_") and v and "mean_tokens" not in k]
            if others or not config.get("pooling_mode_mean_tokens", False):
                raise AssistantError(
                    f"the ONNX embedding backends support mean-pooling models only; {model_dir} uses {others}: "
                    "use embedding.backend=torch"
                )
