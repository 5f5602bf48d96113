"""Test data for the load drivers: queries, candidate documents, user profiles, and request builders.

The corpus lives in the repository's `data/` folder (made by `python data/generate.py`): queries with
their relevant documents in four domains, retrieval-chunk-sized documents, and user behaviour
profiles. `DataManager` turns it into prepared `RequestSpec`s.

Popularity: production RAG candidate sets repeat (the same popular chunks come back for many
queries), which is what makes an embedding cache pay off. Candidates are therefore drawn with a
Zipf-like popularity: a seeded permutation of the documents gives each one a rank r (1 = most
popular) and a weight r ** -zipf_exponent. With the default exponent 1.0 over 2,240 documents the top
1 % of documents carry about 45 % of the weight; exponent 0 is uniform.

Speed: a load generator must not build JSON while the clock runs, so `mix_sampler` builds a pool of
requests (bodies encoded once) up front and hands them out in a seeded order at the cost of an
index increment.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from qrbench.errors import ParameterError, RunError
from qrbench.load.request import ENDPOINTS, RequestSpec, with_new_query
from qrbench.resources import bundled

__all__ = [
    "Document",
    "Query",
    "RequestKind",
    "UserProfile",
    "DayProfile",
    "DataManager",
    "RequestPool",
    "KINDS",
    "METHODS",
    "LENGTHS",
    "MAX_TEXT_CHARS",
    "DEFAULT_DATA_DIR",
]

METHODS = ("classical", "quantum", "hybrid")

# Every text sent is cut to this many characters: the similarity and batch endpoints refuse longer
# texts (the anchor's limit), and one limit for all endpoints keeps bodies comparable.
MAX_TEXT_CHARS = 5000
_MAX_TOP_K = 100  # the anchor's rerank limit

# Document length levels in words (inclusive bounds): for studies of latency against text length.
LENGTHS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"any": (0, 1_000_000), "short": (0, 100), "long": (250, 1_000_000)}
)

# qrbench/load/data.py -> repository root -> data/. Present in a source checkout or editable install.
DEFAULT_DATA_DIR = bundled("data")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestKind:
    """A request shape: which endpoint, and how many candidate documents (inclusive range)."""

    name: str
    endpoint: str
    min_candidates: int
    max_candidates: int


KINDS: Mapping[str, RequestKind] = MappingProxyType(
    {
        k.name: k
        for k in (
            RequestKind(name="similarity", endpoint="similarity", min_candidates=1, max_candidates=1),
            RequestKind(name="rerank_small", endpoint="rerank", min_candidates=10, max_candidates=10),
            RequestKind(name="rerank_medium", endpoint="rerank", min_candidates=25, max_candidates=50),
            RequestKind(name="rerank_large", endpoint="rerank", min_candidates=100, max_candidates=100),
            RequestKind(name="batch_similarity", endpoint="batch_similarity", min_candidates=10, max_candidates=100),
        )
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A candidate document (a retrieval chunk); n_words counts whitespace-separated words."""

    id: str
    domain: str
    topic: str
    title: str
    text: str
    n_words: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """A user query and the ids of the documents that are really about it.

    key_terms: the topic terms the query and its relevant documents share.
    style: "short" (keywords), "question" or "paragraph" (a RAG user's multi-sentence question).
    """

    id: str
    domain: str
    topic: str
    text: str
    relevant: tuple[str, ...]
    key_terms: tuple[str, ...] = ()
    style: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserProfile:
    """How one kind of user behaves: pauses (seconds), session length (requests), request mix.

    think_time: "lognormal" with median think_median_s and log-space sigma think_sigma, or "constant"
    (think_median_s every time). session: "geometric" with mean session_mean or "constant".
    """

    name: str
    description: str
    think_time: str
    think_median_s: float
    think_sigma: float
    session: str
    session_mean: float
    kind_weights: Mapping[str, float]
    method_weights: Mapping[str, float]

    @property
    def think_mean_s(self) -> float:
        """Mean think time in seconds."""
        if self.think_time == "lognormal":
            return self.think_median_s * math.exp(self.think_sigma**2 / 2)
        return self.think_median_s

    def think_time_sampler(self, rng: random.Random) -> Callable[[], float] | None:
        """A zero-argument function drawing think times in seconds, or None when it is always zero."""
        if self.think_median_s == 0:
            return None
        if self.think_time == "constant":
            value = self.think_median_s
            return lambda: value
        mu, sigma = math.log(self.think_median_s), self.think_sigma
        return lambda: rng.lognormvariate(mu, sigma)

    def session_length(self, rng: random.Random) -> int:
        """Requests in one session (at least 1)."""
        if self.session == "constant":
            return max(1, round(self.session_mean))
        # Geometric on {1, 2, ...} with the given mean: success probability 1 / mean.
        p = 1.0 / max(1.0, self.session_mean)
        if p >= 1.0:
            return 1
        return 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


@dataclass(frozen=True, slots=True, kw_only=True)
class DayProfile:
    """Arrival rate over a day: requests per minute for each hour (index 0 = 00:00-01:00)."""

    hourly_rate_per_min: tuple[float, ...]
    business_hours: tuple[int, int] = (9, 17)
    peak_hours: tuple[int, ...] = ()
    maintenance_window: tuple[int, int] | None = None
    profile_mix: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        rates = self.hourly_rate_per_min
        if len(rates) != 24 or any(not math.isfinite(r) or r < 0 for r in rates):
            raise ParameterError(f"DayProfile.hourly_rate_per_min needs 24 finite rates of at least 0, got {rates!r}.")

    def rate_per_min(self, hour: float) -> float:
        """Requests per minute at `hour` (0 <= hour < 24; piecewise constant within each hour)."""
        return self.hourly_rate_per_min[int(hour) % 24]

    def stages(self, *, seconds_per_hour: float, scale: float = 1.0) -> tuple[tuple[float, float, float], ...]:
        """The day compressed to `seconds_per_hour` per hour, as (duration_s, start_rps, end_rps) stages.

        scale multiplies every rate (e.g. 0.1 to run a tenth of the traffic on a small machine).
        """
        if not (math.isfinite(seconds_per_hour) and seconds_per_hour > 0):
            raise ParameterError(f"seconds_per_hour must be a positive number of seconds, not {seconds_per_hour!r}.")
        if not (math.isfinite(scale) and scale >= 0):
            raise ParameterError(f"scale must be a finite number of at least 0, not {scale!r}.")
        return tuple((float(seconds_per_hour), r * scale / 60.0, r * scale / 60.0) for r in self.hourly_rate_per_min)


class RequestPool:
    """Pre-built requests handed out in a fixed, seeded order; calling it returns the next one.

    The pool repeats after len(pool) draws. It is picklable, and `for_worker` gives each driver
    process a copy starting at a different place, so processes do not send the same requests in
    lockstep (the driver's request-source interface, like `cycle_source`).
    """

    __slots__ = ("_specs", "_i", "_kind_weights", "_method_weights", "seed", "new_queries", "_tag", "_n")

    def __init__(
        self,
        specs: Sequence[RequestSpec],
        *,
        kind_weights: Mapping[str, float],
        method_weights: Mapping[str, float],
        seed: int,
        start: int = 0,
        new_queries: bool = False,
        worker: int = 0,
    ) -> None:
        if not specs:
            raise ParameterError("A RequestPool needs at least one request; pool_size must be at least 1.")
        self._specs = tuple(specs)
        self._i = start % len(self._specs)
        # Plain dicts (not mapping proxies) so the pool pickles for driver processes.
        self._kind_weights = dict(kind_weights)
        self._method_weights = dict(method_weights)
        self.seed = seed
        # new_queries: every draw's query is a text never sent before (its tag names the worker and the
        # draw), so no answer comes from a similarity cache; documents still recur, as in production.
        self.new_queries = new_queries
        self._tag = f" [q{worker}.".encode()
        self._n = 0

    def __call__(self) -> RequestSpec:
        spec = self._specs[self._i]
        self._i = (self._i + 1) % len(self._specs)
        if self.new_queries:
            self._n += 1
            return with_new_query(spec, self._tag + b"%d]" % self._n)
        return spec

    def for_worker(self, worker: int, n_workers: int) -> RequestPool:
        """The copy driver process `worker` of `n_workers` uses: same requests, staggered start (and, with
        new_queries, query tags of its own)."""
        start = self._i + worker * len(self._specs) // max(1, n_workers)
        return RequestPool(
            self._specs,
            kind_weights=self._kind_weights,
            method_weights=self._method_weights,
            seed=self.seed,
            start=start,
            new_queries=self.new_queries,
            worker=worker,
        )

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[RequestSpec]:
        """The pool once, in draw order from the start (does not move the draw position)."""
        return iter(self._specs)

    @property
    def specs(self) -> tuple[RequestSpec, ...]:
        return self._specs

    @property
    def kind_weights(self) -> Mapping[str, float]:
        return MappingProxyType(self._kind_weights)

    @property
    def method_weights(self) -> Mapping[str, float]:
        return MappingProxyType(self._method_weights)

    @property
    def body_bytes(self) -> int:
        """Total size of the pre-encoded bodies (bytes): the pool's memory cost."""
        return sum(len(s.body) for s in self._specs)

    def composition(self) -> dict[tuple[str, str], int]:
        """Count of requests per (kind, method) in the pool."""
        counts: dict[tuple[str, str], int] = {}
        for s in self._specs:
            counts[(s.kind, s.method)] = counts.get((s.kind, s.method), 0) + 1
        return counts


class DataManager:
    """Queries, documents and user profiles, and builders of requests from them.

    seed fixes which documents are popular (the permutation behind the Zipf ranks); the builders take
    their own `rng` (a numpy Generator) so the same rng state gives the same request.
    """

    __slots__ = (
        "_documents",
        "_queries",
        "_doc_index",
        "_query_index",
        "_profiles",
        "_day",
        "_seed",
        "_zipf",
        "_log_weight",
        "_n_words",
        "_domain_of",
        "_pools",
        "_relevant_idx",
    )

    def __init__(
        self,
        *,
        documents: Sequence[Document],
        queries: Sequence[Query],
        profiles: Mapping[str, UserProfile] | None = None,
        day: DayProfile | None = None,
        seed: int = 0,
        zipf_exponent: float = 1.0,
    ) -> None:
        if not documents:
            raise ParameterError("DataManager needs at least one document.")
        if not queries:
            raise ParameterError("DataManager needs at least one query.")
        _check_zipf(zipf_exponent)
        self._documents = tuple(documents)
        self._queries = tuple(queries)
        self._doc_index = {d.id: i for i, d in enumerate(self._documents)}
        if len(self._doc_index) != len(self._documents):
            raise ParameterError("Document ids must be unique.")
        self._query_index = {q.id: i for i, q in enumerate(self._queries)}
        if len(self._query_index) != len(self._queries):
            raise ParameterError("Query ids must be unique.")
        for q in self._queries:
            missing = [r for r in q.relevant if r not in self._doc_index]
            if missing:
                raise ParameterError(f"Query {q.id!r} lists relevant documents {missing} that do not exist.")
        self._relevant_idx = {
            q.id: np.array([self._doc_index[r] for r in q.relevant], dtype=np.int64) for q in self._queries
        }
        self._profiles = MappingProxyType(dict(profiles or {}))
        self._day = day
        self._seed = seed
        self._zipf = float(zipf_exponent)

        n = len(self._documents)
        ranks = np.empty(n, dtype=np.float64)
        ranks[np.random.default_rng(seed).permutation(n)] = np.arange(1, n + 1)
        self._log_weight = -self._zipf * np.log(ranks)
        self._n_words = np.array([d.n_words for d in self._documents], dtype=np.int64)
        self._domain_of = np.array([d.domain for d in self._documents])
        # (domain or None, length level) -> indices of eligible documents, built on first use.
        self._pools: dict[tuple[str | None, str], np.ndarray] = {}

    # ---- loading ----------------------------------------------------------------------------------

    @classmethod
    def from_dir(cls, path: Path | str | None = None, *, seed: int = 0, zipf_exponent: float = 1.0) -> DataManager:
        """Load queries.json, documents.json and (if present) user_behavior_patterns.json from `path`.

        path defaults to the repository's data/ folder.
        """
        _check_zipf(zipf_exponent)
        folder = Path(path) if path is not None else DEFAULT_DATA_DIR
        if not folder.is_dir():
            raise ParameterError(
                f"The data folder {folder} does not exist; pass the folder holding queries.json and "
                "documents.json, or create it with `python data/generate.py`."
            )
        documents = _parse_documents(folder / "documents.json")
        queries = _parse_queries(folder / "queries.json")
        behaviour = folder / "user_behavior_patterns.json"
        profiles, day = _parse_behaviour(behaviour) if behaviour.exists() else ({}, None)
        try:
            return cls(
                documents=documents,
                queries=queries,
                profiles=profiles,
                day=day,
                seed=seed,
                zipf_exponent=zipf_exponent,
            )
        except ParameterError as exc:
            raise RunError(f"The data in {folder} is inconsistent: {exc}") from exc

    # ---- accessors --------------------------------------------------------------------------------

    @property
    def documents(self) -> tuple[Document, ...]:
        return self._documents

    @property
    def queries(self) -> tuple[Query, ...]:
        return self._queries

    @property
    def profiles(self) -> Mapping[str, UserProfile]:
        """User behaviour profiles by name (empty if the data folder has none)."""
        return self._profiles

    @property
    def day(self) -> DayProfile | None:
        """The realistic-day arrival profile, if the data folder has one."""
        return self._day

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def zipf_exponent(self) -> float:
        return self._zipf

    def document(self, doc_id: str) -> Document:
        try:
            return self._documents[self._doc_index[doc_id]]
        except KeyError:
            raise ParameterError(f"Document id {doc_id!r} is unknown.") from None

    def query(self, query_id: str) -> Query:
        try:
            return self._queries[self._query_index[query_id]]
        except KeyError:
            raise ParameterError(f"Query id {query_id!r} is unknown.") from None

    def relevant_for(self, query_id: str) -> tuple[Document, ...]:
        """The documents that are really about the query."""
        return tuple(self.document(d) for d in self.query(query_id).relevant)

    def popularity(self) -> np.ndarray:
        """Draw probability of each document (in `documents` order) for a single draw over all of them."""
        w = np.exp(self._log_weight - self._log_weight.max())
        return w / w.sum()

    # ---- drawing ----------------------------------------------------------------------------------

    def _pool(self, domain: str | None, length: str) -> np.ndarray:
        key = (domain, length)
        pool = self._pools.get(key)
        if pool is None:
            lo, hi = LENGTHS[length]
            ok = (self._n_words >= lo) & (self._n_words <= hi)
            if domain is not None:
                ok &= self._domain_of == domain
            pool = np.flatnonzero(ok)
            self._pools[key] = pool
        return pool

    def _draw(self, pool: np.ndarray, k: int, exclude: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """k distinct indices from pool, by popularity, none in exclude (Gumbel-top-k sampling)."""
        if k <= 0 or pool.size == 0:
            return np.empty(0, dtype=np.int64)
        # Adding Gumbel noise to log-weights and keeping the k largest is sampling without replacement
        # with probability proportional to weight, in one vectorised pass.
        keys = self._log_weight[pool] + rng.gumbel(size=pool.size)
        if exclude.size:
            keys[np.isin(pool, exclude)] = -np.inf
        available = int(np.isfinite(keys).sum())
        k = min(k, available)
        if k == 0:
            return np.empty(0, dtype=np.int64)
        top = np.argpartition(-keys, k - 1)[:k]
        return pool[top]

    def sample_documents(
        self,
        k: int,
        *,
        rng: np.random.Generator,
        domain: str | None = None,
        length: str = "any",
        exclude: Sequence[str] = (),
    ) -> tuple[Document, ...]:
        """k distinct documents drawn by popularity (from one domain if given), none of `exclude`."""
        _check_length(length)
        excluded = np.array([self._doc_index[e] for e in exclude if e in self._doc_index], dtype=np.int64)
        idx = self._draw(self._pool(domain, length), k, excluded, rng)
        if idx.size < k:
            raise ParameterError(
                f"Only {idx.size} documents are available for domain={domain!r}, length={length!r}; asked for {k}."
            )
        return tuple(self._documents[i] for i in idx)

    def candidates(
        self, query: Query, n: int, *, rng: np.random.Generator, length: str = "any"
    ) -> tuple[Document, ...]:
        """n distinct candidates for `query`, shuffled: its relevant documents (as many as n allows and
        as match the length level), then popularity-drawn documents of its domain, then of any domain
        if its domain has too few at this length level."""
        _check_length(length)
        lo, hi = LENGTHS[length]
        rel = self._relevant_idx[query.id]
        rel = rel[(self._n_words[rel] >= lo) & (self._n_words[rel] <= hi)]
        chosen = rng.permutation(rel)[: min(rel.size, n)]
        # A first-stage retriever returns on-domain chunks, so the rest come from the query's domain.
        more = self._draw(self._pool(query.domain, length), n - chosen.size, chosen, rng)
        chosen = np.concatenate([chosen, more])
        if chosen.size < n:
            chosen = np.concatenate([chosen, self._draw(self._pool(None, length), n - chosen.size, chosen, rng)])
        if chosen.size < n:
            raise ParameterError(
                f"n_candidates={n} exceeds the {chosen.size} documents available at length level {length!r}."
            )
        return tuple(self._documents[i] for i in rng.permutation(chosen))

    def _random_query(self, rng: np.random.Generator) -> Query:
        # Queries are drawn uniformly: popularity skew is modelled on the documents, where caches act.
        return self._queries[int(rng.integers(len(self._queries)))]

    # ---- request builders ---------------------------------------------------------------------------

    def similarity(
        self, method: str, *, rng: np.random.Generator, length: str = "any", kind: str = "similarity"
    ) -> RequestSpec:
        """POST /v1/similarity: a query and one document, {"text1", "text2", "method"}.

        Half the pairs use a relevant document and half a popularity-drawn one from the query's domain,
        so scores span both ends.
        """
        _check_method(method)
        _check_length(length)
        query = self._random_query(rng)
        if rng.random() < 0.5:
            (doc,) = self.candidates(query, 1, rng=rng, length=length)
        else:
            (doc,) = self.sample_documents(1, rng=rng, domain=query.domain, length=length)
        payload = {"text1": _clip(query.text), "text2": _clip(doc.text), "method": method}
        return RequestSpec.from_payload(kind=kind, endpoint=ENDPOINTS["similarity"], payload=payload)

    def rerank(
        self,
        n_candidates: int,
        method: str,
        *,
        rng: np.random.Generator,
        top_k: int = 10,
        kind: str | None = None,
        length: str = "any",
    ) -> RequestSpec:
        """POST /v1/rerank: {"query", "candidates", "top_k", "method"}; see `candidates` for the mix."""
        _check_method(method)
        _check_count("n_candidates", n_candidates, 1, 1000)
        _check_count("top_k", top_k, 1, _MAX_TOP_K)
        query = self._random_query(rng)
        docs = self.candidates(query, n_candidates, rng=rng, length=length)
        payload = {
            "query": _clip(query.text),
            "candidates": [_clip(d.text) for d in docs],
            "top_k": top_k,
            "method": method,
        }
        return RequestSpec.from_payload(kind=kind or "rerank", endpoint=ENDPOINTS["rerank"], payload=payload)

    def batch_similarity(
        self,
        n_candidates: int,
        method: str,
        *,
        rng: np.random.Generator,
        kind: str | None = None,
        length: str = "any",
    ) -> RequestSpec:
        """POST /v1/batch-similarity: {"query", "candidates", "method"}, at most 100 candidates."""
        _check_method(method)
        _check_count("n_candidates", n_candidates, 1, 100)
        query = self._random_query(rng)
        docs = self.candidates(query, n_candidates, rng=rng, length=length)
        payload = {"query": _clip(query.text), "candidates": [_clip(d.text) for d in docs], "method": method}
        return RequestSpec.from_payload(
            kind=kind or "batch_similarity", endpoint=ENDPOINTS["batch_similarity"], payload=payload
        )

    def request(self, kind: str, method: str, *, rng: np.random.Generator, length: str = "any") -> RequestSpec:
        """One request of a named kind (see KINDS); the candidate count is drawn uniformly in its range."""
        spec = KINDS.get(kind)
        if spec is None:
            raise ParameterError(f"Request kind {kind!r} is unknown; use one of {', '.join(KINDS)}.")
        _check_method(method)
        n = int(rng.integers(spec.min_candidates, spec.max_candidates + 1))
        if spec.endpoint == "similarity":
            return self.similarity(method, rng=rng, length=length, kind=kind)
        if spec.endpoint == "rerank":
            return self.rerank(n, method, rng=rng, kind=kind, length=length)
        return self.batch_similarity(n, method, rng=rng, kind=kind, length=length)

    def mix_sampler(
        self,
        kind_weights: Mapping[str, float],
        method_weights: Mapping[str, float],
        *,
        seed: int,
        pool_size: int = 2000,
        length: str = "any",
        new_queries: bool = False,
    ) -> RequestPool:
        """A pool of pool_size requests whose kinds and methods follow the weights, pre-built now
        (new_queries: see RequestPool).

        Counts per kind are the weights times pool_size rounded by largest remainder (and likewise
        methods within each kind), so a small pool still has the asked mix; a kind whose share is
        below one slot may be absent. Memory: about 1 KB per candidate (a rerank_large body is ~120 KB).
        """
        kinds = _check_weights("kind_weights", kind_weights, tuple(KINDS))
        methods = _check_weights("method_weights", method_weights, METHODS)
        _check_count("pool_size", pool_size, 1, 1_000_000)
        _check_length(length)
        rng = np.random.default_rng(seed)
        plan: list[tuple[str, str]] = []
        for kind, count in _apportion(kinds, pool_size).items():
            for method, m_count in _apportion(methods, count).items():
                plan.extend([(kind, method)] * m_count)
        order = rng.permutation(len(plan))
        specs = [self.request(plan[i][0], plan[i][1], rng=rng, length=length) for i in order]
        return RequestPool(specs, kind_weights=kinds, method_weights=methods, seed=seed, new_queries=new_queries)


# ---- validation helpers ---------------------------------------------------------------------------


def _check_zipf(value: object) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0:
        raise ParameterError(f"zipf_exponent must be a finite number of at least 0 (0 is uniform), not {value!r}.")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ParameterError(f"Method {method!r} is unknown; use one of {', '.join(METHODS)}.")


def _check_length(length: str) -> None:
    if length not in LENGTHS:
        raise ParameterError(f"Length level {length!r} is unknown; use one of {', '.join(LENGTHS)}.")


def _check_count(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ParameterError(f"{name} must be an integer from {low} to {high}, not {value!r}.")


def _check_weights(name: str, weights: Mapping[str, float], valid: Sequence[str]) -> dict[str, float]:
    if not isinstance(weights, Mapping) or not weights:
        raise ParameterError(f"{name} must be a non-empty mapping of {', '.join(valid)} to weights.")
    out: dict[str, float] = {}
    for key, value in weights.items():
        if key not in valid:
            raise ParameterError(f"{name} has the unknown key {key!r}; valid keys are {', '.join(valid)}.")
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0:
            raise ParameterError(f"{name}[{key!r}] must be a finite number of at least 0, not {value!r}.")
        out[key] = float(value)
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise ParameterError(f"{name} must sum to 1 (within 1e-6); its weights {out} sum to {total:.9g}.")
    return out


def _apportion(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Integer counts summing to total, proportional to weights (largest remainder; ties by key order)."""
    exact = {k: w * total for k, w in weights.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    rest = total - sum(counts.values())
    by_remainder = sorted(weights, key=lambda k: -(exact[k] - counts[k]))
    for k in by_remainder[:rest]:
        counts[k] += 1
    return counts


def _clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Text cut to at most `limit` characters, at a word boundary when there is one."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    # Keep a hard cut if the only space is very early (one giant token): an almost empty text is worse.
    return (cut[:space] if space > limit // 2 else cut).rstrip()


# ---- file parsing ---------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise RunError(f"The data file {path} is missing; regenerate it with `python data/generate.py`.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"The data file {path} is not valid UTF-8 JSON ({exc}).") from exc


def _items(path: Path) -> list[dict[str, Any]]:
    data = _load_json(path)
    if not isinstance(data, list) or not data:
        raise RunError(f"The data file {path} must hold a non-empty JSON list of objects.")
    return data


def _field(path: Path, i: int, item: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(item, dict):
        raise RunError(f"Item {i} of {path} is not a JSON object.")
    if name not in item:
        raise RunError(f"Item {i} of {path} (id {item.get('id')!r}) has no field {name!r}.")
    value = item[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RunError(f"Field {name!r} of item {i} in {path} (id {item.get('id')!r}) has the wrong type.")
    return value


def _parse_documents(path: Path) -> list[Document]:
    docs = []
    for i, item in enumerate(_items(path)):
        text = _field(path, i, item, "text", str)
        if not text.strip():
            raise RunError(f"Document {item.get('id')!r} (item {i} of {path}) has an empty 'text'.")
        docs.append(
            Document(
                id=_field(path, i, item, "id", str),
                domain=_field(path, i, item, "domain", str),
                topic=_field(path, i, item, "topic", str),
                title=_field(path, i, item, "title", str),
                text=text,
                n_words=_field(path, i, item, "n_words", int),
            )
        )
    return docs


def _parse_queries(path: Path) -> list[Query]:
    queries = []
    for i, item in enumerate(_items(path)):
        relevant = _field(path, i, item, "relevant", list)
        if not all(isinstance(r, str) for r in relevant):
            raise RunError(f"Field 'relevant' of query {item.get('id')!r} in {path} must list document ids.")
        queries.append(
            Query(
                id=_field(path, i, item, "id", str),
                domain=_field(path, i, item, "domain", str),
                topic=str(item.get("topic", "")),
                text=_field(path, i, item, "text", str),
                relevant=tuple(relevant),
                key_terms=tuple(str(t) for t in item.get("key_terms", ())),
                style=str(item.get("style", "")),
            )
        )
    return queries


def _parse_behaviour(path: Path) -> tuple[dict[str, UserProfile], DayProfile | None]:
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
        raise RunError(f"The data file {path} must be a JSON object with a 'profiles' object.")
    profiles = {}
    for name, p in data["profiles"].items():
        try:
            think = p["think_time_s"]
            session = p["session_requests"]
            distribution = think["distribution"]
            if distribution not in ("lognormal", "constant"):
                raise ValueError(f"think_time_s.distribution {distribution!r} is not lognormal or constant")
            profiles[name] = UserProfile(
                name=name,
                description=str(p.get("description", "")),
                think_time=distribution,
                think_median_s=float(think["median_s"] if distribution == "lognormal" else think["mean_s"]),
                think_sigma=float(think.get("sigma", 0.0)),
                session=str(session["distribution"]),
                session_mean=float(session["mean"]),
                kind_weights=MappingProxyType(_check_weights("kind_weights", p["kind_weights"], tuple(KINDS))),
                method_weights=MappingProxyType(_check_weights("method_weights", p["method_weights"], METHODS)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"Profile {name!r} in {path} is malformed: {exc}.") from exc
    day = None
    if "realistic_day" in data:
        d = data["realistic_day"]
        try:
            window = d.get("maintenance_window")
            day = DayProfile(
                hourly_rate_per_min=tuple(float(r) for r in d["hourly_rate"]),
                business_hours=tuple(d.get("business_hours", (9, 17))),
                peak_hours=tuple(d.get("peak_hours", ())),
                maintenance_window=tuple(window) if window else None,
                profile_mix=MappingProxyType(dict(d.get("profile_mix", {}))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"The 'realistic_day' entry in {path} is malformed: {exc}.") from exc
    return profiles, day
