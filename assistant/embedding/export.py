"""The model exported to ONNX, fused and quantized to int8 (for onnxruntime and OpenVINO), cached per machine."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from assistant.embedding.tokens import max_seq_length

ONNX_EXPORT_VERSION = 2  # bump when the export recipe below changes, so cached files are made again


def _export_key(model_dir: Path) -> str:
    """Hash of the model's files (name, size, mtime) and the versions of the packages that make the export."""
    digest = hashlib.sha256(f"{model_dir.resolve()}|{ONNX_EXPORT_VERSION}".encode())
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(model_dir)}|{stat.st_size}|{int(stat.st_mtime)}".encode())
    for package in ("torch", "transformers", "onnx", "onnxruntime", "openvino", "nncf"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{package}={metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


def onnx_files(model_dir: Path, cache_root: Path) -> dict[str, Path]:
    """The cached fp32 (optimized) and int8 ONNX files and the OpenVINO int8 model, made on first use.

    They are cached under cache_root (`embedding.onnx_cache`) in a folder keyed by the model's files and the versions
    of the exporting packages, so they are made once per machine (about 40 s) and reused by every later process."""
    folder = cache_root / f"{model_dir.name}-{_export_key(model_dir)}"
    files = {
        "fp32": folder / "model.onnx",
        "int8": folder / "model-int8.onnx",
        "openvino-int8": folder / "openvino-int8.xml",  # with its weights in openvino-int8.bin beside it
    }
    if all(p.exists() for p in files.values()):
        return files
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / ".lock", "w") as lock:  # one exporter at a time; the others wait and reuse its files
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(p.exists() for p in files.values()):
            # A one-off wait of ~20 s that would otherwise look like a hang: say what it is.
            print(f"preparing the ONNX encoder in {folder} (once per machine, about 40 s) ...", file=sys.stderr)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_root))
            try:
                _export(model_dir, tmp)
                (tmp / "source.json").write_text(json.dumps({"model": str(model_dir.resolve())}, indent=2))
                if folder.exists():
                    shutil.rmtree(folder)
                os.rename(tmp, folder)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return files


def _export_files(model_dir: Path, out: Path) -> None:
    """torch.onnx.export of the transformer (hidden states out; pooling and normalisation are done in numpy),
    onnxruntime's BERT graph fusions, then dynamic int8 quantization with one scale per output channel; and the
    OpenVINO int8 model from the unfused graph."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()  # eager traces cleanly
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    sample = tokenizer(["a short text", "a somewhat longer text to pad the batch"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    raw = out / "raw.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks of the HF code
        torch.onnx.export(
            Hidden(model),
            tuple(sample[n] for n in names),
            str(raw),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    model_type = config.model_type if config.model_type in ("bert", "roberta") else "bert"
    fused = optimizer.optimize_model(
        str(raw), model_type=model_type, num_heads=config.num_attention_heads, hidden_size=config.hidden_size,
        opt_level=1,
    )  # fmt: skip
    fused.save_model_to_file(str(out / "model.onnx"))
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs a "consider pre-processing" warning
    quantize_dynamic(
        str(out / "model.onnx"),
        str(out / "model-int8.onnx"),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused ops have no inferred types
    )
    _quantize_openvino(raw, tokenizer, names, max_seq_length(model_dir, tokenizer), out / "openvino-int8.xml")
    raw.unlink()


def calibration_texts() -> list[str]:
    """News-like paragraphs (calibration.txt) alone and as passage-sized runs of 8: the shapes the encoder sees."""
    lines = [
        line
        for line in resources.files("assistant.embedding").joinpath("calibration.txt").read_text().splitlines()
        if line
    ]
    runs = [" ".join((lines + lines)[i : i + 8]) for i in range(len(lines))]
    return lines + runs


def _quantize_openvino(raw: Path, tokenizer, names: list[str], max_tokens: int, target: Path) -> None:
    """NNCF post-training quantization of the unfused graph (NNCF's transformer preset leaves softmax and layer
    norms in float); activation ranges come from calibration_texts(), so the file is the same on every machine.
    Measured on 400 benchmark passages: cosine with fp32 mean 0.996, min 0.98; 88 passages/s, ORT int8 72."""
    import nncf
    import openvino as ov

    def feeds(text: str) -> dict[str, np.ndarray]:
        encoded = tokenizer([text], truncation=True, max_length=max_tokens, return_tensors="np")
        return {n: np.asarray(encoded[n], dtype=np.int64) for n in names}

    texts = calibration_texts()
    logging.getLogger("nncf").setLevel(logging.ERROR)
    # NNCF draws progress bars of its own on stdout; the caller has already said what this wait is.
    with contextlib.redirect_stdout(io.StringIO()):
        quantized = nncf.quantize(
            ov.Core().read_model(str(raw)),
            nncf.Dataset(texts, feeds),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(texts),
        )
    ov.save_model(quantized, str(target))


def _export(model_dir: Path, out: Path) -> None:
    """_export_files, leaving the root logger as it was (the ONNX tools configure it and set it to DEBUG)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        _export_files(model_dir, out)
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
