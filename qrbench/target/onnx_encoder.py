"""The embedding model on ONNX Runtime: the installed MiniLM weights exported once, cached on disk.

No hub: the transformer of the already-loaded sentence-transformers model is exported with
`torch.onnx.export` (the TorchScript exporter, which needs no extra package) at first use and written
to the user cache directory (`$QRBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/qrbench`, else
`~/.cache/qrbench`), keyed by the weights file and the library versions, so a new model or torch
version exports anew. The int8 variant quantises the weights of that export dynamically
(`onnxruntime.quantization.quantize_dynamic`). Mean pooling over the real tokens and the L2
normalisation are done here, as the model's Pooling and Normalize modules do.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

__all__ = ["OnnxEncoder", "onnx_model_path", "cache_dir"]

_EXPORT_LOCK = threading.Lock()


def cache_dir() -> Path:
    """Where exported models are kept (created on demand)."""
    if os.environ.get("QRBENCH_CACHE_DIR"):
        return Path(os.environ["QRBENCH_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "qrbench"


def onnx_model_path(model, *, quantized: bool) -> Path:
    """The ONNX file of `model` (a SentenceTransformer), exported and quantised on first use."""
    import onnxruntime
    import torch

    weights = Path(model[0].auto_model.config.name_or_path) / "model.safetensors"
    stat = weights.stat() if weights.exists() else None
    key = hashlib.sha256(
        f"{weights}|{stat.st_size if stat else 0}|{torch.__version__}|{onnxruntime.__version__}".encode()
    ).hexdigest()[:16]
    folder = cache_dir() / "onnx" / key
    fp32 = folder / "model.onnx"
    int8 = folder / "model-int8.onnx"
    with _EXPORT_LOCK:
        if not fp32.exists():
            folder.mkdir(parents=True, exist_ok=True)
            # In a child process: tracing the live model for export leaves global state behind (measured:
            # the same text then encoded differently by up to 0.1 in score), and the export's memory goes too.
            done = subprocess.run(
                [sys.executable, "-m", __name__, str(fp32)], capture_output=True, text=True, timeout=600, check=False
            )
            if done.returncode != 0 or not fp32.exists():
                raise RuntimeError(f"Exporting the embedding model to ONNX failed: {done.stderr.strip()[-2000:]}")
        if quantized and not int8.exists():
            _quantize(fp32, int8)
    return int8 if quantized else fp32


def _export(path: Path) -> None:
    """Export the installed model's transformer to `path` (run in a child process; see onnx_model_path)."""
    import torch

    from .model import hidden_states_module, load_model

    model = load_model(1)

    example = model.tokenizer(["an example text", "two"], padding=True, return_tensors="pt")
    # Another process may export at the same moment: write aside, then rename (atomic on one file system).
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    axes = {
        "input_ids": {0: "batch", 1: "tokens"},
        "attention_mask": {0: "batch", 1: "tokens"},
        "last_hidden_state": {0: "batch", 1: "tokens"},
    }
    # The TorchScript exporter warns about traced Python branches that are constant for this model.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            hidden_states_module(model),
            (example["input_ids"], example["attention_mask"]),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    tmp.replace(path)


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    # quantize_dynamic logs a suggestion to pre-process the model at WARNING level on every call.
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
    finally:
        logger.setLevel(level)
    tmp.replace(target)


class OnnxEncoder:
    """Callable (input_ids, attention_mask) -> (n, 384) float32 unit rows, one ORT thread per call."""

    def __init__(self, model, *, quantized: bool, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = onnx_model_path(model, quantized=quantized)
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        (hidden,) = self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})
        mask = attention_mask[..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


if __name__ == "__main__":
    _export(Path(sys.argv[1]))
