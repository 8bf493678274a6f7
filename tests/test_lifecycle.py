"""Instrumenting is idempotent and reversible; init() has no network side effects."""

from __future__ import annotations

import socket

import openai
import pytest
import wrapt

import agentvitals
from agentvitals.instrumentation import INSTRUMENTATIONS
from agentvitals.instrumentation._base import PatchTableInstrumentor, import_optional
from agentvitals.instrumentation.openai import OpenAIInstrumentor
from agentvitals.metrics import COST
from tests.conftest import make_telemetry
from tests.fake_llm import FakeLLMServer

MESSAGES = [{"role": "user", "content": "hi"}]


def call(server: FakeLLMServer) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_instrumenting_twice_does_not_double_spans_or_cost(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry()
    try:
        agentvitals.init("again")  # a second init() is a logged no-op
        OpenAIInstrumentor().instrument()  # and a second instrument() is ignored
        call(fake_llm)
        assert len(telemetry.spans("chat ")) == 1
        assert telemetry.total(COST.name) == pytest.approx(135 / 1e6)
    finally:
        agentvitals.shutdown()


def test_shutdown_uninstruments_everything(fake_llm: FakeLLMServer) -> None:
    telemetry = make_telemetry()
    agentvitals.shutdown()
    call(fake_llm)
    assert telemetry.spans() == []
    completions = vars(openai.resources.chat.completions.completions.Completions)
    assert not isinstance(completions["create"], wrapt.FunctionWrapper)


def patch_tables() -> list[type[PatchTableInstrumentor]]:
    """The table-driven instrumentors whose libraries this environment has."""
    found = []
    for item in INSTRUMENTATIONS:
        loaded = item.load()
        table = loaded if isinstance(loaded, type) else type(loaded)
        if issubclass(table, PatchTableInstrumentor) and all(
                import_optional(patch.module) is not None for patch in table.patches):
            found.append(table)
    return found


def patched_targets(table: type[PatchTableInstrumentor]) -> list[tuple[str, object]]:
    targets = []
    for patch in table.patches:
        owner: object = import_optional(patch.module)
        *path, attribute = patch.attribute.split(".")
        for part in path:
            owner = getattr(owner, part)  # raises if the library no longer has it: a patch silently lost
        targets.append((f"{patch.module}:{patch.attribute}", owner.__dict__[attribute] if isinstance(owner, type)
                        else getattr(owner, attribute)))
    return targets


@pytest.mark.parametrize("table", patch_tables(), ids=lambda table: table.name)
def test_every_patch_applies_to_the_installed_library_and_is_undone(table: type[PatchTableInstrumentor]) -> None:
    before = patched_targets(table)
    assert not [name for name, target in before if isinstance(target, wrapt.FunctionWrapper)]
    make_telemetry()
    try:
        assert [name for name, target in patched_targets(table) if not isinstance(target, wrapt.FunctionWrapper)] == []
    finally:
        agentvitals.shutdown()
    assert patched_targets(table) == before  # the very same functions again


def test_reinit_after_shutdown_instruments_again(fake_llm: FakeLLMServer) -> None:
    make_telemetry()
    agentvitals.shutdown()
    telemetry = make_telemetry()
    try:
        call(fake_llm)
        assert len(telemetry.spans("chat ")) == 1
    finally:
        agentvitals.shutdown()


def test_init_opens_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def spy(self: socket.socket, address: object) -> None:
        attempts.append(address)
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    agentvitals.init("quiet", endpoint="http://127.0.0.1:9/", metric_export_interval=3600)
    try:
        assert attempts == []
    finally:
        monkeypatch.setattr(socket.socket, "connect", real_connect)
        agentvitals.shutdown(timeout_s=0.5)


def test_unreachable_endpoint_never_raises_and_is_counted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # seconds: bound the exporter's retries
    agentvitals.init("offline", endpoint="http://127.0.0.1:9", metric_export_interval=3600)
    try:
        with agentvitals.task("offline-task"), agentvitals.tool("t"):
            pass
        with caplog.at_level("WARNING"):
            agentvitals.force_flush(timeout_s=5)
        assert agentvitals.export_stats()["dropped_spans"] == 2
        failure_lines = [r.getMessage() for r in caplog.records if "export" in r.getMessage().lower()]
        assert len(failure_lines) == 2, failure_lines  # one for spans, one for metrics
        assert all(line.startswith("agentvitals: cannot export") for line in failure_lines)
    finally:
        agentvitals.shutdown(timeout_s=0.5)
