"""What a request costs outside the engine, against a real service on loopback."""

from __future__ import annotations

import json

from qrbench.profile import CODEC_PARTS, measure_codec, measure_http

DOCS = [
    "Metformin lowers blood glucose in type 2 diabetes.",
    "The court reversed the judgment.",
    "Routers forward packets by longest-prefix match.",
    "Insulin is added when control is poor.",
]


def test_outside_the_engine_is_end_to_end_minus_server_time(service):
    url, _ = service
    bodies = [
        json.dumps({"query": f"diabetes drugs {i}", "candidates": DOCS, "method": "hybrid"}).encode() for i in range(4)
    ]
    frame = measure_http(url, bodies)
    assert (frame["status"] == 200).all()
    assert (frame["e2e_ms"] > frame["server_ms"]).all()
    assert (frame["outside_ms"] > 0).all()
    assert (frame["n_candidates"] == 4).all()
    codec = measure_codec(list(zip(bodies, frame["response"], strict=True)), repeats=3)
    assert set(codec["component"]) == set(CODEC_PARTS)
    assert len(codec) == 4 * 3 * len(CODEC_PARTS)
    assert (codec["ms"] > 0).all()
    # The service's own parsing and rendering are a small part of what lies outside the engine.
    assert codec.groupby("request")["ms"].sum().median() / 3 < frame["outside_ms"].median()


def test_a_refused_request_is_a_row_not_an_exception(service):
    url, _ = service
    frame = measure_http(url, [json.dumps({"query": "", "candidates": DOCS}).encode()])
    assert frame["status"].iloc[0] == 422
    assert "server_ms" not in frame or frame["server_ms"].isna().all()
