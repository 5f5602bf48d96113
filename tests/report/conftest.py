"""Fixed inputs of the executive report: a suite of four studies, one of which crashed (fixture suite_studies)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from qrbench.report.executive import Bottleneck, Capacity, ComplianceRow, Regression, ReliabilityNote, StudySummary


def key_figure(path: Path) -> Path:
    """A small PNG with labelled axes, standing in for a study's key figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot([10, 25, 50, 100], [40, 95, 210, 480], "-o")
    ax.set_xlabel("documents per rerank")
    ax.set_ylabel("p95 latency (ms)")
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path


def studies(folder: Path, *, crashed: bool = True) -> list[StudySummary]:
    figure = key_figure(folder / "baseline-key.png")
    baseline = StudySummary(
        study="baseline",
        verdict="fail",
        reason="Rerank of 50 documents (quantum) is slower than its target.",
        compliance=(
            ComplianceRow(
                metric="similarity p95",
                target=100.0,
                unit="ms",
                value=41.234,
                low=38.9,
                high=45.01,
                verdict="pass",
                study="baseline",
                workload="one pair, cold cache",
                reason="The interval lies below the target.",
            ),
            ComplianceRow(
                metric="rerank 50 docs p95",
                target=500.0,
                unit="ms",
                value=912.5,
                low=870.0,
                high=math.inf,
                verdict="fail",
                study="baseline",
                workload="quantum, aer backend",
                reason="The whole interval lies above the 500 ms target.",
            ),
            ComplianceRow(
                metric="memory 100 docs",
                target=2.0,
                unit="GB",
                value=1.072898048,
                low=1.07,
                high=1.08,
                verdict="pass",
                study="baseline",
                workload="100 documents, cold",
            ),
        ),
        reliability=(
            ReliabilityNote(name="samples", ok=False, message="Only 40 samples for the p95 of rerank (100 needed)."),
            ReliabilityNote(name="noise", ok=True, message="Machine noise 2 %."),
        ),
        report_link="baseline/baseline.html",
        key_figure=figure.name,
        regression=Regression(
            verdict="unchanged", summary="No metric changed significantly.", previous_run="20261129T101500Z-suite"
        ),
    )
    bottlenecks = StudySummary(
        study="bottlenecks",
        verdict="pass",
        reason="Exact fidelity keeps rerank well under its target.",
        compliance=(
            ComplianceRow(
                metric="rerank 50 docs p95",
                target=500.0,
                unit="ms",
                value=212.0,
                low=200.0,
                high=230.0,
                verdict="pass",
                study="bottlenecks",
                workload="hybrid, exact backend",
            ),
        ),
        bottlenecks=(
            Bottleneck(
                name="one torch thread per worker", saving_ms=391.7, low=350.2, high=430.9, where="service setting"
            ),
            Bottleneck(name="batch the embedding of documents", saving_ms=52.3, where="service code"),
            Bottleneck(name="skip transpilation of cached circuits", saving_ms=88.8, low=70.0, high=101.0),
            Bottleneck(name="orjson responses", saving_ms=1.2),
        ),
        report_link="bottlenecks/bottlenecks.html",
    )
    scalability = StudySummary(
        study="scalability",
        verdict="warn",
        reason="Two workers scale; a third adds nothing on 2 cores.",
        capacity=Capacity(
            rps=14.86,
            low=12.0,
            high=math.inf,
            config="2 workers",
            limited_by="service CPU",
            slo="p95 below 500 ms, 99 % success",
        ),
        scaling="Run 2 workers per 2 cores; add instances, not workers, beyond that (measured up to 2).",
        report_link="scalability/scalability.html",
    )
    out = [baseline, bottlenecks, scalability]
    if crashed:
        out.append(
            StudySummary(
                study="load",
                verdict="error",
                error="RunError: The load study failed in cell 5: ConnectionRefusedError: "
                "[Errno 111] Connection refused (http://127.0.0.1:8931/v1/rerank).",
                what_to_do="Check that the service at --url is running, then rerun the suite.",
            )
        )
    return out


@pytest.fixture
def suite_studies():
    """studies(folder, crashed=True): the fixed summaries, with the key figure written into `folder`."""
    return studies
