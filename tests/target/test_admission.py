"""Admission by queueing delay: refuse at once past the budget, wait within it, stop work whose client left."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from qrbench.target.admission import Admission, ClientGone, Overloaded


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def blocking(release: threading.Event, started: threading.Event | None = None):
    def fn(*, cancel: threading.Event) -> str:
        if started is not None:
            started.set()
        release.wait(30)
        return "done"

    return fn


@pytest.fixture
def pool():
    with concurrent.futures.ThreadPoolExecutor(4) as p:
        yield p


def test_a_request_predicted_to_wait_past_its_budget_is_refused_at_once(pool):
    async def main():
        clock = FakeClock()
        adm = Admission(slots=1, queue_budget_s=0.1, clock=clock)
        # One request held its slot for 10 s: the estimate of the hold time.
        release, started = threading.Event(), threading.Event()
        first = asyncio.ensure_future(adm.run(pool, blocking(release, started)))
        while not started.is_set():
            await asyncio.sleep(0.01)
        clock.now = 10.0
        release.set()
        assert (await first)[0] == "done"
        while adm.in_flight:
            await asyncio.sleep(0.01)
        assert adm.hold_s == pytest.approx(10.0)
        # Now the slot is taken again; a newcomer would wait ~10 s > 0.1 s: refused without waiting.
        hold = threading.Event()
        busy = asyncio.ensure_future(adm.run(pool, blocking(hold)))
        await asyncio.sleep(0)
        with pytest.raises(Overloaded, match="Overloaded") as refused:
            await adm.run(pool, blocking(hold))
        assert refused.value.retry_after_s == 10
        assert adm.shed == 1 and adm.waiting == 0
        hold.set()
        await busy

    asyncio.run(main())


def test_a_waiter_gets_the_freed_slot_within_its_budget(pool):
    async def main():
        adm = Admission(slots=1, queue_budget_s=30.0)
        release, started = threading.Event(), threading.Event()
        first = asyncio.ensure_future(adm.run(pool, blocking(release, started)))
        while not started.is_set():
            await asyncio.sleep(0.01)
        second = asyncio.ensure_future(adm.run(pool, blocking(release)))
        await asyncio.sleep(0.05)
        assert adm.waiting == 1 and adm.in_flight == 1
        release.set()
        assert (await first)[0] == "done" and (await second)[0] == "done"
        assert adm.in_flight == 0 and adm.shed == 0

    asyncio.run(main())


def test_a_waiter_past_its_deadline_is_refused(pool):
    async def main():
        adm = Admission(slots=1, queue_budget_s=0.05)  # no estimate yet: it may wait, up to 50 ms
        release, started = threading.Event(), threading.Event()
        first = asyncio.ensure_future(adm.run(pool, blocking(release, started)))
        while not started.is_set():
            await asyncio.sleep(0.01)
        with pytest.raises(Overloaded):
            await adm.run(pool, blocking(release))
        assert adm.waiting == 0 and adm.in_flight == 1
        release.set()
        await first
        assert adm.in_flight == 0

    asyncio.run(main())


def test_time_already_spent_before_admission_counts_against_the_budget(pool):
    async def main():
        adm = Admission(slots=1, queue_budget_s=30.0)
        release, started = threading.Event(), threading.Event()
        first = asyncio.ensure_future(adm.run(pool, blocking(release, started)))
        while not started.is_set():
            await asyncio.sleep(0.01)
        with pytest.raises(Overloaded):  # it spent its whole budget before reaching admission
            await adm.run(pool, blocking(release), waited_s=31.0)
        release.set()
        await first

    asyncio.run(main())


def test_zero_budget_never_waits(pool):
    async def main():
        adm = Admission(slots=1, queue_budget_s=0.0)
        release, started = threading.Event(), threading.Event()
        first = asyncio.ensure_future(adm.run(pool, blocking(release, started)))
        while not started.is_set():
            await asyncio.sleep(0.01)
        with pytest.raises(Overloaded) as refused:
            await adm.run(pool, blocking(release))
        assert refused.value.retry_after_s == 1
        release.set()
        await first

    asyncio.run(main())


def test_a_disconnect_cancels_waiting_and_computing_requests_and_keeps_the_bound(pool):
    async def main():
        adm = Admission(slots=1, queue_budget_s=30.0)
        gone = asyncio.Event()

        async def receive() -> dict:
            await gone.wait()
            return {"type": "http.disconnect"}

        seen: list[threading.Event] = []
        release, started = threading.Event(), threading.Event()

        def fn(*, cancel: threading.Event) -> str:
            seen.append(cancel)
            started.set()
            release.wait(30)
            return "done"

        computing = asyncio.ensure_future(adm.run(pool, fn, receive=receive))
        while not started.is_set():
            await asyncio.sleep(0.01)
        waiting = asyncio.ensure_future(adm.run(pool, fn, receive=receive))
        await asyncio.sleep(0.05)
        gone.set()
        for task in (computing, waiting):
            with pytest.raises(ClientGone):
                await task
        assert len(seen) == 1 and seen[0].is_set()  # the waiter never started; the running one was told
        assert adm.in_flight == 1  # the abandoned computation still holds its slot until it ends
        release.set()
        while adm.in_flight:
            await asyncio.sleep(0.01)
        assert adm.gone == 2 and adm.waiting == 0

    asyncio.run(main())


def test_settings_are_checked():
    with pytest.raises(ValueError, match="slots"):
        Admission(slots=0, queue_budget_s=1.0)
    with pytest.raises(ValueError, match="queue_budget_s"):
        Admission(slots=1, queue_budget_s=-1.0)


# ---- through the real service ----------------------------------------------------------------------------

LONG_DOCS = [
    f"Document {i}: " + " ".join(f"the {w} clause {i} governs arbitration and appeal deadlines" for w in range(30))
    for i in range(40)
]


def test_nothing_is_computed_after_the_clients_left(make_service):
    """Clients that give up (timeout) before their cold rerank finishes: the computed count stays at 0."""
    url, app = make_service(
        max_concurrency=2, compute_threads=2, embedding_cache_size=0, similarity_cache_size=0, queue_budget_ms=30_000
    )
    svc = app.state.service
    engine = svc.engine
    computed_before, cancelled_before = engine.counters.computed, engine.counters.cancelled

    def abandon(i: int) -> str:
        body = {"query": f"appeal deadline question {i}", "candidates": LONG_DOCS, "method": "hybrid"}
        try:
            httpx.post(url + "/v1/rerank", json=body, timeout=0.3)
        except httpx.TimeoutException:
            return "gave up"
        return "answered"

    with concurrent.futures.ThreadPoolExecutor(6) as clients:
        outcomes = list(clients.map(abandon, range(6)))
    assert outcomes == ["gave up"] * 6
    deadline = time.monotonic() + 120
    while svc.admission.in_flight and time.monotonic() < deadline:
        time.sleep(0.1)
    assert svc.admission.in_flight == 0
    computed = engine.counters.computed - computed_before
    assert computed == 0
    assert engine.counters.cancelled - cancelled_before >= 1
    assert svc.admission.gone == 6  # every client was noticed leaving
    time.sleep(1.0)
    assert engine.counters.computed - computed_before == 0  # and nothing started later
    # The same counts reach a scraper: /metrics exports what the admission and the engine counted.
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(url + "/metrics").text)}
    assert families["qrbench_admission_client_gone"].samples[0].value == svc.admission.gone
    outcomes = {
        s.labels["outcome"]: s.value for s in families["qrbench_computations"].samples if s.name.endswith("_total")
    }
    assert outcomes == {"completed": engine.counters.computed, "cancelled": engine.counters.cancelled}
    assert families["qrbench_admission_shed"].samples[0].value == svc.admission.shed


def test_refusal_is_decided_before_any_work_and_counted():
    """Admission.refusal: None while a slot is free; Overloaded (counted as shed) when the predicted wait
    exceeds what is left of the budget after the time the request already spent."""

    async def main():
        adm = Admission(slots=1, queue_budget_s=0.5)
        assert adm.refusal() is None and adm.shed == 0
        adm.in_flight, adm.hold_s = 1, 0.4  # one computation holds the slot; a newcomer would wait ~0.4 s
        assert adm.refusal(waited_s=0.0) is None  # 0.4 s fits the 0.5 s budget: it may wait
        refused = adm.refusal(waited_s=0.2)  # only 0.3 s of its budget is left
        assert isinstance(refused, Overloaded) and refused.retry_after_s == 1
        assert adm.shed == 1 and adm.in_flight == 1 and adm.waiting == 0

    asyncio.run(main())


def test_a_saturated_service_refuses_before_validating_the_body(make_service):
    """While the only slot computes a long cold rerank, a malformed request is answered 503 (shed before its
    body is parsed, so refusals cost the loop almost nothing); once the slot is free the same body gets 422."""
    url, app = make_service(
        max_concurrency=1, compute_threads=1, embedding_cache_size=0, similarity_cache_size=0, queue_budget_ms=0
    )
    svc = app.state.service
    # Documents no earlier test embedded (the tests share one embedder and its cache): a slow cold rerank.
    fresh = [f"{d} [refuse-early {i} {time.time_ns()}]" for i, d in enumerate(LONG_DOCS * 2)]
    slow = {"query": "appeal deadline question", "candidates": fresh, "method": "hybrid"}
    malformed = {"query": "appeal deadline question", "candidates": "not a list", "method": "hybrid"}
    with concurrent.futures.ThreadPoolExecutor(1) as client:
        first = client.submit(httpx.post, url + "/v1/rerank", json=slow, timeout=300)
        deadline = time.monotonic() + 60
        while svc.admission.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert svc.admission.in_flight == 1
        shed = httpx.post(url + "/v1/rerank", json=malformed, timeout=30)
        assert not first.done(), "the long rerank ended before the second request: the test proves nothing"
        assert shed.status_code == 503 and "Overloaded" in shed.json()["error"]
        assert int(shed.headers["Retry-After"]) >= 1
        assert first.result().status_code == 200
    assert httpx.post(url + "/v1/rerank", json=malformed, timeout=30).status_code == 422
