"""`opentelemetry-instrument python app.py`: the same telemetry as agentvitals.init(), with no code change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_llm import FakeLLMServer
from tests.stack import OtlpHttpSink, free_port, wait_until

APP = """
import openai
client = openai.OpenAI()
print(client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
      .choices[0].message.content)
"""


@pytest.mark.slow
def test_opentelemetry_instrument_runs_agentvitals(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    port = free_port()
    with FakeLLMServer() as llm, OtlpHttpSink(port) as collector:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))},
            "OTEL_PYTHON_CONFIGURATOR": "agentvitals",
            "OTEL_PYTHON_DISTRO": "agentvitals",
            "OTEL_SERVICE_NAME": "zero-code-app",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OPENAI_BASE_URL": llm.url + "/v1",
            "OPENAI_API_KEY": "sk-zero-code",
        }
        result = subprocess.run([Path(sys.executable).parent / "opentelemetry-instrument", sys.executable, str(app)],
                                capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "hello"
        wait_until(lambda: "chat gpt-4o-mini" in collector.span_names, timeout=20, what="the LLM span")
    assert collector.span_names.count("chat gpt-4o-mini") == 1  # the loader and init() never double it
    assert "POST" in collector.span_names


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
