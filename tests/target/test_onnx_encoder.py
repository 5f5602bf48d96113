"""The ONNX Runtime encoders: exported from the installed model at first use, cached, batch-independent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from qrbench.target.embedding import Embedder

TEXTS = [
    "appeal deadlines immigration detention",
    "Metformin is first-line therapy for type 2 diabetes.",
    "Kubernetes evicts pods when a node runs out of memory. " * 6,
    "short",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QRBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("onnx-cache")))
        yield


@pytest.mark.parametrize(("encoder", "min_cosine"), [("onnx", 0.99999), ("onnx-int8", 0.9)])
def test_onnx_encoders_agree_with_torch_and_are_batch_independent(embedder, onnx_cache, encoder, min_cosine):
    reference = Embedder(cache_size=0, model=embedder.model).encode_grouped(TEXTS)
    e = Embedder(cache_size=0, model=embedder.model, encoder=encoder)
    together = e.encode_grouped(TEXTS)
    alone = np.vstack([e.encode_grouped([t]) for t in TEXTS])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert (np.sum(together * reference, axis=1) >= min_cosine).all()
    assert list(Path(os.environ["QRBENCH_CACHE_DIR"]).rglob("*.onnx"))  # exported into the user cache
