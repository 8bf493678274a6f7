"""Telemetry never breaks or slows the program: a down or slow Collector, and faulty provider responses.

Each test is bounded (well under a minute) and targets loopback only.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

import agentvitals
from agentvitals.semconv import GEN_AI_PROVIDER_NAME
from tests.conftest import Telemetry
from tests.fake_llm import FakeLLMServer
from tests.stack import OtlpHttpSink, free_port, wait_until

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def exporting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """init() exporting to a loopback port with short, bounded timeouts."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # seconds per export attempt (with retries)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "512")
    # Small batches: a caller that waited for each full batch's export would be one call in 32, not one in 256.
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64")

    def start(port: int) -> None:
        agentvitals.init("fault-test", endpoint=f"http://127.0.0.1:{port}", metric_export_interval=0.5,
                         instrumentations=[])

    yield start
    agentvitals.shutdown(timeout_s=2)


def run_tasks(count: int) -> int:
    """Run ``count`` tasks with a tool each; returns how many took longer than half an export attempt (0.5 s).

    A caller that waited for an export, on every span or on every full batch (one call in 32), would be many of
    them; a loaded machine (or the GIL, held by the in-process receiver as it decodes) makes a rare one slow too.
    """
    slow = 0
    for _ in range(count):
        started = time.perf_counter()
        with agentvitals.task("fault"), agentvitals.tool("step"):
            pass
        slow += time.perf_counter() - started > 0.5
    return slow


def test_collector_down_for_the_whole_run_memory_stays_bounded_and_every_span_is_counted(
        exporting: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # Each export attempt retries against the closed port for 30 s: the queue fills whatever the machine's speed.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "30")
    exporting(free_port())  # nothing listens there
    caplog.set_level(logging.WARNING)
    run_tasks(300)  # 600 spans: more than the 512-span queue holds
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    slow_calls = run_tasks(1500)  # 3,000 more spans, ~3 KB each if they were kept
    growth = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()

    assert slow_calls <= 1500 // 200  # no call waited for an export attempt
    assert growth < 4 * 1024 * 1024  # bounded by the queue: the 3,000 new spans are dropped, not kept
    agentvitals.shutdown(timeout_s=1)
    stats = agentvitals.export_stats()
    # Every one of the 3,600 spans is counted as lost, by cause: none silently.
    assert stats["dropped_spans_queue_full"] + stats["dropped_spans"] + stats["dropped_spans_deadline"] == 3_600
    # Most of the 3,000 were turned away at the full queue (a batch drains every ~15 s of retries).
    assert stats["dropped_spans_queue_full"] > 2_000 and stats["dropped_spans_deadline"] > 0
    lines = [r.getMessage() for r in caplog.records if r.name == "agentvitals"]
    assert len([line for line in lines if "cannot export spans" in line]) <= 1  # an outage is one line at most
    assert len([line for line in lines if "exit deadline" in line]) == 1
    assert not any("Queue full" in r.getMessage() for r in caplog.records)


def test_collector_down_then_back(exporting: Callable[[int], None], caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens here yet
    exporting(port)
    caplog.set_level(logging.WARNING)
    run_tasks(100)
    wait_until(lambda: agentvitals.export_stats()["dropped_spans"] > 0, timeout=30, what="a failed export")
    outage = [r.getMessage() for r in caplog.records if "cannot export spans" in r.getMessage()]
    assert len(outage) == 1  # one clear line, not one per span or per retry

    with OtlpHttpSink(port) as collector:  # the Collector comes back
        run_tasks(50)
        wait_until(lambda: collector.spans >= 100, timeout=30, what="spans exported after the outage")
        wait_until(lambda: any("resumed" in r.getMessage() for r in caplog.records), timeout=10,
                   what="the recovery log line")
    assert not any("Queue full" in r.getMessage() for r in caplog.records)


def test_slow_collector_never_blocks_callers(exporting: Callable[[int], None]) -> None:
    port = free_port()
    with OtlpHttpSink(port, delay_s=3.0) as collector:  # slower than the 1 s export timeout
        exporting(port)
        assert run_tasks(3000) <= 3000 // 200
        wait_until(lambda: agentvitals.export_stats()["dropped_spans"] > 0, timeout=20, what="a timed-out export")
        assert collector.requests >= 1


def test_malformed_price_file_is_one_clear_error_at_init(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"openai": {"m": {"input": 1, "output": ')
    monkeypatch.setenv("AGENTVITALS_PRICES", str(prices))
    with pytest.raises(agentvitals.ConfigError, match=r"price file .*prices.json: cannot read JSON"):
        agentvitals.init("x", endpoint=False)


# --- faulty provider responses: nothing raised from our code, no span left open --------------------
def client(server: FakeLLMServer, mode: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0,
                         default_headers={"x-fake": mode})


def consume(mode: str, stream: bool) -> Callable[[FakeLLMServer], None]:
    def run(server: FakeLLMServer) -> None:
        result = client(server, mode).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=stream,
                                                              **({"stream_options": {"include_usage": True}}
                                                                 if stream else {}))
        if stream:
            for _ in result:
                pass

    return run


def break_out_of_with_block(server: FakeLLMServer) -> None:
    class Mine(Exception):
        pass

    with pytest.raises(Mine):
        with client(server, "ok").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                          stream=True) as stream:
            for _ in stream:
                raise Mine()


def never_consumed(server: FakeLLMServer) -> None:
    client(server, "ok").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    gc.collect()


def closed_from_another_task(server: FakeLLMServer) -> None:
    async def main() -> None:
        async_client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="sk", max_retries=0)
        stream = await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)

        async def reader() -> None:
            async for _ in stream:
                await asyncio.sleep(0.01)

        reading = asyncio.create_task(reader())
        await asyncio.sleep(0.005)
        await stream.close()  # another task closes the stream under the reader
        try:
            await reading
        except Exception as exc:  # the SDK's or httpx's, never ours
            assert "agentvitals" not in type(exc).__module__
        await async_client.close()

    asyncio.run(main())


SCENARIOS: dict[str, Callable[[FakeLLMServer], None]] = {
    "missing usage": consume("no_usage", False),
    "wrong types in usage and choices": consume("wrong_types", False),
    "bad JSON body": consume("bad_json", False),
    "HTTP 500": consume("error_500", False),
    "stream without usage chunk": consume("no_usage", True),
    "truncated SSE event": consume("truncated", True),
    "connection dropped mid-stream": consume("abort", True),
    "user exception inside the stream's with-block": break_out_of_with_block,
    "stream never consumed, garbage-collected": never_consumed,
    "stream closed from another task": closed_from_another_task,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_provider_fault_matrix(telemetry: Telemetry, fake_llm: FakeLLMServer, scenario: str) -> None:
    try:
        SCENARIOS[scenario](fake_llm)
    except Exception as exc:
        assert "agentvitals" not in type(exc).__module__, f"{scenario}: our code raised {exc!r}"
    gc.collect()
    assert telemetry.ledger.open == {}, f"{scenario}: spans left open {telemetry.ledger.open}"
    llm_spans = telemetry.spans("chat ")
    assert len(llm_spans) == 1, scenario
    assert llm_spans[0].attributes[GEN_AI_PROVIDER_NAME] == "openai"
