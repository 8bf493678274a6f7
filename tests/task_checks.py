"""What every client and framework test asserts about the task around its model calls, against the fake backend.

``assert_task_accounts_for(telemetry, server, ...)``: the task counted one LLM call per request the backend
answered, its tokens are the usage the backend sent, it is priced, and the wait was booked as ``llm`` with no
``http`` idle (the HTTP call nests under the LLM span, or no HTTP span exists).
"""

from __future__ import annotations

from typing import Any

from agentvitals.attributes import (
    TASK_COST_AMOUNT,
    TASK_INPUT_TOKENS,
    TASK_LLM_CALLS,
    TASK_OUTPUT_TOKENS,
    TASK_UNPRICED_CALLS,
    WaitKind,
    task_idle_time,
)
from agentvitals.semconv import GEN_AI_OPERATION_NAME, LLM_OPERATIONS
from tests.conftest import Telemetry
from tests.fake_llm import FakeLLMServer


def task_span(telemetry: Telemetry, name: str) -> Any:
    return telemetry.span(f"invoke_agent {name}")


def assert_task_accounts_for(telemetry: Telemetry, server: FakeLLMServer, task: str, *, input_tokens: int,
                             output_tokens: int, priced: bool = True) -> Any:
    """Per answered request ``input_tokens``/``output_tokens`` (inclusive) were sent; returns the task span."""
    span = task_span(telemetry, task)
    attributes = span.attributes
    answered = server.answered_total()
    assert answered > 0, f"the backend answered nothing: {server.requests}"
    assert attributes[TASK_LLM_CALLS] == answered, (attributes[TASK_LLM_CALLS], server.answered)
    assert attributes[TASK_INPUT_TOKENS] == input_tokens * answered
    assert attributes[TASK_OUTPUT_TOKENS] == output_tokens * answered
    if priced:
        assert attributes[TASK_COST_AMOUNT] > 0
        assert attributes[TASK_UNPRICED_CALLS] == 0
    assert attributes.get(task_idle_time(WaitKind.LLM), 0) > 0
    assert task_idle_time(WaitKind.HTTP) not in attributes, dict(attributes)
    assert telemetry.ledger.open == {}, "a span was left open"
    return span


def llm_spans(telemetry: Telemetry) -> list[Any]:
    """Every finished span that is a model call (ours or anyone's): the ones that carry GenAI usage or cost."""
    return [s for s in telemetry.spans()
            if s.attributes.get(GEN_AI_OPERATION_NAME) in (*LLM_OPERATIONS, "embeddings")]
