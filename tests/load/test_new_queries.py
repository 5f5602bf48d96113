"""A load study sends a new query in every request by default (production queries are unique; documents recur),
with every engine: checked on the bodies a real loopback server received, the pool being far smaller than the
number of requests so that a replay would repeat queries."""

from __future__ import annotations

import pytest

from qrbench.deploy.probe import CONTRACT
from qrbench.studies.load import LoadParams, run_load_study


def scenario(**overrides) -> LoadParams:
    base = dict(
        name="new-queries",
        model="open",
        rate_rps=20,
        arrivals="uniform",
        duration_s=3,
        mix={"similarity": 0.5, "rerank_small": 0.5},
        pool_size=8,
        request_timeout_s=5,
        sample_interval_s=0.5,
    )
    return LoadParams(**{**base, **overrides})


# The study probes its target first (one cheap request per contract endpoint): those are not the load's.
PROBE_QUERIES = {body.get("query", body.get("text1")) for body in CONTRACT.values()}


def load_queries(server) -> list[str]:
    return [q for q in server.queries if q not in PROBE_QUERIES]


@pytest.mark.parametrize(
    "engine",
    [
        "native",
        "artillery",  # .ci/run installs it: never skipped
    ],
)
def test_every_request_carries_a_query_never_sent_before(server, tmp_path, engine):
    url = f"http://127.0.0.1:{server.server_address[1]}"
    processes = 2 if engine == "native" else 1
    run_load_study(scenario(processes=processes), tmp_path / "run", url=url, progress=False, engine=engine)
    queries = load_queries(server)
    assert len(queries) >= 40, f"only {len(queries)} requests arrived"
    assert len(set(queries)) == len(queries), "a query was sent twice"
    assert all(" [q" in q for q in queries)


def test_replaying_the_pool_repeats_its_queries(server, tmp_path):
    url = f"http://127.0.0.1:{server.server_address[1]}"
    run_load_study(scenario(new_queries=False), tmp_path / "run", url=url, progress=False)
    queries = load_queries(server)
    assert len(queries) >= 40 and len(set(queries)) <= 8
