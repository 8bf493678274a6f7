"""The real openai SDK against the fake server: a task that calls three independent tools one after another gets
a parallelizable finding whose saving is what the measured durations say; the same tools in asyncio.gather get
none. LLM errors are classified by what the SDK raised."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest

import agentvitals
from agentvitals.attributes import ERROR_CAUSE, ERROR_CLASS, ERROR_SOURCE, TASK_FINDINGS, TASK_SAVEABLE_TIME
from agentvitals.metrics import ERRORS
from tests.conftest import Telemetry
from tests.fake_llm import FakeLLMServer
from tests.test_openai import MESSAGES, async_client, client

TOOLS = (("weather", 0.08), ("calendar", 0.12), ("traffic", 0.16))


def findings(telemetry: Telemetry, task: str) -> list[dict[str, object]]:
    return json.loads(telemetry.span(f"invoke_agent {task}").attributes[TASK_FINDINGS])  # type: ignore[arg-type]


def test_three_independent_tools_in_sequence_are_a_parallelizable_finding(telemetry: Telemetry,
                                                                          fake_llm: FakeLLMServer) -> None:
    llm = client(fake_llm)
    measured = []
    with agentvitals.task("trip"):
        llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # plan: which tools
        for name, seconds in TOOLS:
            started = time.perf_counter()
            with agentvitals.tool(name, arguments={"city": "Lyon"}):
                time.sleep(seconds)
            measured.append(time.perf_counter() - started)
        llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # answer from their results
    [finding] = [f for f in findings(telemetry, "trip") if f["kind"] == "parallelizable"]
    saving = sum(measured) - max(measured)
    assert finding["subject"] == "weather, calendar, traffic"
    assert finding["value"] == pytest.approx(saving, rel=0.1)
    assert telemetry.span("invoke_agent trip").attributes[TASK_SAVEABLE_TIME] == pytest.approx(saving, rel=0.1)


async def test_the_same_tools_in_asyncio_gather_are_not(telemetry: Telemetry, fake_llm: FakeLLMServer) -> None:
    llm = async_client(fake_llm)

    async def call(name: str, seconds: float) -> None:
        with agentvitals.tool(name, arguments={"city": "Lyon"}):
            await asyncio.sleep(seconds)

    async with agentvitals.task("trip"):
        await llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        await asyncio.gather(*(call(name, seconds) for name, seconds in TOOLS))
        await llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert [f for f in findings(telemetry, "trip") if f["kind"] == "parallelizable"] == []
    assert telemetry.span("invoke_agent trip").attributes[TASK_SAVEABLE_TIME] == 0
    await llm.close()


@pytest.mark.parametrize(("mode", "raised", "cause"), [
    ("error_500", openai.InternalServerError, "server_error"),
    ("error_429", openai.RateLimitError, "rate_limit"),
    ("error_401", openai.AuthenticationError, "auth"),
])
def test_llm_errors_are_classified_from_what_the_sdk_raised(telemetry: Telemetry, fake_llm: FakeLLMServer,
                                                             mode: str, raised: type[Exception], cause: str) -> None:
    with agentvitals.task("answer"):
        with pytest.raises(raised):
            client(fake_llm, mode).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = telemetry.span("chat gpt-4o-mini").attributes
    assert (span[ERROR_CLASS], span[ERROR_CAUSE]) == ("system", cause)
    assert {(p.attributes[ERROR_CAUSE], p.attributes[ERROR_SOURCE]): p.value
            for p in telemetry.points(ERRORS.name)} == {(cause, "llm"): 1}
