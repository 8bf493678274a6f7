"""Metric points wait for the next collection (``agentvitals._recording``): every collection includes every point
taken before it, with its exemplar linked to its span; nothing is lost, counted twice, or kept alive."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

import agentvitals
from agentvitals._handler import Handler, current
from agentvitals._recording import Recorder
from agentvitals.metrics import COST, TASK_DURATION
from tests.conftest import Telemetry


@pytest.fixture
def provider() -> Iterator[tuple[MeterProvider, InMemoryMetricReader]]:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield meter_provider, reader
    meter_provider.shutdown()


def counter_total(reader: InMemoryMetricReader, name: str) -> float:
    data = reader.get_metrics_data()
    return sum(point.value for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics
               for metric in sm.metrics if metric.name == name for point in metric.data.data_points)


def recorder_on(meter_provider: MeterProvider, limit: int = 8192) -> tuple[Recorder, Any]:
    recorder = Recorder(limit)
    meter = meter_provider.get_meter("test")
    recorder.collect_with(meter)
    return recorder, recorder.counter(meter.create_counter("calls"))


def test_points_wait_for_a_collection_which_includes_every_one_of_them(telemetry: Telemetry) -> None:
    recorder = current().recorder
    assert recorder is not None  # init()'s handler records at collection
    for _ in range(3):
        with agentvitals.task("waiting"):
            pass
    assert recorder.waiting() > 0
    assert len(telemetry.points(TASK_DURATION.name)[0].exemplars) >= 1  # the collection recorded them first
    assert recorder.waiting() == 0
    assert telemetry.points(TASK_DURATION.name)[0].count == 3


def test_a_points_exemplar_links_to_the_span_it_was_taken_in(telemetry: Telemetry) -> None:
    with agentvitals.task("linked"):
        pass
    (span,) = telemetry.spans("invoke_agent linked")
    (point,) = telemetry.points(TASK_DURATION.name)
    exemplar = point.exemplars[-1]
    assert (exemplar.trace_id, exemplar.span_id) == (span.context.trace_id, span.context.span_id)


def test_a_waiting_point_does_not_keep_its_span_alive(provider: tuple[MeterProvider, InMemoryMetricReader]) -> None:
    meter_provider, reader = provider
    recorder, counter = recorder_on(meter_provider)
    tracer = TracerProvider().get_tracer("test")
    spans = [tracer.start_span("first"), tracer.start_span("second")]
    for span in spans:  # the recorder remembers the latest context only (its points share it)
        counter.add(1, {"a": "b"}, context=trace.set_span_in_context(span))
        span.end()
    first = weakref.ref(spans[0])
    del spans[0], span
    gc.collect()
    assert first() is None and recorder.waiting() == 2
    assert counter_total(reader, "calls") == 2


def test_a_counters_points_of_one_series_are_recorded_as_the_first_then_one_sum() -> None:
    calls: list[tuple[float, Any, trace.SpanContext]] = []

    class Spy:
        def add(self, amount: float, attributes: Any = None, context: Any = None) -> None:
            calls.append((amount, attributes, trace.get_current_span(context).get_span_context()))

    recorder = Recorder()
    counter = recorder.counter(Spy())  # type: ignore[arg-type]
    tracer = TracerProvider().get_tracer("test")
    spans = [tracer.start_span(f"call {index}") for index in range(3)]
    for span in spans:
        counter.add(2, {"model": "a"}, context=trace.set_span_in_context(span))
    counter.add(5, {"model": "b"}, context=trace.set_span_in_context(spans[0]))
    counter.add(1, {"tags": ["unhashable"]})
    counter.add(1, {"tags": ["unhashable"]})
    assert recorder.record_waiting() == 6
    first_a = (2, {"model": "a"}, spans[0].get_span_context())
    b = (5, {"model": "b"}, spans[0].get_span_context())
    rest_of_a = (4, {"model": "a"}, trace.INVALID_SPAN_CONTEXT)  # linked to no span: not an exemplar
    assert sorted(calls, key=repr) == sorted(
        [first_a, b, *[(1, {"tags": ["unhashable"]}, trace.INVALID_SPAN_CONTEXT)] * 2, rest_of_a], key=repr)


def test_a_full_queue_records_on_the_caller_and_loses_nothing(
        provider: tuple[MeterProvider, InMemoryMetricReader]) -> None:
    meter_provider, reader = provider
    recorder, counter = recorder_on(meter_provider, limit=10)
    for _ in range(25):
        counter.add(1, {"a": "b"})
    assert recorder.waiting() == 10  # bounded: the other 15 were recorded at once
    assert counter_total(reader, "calls") == 25


def test_threads_taking_and_collecting_at_once_record_each_point_once(
        provider: tuple[MeterProvider, InMemoryMetricReader]) -> None:
    meter_provider, reader = provider
    recorder, counter = recorder_on(meter_provider, limit=1_000_000)
    start = threading.Barrier(5)

    def take() -> None:
        start.wait()
        for _ in range(5_000):
            counter.add(1, {"a": "b"})

    def collect() -> None:
        start.wait()
        for _ in range(50):
            recorder.record_waiting()

    threads = [threading.Thread(target=take) for _ in range(3)] + [threading.Thread(target=collect) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter_total(reader, "calls") == 15_000


def test_a_collection_stops_at_its_deadline_and_the_rest_waits(
        provider: tuple[MeterProvider, InMemoryMetricReader]) -> None:
    meter_provider, reader = provider
    recorder, counter = recorder_on(meter_provider)
    for _ in range(1000):
        counter.add(1, {"a": "b"})
    recorded = recorder.record_waiting(deadline_ns=0)  # long past
    assert 0 < recorded < 1000 and recorder.waiting() == 1000 - recorded
    assert counter_total(reader, "calls") == 1000  # the next collection takes the rest


def test_a_point_that_cannot_be_recorded_does_not_stop_the_others(
        provider: tuple[MeterProvider, InMemoryMetricReader]) -> None:
    meter_provider, reader = provider
    recorder, counter = recorder_on(meter_provider)

    class Broken:
        def add(self, *_: Any) -> None:
            raise RuntimeError("broken instrument")

    broken = recorder.counter(Broken())  # type: ignore[arg-type]
    counter.add(1)
    broken.add(1)
    counter.add(1)
    assert counter_total(reader, "calls") == 2 and recorder.waiting() == 0


def test_shutdown_records_the_waiting_points_into_the_applications_provider() -> None:
    reader = InMemoryMetricReader()
    application_provider = MeterProvider(metric_readers=[reader])
    agentvitals.init("app-provider", endpoint=False, meter_provider=application_provider, instrumentations=[])
    try:
        with agentvitals.llm_call("openai", "gpt-4o-mini") as call:
            call.record(input_tokens=1000, output_tokens=100)
        waiting = current().recorder
        assert waiting is not None and waiting.waiting() > 0
    finally:
        agentvitals.shutdown(timeout_s=5)
    assert counter_total(reader, COST.name) > 0  # the application's provider still collects them
    application_provider.shutdown()


def test_every_init_on_the_applications_provider_has_its_points_collected() -> None:
    # The provider keeps the first observable instrument of a name and ignores a later one's callbacks.
    reader = InMemoryMetricReader()
    application_provider = MeterProvider(metric_readers=[reader])
    try:
        for _ in range(2):
            agentvitals.init("app-provider", endpoint=False, meter_provider=application_provider,
                             instrumentations=[])
            with agentvitals.task("cycle"):
                pass
            data = reader.get_metrics_data()  # a collection while this init() is active
            agentvitals.shutdown(timeout_s=5)
        (point,) = [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                    if m.name == TASK_DURATION.name for p in m.data.data_points]
        assert point.count == 2
    finally:
        application_provider.shutdown()


def test_a_handler_without_a_recorder_records_at_once(provider: tuple[MeterProvider, InMemoryMetricReader]) -> None:
    meter_provider, reader = provider
    handler = Handler.create(meter_provider=meter_provider)  # what instrumentation uses without init()
    handler.instruments.cost.add(0.5, {"gen_ai.provider.name": "openai"})
    assert handler.recorder is None
    data = reader.get_metrics_data()
    assert sum(point.value for rm in data.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics
               if metric.name == COST.name for point in metric.data.data_points) == 0.5
