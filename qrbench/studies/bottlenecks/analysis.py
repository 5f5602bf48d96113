"""Analysis of a bottlenecks run folder: breakdown shares, overheads with intervals, shot noise, memory,
the under-load profile, the ranked optimisation opportunities and the verdict.

Shares are of means, not medians: means add up, so the parts plus "unattributed" are exactly the total,
and a stacked bar is honest. Intervals are percentile-bootstrap (seeded) at the study's confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import stats
from ...load import load_records
from ...profile import COMPONENTS, TOTAL, UNATTRIBUTED, classify_stacks
from ..analysis import KEY_FIGURE, latency_statistic, load_thresholds, summary_head
from ..compliance import compliance_frame
from ..contention import busy_first, read_contention
from ..folder import RunFolder
from .outside import cost_table, gaps, hot_functions, opportunity_row, outside_opportunities
from .params import INFO_FILE, BottlenecksParams

__all__ = [
    "BottlenecksReport",
    "analyse_bottlenecks",
    "summary",
    "breakdown_table",
    "mean_difference",
    "wide_breakdown",
    "under_load_change",
    "KEY_FIGURE",
]


ORDER = (*COMPONENTS, UNATTRIBUTED)


def _empty() -> Any:
    """A table of the report that stays empty when the run did not measure it."""
    return field(default_factory=pd.DataFrame)


@dataclass(frozen=True, slots=True, kw_only=True)
class BottlenecksReport:
    """The study's report, computed once from the run folder. The reference engine's in-process tables are
    empty for any other target (`reference` False)."""

    params: BottlenecksParams  # what the run measured (from its run.json)
    components: pd.DataFrame = _empty()  # raw breakdown rows (one per scenario, repeat, component)
    breakdown: pd.DataFrame = _empty()  # per scenario and component: mean with interval, median, share of the total
    explained: pd.DataFrame = _empty()  # per scenario: total, unattributed and whether the parts explain the total
    request: pd.DataFrame = _empty()  # per batch size and method: the whole request, engine parts and outside parts
    overhead: pd.DataFrame = _empty()  # quantum and hybrid over classical (ratio of medians, with interval)
    aer_vs_exact: pd.DataFrame = _empty()  # per qubits and shots: cost of aer against exact, and its shot noise
    cold_start: pd.DataFrame = _empty()
    outside: pd.DataFrame = _empty()  # over HTTP: e2e, server, outside, and the codec parts, per batch and method
    lines: pd.DataFrame = _empty()
    memory: pd.DataFrame = _empty()
    memory_lines: pd.DataFrame = _empty()
    allocations: pd.DataFrame = _empty()
    gc: pd.DataFrame = _empty()  # per generation: collections, total and longest pause
    calls: pd.DataFrame = _empty()
    under_load: pd.DataFrame  # activity shares per phase and sampler
    under_load_roles: pd.DataFrame  # activity shares per phase and thread role
    load_runs: pd.DataFrame  # per phase: requests, latency, fallbacks, server CPU and threads
    opportunities: pd.DataFrame
    compliance: pd.DataFrame
    verdict: str
    verdict_reasons: list[str]  # the busy machine first, when it was
    reliability: list[stats.Check]
    info: dict[str, Any]  # info.json: the study's own notes (what ran, what was skipped and why, tracemalloc)
    contention: stats.Contention | None = None  # other programs, steal and calibration per phase
    # Whether the target was qrbench's reference engine (in-process profiles exist only then).
    reference: bool = True
    costs: pd.DataFrame = _empty()  # per request kind: fixed and per-document cost
    cost_requests: pd.DataFrame = _empty()  # the requests the cost table fits
    hot: pd.DataFrame = _empty()  # py-spy: the target's hottest functions under load
    gaps: pd.DataFrame = _empty()  # what was not measured: why, how to enable it
    target: str = ""  # the probe's paragraph: what the target offered
    thresholds: dict[str, stats.Threshold] = field(default_factory=dict)  # the baseline section it is judged on


# ------------------------------------------------------------------------------------------ statistics


def mean_difference(
    a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> stats.Estimate:
    """mean(a) - mean(b) of two independent samples, with a percentile-bootstrap interval; undecided when either
    sample has fewer than 2 finite values."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    method = f"difference of means, independent percentile bootstrap ({n_resamples} resamples)"
    n = int(min(a.size, b.size))
    value = float(a.mean() - b.mean()) if n else math.nan
    if n < 2:
        return stats.Estimate(
            value=value, low=-math.inf, high=math.inf, confidence=confidence, n=n, method=method, decided=False
        )
    rng = np.random.default_rng(seed)
    da = a[rng.integers(0, a.size, (n_resamples, a.size))].mean(axis=1)
    db = b[rng.integers(0, b.size, (n_resamples, b.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(da - db, [alpha, 1 - alpha])
    return stats.Estimate(
        value=value, low=min(float(low), value), high=max(float(high), value), confidence=confidence, n=n, method=method
    )


# ------------------------------------------------------------------------------------------- breakdown

_SCENARIO_COLS = [
    "scenario",
    "batch_size",
    "method",
    "backend",
    "qubits",
    "shots",
    "torch_threads",
    "documents",
    "settings",
    "fallback",
]


def breakdown_table(components: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per scenario and component (parts, unattributed, total): mean_ms with its interval, median_ms,
    cpu_mean_ms, and share (mean over the mean total, so a scenario's parts and "unattributed" sum to 1)."""
    rows = []
    for _, g in components.groupby("scenario", sort=False):
        total_mean = g[g["component"] == TOTAL]["ms"].to_numpy().mean()
        head = g.iloc[0][_SCENARIO_COLS].to_dict()
        for component in (*ORDER, TOTAL):
            x = g[g["component"] == component]
            if x.empty:
                continue
            e = stats.bootstrap_ci(x["ms"].to_numpy(), confidence=confidence)
            rows.append(
                {
                    **head,
                    "component": component,
                    "n": len(x),
                    "mean_ms": e.value,
                    "low_ms": e.low,
                    "high_ms": e.high,
                    "median_ms": float(x["ms"].median()),
                    "cpu_mean_ms": float(x["cpu_ms"].mean()),
                    "share": e.value / total_mean,
                }
            )
    return pd.DataFrame(rows)


def wide_breakdown(table: pd.DataFrame, *, value: str = "mean_ms") -> pd.DataFrame:
    """One row per scenario, one column per component (and the total): mean ms, or another column."""
    wide = table.pivot_table(index="scenario", columns="component", values=value, sort=False)
    return wide.reindex(columns=[c for c in (*ORDER, TOTAL) if c in wide.columns])


def _explained(components: pd.DataFrame, table: pd.DataFrame, limit: float) -> pd.DataFrame:
    """Per scenario: mean total and unattributed, and the median over repeats of unattributed / total.

    The median of the per-repeat shares judges whether the parts explain the total: a repeat that a busy
    machine stalled in one part (and not in the total, or the reverse) must not decide it."""
    rows = []
    for scenario, g in table.groupby("scenario", sort=False):
        by = g.set_index("component")
        unattributed = by.loc[UNATTRIBUTED] if UNATTRIBUTED in by.index else {"mean_ms": 0.0, "share": 0.0}
        wide = components[components["scenario"] == scenario].pivot_table(
            index="repeat", columns="component", values="ms"
        )
        shares = (wide[UNATTRIBUTED] / wide[TOTAL]).to_numpy() if UNATTRIBUTED in wide else np.zeros(1)
        share = float(np.median(shares))
        rows.append(
            {
                **g.iloc[0][_SCENARIO_COLS].to_dict(),
                "repeats": len(wide),
                "total_ms": by.loc[TOTAL, "mean_ms"],
                "unattributed_ms": unattributed["mean_ms"],
                "unattributed_share_of_means": unattributed["share"],
                "unattributed_share": share,
                "explained": abs(share) <= limit,
            }
        )
    return pd.DataFrame(rows)


def _headline(frame: pd.DataFrame) -> pd.Series:
    """Scenarios of the service as configured by default: cached documents, torch's threads, no overrides."""
    return (
        (frame["documents"] == "cached")
        & frame["torch_threads"].isna()
        & (frame["settings"] == "")
        & ~frame["fallback"].astype(bool)
        & ((frame["backend"] == "exact") | (frame["shots"] == 1024))
        & (frame["qubits"] == 4)
    )


def _overhead(components: pd.DataFrame, confidence: float) -> pd.DataFrame:
    tot = components[(components["component"] == TOTAL) & _headline(components)]
    rows = []
    for n, g in tot.groupby("batch_size"):
        base = g[g["method"] == "classical"]["ms"].to_numpy()
        for (method, backend), h in g[g["method"] != "classical"].groupby(["method", "backend"]):
            x = h["ms"].to_numpy()
            r = stats.ratio_ci(x, base, confidence=confidence)
            d = mean_difference(x, base, confidence=confidence)
            rows.append(
                {
                    "batch_size": n,
                    "method": method,
                    "backend": backend,
                    "median_ratio": r.value,
                    "low": r.low,
                    "high": r.high,
                    "extra_ms": d.value,
                    "extra_low": d.low,
                    "extra_high": d.high,
                    "n": r.n,
                }
            )
    return pd.DataFrame(rows)


def _aer_vs_exact(components: pd.DataFrame, shots: pd.DataFrame, confidence: float) -> pd.DataFrame:
    from scipy.stats import spearmanr

    fid = components[
        (components["component"] == "fidelity")
        & (components["documents"] == "cached")
        & (components["settings"] == "")
        & ~components["fallback"].astype(bool)
    ]
    rows = []
    for (q, s), g in shots.groupby(["qubits", "shots"]) if len(shots) else []:
        err = g["error"].to_numpy()
        rmse = stats.bootstrap_ci(err, lambda x, axis=-1: np.sqrt(np.mean(x * x, axis=axis)), confidence=confidence)
        per_call = g.groupby("input")[["aer_ms", "exact_ms"]].first()
        by_input = [c for _, c in g.groupby("input") if len(c) >= 3]
        rhos = [spearmanr(c["exact"], c["aer"]).statistic for c in by_input]
        top = [int(c["exact"].idxmax() == c["aer"].idxmax()) for c in by_input]
        aer_fid = fid[(fid["backend"] == "aer") & (fid["qubits"] == q) & (fid["shots"] == s)]
        exact_fid = fid[(fid["backend"] == "exact") & (fid["qubits"] == q)]
        rows.append(
            {
                "qubits": q,
                "shots": s,
                "documents": int(g.groupby("input").size().median()),
                "aer_ms": float(per_call["aer_ms"].median()),
                "exact_ms": float(per_call["exact_ms"].median()),
                "cost_ratio": float(per_call["aer_ms"].median() / per_call["exact_ms"].median()),
                "rmse": rmse.value,
                "rmse_low": rmse.low,
                "rmse_high": rmse.high,
                "expected_sd": float(np.sqrt(np.mean(g["expected_sd"] ** 2))),
                "spearman_vs_exact": float(np.nanmean(rhos)) if rhos else np.nan,
                "top1_agreement": float(np.mean(top)) if top else np.nan,
                "breakdown_aer_fidelity_ms": float(aer_fid["ms"].median()) if len(aer_fid) else np.nan,
                "breakdown_exact_fidelity_ms": float(exact_fid["ms"].median()) if len(exact_fid) else np.nan,
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ outside


def _outside(http: pd.DataFrame, codec: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per batch size and method over HTTP: e2e, server and outside-the-engine time, and each codec part (at the
    nearest batch size it was timed for); framework_ms is the outside time the codec parts leave."""
    ok = http[http["status"] == 200]
    parts = codec.groupby(["n_candidates", "component"])["ms"].mean().unstack() if len(codec) else pd.DataFrame()
    rows = []
    for (n, method), g in ok.groupby(["n_candidates", "method"]):
        out = stats.bootstrap_ci(g["outside_ms"].to_numpy(), confidence=confidence)
        row = {
            "batch_size": n,
            "method": method,
            "requests": len(g),
            "e2e_mean_ms": g["e2e_ms"].mean(),
            "e2e_p50_ms": g["e2e_ms"].median(),
            "server_mean_ms": g["server_ms"].mean(),
            "embedding_mean_ms": g["embedding_ms"].mean(),
            "outside_mean_ms": out.value,
            "outside_low": out.low,
            "outside_high": out.high,
        }
        codec_sum = 0.0
        for part in parts.columns if len(parts) else []:
            near = parts.index[np.argmin(np.abs(parts.index.to_numpy() - n))]
            row[f"{part} ms"] = float(parts.loc[near, part])
            codec_sum += row[f"{part} ms"]
        row["framework_ms"] = out.value - codec_sum
        rows.append(row)
    return pd.DataFrame(rows)


def _outside_for(outside: pd.DataFrame, n: int, method: str) -> pd.Series | None:
    """The outside-the-engine costs measured for this batch size and method; what lies outside the engine does
    not depend on the method, so failing that the mean over the methods measured at the nearest batch size."""
    if outside.empty:
        return None
    exact = outside[(outside["batch_size"] == n) & (outside["method"] == method)]
    if len(exact):
        return exact.iloc[0]
    nearest = outside["batch_size"].iloc[int(np.argmin(np.abs(outside["batch_size"].to_numpy() - n)))]
    return outside[outside["batch_size"] == nearest].mean(numeric_only=True)


def _request(table: pd.DataFrame, outside: pd.DataFrame) -> pd.DataFrame:
    """Stacked whole-request view per batch size and method: engine parts (in-process means) and the parts
    outside the engine (HTTP measurement), headline scenarios only (the target's backend for quantum/hybrid)."""
    rows = []
    head = table[_headline(table) & (table["component"] != TOTAL)]
    for (n, method, backend), g in head.groupby(["batch_size", "method", "backend"]):
        parts = [("engine", r.component, r.mean_ms) for r in g.itertuples()]
        o = _outside_for(outside, n, method)
        if o is not None:
            parts += [("outside", col[:-3], float(o[col])) for col in o.index if col.endswith(" ms")]
            parts.append(("outside", "HTTP and framework", float(o["framework_ms"])))
        rows += [
            {"batch_size": n, "method": method, "backend": backend, "where": where, "component": c, "mean_ms": ms}
            for where, c, ms in parts
        ]
    frame = pd.DataFrame(rows)
    if len(frame):
        total = frame.groupby(["batch_size", "method", "backend"])["mean_ms"].transform("sum")
        frame["share"] = frame["mean_ms"] / total
    return frame


# ------------------------------------------------------------------------------------------ memory, gc


def _gc(pauses: pd.DataFrame, requests: int) -> pd.DataFrame:
    """Per generation and for all: collections, total and longest pause, and the pause per request."""
    if pauses.empty:
        pauses = pd.DataFrame({"generation": [], "ms": []})
    rows = [
        {
            "generation": gen,
            "collections": len(g),
            "total_ms": g["ms"].sum(),
            "max_ms": g["ms"].max() if len(g) else 0.0,
            "per_request_ms": g["ms"].sum() / max(requests, 1),
            "requests": requests,
        }
        for gen, g in [*pauses.groupby("generation"), ("all", pauses)]
    ]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ under load


_IDLE = ("idle: event loop select", "idle: thread-pool worker")


def _under_load(stacks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Activity shares per phase and sampler over the service's own threads (not tqdm's or the model loader's),
    of all samples (`share`) and of the samples of threads not idle (`active_share`); and per thread role."""
    if stacks.empty:
        return pd.DataFrame(), pd.DataFrame()
    s = stacks if "activity" in stacks else classify_stacks(stacks)
    own = s[s["role"] != "other"]
    by = own.groupby(["phase", "sampler", "activity"])["samples"].sum().reset_index()
    by["share"] = by["samples"] / by.groupby(["phase", "sampler"])["samples"].transform("sum")
    active = by["samples"].where(~by["activity"].isin(_IDLE), 0)
    by["active_share"] = active / active.groupby([by["phase"], by["sampler"]]).transform("sum").replace(0, np.nan)
    roles = s[s["sampler"] == "all threads"].groupby(["phase", "role", "activity"])["samples"].sum().reset_index()
    roles["share"] = roles["samples"] / roles.groupby(["phase", "role"])["samples"].transform("sum")
    return by, roles


def under_load_change(shares: pd.DataFrame) -> pd.DataFrame:
    """Per activity: its share of the busy threads' samples with one user and under load, and the change
    (percentage points), for all threads and for the GIL holder; biggest changes first."""
    if shares.empty:
        return shares
    wide = shares.pivot_table(index="activity", columns=["sampler", "phase"], values="active_share").fillna(0.0)
    for sampler in wide.columns.get_level_values(0).unique():
        cols = wide[sampler]
        if {"single user", "under load"} <= set(cols.columns):
            wide[(sampler, "change (points)")] = (cols["under load"] - cols["single user"]) * 100
    order = wide.filter(like="change").abs().max(axis=1).sort_values(ascending=False).index
    return wide.loc[order].sort_index(axis=1)


def _load_runs(
    folder: Path, server: pd.DataFrame, confidence: float, stacks: pd.DataFrame, rate_hz: float | None
) -> pd.DataFrame:
    """Per phase of the under-load runs (driver run folders under `folder`): requests, latency with intervals,
    the server's CPU and threads, and the share of the time the GIL was held."""
    rows = []
    for phase_dir in sorted(folder.iterdir()) if folder.is_dir() else []:
        runs = [p for p in phase_dir.iterdir() if p.is_dir()] or [phase_dir]
        rec = pd.concat([load_records(p) for p in runs], ignore_index=True)
        phase = phase_dir.name.replace("_", " ")
        ok = rec[rec["ok"]]
        sv = server[server["phase"] == phase] if len(server) else server
        row = {
            "phase": phase,
            "requests": len(rec),
            "ok": len(ok),
            "users": int(rec["user"].max() + 1) if len(rec) else 0,
            "duration_s": float(rec["t_end"].max()) if len(rec) else np.nan,
            "throughput_rps": len(ok) / float(rec["t_end"].max()) if len(rec) else np.nan,
        }
        for q in (50, 95):
            e = stats.percentile_ci(ok["latency_ms"].to_numpy(), q, confidence)
            row |= {f"p{q}_ms": e.value, f"p{q}_low": e.low, f"p{q}_high": e.high}
        row |= {
            "server_share_median": float(np.nanmedian(ok["server_ms"] / ok["latency_ms"])) if len(ok) else np.nan,
            "fallback_rate": float(ok["fallback"].mean()) if len(ok) else np.nan,
            "server_cpu_percent": float(sv["cpu_percent"].mean()) if len(sv) else np.nan,
            "server_threads": float(sv["threads"].median()) if len(sv) else np.nan,
            "machine_cpu_percent": float(sv["machine_cpu_percent"].mean()) if len(sv) else np.nan,
        }
        if len(stacks) and rate_hz:
            # With --gil py-spy keeps a sample only when some thread holds the GIL: samples over the samples
            # the run could have given is the share of the time the GIL was held.
            held = stacks[(stacks["phase"] == phase) & (stacks["sampler"] == "GIL holder")]["samples"].sum()
            row["gil_held_share"] = min(1.0, held / (rate_hz * row["duration_s"]))
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ opportunities


def _parts(components: pd.DataFrame, component: str, **where) -> np.ndarray:
    m = components["component"] == component
    for k, v in where.items():
        m &= components[k].isna() if v is None else components[k] == v
    return components[m]["ms"].to_numpy()


def _mean_or_nan(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else np.nan


@dataclass(frozen=True)
class _Measured:
    """What every kind of opportunity reads: the study's parameters and the run's measurements."""

    p: BottlenecksParams
    c: pd.DataFrame  # the breakdown rows
    outside: pd.DataFrame
    memory: dict[str, Any]
    gc: pd.DataFrame

    @property
    def n_ref(self) -> int:
        return self.p.opportunities.reference_batch

    def where(self, **changes) -> dict[str, Any]:
        """The default scenario (cached documents, default settings, 4 qubits) at the reference batch, changed."""
        base = dict(documents="cached", settings="", torch_threads=None, fallback=False, qubits=4)
        return {"batch_size": self.n_ref, **base, **changes}

    def row(self, name, lives_in, applies, saving, per_request_ms, how, **kw) -> dict[str, Any]:
        return opportunity_row(
            name, lives_in, applies, saving, per_request_ms, self.p.opportunities.rates_rps, how, **kw
        )

    def difference(self, name, lives_in, applies, a, b, ref_total, how, **kw) -> list[dict[str, Any]]:
        """The saving of going from sample `a` to sample `b` (ms; none when either has fewer than 2 values)."""
        if len(a) < 2 or len(b) < 2:
            return []
        e = mean_difference(a, b, confidence=self.p.confidence)
        return [self.row(name, lives_in, applies, (e.value, e.low, e.high), _mean_or_nan(ref_total), how, **kw)]

    def component(self, name, lives_in, applies, x, ref_total, how) -> list[dict[str, Any]]:
        """The saving of removing a component's whole time `x` (none when it has fewer than 2 values)."""
        if len(x) < 2:
            return []
        e = stats.bootstrap_ci(x, confidence=self.p.confidence)
        return [self.row(name, lives_in, applies, (e.value, e.low, e.high), _mean_or_nan(ref_total), how)]


def _aer_threads(m: _Measured) -> list[dict[str, Any]]:
    """Aer's OpenMP threads: the fix this study proves (aer_threads=1 is now the default). Compared on the part it
    changes, the fidelity: the totals also carry the query embedding, whose noise would drown it."""
    aer = dict(method="quantum", backend="aer", shots=1024)
    before = m.where(**aer, settings="aer_threads=0")
    return m.difference(
        "Run each Aer simulation on one OpenMP thread",
        "service code (fidelity.py)",
        f"quantum and hybrid on aer, {m.n_ref} documents",
        _parts(m.c, "fidelity", **before),
        _parts(m.c, "fidelity", **m.where(**aer)),
        _parts(m.c, TOTAL, **before),
        "AerSimulator(max_parallel_threads=1): a <=9-qubit statevector gains nothing from threads that "
        "spin against the service's own",
        status="done (aer_threads=1)" if m.p.target.aer_threads == 1 else "open",
    )


def _torch_threads(m: _Measured) -> list[dict[str, Any]]:
    rows = []
    for docs in ("cached", "cold"):
        t_default = _parts(m.c, TOTAL, **m.where(method="hybrid", backend="exact", torch_threads=2, documents=docs))
        t_one = _parts(m.c, TOTAL, **m.where(method="hybrid", backend="exact", torch_threads=1, documents=docs))
        rows += m.difference(
            f"Embed with one torch thread ({docs} documents)",
            "service setting (torch_threads)",
            f"every request with an embedding, {docs} documents",
            t_default,
            t_one,
            t_default,
            "torch_threads=1 instead of one thread per core: intra-op threads spin-wait when the cores are shared",
            trade_off="a big cold batch may embed slower on an idle machine",
        )
    return rows


def _exact_backend(m: _Measured) -> list[dict[str, Any]]:
    aer = m.where(method="quantum", backend="aer", shots=1024)
    return m.difference(
        "Compute the fidelity in closed form (exact) instead of simulating it (aer)",
        "design choice (backend)",
        f"quantum and hybrid on aer, {m.n_ref} documents",
        _parts(m.c, "fidelity", **aer),
        _parts(m.c, "fidelity", **m.where(method="quantum", backend="exact")),
        _parts(m.c, TOTAL, **aer),
        "backend=exact: the same expected value without the circuit",
        trade_off="no shot noise, no circuit: the service stops exercising a quantum simulator",
    )


def _fewer_shots(m: _Measured) -> list[dict[str, Any]]:
    rows = []
    for hi, lo in ((8192, 1024), (1024, 256)):
        a = _parts(m.c, "fidelity", **m.where(method="quantum", backend="aer", shots=hi))
        b = _parts(m.c, "fidelity", **m.where(method="quantum", backend="aer", shots=lo))
        rows += m.difference(
            f"Fewer shots ({hi} -> {lo})",
            "service setting (shots)",
            f"quantum and hybrid on aer, {m.n_ref} documents",
            a,
            b,
            a,
            "shots: cost grows linearly with shots",
            trade_off=f"shot noise grows by sqrt({hi // lo})",
        )
    return rows


def _document_cache(m: _Measured) -> list[dict[str, Any]]:
    cold = m.where(method="hybrid", backend="exact", documents="cold")
    return m.difference(
        "Embed documents once, at indexing (keep them cached)",
        "service design (embedding cache)",
        f"requests whose {m.n_ref} documents are new",
        _parts(m.c, "embed documents", **cold),
        _parts(m.c, "embed documents", **m.where(method="hybrid", backend="exact")),
        _parts(m.c, TOTAL, **cold),
        "precompute document vectors (RAG chunks recur); a cache miss embeds every document",
        trade_off="memory: 1.5 KiB per cached document",
    )


def _engine_parts(m: _Measured) -> list[dict[str, Any]]:
    """The query embedding and the engine's unattributed glue, each as a whole component of the default hybrid."""
    hybrid = m.where(method="hybrid", backend="exact")
    ref = _parts(m.c, TOTAL, **hybrid)
    return m.component(
        "Query embedding (model forward pass)",
        "dependency (torch, sentence-transformers)",
        "every request",
        _parts(m.c, "embed query", **hybrid),
        ref,
        "a smaller or quantised model; not a change in the service's code",
    ) + m.component(
        "Engine glue (caches, hand-offs: unattributed)",
        "service code (engine.py)",
        f"every request, {m.n_ref} documents",
        _parts(m.c, UNATTRIBUTED, **hybrid),
        ref,
        "read the line tables: similarity-cache keys and lookups per candidate",
    )


_CODEC_PARTS = (
    ("validate request", "service code (schemas.py) + pydantic"),
    ("serialise response", "service code (app.py) + json"),
    ("parse JSON", "dependency (json)"),
    ("rank candidates", "service code (app.py)"),
)


def _outside_engine(m: _Measured) -> list[dict[str, Any]]:
    """The HTTP measurement at the reference batch (hybrid, else its first row): the framework's share and each
    codec part, each measured once (no interval)."""
    if not len(m.outside):
        return []
    o = m.outside[(m.outside["batch_size"] == m.n_ref) & (m.outside["method"] == "hybrid")]
    o = (o if len(o) else m.outside.iloc[[0]]).iloc[0]
    whole, framework = float(o["e2e_mean_ms"]), float(o["framework_ms"])
    rows = [
        m.row(
            "HTTP, framework and thread hand-off",
            "dependency (uvicorn, FastAPI)",
            "every request",
            (framework, framework, framework),
            whole,
            "a leaner server stack; fewer hops",
        )
    ]
    for part, lives in _CODEC_PARTS:
        if f"{part} ms" in o.index:
            ms = float(o[f"{part} ms"])
            how = "time measured on realistic bodies in-process"
            rows.append(m.row(part.capitalize(), lives, "every request", (ms, ms, ms), whole, how))
    return rows


def _gc_pauses(m: _Measured) -> list[dict[str, Any]]:
    if not len(m.gc):
        return []
    ms = float(m.gc[m.gc["generation"] == "all"].iloc[0]["per_request_ms"])
    how = "fewer short-lived objects per request; gc.freeze after start-up"
    return [m.row("Garbage-collection pauses", "runtime (CPython gc)", "every request", (ms, ms, ms), np.nan, how)]


def _cache_memory(m: _Measured) -> list[dict[str, Any]]:
    """Memory: what the similarity cache pins per entry, at its capacity."""
    if not m.memory.get("requests"):
        return []
    # Each traced rerank adds batch_size new pairs to the similarity cache (new query, recurring documents).
    per_entry = m.memory["traced_retained_mib"] / (m.memory["requests"] * m.p.memory.batch_size)
    cap = 50_000
    row = m.row(
        "Key the similarity cache by a digest, not the texts",
        "service code (engine.py)",
        f"similarity cache at capacity ({cap})",
        (np.nan, np.nan, np.nan),
        np.nan,
        f"retained {per_entry * 2**20 / 1024:.2f} KiB per cached pair (tracemalloc), mostly the request's "
        "candidate text the key pins",
    )
    return [{**row, "kind": "memory", "saving_mib": per_entry * cap}]


# Each kind of opportunity of the reference engine's run, in the order they are listed before ranking.
_KINDS = (
    _aer_threads,
    _torch_threads,
    _exact_backend,
    _fewer_shots,
    _document_cache,
    _engine_parts,
    _outside_engine,
    _gc_pauses,
    _cache_memory,
)


def _opportunities(
    p: BottlenecksParams, c: pd.DataFrame, outside: pd.DataFrame, memory: dict[str, Any], gc: pd.DataFrame
) -> pd.DataFrame:
    measured = _Measured(p=p, c=c, outside=outside, memory=memory, gc=gc)
    frame = pd.DataFrame([row for kind in _KINDS for row in kind(measured)])
    if frame.empty:
        return frame
    # An implemented fix stays listed whatever this run measured for it: a reader must see it held (or not).
    keep = (
        (frame["kind"] == "memory")
        | (frame["saving_ms"] >= p.opportunities.min_saving_ms)
        | frame["status"].str.startswith("done")
    )
    frame = frame[keep].sort_values(["kind", "saving_ms", "saving_mib"], ascending=[False, False, False])
    frame.insert(0, "rank", frame.groupby("kind").cumcount() + 1)
    return frame.reset_index(drop=True)


# ------------------------------------------------------------------------------------------ the report


def _read(folder: RunFolder, name: str) -> pd.DataFrame:
    """One of the run's tables; empty when the part of the study that writes it did not run."""
    return folder.read_frame(name, default=pd.DataFrame())


def analyse_bottlenecks(run_dir: str | Path, params: BottlenecksParams) -> BottlenecksReport:
    """The report of the reference engine's run (every table), or of another target's (what the outside gives)."""
    folder = RunFolder(Path(run_dir))
    conf = params.confidence
    info = folder.read_json(INFO_FILE, {})
    thresholds = load_thresholds(params.thresholds_file, "baseline")
    requests, stacks, server = _read(folder, "costs"), _read(folder, "stacks"), _read(folder, "server")
    under, roles = _under_load(stacks)
    rate_hz = info.get("under_load", {}).get("rate_hz")
    load_runs = _load_runs(folder.file("under_load"), server, conf, stacks, rate_hz)
    costs, hot = cost_table(requests, confidence=conf), hot_functions(stacks)
    if info.get("reference_engine", True):
        http = _read(folder, "http")
        tables = _in_process(folder, params, info, http)
        compliance, verdict, reasons = _judgements(params, thresholds, http, tables)
        estimates, extra = _checks(params, tables["components"], info)
    else:
        opportunities = outside_opportunities(
            requests,
            costs,
            load_runs,
            hot,
            reference_batch=params.opportunities.reference_batch,
            rates=params.opportunities.rates_rps,
            min_saving_ms=params.opportunities.min_saving_ms,
            confidence=conf,
        )
        target_gaps = gaps(info, folder.target_probe, has_server=len(server) > 0, has_stacks=len(stacks) > 0)
        tables = {"reference": False, "opportunities": opportunities, "gaps": target_gaps}
        compliance, verdict, reasons = _outside_judgements(requests, params, thresholds["rerank_50_ms"])
        estimates, extra = _outside_checks(costs, info, conf)
    contention = read_contention(folder.path)
    calibration = folder.calibration_s
    checks = stats.reliability_checks(
        estimates=estimates,
        machine_noise_cv=stats.noise_cv(calibration) if calibration else None,
        max_relative_width=0.5,
    )
    probe = folder.target_probe
    return BottlenecksReport(
        params=params,
        **tables,
        under_load=under,
        under_load_roles=roles,
        load_runs=load_runs,
        compliance=compliance,
        verdict=str(verdict),
        verdict_reasons=list(busy_first(reasons, contention)),  # the busy machine before any verdict
        reliability=checks + extra,
        info=info,
        contention=contention,
        costs=costs,
        cost_requests=requests,
        hot=hot,
        target=probe.paragraph() if probe is not None else "",
        thresholds=thresholds,
    )


def _in_process(folder: RunFolder, params: BottlenecksParams, info: dict[str, Any], http) -> dict[str, Any]:
    """The reference engine's tables, as BottlenecksReport fields."""
    conf = params.confidence
    components = _read(folder, "components")
    components["settings"] = components["settings"].fillna("")
    table = breakdown_table(components, confidence=conf)
    codec = _read(folder, "codec")
    outside = _outside(http, codec, conf) if len(http) else pd.DataFrame()
    cold_start = _read(folder, "cold_start")
    if len(cold_start):
        cold_start = (
            cold_start.groupby(["component", "qubits"], dropna=False, sort=False)["ms"]
            .agg(["median", "min", "max", "count"])
            .reset_index()
        )
    gc_rows = _gc(_read(folder, "gc"), info.get("gc", {}).get("requests", 0))
    return {
        "components": components,
        "breakdown": table,
        "explained": _explained(components, table, params.max_unattributed_share),
        "request": _request(table, outside),
        "overhead": _overhead(components, conf),
        "aer_vs_exact": _aer_vs_exact(components, _read(folder, "shots"), conf),
        "cold_start": cold_start,
        "outside": outside,
        **{name: _read(folder, name) for name in ("lines", "memory", "memory_lines", "allocations", "calls")},
        "gc": gc_rows,
        "opportunities": _opportunities(params, components, outside, info.get("tracemalloc", {}), gc_rows),
    }


def _http_judgement(g: pd.DataFrame, params: BottlenecksParams, rerank_50: stats.Threshold, workload: str):
    """rerank_50 judged on the statistic thresholds.yaml names for it, timed-out requests counted at the timeout."""
    ok = (g["status"] == 200).to_numpy()
    timeout_ms = params.request_timeout_s * 1000
    e = latency_statistic(g["e2e_ms"].to_numpy(), ok, rerank_50, confidence=params.confidence, censor_ms=timeout_ms)
    return stats.judge(e, rerank_50, workload=workload)


def _judgements(
    params: BottlenecksParams, thresholds: dict[str, stats.Threshold], http: pd.DataFrame, tables: dict[str, Any]
):
    """(compliance, verdict, reasons): the PRD's per-request targets on what this run measured (over HTTP, in the
    engine, memory), and a warning when the parts do not explain the default-configuration totals."""
    conf = params.confidence
    rerank_50, memory_100 = thresholds["rerank_50_ms"], thresholds["memory_100_docs_gb"]
    statistic = rerank_50.statistic or "p95"
    judgements = {}
    for method in sorted(http["method"].dropna().unique()) if len(http) else []:
        g = http[(http["n_candidates"] == 50) & (http["method"] == method)]
        if len(g):
            judgements[f"rerank 50 documents over HTTP, {statistic} ({method})"] = _http_judgement(
                g, params, rerank_50, "single user over HTTP, 50 documents (embeddings cached)"
            )
    components = tables["components"]
    head = components[_headline(components) & (components["batch_size"] == 50) & (components["component"] == TOTAL)]
    for (method, backend), g in head.groupby(["method", "backend"]):
        e = latency_statistic(g["ms"].to_numpy(), np.ones(len(g), dtype=bool), rerank_50, confidence=conf)
        judgements[f"engine time, {statistic} ({method}, {backend})"] = stats.judge(
            e, rerank_50, workload="one call at a time in-process, 50 documents (embeddings cached)"
        )
    memory = tables["memory"]
    if len(memory) and (memory["documents"] == 100).any():
        peak_gb = float(memory.loc[memory["documents"] == 100, "peak_mib"].iloc[0]) * 2**20 / 1e9
        method = "observed peak RSS of the profiling process"
        e = stats.Estimate(value=peak_gb, low=peak_gb, high=peak_gb, confidence=conf, n=1, method=method)
        judgements["peak memory scoring 100 cold documents (GB)"] = stats.judge(
            e, memory_100, workload="one cold rerank of 100 documents, in-process"
        )
    compliance = compliance_frame(judgements)
    verdict = stats.overall(judgements.values())
    reasons = []
    head_expl = tables["explained"][_headline(tables["explained"])]
    unexplained = head_expl[~head_expl["explained"]]
    if len(unexplained):
        reasons.append(
            f"{len(unexplained)} of {len(head_expl)} default-configuration scenarios have more than "
            f"{params.max_unattributed_share:.0%} of their time unattributed: "
            + ", ".join(unexplained["scenario"].head(5))
        )
        if verdict == stats.Verdict.PASS:
            verdict = stats.Verdict.WARN
    reasons += [f"{r.metric}: {r.verdict} ({r.reason})" for r in compliance.itertuples() if r.verdict != "pass"]
    return compliance, verdict, reasons


def _checks(params: BottlenecksParams, components: pd.DataFrame, info: dict[str, Any]):
    """(estimates, extra checks): interval widths of the scenarios' totals, and whether the under-load profile ran."""
    reps = components[components["component"] == TOTAL].groupby("scenario")["ms"]
    estimates = {f"{s} total": stats.bootstrap_ci(g.to_numpy(), confidence=params.confidence) for s, g in reps}
    under = info.get("under_load", {})
    if info.get("py_spy", False) and "skipped" not in under:
        return estimates, []
    message = under.get("skipped", "py-spy is not installed.")
    return estimates, [stats.Check(name="under-load profile", ok=False, severity="warning", message=message)]


def _outside_judgements(requests: pd.DataFrame, params: BottlenecksParams, rerank_50: stats.Threshold):
    """(compliance, verdict, reasons): the PRD rerank-50 target on the cost sample's 50-document reranks."""
    judgements = {}
    g = requests[(requests["kind"] == "rerank") & (requests["n_candidates"] == 50)] if len(requests) else requests
    if len(g):
        judgements[f"rerank 50 documents over HTTP, {rerank_50.statistic or 'p95'} ({params.outside.method})"] = (
            _http_judgement(g, params, rerank_50, "single user over HTTP, 50 documents, a new query each")
        )
    compliance = compliance_frame(judgements)
    reasons = [f"{r.metric}: {r.verdict} ({r.reason})" for r in compliance.itertuples() if r.verdict != "pass"]
    if not judgements:
        reasons.append(
            "No PRD target is judged: the cost sample has no rerank of 50 documents (add 50 to outside.sizes); "
            "the findings below are about the measured service all the same."
        )
    return compliance, stats.overall(judgements.values()), reasons


def _outside_checks(table: pd.DataFrame, info: dict[str, Any], conf: float):
    """(estimates, extra checks): interval widths of the per-document costs, and whether the budget cut them."""
    estimates = {
        f"{r.kind} per-document cost": stats.Estimate(
            value=r.per_doc_ms,
            low=r.per_doc_low,
            high=r.per_doc_high,
            confidence=conf,
            n=r.requests,
            method="least squares",
            decided=bool(r.decided),
        )
        for r in table.itertuples()
        if r.kind != "similarity" and np.isfinite(r.per_doc_ms)
    }
    cut = info.get("costs") or {}
    if not cut.get("cut_by_budget"):
        return estimates, []
    message = (
        f"cut by its {cut.get('budget_s', 0):.0f} s budget after {cut.get('sent')} of {cut.get('planned')} "
        "requests: the intervals are from the sample it got."
    )
    return estimates, [stats.Check(name="cost by request kind and size", ok=False, severity="warning", message=message)]


def summary(report: BottlenecksReport) -> dict[str, Any]:
    """The key numbers of the run for summary.json and CI."""
    head = report.explained[_headline(report.explained)] if len(report.explained) else report.explained
    o = report.opportunities
    top = o[o["kind"] == "time"].head(5) if len(o) else []
    service = o[o["lives_in"].str.startswith(("service", "the target")) & (o["kind"] == "time")] if len(o) else []
    return {
        **summary_head("bottlenecks", report),
        "scenarios": int(report.components["scenario"].nunique()) if len(report.components) else 0,
        "reference_engine": report.reference,
        "costs": report.costs.to_dict(orient="records"),
        "not_measured": report.gaps.to_dict(orient="records"),
        "max_unattributed_share": float(head["unattributed_share"].abs().max()) if len(head) else None,
        "overhead": report.overhead.to_dict(orient="records"),
        "aer_vs_exact": report.aer_vs_exact.to_dict(orient="records"),
        "outside": report.outside.to_dict(orient="records"),
        "memory": report.memory.to_dict(orient="records"),
        "gc": report.gc.to_dict(orient="records"),
        "load_runs": report.load_runs.to_dict(orient="records"),
        "top_opportunities": []
        if len(top) == 0
        else top[["rank", "opportunity", "lives_in", "saving_ms", "saving_low", "saving_high", "status"]].to_dict(
            orient="records"
        ),
        "top_service_opportunity": None
        if len(service) == 0
        else service.iloc[0][["opportunity", "saving_ms", "saving_low", "saving_high", "status"]].to_dict(),
    }
