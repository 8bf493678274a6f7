"""After ``os.fork()`` (multiprocessing's fork start method, pre-fork servers) telemetry works in the child: its
spans and metrics reach the Collector, under an instance id of its own, and the parent keeps exporting."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import agentvitals
import agentvitals._sdk
from agentvitals.metrics import TASK_DURATION
from tests.stack import OtlpHttpSink, wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX-only")

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def sink() -> Iterator[OtlpHttpSink]:
    with OtlpHttpSink() as receiver:
        agentvitals.init("fork-test", endpoint=receiver.url, instrumentations=[], metric_export_interval=3600)
        try:
            yield receiver
        finally:
            agentvitals.shutdown(timeout_s=10)


def work(name: str) -> int:
    """A child's work: a task with a tool. It does not flush: the child's exit must."""
    with agentvitals.task(name), agentvitals.tool("lookup"):
        pass
    return os.getpid()


def resources_by_span(sink: OtlpHttpSink) -> dict[str, set[str]]:
    """Span name -> the service.instance.id values it arrived with."""
    found: dict[str, set[str]] = {}
    for request in sink.received:
        for resource_spans in getattr(request, "resource_spans", ()):
            instance = next(a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.instance.id")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.setdefault(span.name, set()).add(instance)
    return found


def task_metrics_by_instance(sink: OtlpHttpSink) -> dict[str, set[str]]:
    """service.instance.id -> the task names its task-duration metric points carry."""
    found: dict[str, set[str]] = {}
    for request in sink.received:
        for resource_metrics in getattr(request, "resource_metrics", ()):
            instance = next(a.value.string_value for a in resource_metrics.resource.attributes
                            if a.key == "service.instance.id")
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == TASK_DURATION.name:
                        for point in metric.histogram.data_points:
                            names = {a.value.string_value for a in point.attributes if a.key == "agentvitals.task.name"}
                            found.setdefault(instance, set()).update(names)
    return found


def test_a_forked_childs_spans_and_metrics_arrive_under_its_own_instance(sink: OtlpHttpSink) -> None:
    work("parent-before")
    assert agentvitals.force_flush(timeout_s=10)  # the parent now has a pooled connection the child inherits
    child = FORK.Process(target=work, args=("child",))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0

    wait_until(lambda: "invoke_agent child" in resources_by_span(sink), timeout=30, what="the child's spans")
    work("parent-after")  # the parent is unaffected
    assert agentvitals.force_flush(timeout_s=10)
    spans = resources_by_span(sink)
    (parent,) = spans["invoke_agent parent-before"]
    (child_instance,) = spans["invoke_agent child"]
    assert child_instance != parent and spans["execute_tool lookup"] == {parent, child_instance}
    assert spans["invoke_agent parent-after"] == {parent}
    metrics = task_metrics_by_instance(sink)  # no series of the child collides with the parent's
    assert "child" in metrics[child_instance] and "child" not in metrics.get(parent, set())


def test_points_waiting_at_the_fork_are_recorded_by_the_parent_only(sink: OtlpHttpSink) -> None:
    # Its points wait for the parent's next collection. (Points a collection recorded before the fork are in the
    # SDK's storage, which the child inherits: they would be the child's too.)
    work("parent-waiting")
    child = FORK.Process(target=work, args=("child",))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    wait_until(lambda: "invoke_agent child" in resources_by_span(sink), timeout=30, what="the child's spans")
    assert agentvitals.force_flush(timeout_s=10)
    (parent,) = resources_by_span(sink)["invoke_agent parent-waiting"]
    metrics = task_metrics_by_instance(sink)
    assert metrics[parent] == {"parent-waiting"}
    (child_instance,) = set(metrics) - {parent}
    assert metrics[child_instance] == {"child"}  # the child's copy of the parent's waiting points was dropped


def test_a_fork_pool_delivers_every_task(sink: OtlpHttpSink) -> None:
    pool = FORK.Pool(2)
    try:
        pids = pool.map(work, [f"pooled-{index}" for index in range(6)])
    finally:
        pool.close()  # workers end normally (not terminate()d: SIGTERM ends a process before any flush)
        pool.join()
    assert len(set(pids)) >= 1 and os.getpid() not in pids
    wait_until(lambda: all(f"invoke_agent pooled-{i}" in sink.span_names for i in range(6)), timeout=30,
               what="every pooled task's span")


def hold_then_fork(locks: list[Any]) -> int | None:
    """Fork while another thread holds ``locks``; the child shuts down (bounded) and reports its exit code."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        for lock in locks:
            lock.acquire()
        held.set()
        release.wait(30)
        for lock in reversed(locks):
            lock.release()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(30)
    try:
        child = FORK.Process(target=agentvitals.shutdown, kwargs={"timeout_s": 1.0})
        child.start()
    finally:
        release.set()
        thread.join()
    child.join(timeout=30)
    if child.exitcode is None:
        child.kill()
        child.join()
    return child.exitcode


def test_locks_held_by_another_thread_at_the_fork_do_not_hang_the_child(sink: OtlpHttpSink) -> None:
    runtime = agentvitals._sdk._runtime
    assert runtime is not None and runtime.span_export is not None
    locks = [agentvitals._sdk._lock, runtime.span_export.drops._lock, runtime.span_export._outage._lock]
    assert hold_then_fork(locks) == 0


def pooled_connections(session: Any) -> int:
    return sum(len(adapter.poolmanager.pools) for adapter in session.adapters.values())


def report_pooled_connections(session: Any) -> None:
    os._exit(pooled_connections(session))  # the child's answer, as its exit code


def test_the_child_does_not_reuse_the_parents_pooled_connections() -> None:
    from agentvitals._sdk._fork import fork_safe_session

    session = fork_safe_session()
    with OtlpHttpSink() as receiver:
        session.post(f"{receiver.url}/v1/traces", data=b"")  # the parent now pools a connection
    assert pooled_connections(session) == 1
    child = FORK.Process(target=report_pooled_connections, args=(session,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0  # closed in the child: it opens its own, never writes into the parent's socket
    assert pooled_connections(session) == 1  # the parent's stays usable
