"""Sentence embeddings (all-MiniLM-L6-v2, loaded offline from the package that carries it), LRU-cached.

Optionally, `EncodeBatcher` coalesces the cache misses of concurrent requests into shared forward
passes (micro-batching, as dedicated embedding servers do).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError
from .cache import LRUCache
from .model import load_model
from .settings import ENCODERS

__all__ = [
    "Embedder",
    "EncodeBatcher",
    "EncodePass",
    "EMBEDDING_DIM",
    "ENCODERS",
    "load_model",
    "length_groups",
    "padded_length",
    "release_memory",
    "limit_malloc_arenas",
]

EMBEDDING_DIM = 384

# What one more forward pass costs, in padded tokens: measured on this model with one torch thread,
# a pass costs ~3.6 ms plus ~0.21 ms per (text x padded token), so a pass is worth ~17 padded tokens.
PASS_COST_TOKENS = 17
# Texts are padded to a multiple of this many tokens (and never beyond the truncation length), so a text's
# padded length, and with it its embedding bit for bit, does not depend on the other texts of its pass.
# 16 wastes ~8 tokens per text (~4 % of a 200-token document) and lets short queries share passes.
PAD_MULTIPLE = 16
# Most padded tokens in one forward pass. Attention holds batch x 12 heads x length^2 floats (200 MB for 64
# texts of 256 tokens), and glibc keeps such blocks after use; 4096 tokens (16 texts of 256) bounds that
# to ~50 MB while the extra passes cost under 1 % of the compute of such texts.
MAX_PASS_TOKENS = 4096
# Trim the heap after a call that encoded this many padded tokens (about 20 long documents): large passes
# leave their blocks in glibc's arenas, small ones (a query) are not worth the trim (~1 ms).
TRIM_AFTER_TOKENS = 4096


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
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


@dataclass(frozen=True, slots=True)
class EncodePass:
    """One forward pass: rows `indices` of the texts it was planned for, their token ids padded to one length.

    The padded length is a function of each text alone (its token count rounded up to PAD_MULTIPLE), and
    a pass holds texts of one padded length only: a text's embedding is then the same bit for bit
    whatever else shares its pass (measured: torch with one thread and ONNX Runtime give identical rows
    for a text alone and in passes of 2 to 50 texts of its padded length). That is how scores stay
    deterministic under micro-batching: computed batch-independently, not rounded.
    """

    indices: list[int]
    input_ids: np.ndarray  # (len(indices), padded length) int64
    attention_mask: np.ndarray  # same shape, 1 for real tokens

    @property
    def padded_tokens(self) -> int:
        return int(self.input_ids.size)


class Embedder:
    """Unit-norm float32 embeddings of texts, with a bounded LRU cache keyed by the text.

    RAG candidates recur (in production their vectors come from the index), so documents are cached;
    texts missing from the cache are encoded in forward passes of similar-length texts (`plan`), at most
    MAX_PASS_TOKENS padded tokens each, which bounds the memory of a pass whatever the request.

    encoder: "torch" (the sentence-transformers model), "onnx" (the same weights exported to ONNX Runtime
    at first use and cached on disk) or "onnx-int8" (that export with dynamic int8 weight quantisation).
    max_seq_length: truncate texts to this many tokens (None: the model's own limit, 256).
    """

    def __init__(
        self,
        *,
        cache_size: int,
        torch_threads: int | None = None,
        model=None,
        encoder: str = "torch",
        max_seq_length: int | None = None,
    ) -> None:
        if encoder not in ENCODERS:
            raise ParameterError(f"encoder is {encoder!r}; valid encoders are {', '.join(ENCODERS)}.")
        self.model = model if model is not None else load_model(torch_threads)
        self.encoder = encoder
        model_max = int(self.model.max_seq_length)
        if max_seq_length is not None and not 8 <= max_seq_length <= model_max:
            raise ParameterError(
                f"max_seq_length is {max_seq_length!r}; it must be between 8 and the model's {model_max} tokens."
            )
        self.max_seq_length = max_seq_length or model_max
        self._forward = _torch_forward(self.model) if encoder == "torch" else _onnx_forward(self.model, encoder)
        self.cache: LRUCache[np.ndarray] = LRUCache(cache_size)
        # The tokenizer is not safe to share between threads; the forward passes are (torch and ORT sessions).
        self._tokenizer_lock = threading.Lock()

    def plan(self, texts: list[str], *, max_group: int = 64) -> list[EncodePass]:
        """Tokenise texts and split them into forward passes of one padded length (see `length_groups`)."""
        if not texts:
            return []
        with self._tokenizer_lock:
            ids = self.model.tokenizer(texts, truncation=True, max_length=self.max_seq_length)["input_ids"]
        padded = [padded_length(len(x), self.max_seq_length) for x in ids]
        if self.encoder == "onnx-int8":
            # Dynamic quantisation scales activations by their range over the whole pass, so a row would
            # depend on its pass-mates: one text per pass keeps embeddings batch-independent.
            max_group = 1
        passes = []
        for length in sorted(set(padded)):
            members = [i for i, p in enumerate(padded) if p == length]
            for group in length_groups([padded[i] for i in members], max_group=max_group):
                rows = [members[g] for g in group]
                input_ids = np.zeros((len(rows), length), dtype=np.int64)
                mask = np.zeros((len(rows), length), dtype=np.int64)
                for r, i in enumerate(rows):
                    input_ids[r, : len(ids[i])] = ids[i]
                    mask[r, : len(ids[i])] = 1
                passes.append(EncodePass(rows, input_ids, mask))
        return passes

    def run_pass(self, p: EncodePass) -> np.ndarray:
        """The pass's rows: (len(p.indices), 384) float32, unit norm."""
        return self._forward(p.input_ids, p.attention_mask)

    def encode_grouped(self, texts: list[str], *, max_group: int = 64) -> np.ndarray:
        """Encode without the cache, pass after pass in this thread: (len(texts), 384) float32 unit rows."""
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        tokens = 0
        for p in self.plan(texts, max_group=max_group):
            out[p.indices] = self.run_pass(p)
            tokens += p.padded_tokens
        if tokens >= TRIM_AFTER_TOKENS:
            release_memory()
        return out

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Encode without the cache: (len(texts), 384) float32, unit rows (the engine's unbatched path)."""
        return self.encode_grouped(texts)

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


def padded_length(tokens: int, max_seq_length: int) -> int:
    """The length a text of `tokens` tokens is padded to: a function of the text alone (batch-independence)."""
    return min(max_seq_length, -(-tokens // PAD_MULTIPLE) * PAD_MULTIPLE)


def _torch_forward(model) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The model's transformer traced with TorchScript, then mean pooling over the real tokens and L2
    normalisation (the model's Pooling and Normalize modules).

    Traced, not eager: eager BERT returns to Python between its ~100 operations per pass, and each return
    needs the GIL, which the service's request threads hold most of the time; a traced graph runs its
    operations without it. Measured in-process (two threads running passes of queries, one thread running
    Python, one torch thread each): eager 56-66 texts/s at 146-151 % CPU, traced 149-151 texts/s at 203-207 %;
    one thread alone 119 vs 127 texts/s. Rows equal eager's within 2e-8, and a text's row is the same bit for
    bit alone and in any pass of its padded length (tests/target/test_speed_determinism.py).
    """
    import logging
    import warnings

    import torch

    from .model import hidden_states_module

    example = model.tokenizer(["an example text", "two"], padding=True, return_tensors="pt")
    # The tracer warns about Python branches that are constant for this model (as the ONNX export does), and
    # reading every attribute of the model makes transformers log that it has no training loss configured.
    transformers_log = logging.getLogger("transformers")
    level = transformers_log.level
    transformers_log.setLevel(logging.ERROR)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(
                hidden_states_module(model), (example["input_ids"], example["attention_mask"]), check_trace=False
            )
    finally:
        transformers_log.setLevel(level)

    def forward(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            hidden = traced(torch.from_numpy(input_ids), torch.from_numpy(attention_mask))
            mask = torch.from_numpy(attention_mask).unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return out.numpy().astype(np.float32, copy=False)

    return forward


def _onnx_forward(model, encoder: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from .onnx_encoder import OnnxEncoder

    return OnnxEncoder(model, quantized=encoder == "onnx-int8")


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc malloc_trim); a no-op where there is no glibc.

    Attention blocks of a large pass are freed after it, but glibc keeps them in its arenas, so RSS
    stays at the burst's peak; trimming after large passes returns it.
    """
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (mallopt M_ARENA_MAX) so many compute threads do not each keep a heap.

    glibc reads MALLOC_ARENA_MAX only at start-up; mallopt sets the same limit at run time and applies
    to arenas created after it (call it before the worker threads start). No-op without glibc.
    """
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, arenas)


_M_ARENA_MAX = -8  # from glibc's malloc.h


def _libc_function(name: str):
    import ctypes
    import ctypes.util

    path = ctypes.util.find_library("c")
    if path is None:
        return None
    try:
        return getattr(ctypes.CDLL(path), name)
    except (OSError, AttributeError):
        return None


class EncodeCancelled(Exception):
    """The caller withdrew its texts before they were encoded (its client went away)."""


@dataclass(slots=True)
class _Job:
    texts: list[str]
    cancel: threading.Event | None = None
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    arrived: float = field(default_factory=time.perf_counter)


@dataclass(slots=True)
class _Batch:
    jobs: list[_Job]
    rows: dict[str, int]
    vectors: np.ndarray
    waiting_on: list[int]  # per job: passes holding its rows not done yet
    jobs_of_pass: list[list[int]]  # per pass: the jobs with rows in it
    failed: bool = False


class EncodeBatcher:
    """Encodes the texts of concurrent callers together: shared forward passes over `workers` threads.

    A caller (one of the service's compute threads) queues its texts and blocks on a Future. A batching
    thread waits until a worker is free, takes the oldest waiting job, waits until `window_ms` after that
    job arrived (or until `max_batch` texts are waiting), then plans every waiting job's texts, up to
    max_batch, into forward passes (`Embedder.plan`) that the workers run, one pass per worker at a time;
    each caller gets its rows as soon as the passes holding them are done. While the workers are busy new
    jobs queue up, so under load the next batch leaves at once and is large: the window only delays a
    lone request. A job larger than max_batch is planned alone, and its passes spread over the workers
    (a cold rerank uses every core). Texts shared by jobs of one batch are encoded once.

    Rows are bit for bit the rows each text gets alone (see `EncodePass`). A job whose `cancel` event is
    set before its batch is planned is dropped (EncodeCancelled). close() encodes what is queued and
    stops the threads; after it, `encode` encodes in the caller's thread.
    """

    def __init__(self, embedder: Embedder, *, window_ms: float, max_batch: int = 64, workers: int = 1) -> None:
        if not window_ms > 0:
            raise ParameterError(f"window_ms is {window_ms!r}; the batching window must be positive (milliseconds).")
        if max_batch < 1:
            raise ParameterError(f"max_batch is {max_batch!r}; it must be 1 or more.")
        if workers < 1:
            raise ParameterError(f"workers is {workers!r}; it must be 1 or more.")
        self.embedder = embedder
        self.window_s = window_ms / 1000
        self.max_batch = max_batch
        self.workers = workers
        # Observing the batching (read by /metrics): batches planned, distinct texts they encoded, forward
        # passes run and the padded tokens of those passes (texts x padded length).
        self.batches = 0
        self.texts = 0
        self.passes = 0
        self.padded_tokens = 0
        self._queue: deque[_Job] = deque()
        self._queued_texts = 0
        self._pending_passes = 0
        self._tokens_since_trim = 0
        self._closed = False
        self._cond = threading.Condition()
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="embed-pass")
        self._thread = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._thread.start()

    def encode(self, texts: list[str], *, cancel: threading.Event | None = None) -> np.ndarray:
        """(len(texts), 384) float32 unit rows, encoded together with other callers' texts."""
        if not texts:
            return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
        job = _Job(list(texts), cancel)
        with self._cond:
            closed = self._closed
            if not closed:
                self._queue.append(job)
                self._queued_texts += len(job.texts)
                self._cond.notify_all()
        if closed:
            return self.embedder.encode_grouped(job.texts, max_group=self.max_batch)
        return job.future.result()

    def close(self, timeout_s: float = 30.0) -> None:
        """Encode the queued jobs, then stop the batching thread and the workers (waits at most timeout_s)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        self._pool.shutdown(wait=True)

    def _next_batch(self) -> list[_Job] | None:
        """Wait for a free worker and a batch; None once closed and drained."""
        with self._cond:
            while not self._queue or self._pending_passes >= self.workers:
                if self._closed and not self._queue:
                    return None
                if not self._queue and self._pending_passes == 0 and self._tokens_since_trim >= TRIM_AFTER_TOKENS:
                    # Idle after large passes: return the burst's memory before sleeping.
                    self._tokens_since_trim = 0
                    release_memory()
                    continue
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
            self._queued_texts -= sum(len(job.texts) for job in batch)
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            live = []
            for job in batch:
                if job.cancel is not None and job.cancel.is_set():
                    job.future.set_exception(EncodeCancelled("the caller withdrew its texts"))
                else:
                    live.append(job)
            if not live:
                continue
            rows: dict[str, int] = {}
            for job in live:
                for text in job.texts:
                    rows.setdefault(text, len(rows))
            try:
                passes = self.embedder.plan(list(rows), max_group=self.max_batch)
            except BaseException as exc:  # noqa: BLE001 - every caller gets the failure; the thread lives on
                for job in live:
                    job.future.set_exception(exc)
                continue
            pass_of_row = np.empty(len(rows), dtype=np.int64)
            for k, p in enumerate(passes):
                pass_of_row[p.indices] = k
            jobs_of_pass: list[list[int]] = [[] for _ in passes]
            waiting_on = []
            for j, job in enumerate(live):
                mine = {int(pass_of_row[rows[t]]) for t in job.texts}
                waiting_on.append(len(mine))
                for k in mine:
                    jobs_of_pass[k].append(j)
            vectors = np.empty((len(rows), EMBEDDING_DIM), dtype=np.float32)
            state = _Batch(live, rows, vectors, waiting_on, jobs_of_pass)
            tokens = sum(p.padded_tokens for p in passes)
            self.batches += 1
            self.texts += len(rows)
            self.passes += len(passes)
            self.padded_tokens += tokens
            with self._cond:
                self._pending_passes += len(passes)
                self._tokens_since_trim += tokens
            for k, p in enumerate(passes):
                self._pool.submit(self._run_pass, state, k, p)

    def _run_pass(self, state: _Batch, k: int, p: EncodePass) -> None:
        error = None
        try:
            state.vectors[p.indices] = self.embedder.run_pass(p)
        except BaseException as exc:  # noqa: BLE001 - handed to the callers below
            error = exc
        finished, failing = [], []
        with self._cond:
            self._pending_passes -= 1
            if error is not None and not state.failed:
                state.failed = True
                # Callers already answered by their own passes keep their rows; the others get the error.
                failing = [job for j, job in enumerate(state.jobs) if state.waiting_on[j] > 0]
            elif error is None and not state.failed:
                # A job is answered once the passes holding its rows are done, not the whole batch: its
                # caller goes on while the batch's other passes run.
                for j in state.jobs_of_pass[k]:
                    state.waiting_on[j] -= 1
                    if state.waiting_on[j] == 0:
                        finished.append(state.jobs[j])
            self._cond.notify_all()
        for job in failing:
            job.future.set_exception(error)
        for job in finished:
            job.future.set_result(state.vectors[[state.rows[t] for t in job.texts]])
