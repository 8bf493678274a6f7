"""Our counters and histograms, aggregated in-process and handed to the SDK's readers at collection.

Why: one measurement through the SDK's generic path costs ~8 µs (attribute validation, hashing of the
attribute set, exemplar filter, one storage per reader), and an LLM call records five: that was half
of our per-call overhead (see the README's overhead section). Here a measurement is one lookup by
the attributes' items, a bisect and a few additions under the series' own lock. Readers receive
ordinary SDK points — same names, units, descriptions, buckets, cumulative temporality, trace-based
exemplars (per reader, the last sampled measurement per bucket since it last collected, as the SDK's
aligned-bucket reservoir keeps) and
the SDK's cardinality limit — merged into the scope the SDK collected.

``init()`` uses this only for a MeterProvider it creates and only when every reader asks for the
defaults (cumulative sums and histograms, default aggregation): see :func:`supports`. Otherwise, and
without ``init()``, :class:`~agentvitals._telemetry.Telemetry` makes ordinary API instruments.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from typing import Any

from opentelemetry.context import Context, get_current
from opentelemetry.sdk.metrics._internal.exemplar import Exemplar
from opentelemetry.sdk.metrics._internal.instrument import _Counter, _Histogram
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.view import DefaultAggregation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import TraceFlags
from opentelemetry.trace.propagation import _SPAN_KEY

from agentvitals import names

_logger = logging.getLogger("agentvitals")

__all__ = ["CARDINALITY_LIMIT", "InProcessMetrics", "exemplar_of", "supports"]

CARDINALITY_LIMIT = 2000
"""Attribute sets per metric before new ones fold into one overflow series (the SDK's default)."""
_OVERFLOW: Mapping[str, Any] = {"otel.metric.overflow": True}

_Key = tuple[tuple[str, Any], ...]
_Exemplar = tuple[int, int, int]
"""(time_unix_nano, span_id, trace_id) of a sampled span's measurement."""
# (value, time_unix_nano, span_id, trace_id) of a sampled measurement; an Exemplar is built at collection.
_Sample = tuple[float, int, int, int]


def exemplar_of(span: Any) -> _Exemplar | None:
    """(time, span_id, trace_id) for a measurement linked to ``span`` if it is sampled (the SDK's trace-based
    exemplar filter), else ``None``. Taken once per operation, shared by all of its measurements."""
    get_span_context = getattr(span, "get_span_context", None)
    if get_span_context is None:
        return None
    span_context = get_span_context()
    if span_context.trace_flags & TraceFlags.SAMPLED:
        return time_ns(), span_context.span_id, span_context.trace_id
    return None


def _exemplar_in(context: Context | None) -> _Exemplar | None:
    """The exemplar of the span in ``context`` (else the current one). Reads the context's span slot directly:
    ``trace.get_current_span`` checks the value against the abstract ``Span`` class, which alone costs more
    than the rest of a measurement."""
    return exemplar_of((context if context is not None else get_current()).get(_SPAN_KEY))


def _hashable(value: Any) -> Any:
    """A sequence as a tuple (as the SDK stores it), anything else unhashable as its ``str``."""
    if isinstance(value, (list, tuple)):
        value = tuple(value)
    try:
        hash(value)
    except TypeError:
        return str(value)
    return value


class _Series:
    """One attribute set of one metric. Counters use ``total`` and one exemplar slot."""

    __slots__ = ("attributes", "lock", "count", "total", "minimum", "maximum", "buckets", "exemplars")

    def __init__(self, attributes: Mapping[str, Any], buckets: int) -> None:
        self.attributes = dict(attributes)
        self.lock = threading.Lock()
        self.count = 0
        self.total: float = 0
        self.minimum = float("inf")
        self.maximum = float("-inf")
        self.buckets = [0] * buckets
        self.exemplars: list[_Sample | None] = [None] * max(buckets, 1)

    def exemplars_between(self, since_ns: int, now_ns: int) -> list[Exemplar]:
        """The samples recorded after ``since_ns`` (a reader's previous collection) up to ``now_ns``: each
        reader gets the last sampled measurement per bucket since it last collected, as it would from
        its own SDK reservoir."""
        return [Exemplar({}, value, at, span_id, trace_id)
                for sample in self.exemplars if sample is not None
                for value, at, span_id, trace_id in (sample,) if since_ns < at <= now_ns]


class _Instrument:
    def __init__(self, metric: names.Metric, buckets: int) -> None:
        self.metric = metric
        self._buckets = buckets
        self._by_key: dict[_Key, _Series] = {}
        """Keyed by the items in the order the caller passed them (the cheap key)…"""
        self._by_set: dict[frozenset[tuple[str, Any]], _Series] = {}
        """…and by the attribute set, so one set in two orders is still one series."""
        self._create = threading.Lock()

    def measure(self, amount: float, attributes: Mapping[str, Any] | None = None,
                context: Context | None = None) -> None:
        """The SDK instrument's ``record``/``add``: negative and NaN amounts are dropped, as the SDK drops them."""
        if amount >= 0:
            self._update(self._series(attributes), amount, _exemplar_in(context))

    def bind(self, attributes: Mapping[str, Any]) -> Callable[[float, _Exemplar | None], None]:
        """A recorder for one attribute set: ``(amount, exemplar_of(span))``, without looking the set up each time."""
        return _Bound(self, attributes)

    def _update(self, series: _Series, amount: float, exemplar: _Exemplar | None) -> None:
        raise NotImplementedError

    def _series(self, attributes: Mapping[str, Any] | None) -> _Series:
        key: _Key = tuple(attributes.items()) if attributes else ()
        try:
            series = self._by_key.get(key)
        except TypeError:  # an unhashable value
            attributes = {name: _hashable(value) for name, value in (attributes or {}).items()}
            key = tuple(attributes.items())
            series = self._by_key.get(key)
        return series if series is not None else self._new_series(key, attributes or {})

    def _new_series(self, key: _Key, attributes: Mapping[str, Any]) -> _Series:
        with self._create:
            series = self._by_key.get(key)
            if series is not None:
                return series
            attribute_set = frozenset(key)
            series = self._by_set.get(attribute_set)
            if series is None:
                if len(self._by_set) >= CARDINALITY_LIMIT:
                    attribute_set, attributes = frozenset(_OVERFLOW.items()), _OVERFLOW
                    series = self._by_set.get(attribute_set)
                if series is None:
                    series = self._by_set[attribute_set] = _Series(attributes, self._buckets)
            # Bounded too: orders of one set are few, and overflowed sets share one series object.
            if len(self._by_key) < 4 * CARDINALITY_LIMIT:
                self._by_key[key] = series
            return series

    def collect(self, start_ns: int, since_ns: int, now_ns: int) -> Metric | None:
        points = [self._point(series, start_ns, since_ns, now_ns) for series in list(self._by_set.values())]
        if not points:
            return None
        return Metric(self.metric.name, self.metric.description, self.metric.unit, self._data(points))

    def _point(self, series: _Series, start_ns: int, since_ns: int, now_ns: int) -> Any:
        raise NotImplementedError

    def _data(self, points: list[Any]) -> Any:
        raise NotImplementedError


class _Bound:
    """One attribute set of one instrument. Its series is created by the first measurement, so an attribute set
    that is bound but never measured exports nothing (as with the SDK)."""

    __slots__ = ("_instrument", "_attributes", "_series")

    def __init__(self, instrument: _Instrument, attributes: Mapping[str, Any]) -> None:
        self._instrument = instrument
        self._attributes = attributes
        self._series: _Series | None = None

    def __call__(self, amount: float, exemplar: _Exemplar | None) -> None:
        if amount >= 0:
            series = self._series
            if series is None:
                series = self._series = self._instrument._series(self._attributes)
            self._instrument._update(series, amount, exemplar)


class _InProcessHistogram(_Instrument):
    def __init__(self, metric: names.Metric) -> None:
        if not metric.buckets:
            raise ValueError(f"{metric.name}: a histogram needs buckets in the registry")
        self._bounds = tuple(float(b) for b in metric.buckets)
        super().__init__(metric, len(self._bounds) + 1)

    def _update(self, series: _Series, amount: float, exemplar: _Exemplar | None) -> None:
        index = bisect_left(self._bounds, amount)  # a value on a bound counts in that bound's bucket (le)
        with series.lock:
            series.count += 1
            series.total += amount
            if amount < series.minimum:
                series.minimum = amount
            if amount > series.maximum:
                series.maximum = amount
            series.buckets[index] += 1
        if exemplar is not None:
            series.exemplars[index] = (amount, *exemplar)

    record = _Instrument.measure

    def _point(self, series: _Series, start_ns: int, since_ns: int, now_ns: int) -> HistogramDataPoint:
        with series.lock:
            return HistogramDataPoint(
                attributes=dict(series.attributes), start_time_unix_nano=start_ns, time_unix_nano=now_ns,
                count=series.count, sum=series.total, bucket_counts=list(series.buckets),
                explicit_bounds=self._bounds, min=series.minimum, max=series.maximum,
                exemplars=series.exemplars_between(since_ns, now_ns),
            )

    def _data(self, points: list[Any]) -> Histogram:
        return Histogram(points, AggregationTemporality.CUMULATIVE)


class _InProcessCounter(_Instrument):
    def __init__(self, metric: names.Metric) -> None:
        super().__init__(metric, 0)

    def _update(self, series: _Series, amount: float, exemplar: _Exemplar | None) -> None:
        with series.lock:
            series.total += amount
        if exemplar is not None:
            series.exemplars[0] = (amount, *exemplar)

    add = _Instrument.measure

    def _point(self, series: _Series, start_ns: int, since_ns: int, now_ns: int) -> NumberDataPoint:
        with series.lock:
            return NumberDataPoint(dict(series.attributes), start_ns, now_ns, series.total,
                                   series.exemplars_between(since_ns, now_ns))

    def _data(self, points: list[Any]) -> Sum:
        return Sum(points, AggregationTemporality.CUMULATIVE, is_monotonic=True)


def supports(readers: Sequence[MetricReader]) -> bool:
    """True when every reader wants what we aggregate: cumulative counters and histograms with the
    default aggregation (then our buckets, as the registry's views give them). Checked through the
    SDK's reader attributes; an SDK without them gets the ordinary instruments."""
    try:
        for reader in readers:
            for kind in (_Counter, _Histogram):
                if reader._instrument_class_temporality[kind] is not AggregationTemporality.CUMULATIVE:
                    return False
                if not isinstance(reader._instrument_class_aggregation[kind], DefaultAggregation):
                    return False
            if not hasattr(reader, "_collect"):  # what attach() wraps (set when a provider registers the reader)
                return False
    except (AttributeError, KeyError):
        return False
    return True


class InProcessMetrics:
    """The instruments of one MeterProvider's ``agentvitals`` scope, and the merge into its readers."""

    def __init__(self, scope: InstrumentationScope, resource: Resource) -> None:
        self._scope = scope
        self._resource = resource
        self._start_ns = time_ns()
        self._instruments: list[_Instrument] = []

    exemplar = staticmethod(exemplar_of)
    """What bound recorders take to link a measurement to a span."""

    def instrument(self, metric: names.Metric) -> Any:
        """A stand-in for the SDK instrument of a registry counter or histogram (same record/add call)."""
        made: _Instrument
        if metric.instrument is names.Instrument.HISTOGRAM:
            made = _InProcessHistogram(metric)
        elif metric.instrument is names.Instrument.COUNTER:
            made = _InProcessCounter(metric)
        else:
            raise ValueError(f"{metric.name}: only counters and histograms are aggregated in-process")
        self._instruments.append(made)
        return made

    def attach(self, readers: Sequence[MetricReader]) -> None:
        """Have each reader's collection (periodic export, Prometheus scrape, in-memory read) include ours."""
        for reader in readers:
            reader._collect = self._merging(reader._collect)

    def _merging(self, collect: Callable[..., MetricsData | None]) -> Callable[..., MetricsData | None]:
        last_collected = self._start_ns

        def merged(reader: MetricReader, timeout_millis: float = 10_000) -> MetricsData | None:
            nonlocal last_collected
            now = time_ns()
            data = collect(reader, timeout_millis=timeout_millis)
            try:
                data = self.merge(data, since_ns=last_collected, now_ns=now)
            except Exception:  # deliberate: a bug of ours must not cost the reader the SDK's own metrics
                _logger.warning("agentvitals: could not add in-process metrics to a collection", exc_info=True)
            last_collected = now
            return data

        return merged

    def collect(self, since_ns: int, now_ns: int) -> list[Metric]:
        """Cumulative points now; exemplars from after ``since_ns``."""
        return [metric for instrument in self._instruments
                if (metric := instrument.collect(self._start_ns, since_ns, now_ns))]

    def merge(self, data: MetricsData | None, since_ns: int, now_ns: int) -> MetricsData | None:
        """``data`` with our metrics added to our scope (created if the SDK had nothing for it)."""
        ours = self.collect(since_ns, now_ns)
        if not ours:
            return data
        resources = list(data.resource_metrics) if data is not None else []
        if not resources:
            resources = [ResourceMetrics(self._resource, [], self._resource.schema_url)]
        first = resources[0]
        scopes = list(first.scope_metrics)
        for index, scope_metrics in enumerate(scopes):
            if scope_metrics.scope == self._scope:
                scopes[index] = ScopeMetrics(self._scope, [*scope_metrics.metrics, *ours], scope_metrics.schema_url)
                break
        else:
            scopes.append(ScopeMetrics(self._scope, ours, self._scope.schema_url or ""))
        resources[0] = ResourceMetrics(first.resource, scopes, first.schema_url)
        return MetricsData(resources)
