"""Admission by queueing delay, and cancellation of work whose client has gone.

A concurrency bound alone either refuses too early (a short burst) or, with a queue behind it, lets
latency grow without bound (the queue fills, every admitted request waits). Here a request that finds
every computation slot taken may wait for one, but only within its budget: its wait is predicted from
the queue ahead of it and the recent time a request holds a slot (Little's law: slots / hold time is
the completion rate), and a request predicted to wait past the budget is refused at once with 503 and
a Retry-After; a waiter whose prediction was wrong is refused when its budget runs out (a deadline per
request, as CoDel bounds the sojourn time). So the admitted requests' latency stays near the
computation time plus at most the budget, and the rest fail fast.

A request whose client disconnects stops: it leaves the queue if it is waiting, and if it is computing,
its `cancel` event is set so the engine stops at its next stage (and withdraws texts not yet encoded);
its slot is released only when the computation has really finished, so the concurrency bound holds.

`Admission` lives on the event loop (not thread-safe, no locks): create it and call `run` from there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import QrbenchError

__all__ = ["Admission", "Overloaded", "ClientGone"]

# Weight of the newest slot-hold time in the moving average: ~10 requests of memory, quick to follow a
# change of load, steady enough not to flap on one slow request.
_EWMA_WEIGHT = 0.2


class Overloaded(QrbenchError):
    """Refused: the request would wait past its queueing budget. retry_after_s: whole seconds (>= 1)."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ClientGone(QrbenchError):
    """The client disconnected before its answer was ready; nothing is left to answer."""


class _Timeout(Exception):
    pass


class Admission:
    """At most `slots` computations at once; waits for a slot bounded by `queue_budget_s` seconds."""

    def __init__(self, *, slots: int, queue_budget_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if slots < 1:
            raise ValueError(f"slots is {slots!r}; it must be 1 or more.")
        if queue_budget_s < 0:
            raise ValueError(f"queue_budget_s is {queue_budget_s!r}; it must be 0 (never wait) or more seconds.")
        self.slots = slots
        self.queue_budget_s = queue_budget_s
        self.clock = clock
        self.in_flight = 0  # slots taken (computations running, including abandoned ones still finishing)
        self.shed = 0  # refused: predicted or actual wait past the budget
        self.gone = 0  # clients that disconnected while waiting or computing
        self.hold_s: float | None = None  # moving average of the time a request holds a slot
        self._waiters: deque[asyncio.Future] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def predicted_wait_s(self) -> float | None:
        """Seconds a request arriving now would wait for a slot (None: no estimate yet)."""
        if self.in_flight < self.slots and not self.waiting:
            return 0.0
        if self.hold_s is None:
            return None
        return (self.waiting + 1) * self.hold_s / self.slots

    def refusal(self, waited_s: float = 0.0) -> Overloaded | None:
        """The Overloaded a request that arrived waited_s seconds ago would get now, or None if it would be
        admitted or may wait. Counted as shed. For refusing before doing any work for the request (under
        overload most requests are refused, and validating their bodies would take the CPU the admitted
        ones need); `run` decides again when it is called."""
        if self.in_flight < self.slots and not self.waiting:
            return None
        return self._shed_past(max(0.0, self.queue_budget_s - waited_s))

    def _shed_past(self, budget_s: float) -> Overloaded | None:
        wait = self.predicted_wait_s()
        if budget_s == 0 or (wait is not None and wait > budget_s):
            self.shed += 1
            return self._refusal(wait)
        return None

    async def run(
        self,
        pool: concurrent.futures.Executor,
        fn: Callable[..., Any],
        *args: Any,
        receive: Callable[[], Awaitable[dict]] | None = None,
        waited_s: float = 0.0,
    ) -> tuple[Any, float]:
        """fn(*args, cancel=event) in `pool` once a slot is free: (result, computation milliseconds).

        receive: the request's ASGI receive channel, watched for the client's disconnect. waited_s:
        seconds the request already spent in the service before admission (reading and parsing it on a
        busy event loop), taken off its budget. Raises Overloaded (refused, at once or when the budget
        ran out) or ClientGone.
        """
        watcher = asyncio.ensure_future(_disconnected(receive)) if receive is not None else None
        try:
            await self._acquire_or_gone(watcher, max(0.0, self.queue_budget_s - waited_s))
            cancel = threading.Event()
            started = self.clock()
            work = pool.submit(fn, *args, cancel=cancel)
            # The slot is released when the computation has finished, not when its client left.
            loop = asyncio.get_running_loop()
            work.add_done_callback(lambda _: _call_soon(loop, self._release, self.clock() - started))
            result = asyncio.wrap_future(work)
            waiting = {result}
            if watcher is not None:
                waiting.add(watcher)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if watcher is not None and watcher in done:
                cancel.set()
                work.cancel()  # not started yet: it never will be
                result.add_done_callback(_retrieve)  # its Cancelled outcome is expected, not an error to log
                self.gone += 1
                raise ClientGone("The client disconnected during the computation.")
            return work.result(), (self.clock() - started) * 1000
        finally:
            if watcher is not None and not watcher.done():
                watcher.cancel()

    async def _acquire_or_gone(self, watcher: asyncio.Future | None, budget_s: float) -> None:
        if self.in_flight < self.slots and not self.waiting:
            self.in_flight += 1
            return
        if (refused := self._shed_past(budget_s)) is not None:
            raise refused
        loop = asyncio.get_running_loop()
        slot = loop.create_future()
        self._waiters.append(slot)
        timer = loop.call_later(budget_s, lambda: slot.done() or slot.set_exception(_Timeout()))
        try:
            if watcher is None:
                await slot
            else:
                done, _ = await asyncio.wait({slot, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if slot not in done:
                    slot.cancel()
                    self.gone += 1
                    raise ClientGone("The client disconnected while waiting for a computation slot.")
                slot.result()
        except _Timeout:
            self.shed += 1
            raise self._refusal(self.predicted_wait_s()) from None
        except BaseException:
            # Granted in the same instant as cancelled: pass the slot on rather than leak it.
            if slot.done() and not slot.cancelled() and slot.exception() is None:
                self._release(None)
            raise
        finally:
            timer.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(slot)

    def _refusal(self, wait_s: float | None) -> Overloaded:
        retry = max(1, math.ceil(wait_s if wait_s is not None else self.queue_budget_s))
        return Overloaded(
            f"Overloaded: {self.slots} requests are being computed and a new one would wait more than "
            f"{self.queue_budget_s * 1000:.0f} ms; retry shortly.",
            retry_after_s=retry,
        )

    def _release(self, hold_s: float | None) -> None:
        if hold_s is not None:
            self.hold_s = hold_s if self.hold_s is None else (1 - _EWMA_WEIGHT) * self.hold_s + _EWMA_WEIGHT * hold_s
        while self._waiters:
            slot = self._waiters.popleft()
            if not slot.done():
                slot.set_result(None)  # the slot passes to the oldest waiter: in_flight is unchanged
                return
        self.in_flight -= 1


async def _disconnected(receive: Callable[[], Awaitable[dict]]) -> None:
    """Returns when the ASGI channel reports the client's disconnect (the body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed (shutdown) while the computation finished
        loop.call_soon_threadsafe(fn, *args)


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
