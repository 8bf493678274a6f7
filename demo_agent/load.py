"""Load: Poisson arrivals in phases, fed to a worker pool whose size can change while it runs.

The pool is the scale-out target of the control loop (``resize``). It exports its size, busy
workers, queue depth, shed arrivals and worker idle time (workers waiting for work: a second,
separate idleness signal from a task's own idle time).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics

from agentvitals.control.metrics import QUEUE_DEPTH, SHED_TASKS, WORKER_IDLE, WORKERS, WORKERS_BUSY
from agentvitals.metrics import create_instrument

__all__ = ["PHASE_RATES", "Phase", "WorkerPool", "generate_load", "make_phases"]

PHASE_RATES = {"warmup": 0.5, "steady": 1.0, "spike": None, "recovery": 1.0}
"""Rate multipliers by phase name; the spike's comes from the spike multiplier."""
_DEFAULT_SHARES = {"warmup": 0.15, "steady": 0.3, "spike": 0.25, "recovery": 0.3}


@dataclass(frozen=True)
class Phase:
    name: str
    duration_s: float
    rate: float
    """Mean arrivals per second."""


def make_phases(spec: str | None, *, duration_s: float, base_rate: float, spike_multiplier: float) -> list[Phase]:
    """Phases from ``"warmup,steady,spike,recovery"`` (shares of the duration) or ``"name:seconds,..."``.

    Raises ValueError with a clear message for an unknown phase or a bad number.
    """
    items = [part.strip() for part in (spec or ",".join(_DEFAULT_SHARES)).split(",") if part.strip()]
    if not items:
        raise ValueError("no phases given")
    parsed: list[tuple[str, float | None]] = []
    for item in items:
        name, _, seconds = item.partition(":")
        if name not in PHASE_RATES:
            raise ValueError(f"unknown phase {name!r}; known phases: {', '.join(PHASE_RATES)}")
        if seconds:
            try:
                value = float(seconds)
            except ValueError:
                raise ValueError(f"phase {name!r}: {seconds!r} is not a number of seconds") from None
            if value <= 0:
                raise ValueError(f"phase {name!r}: duration must be positive")
            parsed.append((name, value))
        else:
            parsed.append((name, None))
    unspecified = [name for name, seconds in parsed if seconds is None]
    remaining = max(0.0, duration_s - sum(s for _, s in parsed if s is not None))
    total_share = sum(_DEFAULT_SHARES[name] for name in unspecified) or 1.0
    phases = []
    for name, seconds in parsed:
        length = seconds if seconds is not None else remaining * _DEFAULT_SHARES[name] / total_share
        multiplier = spike_multiplier if name == "spike" else PHASE_RATES[name]
        phases.append(Phase(name, length, base_rate * float(multiplier or 1.0)))
    return phases


class WorkerPool:
    """``size`` workers run ``handler`` on queued items; ``resize`` changes the size at run time."""

    def __init__(self, handler: Callable[[Any], Awaitable[None]], *, size: int, max_size: int,
                 queue_limit: int = 200, meter_provider: metrics.MeterProvider | None = None) -> None:
        if not 1 <= size <= max_size:
            raise ValueError(f"pool size must be between 1 and max_size={max_size}, got {size}")
        self._handler = handler
        self.max_size = max_size
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_limit)
        self._workers: list[asyncio.Task[None]] = []
        self._target = 0
        self._active = 0
        self.busy = 0
        self.shed = 0
        self.completed = 0
        self.size_history: list[tuple[float, int]] = []
        meter = metrics.get_meter("agentvitals.demo.pool", meter_provider=meter_provider)
        for metric, read in ((WORKERS, lambda: self._target), (WORKERS_BUSY, lambda: self.busy),
                             (QUEUE_DEPTH, self._queue.qsize)):
            create_instrument(meter, metric, [self._observer(read)])
        self._idle = create_instrument(meter, WORKER_IDLE)
        self._shed = create_instrument(meter, SHED_TASKS)
        self.resize(size)

    @staticmethod
    def _observer(read: Callable[[], int]) -> Callable[[metrics.CallbackOptions], Iterable[metrics.Observation]]:
        def observe(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
            yield metrics.Observation(read())

        return observe

    @property
    def size(self) -> int:
        return self._target

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def resize(self, size: int) -> int:
        """Set the number of workers (clamped to [1, max_size]); extra workers exit after their task."""
        size = max(1, min(self.max_size, size))
        self._target = size
        self._workers = [w for w in self._workers if not w.done()]
        loop = asyncio.get_running_loop()
        while self._active < size:
            self._active += 1
            self._workers.append(loop.create_task(self._work()))
        self.size_history.append((time.time(), size))
        return size

    def submit(self, item: Any) -> bool:
        try:
            self._queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            self.shed += 1
            self._shed.add(1)
            return False

    async def _work(self) -> None:
        while True:
            waiting_since = time.perf_counter()
            item = await self._queue.get()
            self._idle.add(time.perf_counter() - waiting_since)
            self.busy += 1
            try:
                await self._handler(item)
            except Exception:  # deliberate: a failed task must not kill the worker (it is recorded as such)
                pass
            finally:
                self.busy -= 1
                self.completed += 1
                self._queue.task_done()
            if self._active > self._target:  # scaled in: leave after finishing the task in hand
                self._active -= 1
                return

    async def drain(self, timeout_s: float) -> bool:
        """Wait for queued and running tasks to finish; False if ``timeout_s`` passed first."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)


async def generate_load(phases: list[Phase], submit: Callable[[str, int], None], *, seed: int,
                        max_tasks: int | None = None,
                        on_phase: Callable[[Phase], None] | None = None) -> int:
    """Poisson arrivals per phase; ``submit(phase_name, sequence)`` for each. Returns arrivals made."""
    rng = random.Random(seed)
    count = 0
    for phase in phases:
        if on_phase is not None:
            on_phase(phase)
        end = time.perf_counter() + phase.duration_s
        while True:
            gap = rng.expovariate(phase.rate) if phase.rate > 0 else phase.duration_s
            if time.perf_counter() + gap >= end:
                await asyncio.sleep(max(0.0, end - time.perf_counter()))
                break
            await asyncio.sleep(gap)
            submit(phase.name, count)
            count += 1
            if max_tasks is not None and count >= max_tasks:
                return count
    return count
