"""`opentelemetry-instrument python app.py` with llama-index and crewai installed: a clean start-up, the framework
instrumented (the main environment's test covers the other optional libraries)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fake_llm import FakeLLMServer
from tests.stack import OtlpHttpSink, free_port, wait_until
from tests.test_zero_code import run_instrumented

APP = """
import asyncio, importlib, os
os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
for library in ("llama_index.core", "llama_index.llms.openai", "crewai", "openai", "httpx", "sqlite3"):
    importlib.import_module(library)

from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai import OpenAI

def lookup(order_id: int) -> str:
    "Where an order is."
    return "shipped"

async def main():
    llm = OpenAI(model="gpt-4o-mini", api_base=os.environ["OPENAI_BASE_URL"], max_retries=0,
                 default_headers={"x-fake-tools": "lookup"})
    agent = FunctionAgent(name="zero-code-agent", tools=[FunctionTool.from_defaults(lookup)], llm=llm, streaming=False)
    print(await agent.run(user_msg="Where is my order?"))

asyncio.run(main())
"""


@pytest.mark.slow
def test_zero_code_start_with_llama_index_and_crewai_is_clean(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    port = free_port()
    with FakeLLMServer() as llm, OtlpHttpSink(port) as collector:
        result = run_instrumented(app, llm, port)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "hello"
        assert result.stderr == ""
        wait_until(lambda: "invoke_agent zero-code-agent" in collector.span_names, timeout=20, what="the task span")
    spans = {span_id: (name, parent) for name, span_id, parent in collector.span_tree}
    task = next(span_id for span_id, (name, _) in spans.items() if name == "invoke_agent zero-code-agent")
    llm_calls = [span_id for span_id, (name, parent) in spans.items() if name == "chat gpt-4o-mini"]
    assert len(llm_calls) == llm.answered_total() == 2 and all(spans[c][1] == task for c in llm_calls)
    assert sorted(parent for name, parent in spans.values() if name == "POST") == sorted(llm_calls)
    assert [parent for name, parent in spans.values() if name == "execute_tool lookup"] == [task]
