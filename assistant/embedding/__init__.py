"""The sentence embedder: normalised vectors from a packaged model on one of several CPU runtimes."""

from assistant.embedding.encoder import Embedder, resolve_model_path
from assistant.embedding.export import calibration_texts, onnx_files

__all__ = ["Embedder", "calibration_texts", "onnx_files", "resolve_model_path"]
