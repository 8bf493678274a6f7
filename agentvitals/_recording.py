"""Metric points taken on the caller's path, recorded through the SDK's instruments when a reader collects.

A synchronous instrument of the SDK validates and hashes a point's attributes and offers it to the exemplar
reservoir on the calling thread: ~0.12 M instructions a point, and an LLM call records five. With ``init()``,
the instruments instrumentation uses are :class:`Recorder` proxies instead: a point is a tuple appended to a
bounded queue (~5 k instructions), and the queue is recorded through the very same public instruments at the
start of each collection, linked to the point's span (so a sampled span is still its exemplar). The
recorder's observable instrument is what runs it: the SDK calls observable callbacks before it reads the
synchronous instruments, so every export and every scrape includes every point taken before it; the
callback itself observes nothing. A counter's points of one series are added up there: one or two SDK calls
per series and collection instead of one per point.

Bounded: when ``limit`` points wait (a process making more calls per collection interval than that), a point
is recorded on the caller as it would be without a recorder, so memory stays bounded and nothing is lost. A
waiting point keeps its span's identity, not its context (an ended span, with its attributes, is not kept
alive). Two differences remain: an exemplar's timestamp is when its point was recorded, at the collection,
not when it was taken; and attributes passed to a proxy must not be mutated afterwards (the SDK asks the same).

Uses the OpenTelemetry API only.
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace

_logger = logging.getLogger("agentvitals")

__all__ = ["Recorder"]

DEFAULT_LIMIT = 8192
"""Points waiting at most: 2.6 MB measured, full of LLM calls' points (a point holds its attributes, shared by
the points of an operation, and its span's identity); at an export every 10 s, ~160 LLM calls a second (five
points each) before points are recorded on the caller."""

_COLLECTOR_INSTRUMENT = "agentvitals.recorder.collect"
_CHECK_EVERY = 256
"""Points recorded between two looks at the collection's deadline."""

Point = tuple[Callable[..., None], float, Mapping[str, Any] | None, trace.SpanContext]
_NO_SPAN = otel_context.Context()


class Recorder:
    """A bounded queue of metric points, recorded through their instruments by :meth:`record_waiting`."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._waiting: deque[Point] = deque()
        self._counters: set[Callable[..., None]] = set()
        self._last_context: tuple[otel_context.Context | None, trace.SpanContext] = (
            None, trace.INVALID_SPAN_CONTEXT)

    def collect_with(self, meter: metrics.Meter) -> None:
        """Record the waiting points at the start of every collection of ``meter``'s provider.

        One callback per meter serves every recorder on it: a provider keeps the first observable instrument of
        a name and ignores the callbacks of a later one (a second ``init()`` on the application's provider)."""
        recorders = _recorders.get(meter)
        if recorders is None:
            recorders = _recorders[meter] = weakref.WeakSet()
            meter.create_observable_gauge(_COLLECTOR_INSTRUMENT, [functools.partial(_record_all_waiting, recorders)],
                                          description="records agentvitals' waiting points; observes nothing")
        recorders.add(self)

    def histogram(self, histogram: metrics.Histogram) -> metrics.Histogram:
        return _DeferredHistogram(histogram.record, self)

    def counter(self, counter: metrics.Counter) -> metrics.Counter:
        add = counter.add  # one bound method: the queue's points are told apart by it
        self._counters.add(add)
        return _DeferredCounter(add, self)

    def waiting(self) -> int:
        return len(self._waiting)

    def record_waiting(self, deadline_ns: int | None = None) -> int:
        """Record the points waiting now (by ``deadline_ns``, when given); returns how many it took.

        A counter's points of one series are added up: the first one in a sampled span is recorded on its own
        (the series' exemplar, linked to its span), the others in one sum linked to no span. The SDK keeps one
        exemplar per counter series and collection, so the export is the same, for one or two SDK calls per series
        instead of one per point."""
        waiting, counters = self._waiting, self._counters
        sums: dict[tuple[Any, ...], _Sum] = {}
        taken = 0
        last: tuple[trace.SpanContext | None, otel_context.Context] = (None, _NO_SPAN)
        try:
            while True:
                if (deadline_ns is not None and taken and taken % _CHECK_EVERY == 0
                        and time.monotonic_ns() >= deadline_ns):
                    return taken
                try:  # popleft is atomic: two threads recording at once never take a point twice
                    method, amount, attributes, span_context = waiting.popleft()
                except IndexError:
                    return taken
                taken += 1
                if method in counters:
                    key = (method, *attributes.items()) if attributes else (method,)
                    try:
                        summed = sums.get(key)
                    except TypeError:  # an unhashable attribute value: recorded on its own
                        pass
                    else:
                        if summed is None:
                            summed = sums[key] = _Sum(method, attributes)
                        if summed.exemplar_recorded or not span_context.trace_flags.sampled:
                            summed.amount += amount  # the series has its exemplar, or this point cannot be one
                            continue
                        summed.exemplar_recorded = True
                if last[0] is not span_context:  # the exemplar's link: the point's span, by its identity
                    last = (span_context, trace.set_span_in_context(trace.NonRecordingSpan(span_context))
                            if span_context.is_valid else _NO_SPAN)
                _record(method, amount, attributes, last[1])
        finally:
            for summed in sums.values():
                if summed.amount or not summed.exemplar_recorded:  # an add of 0 still makes the series exist
                    _record(summed.add, summed.amount, summed.attributes, _NO_SPAN)

    def forget(self) -> None:
        """Drop the waiting points (in a forked child: the parent records them)."""
        self._waiting.clear()


class _Sum:
    """A counter series' points added up during one collection."""

    __slots__ = ("add", "attributes", "amount", "exemplar_recorded")

    def __init__(self, add: Callable[..., None], attributes: Mapping[str, Any] | None) -> None:
        self.add = add
        self.attributes = attributes
        self.amount: float = 0
        self.exemplar_recorded = False
        """One point was recorded on its own, linked to its span."""


_recorders: weakref.WeakKeyDictionary[metrics.Meter, weakref.WeakSet[Recorder]] = weakref.WeakKeyDictionary()
"""The recorders on each meter that its handler (or runtime) still holds."""


def _record_all_waiting(recorders: weakref.WeakSet[Recorder],
                        options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    # Half the collection's time at most: the SDK abandons a collection whose callbacks outlive it.
    deadline_ns = time.monotonic_ns() + int(options.timeout_millis * 1e6) // 2
    for recorder in list(recorders):
        recorder.record_waiting(deadline_ns)
    return ()


def _record(method: Callable[..., None], amount: float, attributes: Mapping[str, Any] | None,
            context: otel_context.Context) -> None:
    try:
        method(amount, attributes, context)
    except Exception:  # deliberate: one bad point must not stop the others (the SDK logs its own)
        _logger.debug("agentvitals: could not record a metric point", exc_info=True)


class _Deferred:
    """An instrument's recording method, through a :class:`Recorder`: what a point needs is queued, its context
    reduced to the span's identity (a waiting point must not keep an ended span, with its attributes, alive)."""

    __slots__ = ("_method", "_recorder")

    def __init__(self, method: Callable[..., None], recorder: Recorder) -> None:
        self._method = method
        self._recorder = recorder

    def _take(self, amount: float, attributes: Mapping[str, Any] | None = None,
              context: otel_context.Context | None = None) -> None:
        recorder = self._recorder
        if len(recorder._waiting) >= recorder.limit:
            self._method(amount, attributes, context)
            return
        seen = recorder._last_context  # the points of one operation share their context: one lookup for all
        if seen[0] is context and context is not None:
            span_context = seen[1]
        else:
            span_context = trace.get_current_span(context).get_span_context()  # None: the caller's current
            recorder._last_context = (context, span_context)
        recorder._waiting.append((self._method, amount, attributes, span_context))


class _DeferredHistogram(_Deferred, metrics.Histogram):
    record = _Deferred._take


class _DeferredCounter(_Deferred, metrics.Counter):
    add = _Deferred._take
