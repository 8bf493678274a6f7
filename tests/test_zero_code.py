"""`opentelemetry-instrument python app.py`: the same telemetry as agentvitals.init(), with no code change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import agentvitals
from tests.conftest import subprocess_environ
from tests.fake_llm import FakeLLMServer
from tests.stack import OtlpHttpSink, free_port, wait_until

APP = """
import openai
client = openai.OpenAI()
print(client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
      .choices[0].message.content)
"""

# Every optional library the test extra installs that agentvitals (or a contrib instrumentation it reuses)
# instruments: imported by the application after start-up, as an application would.
OPTIONAL_LIBRARIES = ("openai", "anthropic", "httpx", "httpx2", "redis", "sqlite3", "psycopg", "chromadb",
                      "qdrant_client", "langchain_core", "langchain_openai", "langgraph", "mcp", "pydantic_ai",
                      "agents", "smolagents")

EVERY_LIBRARY_APP = """
import importlib
for library in {libraries!r}:
    importlib.import_module(library)

import os
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

client = AsyncOpenAI(default_headers={{"x-fake-tools": "lookup"}})
agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(openai_client=client)), name="zero-code-agent")

@agent.tool_plain
def lookup(order_id: int) -> str:
    return "shipped"

print(agent.run_sync("Where is my order?").output)
"""


def run_instrumented(app: Path, llm: FakeLLMServer, collector_port: int) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in subprocess_environ().items() if not k.startswith(("OTEL_", "OPENAI_"))},
        "OTEL_PYTHON_CONFIGURATOR": "agentvitals",
        "OTEL_PYTHON_DISTRO": "agentvitals",
        "OTEL_SERVICE_NAME": "zero-code-app",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
        "OPENAI_BASE_URL": llm.url + "/v1",
        "OPENAI_API_KEY": "sk-zero-code",
        "OPENAI_AGENTS_DISABLE_TRACING": "true",  # openai-agents' own export to OpenAI, were it used
        "ANONYMIZED_TELEMETRY": "False",  # chromadb's
    }
    return subprocess.run([Path(sys.executable).parent / "opentelemetry-instrument", sys.executable, str(app)],
                          capture_output=True, text=True, env=env, timeout=240)


@pytest.mark.slow
def test_opentelemetry_instrument_runs_agentvitals(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    port = free_port()
    with FakeLLMServer() as llm, OtlpHttpSink(port) as collector:
        result = run_instrumented(app, llm, port)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "hello"
        wait_until(lambda: "chat gpt-4o-mini" in collector.span_names, timeout=20, what="the LLM span")
    assert collector.span_names.count("chat gpt-4o-mini") == 1  # the loader and init() never double it
    assert "POST" in collector.span_names


@pytest.mark.slow
def test_zero_code_start_with_every_optional_library_is_clean(tmp_path: Path) -> None:
    """No traceback and no warning at start-up; HTTP spans under LLM spans; the framework's tool and agent run."""
    app = tmp_path / "app.py"
    app.write_text(EVERY_LIBRARY_APP.format(libraries=OPTIONAL_LIBRARIES))
    port = free_port()
    with FakeLLMServer() as llm, OtlpHttpSink(port) as collector:
        result = run_instrumented(app, llm, port)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "hello"
        assert result.stderr == ""  # every instrumentation, ours and contrib, loaded cleanly
        wait_until(lambda: "invoke_agent zero-code-agent" in collector.span_names, timeout=20, what="the task span")
    spans = {span_id: (name, parent) for name, span_id, parent in collector.span_tree}
    llm_calls = [span_id for span_id, (name, parent) in spans.items()
                 if name == "chat gpt-4o-mini" and spans.get(parent, ("",))[0] == "chat gpt-4o-mini"]
    assert len(llm_calls) == llm.answered_total() == 2  # ours, each under pydantic-ai's chat span
    http_parents = [parent for name, parent in spans.values() if name == "POST"]
    assert sorted(http_parents) == sorted(llm_calls)  # the HTTP span of each call under our LLM span
    assert collector.span_names.count("execute_tool lookup") == 1
    assert collector.span_names.count("invoke_agent zero-code-agent") == 1


class _EntryPoint:
    def __init__(self, name: str, instrumentor: type) -> None:
        self.name = name
        self._instrumentor = instrumentor

    def load(self) -> type:
        return self._instrumentor


def _recording_instrumentor(libraries: tuple[str, ...], calls: list[str]) -> type:
    class Recording:
        def instrumentation_dependencies(self) -> tuple[str, ...]:
            return libraries

        def instrument(self, **kwargs: object) -> None:
            calls.append(libraries[0])

    return Recording


def test_distro_skips_a_second_instrumentation_of_a_library_agentvitals_instruments() -> None:
    from agentvitals.distro import AgentvitalsDistro

    calls: list[str] = []
    distro = AgentvitalsDistro()
    distro.load_instrumentor(_EntryPoint("openai", _recording_instrumentor(("openai >= 1.26.0",), calls)))
    distro.load_instrumentor(_EntryPoint("anthropic", _recording_instrumentor(("anthropic >= 0.16",), calls)))
    distro.load_instrumentor(_EntryPoint("httpx", _recording_instrumentor(("httpx >= 0.18.0",), calls)))
    distro.load_instrumentor(_EntryPoint("redis", _recording_instrumentor(("redis >= 2.6",), calls)))
    assert calls == ["httpx >= 0.18.0", "redis >= 2.6"]  # openai and anthropic spans are ours alone


def test_distro_instruments_as_usual_when_an_instrumentor_cannot_say_what_it_instruments() -> None:
    from agentvitals.distro import AgentvitalsDistro

    instrumented: list[bool] = []

    class Odd:
        def instrumentation_dependencies(self) -> tuple[str, ...]:
            raise RuntimeError("broken metadata")

        def instrument(self, **kwargs: object) -> None:
            instrumented.append(True)

    AgentvitalsDistro().load_instrumentor(_EntryPoint("odd", Odd))  # the loader would abort the app on a raise
    assert instrumented == [True]


def test_distro_leaves_to_init_what_init_scheduled() -> None:
    """Under the loader, our configurator's init() runs first: the entry points for what it applies on import
    (our instrumentations, the contrib httpx and redis ones) would import their libraries at start-up."""
    from agentvitals.distro import AgentvitalsDistro
    from tests.conftest import make_telemetry

    calls: list[str] = []
    distro = AgentvitalsDistro()
    make_telemetry()
    try:
        for name, library in (("redis", "redis >= 2.6"), ("agentvitals_openai", "openai >= 1.40"),
                              ("pika", "pika >= 1.0")):
            distro.load_instrumentor(_EntryPoint(name, _recording_instrumentor((library,), calls)))
    finally:
        agentvitals.shutdown()
    assert calls == ["pika >= 1.0"]
    distro.load_instrumentor(_EntryPoint("redis", _recording_instrumentor(("redis >= 2.6",), calls)))
    assert calls == ["pika >= 1.0", "redis >= 2.6"]  # without init(), the loader instruments it as usual
