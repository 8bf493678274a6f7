"""The handler instrumentation emits through: a tracer, the registry's instruments, prices and the content policy.

Instrumentation code uses the OpenTelemetry API only: without ``init()`` the handler is bound to the global
(no-op) providers and everything is a cheap no-op. ``init()`` activates a handler bound to the providers it
set up; :func:`current` returns it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import Counter, Histogram

from agentvitals import metrics as registry
from agentvitals._content import ContentPolicy
from agentvitals._genai_metrics import GenAIInstruments
from agentvitals._pricing import PriceTable, load_price_table
from agentvitals._recording import Recorder
from agentvitals._version import __version__
from agentvitals.attributes import INSTRUMENTATION_SCOPE
from agentvitals.metrics import GenAIConventions, genai_conventions

__all__ = ["Handler", "Instruments", "activate", "current", "deactivate"]


@dataclass(frozen=True)
class Instruments:
    """The synchronous instruments of the registry metrics agentvitals records itself. ``genai`` holds
    those whose names depend on the generation of GenAI conventions (tool and retrieval durations too)."""

    genai: GenAIInstruments
    cost: Counter
    unpriced_calls: Counter
    uninstrumented_calls: Counter
    rejected_values: Counter
    task_duration: Histogram
    task_cost: Counter
    task_active: Counter
    task_idle: Counter
    task_child: Counter
    budget_exhausted: Counter
    cache_requests: Counter
    cache_saved: Counter
    # explain (issue 14)
    errors: Counter
    task_critical_path: Counter
    task_parallelizable: Counter
    task_saveable: Counter
    task_findings: Counter

    @property
    def tool_duration(self) -> Histogram:
        return self.genai.tool_duration  # type: ignore[no-any-return]

    @property
    def retrieval_duration(self) -> Histogram:
        return self.genai.retrieval_duration  # type: ignore[no-any-return]

    @classmethod
    def create(cls, meter: metrics.Meter, conventions: GenAIConventions | None = None,
               recorder: Recorder | None = None) -> Instruments:
        """The instruments on ``meter``; with a ``recorder``, its proxies of them (points recorded at collection)."""
        made = {
            "cost": registry.COST,
            "unpriced_calls": registry.UNPRICED_CALLS,
            "uninstrumented_calls": registry.UNINSTRUMENTED_CALLS,
            "rejected_values": registry.REJECTED_VALUES,
            "task_duration": registry.TASK_DURATION,
            "task_cost": registry.TASK_COST,
            "task_active": registry.TASK_ACTIVE,
            "task_idle": registry.TASK_IDLE,
            "task_child": registry.TASK_CHILD,
            "budget_exhausted": registry.BUDGET_EXHAUSTED,
            "cache_requests": registry.CACHE_REQUESTS,
            "cache_saved": registry.CACHE_SAVED,
            "errors": registry.ERRORS,
            "task_critical_path": registry.TASK_CRITICAL_PATH,
            "task_parallelizable": registry.TASK_PARALLELIZABLE,
            "task_saveable": registry.TASK_SAVEABLE,
            "task_findings": registry.TASK_FINDINGS,
        }

        def create(metric: registry.Metric) -> Any:
            instrument = registry.create_instrument(meter, metric)
            if recorder is None:
                return instrument
            if metric.instrument is registry.Instrument.HISTOGRAM:
                return recorder.histogram(instrument)
            return recorder.counter(instrument)

        return cls(GenAIInstruments(conventions or genai_conventions(), create),
                   **{field_name: create(metric) for field_name, metric in made.items()})


@dataclass
class Handler:
    """Everything an instrumentation needs to emit, bound to one tracer provider and one meter provider."""

    tracer: trace.Tracer
    instruments: Instruments
    content: ContentPolicy = field(default_factory=ContentPolicy)
    _pricing: PriceTable | None = None
    conventions: GenAIConventions = field(default_factory=genai_conventions)
    """The generation of GenAI names this handler emits (``init(genai_names=...)``)."""
    stream_usage: bool = False
    """Ask OpenAI-compatible chat streams for their usage when the caller did not (``init(stream_usage=)``)."""
    recorder: Recorder | None = None
    """Where the instruments' points wait for the next collection (``init()``'s handler); ``None``: recorded at
    once."""

    @classmethod
    def create(cls, *, tracer_provider: trace.TracerProvider | None = None,
               meter_provider: metrics.MeterProvider | None = None, pricing: PriceTable | None = None,
               content: ContentPolicy | None = None, conventions: GenAIConventions | None = None,
               stream_usage: bool = False, recorder: Recorder | None = None) -> Handler:
        """A handler on these providers (``None``: the global ones), emitting ``conventions`` (default: v1.41);
        with a ``recorder``, its points are recorded when the meter provider collects."""
        conventions = conventions or genai_conventions()
        schema_url = conventions.schema_url
        tracer = trace.get_tracer(INSTRUMENTATION_SCOPE, __version__, tracer_provider, schema_url=schema_url)
        meter = metrics.get_meter(INSTRUMENTATION_SCOPE, __version__, meter_provider, schema_url=schema_url)
        if recorder is not None:
            recorder.collect_with(meter)
        return cls(tracer, Instruments.create(meter, conventions, recorder), content or ContentPolicy(), pricing,
                   conventions, stream_usage, recorder)

    @property
    def pricing(self) -> PriceTable:
        if self._pricing is None:  # loaded on the first priced call, not at import
            self._pricing = load_price_table()
        return self._pricing


_active: Handler | None = None
_default: Handler | None = None
_lock = threading.Lock()


def current() -> Handler:
    """The handler ``init()`` activated, or one bound to the global providers (no-op without an SDK)."""
    active = _active
    if active is not None:
        return active
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Handler.create()
    return _default


def activate(handler: Handler) -> None:
    global _active
    _active = handler


def deactivate() -> None:
    global _active
    _active = None
