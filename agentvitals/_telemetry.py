"""The telemetry handler: one object holding the tracer, the instruments, the prices and the settings.

Instrumentation code receives a :class:`Telemetry` (or asks :func:`current`) and never touches the
SDK: it uses the OpenTelemetry API only, so without ``init()`` everything is a cheap no-op.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import metrics, trace

from agentvitals import names
from agentvitals._version import __version__

if TYPE_CHECKING:
    from agentvitals._aggregation import InProcessMetrics
    from agentvitals._pricing import PriceTable
    from agentvitals._tasks import TaskRun

__all__ = ["LLMMetrics", "Telemetry", "activate", "create_instrument", "current", "deactivate"]

Recorder = Callable[[float, Any], None]
"""A measurement into one attribute set of one instrument: ``(amount, telemetry.exemplar(span))``."""


class WaitTracker(Protocol):
    """Registers task spans so their descendant spans are attributed to the task (see ``_accounting``)."""

    def begin_task(self, span: trace.Span, run: TaskRun) -> None: ...


def create_instrument(meter: metrics.Meter, metric: names.Metric, callbacks: Sequence[Any] | None = None) -> Any:
    """The instrument for a registry metric: name, unit, description (and buckets) typed once, in ``names``.
    With ``callbacks`` the observable kind of the metric's instrument, else the synchronous one."""
    common: dict[str, Any] = {"unit": metric.unit, "description": metric.description}
    kind = metric.instrument
    if callbacks is not None:
        create = {names.Instrument.GAUGE: meter.create_observable_gauge,
                  names.Instrument.COUNTER: meter.create_observable_counter,
                  names.Instrument.UP_DOWN_COUNTER: meter.create_observable_up_down_counter}.get(kind)
        if create is None:
            raise ValueError(f"{metric.name}: a {kind.value} cannot be observed")
        return create(metric.name, list(callbacks), **common)
    if kind is names.Instrument.HISTOGRAM:
        return meter.create_histogram(metric.name, explicit_bucket_boundaries_advisory=list(metric.buckets or ()),
                                      **common)
    if kind is names.Instrument.COUNTER:
        return meter.create_counter(metric.name, **common)
    if kind is names.Instrument.UP_DOWN_COUNTER:
        return meter.create_up_down_counter(metric.name, **common)
    raise ValueError(f"{metric.name}: a {kind.value} is observed: pass callbacks")


class Telemetry:
    """Everything an instrumentation needs to emit, bound to one tracer and one meter provider."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        pricing: PriceTable | None = None,
        capture_content: bool = False,
        content_max_length: int = 2000,
        waits: WaitTracker | None = None,
        in_process: InProcessMetrics | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(
            names.INSTRUMENTATION_SCOPE, __version__, tracer_provider, schema_url=names.SCHEMA_URL
        )
        self.meter_provider = meter_provider
        """The provider init() set up (None: the global one); other emitters in the process can share it."""
        meter = metrics.get_meter(names.INSTRUMENTATION_SCOPE, __version__, meter_provider, schema_url=names.SCHEMA_URL)
        # In-process aggregation when init() set it up for its own MeterProvider (see _aggregation).
        made = {m.name: in_process.instrument(m) if in_process is not None else create_instrument(meter, m)
                for m in names.METRICS if m.emitter == "agentvitals" and m is not names.TELEMETRY_DROPPED}
        self.operation_duration = made[names.OPERATION_DURATION.name]
        self.token_usage = made[names.TOKEN_USAGE.name]
        self.time_to_first_chunk = made[names.TIME_TO_FIRST_CHUNK.name]
        self.tokens = made[names.TOKENS.name]
        self.cost = made[names.COST.name]
        self.unpriced_calls = made[names.UNPRICED_CALLS.name]
        self.tool_duration = made[names.TOOL_DURATION.name]
        self.retrieval_duration = made[names.RETRIEVAL_DURATION.name]
        self.task_duration = made[names.TASK_DURATION.name]
        self.task_cost = made[names.TASK_COST.name]
        self.task_active = made[names.TASK_ACTIVE.name]
        self.task_idle = made[names.TASK_IDLE.name]
        self.task_child = made[names.TASK_CHILD.name]
        self.budget_exhausted = made[names.BUDGET_EXHAUSTED.name]
        self.cache_requests = made[names.CACHE_REQUESTS.name]
        self.cache_saved = made[names.CACHE_SAVED.name]
        self._meter = meter
        self.exemplar: Callable[[trace.Span], Any] = (
            in_process.exemplar if in_process is not None else trace.set_span_in_context
        )
        """What links a bound recorder's measurement to a span (its exemplar when sampled)."""
        self._llm_metrics: dict[tuple[str, str, str | None], LLMMetrics] = {}
        self._pricing = pricing
        self.capture_content = capture_content
        self.content_max_length = content_max_length
        self.waits = waits

    def bind(self, instrument: Any, attributes: Mapping[str, Any]) -> Recorder:
        """A recorder for one attribute set of one of our instruments (in-process ones bind their series)."""
        if hasattr(instrument, "bind"):
            return instrument.bind(attributes)  # type: ignore[no-any-return]
        measure = instrument.record if hasattr(instrument, "record") else instrument.add

        def record(amount: float, context: Any) -> None:
            measure(amount, attributes, context=context)

        return record

    def llm_metrics(self, operation: str, provider: str, model: str | None) -> LLMMetrics:
        """The metric series of LLM calls with these labels, bound once and reused."""
        key = (operation, provider, model)
        found = self._llm_metrics.get(key)
        if found is None:
            found = LLMMetrics(self, operation, provider, model)
            if len(self._llm_metrics) < _BOUND_LLM_LABEL_SETS:  # request models are caller input: bounded
                self._llm_metrics[key] = found
        return found

    def observe_drops(self, read: Any) -> None:
        """Export ``read() -> {(signal, error_type): count}`` as the telemetry-dropped counter."""

        def observe(options: metrics.CallbackOptions) -> Any:
            for (signal, error), count in read().items():
                yield metrics.Observation(count, {names.TELEMETRY_SIGNAL: signal, names.ERROR_TYPE: error})

        create_instrument(self._meter, names.TELEMETRY_DROPPED, [observe])

    @property
    def pricing(self) -> PriceTable:
        if self._pricing is None:  # loaded on first priced call, not at import
            from agentvitals._pricing import load_price_table

            self._pricing = load_price_table()
        return self._pricing

    def clip(self, text: str) -> str:
        """Captured content, bounded in length."""
        limit = self.content_max_length
        return text if len(text) <= limit else text[:limit] + "…[truncated]"


_BOUND_LLM_LABEL_SETS = 1000


class LLMMetrics:
    """The metric series an LLM call with one (operation, provider, request model) records into. Each recorder
    creates its series on first use, so a kind of token never reported exports nothing."""

    __slots__ = ("labels", "duration", "time_to_first_chunk", "input_tokens", "output_tokens", "cache_read_tokens",
                 "cache_write_tokens", "reasoning_tokens", "cost", "unpriced_calls")

    def __init__(self, telemetry: Telemetry, operation: str, provider: str, model: str | None) -> None:
        labels = {names.GEN_AI_OPERATION_NAME: operation, names.GEN_AI_PROVIDER_NAME: provider}
        if model:
            labels[names.GEN_AI_REQUEST_MODEL] = model
        self.labels: Mapping[str, str] = labels
        bind = telemetry.bind
        self.duration = bind(telemetry.operation_duration, labels)
        self.time_to_first_chunk = bind(telemetry.time_to_first_chunk, labels)
        self.input_tokens = bind(telemetry.token_usage, {**labels, names.GEN_AI_TOKEN_TYPE: "input"})
        self.output_tokens = bind(telemetry.token_usage, {**labels, names.GEN_AI_TOKEN_TYPE: "output"})
        self.cache_read_tokens, self.cache_write_tokens, self.reasoning_tokens = (
            bind(telemetry.tokens, {**labels, names.TOKEN_TYPE: token_type.value})
            for token_type in (names.TokenType.CACHE_READ, names.TokenType.CACHE_WRITE, names.TokenType.REASONING)
        )
        self.cost = bind(telemetry.cost, labels)
        self.unpriced_calls = bind(telemetry.unpriced_calls, labels)


_active: Telemetry | None = None
_default: Telemetry | None = None
_lock = threading.Lock()


def current() -> Telemetry:
    """The handler ``init()`` activated, or one bound to the global providers (no-op without an SDK)."""
    active = _active
    if active is not None:
        return active
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Telemetry()
    return _default


def activate(telemetry: Telemetry) -> None:
    global _active
    _active = telemetry


def deactivate() -> None:
    global _active
    _active = None
