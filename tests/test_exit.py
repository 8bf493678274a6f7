"""Exit and ``shutdown()`` are bounded whatever the Collector does, and what does not make it is counted and
logged once.

Each case runs the README quick start (``tests/programs/quickstart.py``) in a fresh interpreter against a
Collector that is healthy, absent (a closed port), a blackhole (accepts nothing, never answers), refusing
(503, which exporters retry) or slower than the deadline, and times the end of the process from the moment
its work is done. ``benchmarks/exit_time.py`` prints the same times as a table.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path

import pytest

import agentvitals
from tests.stack import Blackhole

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import exit_time  # noqa: E402

DEFAULT_DEADLINE_S = 3.0
MARGIN_S = 1.5
"""Process teardown after the deadline (interpreter finalisation), on a loaded machine."""
SPANS = 20 * 3  # the quick start's 20 tasks, each with a tool and an LLM call
# Nothing is exported before the end: the final flush has every span to deliver.
QUIET = {"OTEL_BSP_SCHEDULE_DELAY": "600000", "OTEL_METRIC_EXPORT_INTERVAL": "600000"}
FAILING = ("closed port", "blackhole", "503", "slow (5 s)")
EXIT_LINE = re.compile(r"agentvitals: telemetry export did not finish within the ([\d.]+)s exit deadline; "
                       r"dropped (\d+) spans and the final metric export \(counted;")


def end(kind: str, mode: str, **env: str) -> exit_time.Ending:
    with exit_time.collector(kind) as endpoint:
        return exit_time.run(endpoint, mode, env={**QUIET, **env})


def assert_reported_once(stderr: str, deadline: float, *, interrupted: bool = False) -> None:
    """One line says what the exit cost (every span: none was exported before the end); nothing else is
    logged (no exporter retry lines, no traceback but the KeyboardInterrupt's)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    reports = [match for line in lines if (match := EXIT_LINE.match(line))]
    assert len(reports) == 1, stderr
    assert float(reports[0].group(1)) == deadline and int(reports[0].group(2)) == SPANS, stderr
    others = [line for line in lines if not EXIT_LINE.match(line)]
    if interrupted:
        assert others[0] == "Traceback (most recent call last):" and others[-1] == "KeyboardInterrupt", stderr
    else:
        assert others == [], stderr


@pytest.mark.parametrize("kind", FAILING)
def test_exit_is_bounded_by_the_deadline(kind: str) -> None:
    ending = end(kind, "exit")
    assert ending.returncode == 0, ending.stderr
    assert ending.exit_s < DEFAULT_DEADLINE_S + MARGIN_S, f"{kind}: exit took {ending.exit_s:.2f}s"
    assert_reported_once(ending.stderr, DEFAULT_DEADLINE_S)


def test_exit_with_a_healthy_collector_delivers_everything_quickly() -> None:
    with exit_time.OtlpHttpSink() as sink:
        ending = exit_time.run(sink.url, "exit", env=QUIET)
        assert sink.spans == SPANS  # the final flush delivered every span: the deadline cost nothing
        assert any(request for request in sink.received if hasattr(request, "resource_metrics"))
    assert ending.returncode == 0 and ending.stderr == ""
    assert ending.exit_s < MARGIN_S


@pytest.mark.parametrize("kind", ["blackhole", "503"])
def test_shutdown_with_a_timeout_is_bounded_by_it(kind: str) -> None:
    ending = end(kind, "shutdown")
    assert ending.shutdown_s is not None and ending.shutdown_s < 2.0 + MARGIN_S, ending.shutdown_s
    assert ending.exit_s < 2.0 + MARGIN_S  # the exit handler has nothing left to do
    assert_reported_once(ending.stderr, 2.0)


@pytest.mark.parametrize("kind", ["blackhole", "slow (5 s)"])
def test_ctrl_c_is_a_normal_bounded_exit(kind: str) -> None:
    ending = end(kind, "sigint")
    assert ending.returncode == -2  # Python ends with SIGINT after the KeyboardInterrupt, as without agentvitals
    assert ending.exit_s < DEFAULT_DEADLINE_S + MARGIN_S, f"{kind}: exit after Ctrl-C took {ending.exit_s:.2f}s"
    assert_reported_once(ending.stderr, DEFAULT_DEADLINE_S, interrupted=True)


def test_the_deadline_is_configurable() -> None:
    ending = end("blackhole", "exit", AGENTVITALS_SHUTDOWN_TIMEOUT="0.5")
    assert ending.exit_s < 0.5 + MARGIN_S
    assert_reported_once(ending.stderr, 0.5)


def test_what_the_exit_lost_stays_counted_after_shutdown(caplog: pytest.LogCaptureFixture,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in QUIET.items():
        monkeypatch.setenv(variable, value)
    caplog.set_level(logging.WARNING, logger="agentvitals")
    with Blackhole() as hole:
        agentvitals.init("exit-test", endpoint=hole.url, instrumentations=[])
        for _ in range(5):
            with agentvitals.task("t"), agentvitals.tool("x"):
                pass
        agentvitals.shutdown(timeout_s=0.3)
    stats = agentvitals.export_stats()
    assert stats["dropped_spans_deadline"] == 10 and stats["dropped_spans"] == 0  # counted once, by cause
    assert stats["failed_metric_exports"] == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "agentvitals"]
    assert len(lines) == 1 and "dropped 10 spans and the final metric export" in lines[0], lines


def test_force_flush_returns_by_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in QUIET.items():
        monkeypatch.setenv(variable, value)
    with Blackhole() as hole:
        agentvitals.init("flush-test", endpoint=hole.url, instrumentations=[])
        try:
            with agentvitals.task("t"):
                pass
            started = time.monotonic()
            assert agentvitals.force_flush(timeout_s=1.0) is False  # each export would wait 10 s for an answer
            assert time.monotonic() - started < 1.0 + MARGIN_S
        finally:
            agentvitals.shutdown(timeout_s=0.2)
