"""Alert rules rendered from the PRD thresholds: valid for promtool, and they fire (and stay quiet) on series
whose answer is known: `promtool test rules` evaluates them on synthetic histograms and counters."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from qrbench.cli import main as qrbench_main
from qrbench.errors import ParameterError
from qrbench.monitor.alerts import RENDERED_METRICS, RuleWindows, load_thresholds, rules_yaml

THRESHOLDS = Path(__file__).parents[2] / "parameters" / "thresholds.yaml"
promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(promtool is None, reason="promtool is missing (apt-get install prometheus)")


def _rules(**windows) -> str:
    return rules_yaml(load_thresholds(THRESHOLDS), RuleWindows(**windows), source="thresholds.yaml")


def test_every_rendered_threshold_has_a_warning_and_a_critical_alert():
    doc = yaml.safe_load(_rules())
    (group,) = doc["groups"]
    alerts = [r for r in group["rules"] if "alert" in r]
    by_metric = {}
    for a in alerts:
        by_metric.setdefault(a["labels"]["metric"], set()).add(a["labels"]["severity"])
    assert set(by_metric) == set(RENDERED_METRICS)
    assert all(s == {"warning", "critical"} for s in by_metric.values())
    p95 = {a["labels"]["severity"]: a for a in alerts if a["alert"] == "QrbenchLatencyP95High"}
    assert p95["warning"]["expr"].endswith("> 0.5") and p95["critical"]["expr"].endswith("> 0.75")
    assert p95["warning"]["for"] == "120s" and p95["critical"]["for"] == "60s"
    errors = [a["expr"] for a in alerts if a["alert"] == "QrbenchErrorRatioHigh"]
    assert errors == ["job:qrbench_request_errors:ratio > 0.01", "job:qrbench_request_errors:ratio > 0.05"]
    cache = [a["expr"] for a in alerts if a["alert"] == "QrbenchCacheHitRatioLow"]
    assert cache == ["job:qrbench_embedding_cache_hits:ratio < 0.2", "job:qrbench_embedding_cache_hits:ratio < 0.1"]
    # Every load threshold without a rule is named (cpu_utilization and throughput_rps, and the per-kind targets).
    (skipped,) = [line for line in _rules().splitlines() if line.startswith("# Not rendered")]
    assert {"cpu_utilization", "throughput_rps"} <= set(skipped.split(": ")[1].rstrip(".").split(", "))


def test_bad_windows_and_missing_sections_are_named():
    with pytest.raises(ParameterError, match="rate_window_s"):
        RuleWindows(rate_window_s=0)
    with pytest.raises(ParameterError, match="no 'nope' section"):
        load_thresholds(THRESHOLDS, section="nope")


def test_cli_renders_the_rules(capsys):
    assert qrbench_main(["alerts", "render", "-t", str(THRESHOLDS), "--rate-window", "30"]) == 0
    out = capsys.readouterr().out
    assert "[30s]" in out and yaml.safe_load(out)["groups"][0]["name"] == "qrbench"


@needs_promtool
def test_promtool_checks_the_rendered_rules(tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(_rules())
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def _histogram(endpoint: str, slow: bool) -> list[dict[str, str]]:
    """A request-duration histogram growing by 10 requests per 15 s sample for 10 minutes: every request in
    (0.75 s, 1 s] when slow (p95 ≈ 0.99 s, past both limits), in (0.05 s, 0.1 s] otherwise (p95 < 0.1 s)."""
    series = []
    for le in ("0.05", "0.1", "0.5", "0.75", "1.0", "+Inf"):
        grows = le in ("1.0", "+Inf") if slow else le != "0.05"
        labels = f'job="qrbench",instance="a:1",endpoint="{endpoint}",method="classical",le="{le}"'
        series.append(
            {"series": f"qrbench_request_duration_seconds_bucket{{{labels}}}", "values": "0+10x40" if grows else "0x40"}
        )
    return series


@needs_promtool
def test_promtool_p95_alert_fires_on_slow_requests_and_not_on_fast_ones(tmp_path):
    (tmp_path / "rules.yml").write_text(_rules())
    slow = {"endpoint": "/v1/rerank", "job": "qrbench"}
    firing = [
        {
            "exp_labels": {**slow, "severity": s, "metric": "p95_ms"},
            "exp_annotations": {
                "summary": f"P95 latency of /v1/rerank is 987.5ms, above the {level} {limit} ms (p95_ms {level})."
            },
        }
        for s, level, limit in (("warning", "target", 500), ("critical", "threshold", 750))
    ]
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": _histogram("/v1/rerank", slow=True) + _histogram("/v1/similarity", slow=False),
                "alert_rule_test": [
                    # 45 s in: past both limits but not yet for 60 s / 120 s: pending, so nothing fires.
                    {"eval_time": "45s", "alertname": "QrbenchLatencyP95High", "exp_alerts": []},
                    # 90 s in: the critical alert has held for its 60 s; the warning needs 120 s.
                    {"eval_time": "90s", "alertname": "QrbenchLatencyP95High", "exp_alerts": firing[1:]},
                    {"eval_time": "5m", "alertname": "QrbenchLatencyP95High", "exp_alerts": firing},
                ],
                "promql_expr_test": [
                    {
                        "expr": 'job_endpoint:qrbench_request_duration_seconds:p95{endpoint="/v1/similarity"} < 0.1',
                        "eval_time": "5m",
                        "exp_samples": [
                            {
                                "labels": "job_endpoint:qrbench_request_duration_seconds:p95"
                                '{endpoint="/v1/similarity",job="qrbench"}',
                                "value": 0.0975,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_shedding_and_cache_alerts(tmp_path):
    (tmp_path / "rules.yml").write_text(_rules())
    base = 'job="qrbench",instance="a:1"'
    ok = f'qrbench_requests_total{{{base},endpoint="/v1/rerank",method="classical",status="200"}}'
    shed = f'qrbench_requests_total{{{base},endpoint="/v1/rerank",method="classical",status="503"}}'
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [
                    # 90 answered, 10 refused per sample: 10 % shed, past the 1 % target and the 5 % threshold.
                    {"series": ok, "values": "0+90x40"},
                    {"series": shed, "values": "0+10x40"},
                    {"series": f"qrbench_rejected_requests_total{{{base}}}", "values": "0+10x40"},
                    # Half the embedding lookups hit: above both cache limits (20 % target, 10 % threshold).
                    {"series": f"qrbench_embedding_cache_hits_total{{{base}}}", "values": "0+50x40"},
                    {"series": f"qrbench_embedding_cache_misses_total{{{base}}}", "values": "0+50x40"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "QrbenchSheddingHigh",
                        "exp_alerts": [
                            {
                                "exp_labels": {"job": "qrbench", "severity": s, "metric": "success_ratio"},
                                "exp_annotations": {
                                    "summary": "The share of requests refused with 503 (concurrency bound) is "
                                    f"10%, above the {level} {limit} (1 - success_ratio {level})."
                                },
                            }
                            for s, level, limit in (("warning", "target", "1%"), ("critical", "threshold", "5%"))
                        ],
                    },
                    {"eval_time": "5m", "alertname": "QrbenchCacheHitRatioLow", "exp_alerts": []},
                    {"eval_time": "5m", "alertname": "QrbenchLatencyP95High", "exp_alerts": []},
                ],
            }
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
