"""The previous SDK lines work too: openai 2.x (on ``httpx``, not ``httpx2``) and anthropic 1.x.

Installed into a fresh virtualenv (the main test environment pins the current lines), driven by a
small program against the local fake server: one LLM span per call with the HTTP span under it, and
the right cost.
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest

from tests.fake_llm import FakeLLMServer

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_LINES = ("openai==2.54.0", "anthropic==1.17.0")

PROGRAM = r'''
import json, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import agentvitals

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
agentvitals.init("sdk-lines", endpoint=False, tracer_provider=provider)
import anthropic, httpx, openai

url = sys.argv[1]
client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
for _ in client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                        stream=True, stream_options={"include_usage": True}):
    pass
anthropic.Anthropic(base_url=url, api_key="sk-ant", max_retries=0).messages.create(
    model="claude-opus-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
agentvitals.shutdown()
spans = exporter.get_finished_spans()
print(json.dumps({
    "versions": [openai.__version__, anthropic.__version__, httpx.__version__],
    "spans": [[s.name, s.parent.span_id if s.parent else None, s.context.span_id,
               s.attributes.get("agentvitals.usage.cost.amount")] for s in spans],
}))
'''


@pytest.mark.slow
@pytest.mark.timeout(900)  # a fresh install on a loaded machine: its own steps are bounded below
def test_openai_2_and_anthropic_1(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT), *PREVIOUS_LINES],
                   check=True, timeout=600)
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    with FakeLLMServer() as server:
        result = subprocess.run([python, str(script), server.url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["versions"][0].startswith("2.") and summary["versions"][1].startswith("1.")
    spans = {span_id: (name, parent, cost) for name, parent, span_id, cost in summary["spans"]}
    llm = [(span_id, name, cost) for span_id, (name, _, cost) in spans.items() if name.startswith("chat ")]
    assert sorted(name for _, name, _ in llm) == ["chat claude-opus-4-5", "chat gpt-4o-mini", "chat gpt-4o-mini"]
    assert all(cost and cost > 0 for _, _, cost in llm)  # each call priced, once
    http = [(name, parent) for name, parent, _ in spans.values() if name == "POST"]
    assert len(http) == 3 and {parent for _, parent in http} == {span_id for span_id, _, _ in llm}
