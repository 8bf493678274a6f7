"""Errors by class and cause: recognised from provider SDK exceptions and status codes, framework exceptions (by
class name: the frameworks are not imported), decoding errors inside a task, and what the application reports."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import anthropic
import httpx
import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletion

import agentvitals
from agentvitals._errors import ErrorSource, classify, classify_type
from agentvitals.attributes import (
    COGNITIVE_ERROR_EVENT,
    ERROR_CAUSE,
    ERROR_CLASS,
    ERROR_DETAIL,
    ERROR_SOURCE,
    TASK_COGNITIVE_ERRORS,
)
from agentvitals.metrics import ERRORS
from tests.conftest import Telemetry, make_telemetry

REQUEST = httpx.Request("POST", "https://api.example.com/v1/chat/completions")


def response(status: int) -> httpx.Response:
    return httpx.Response(status, request=REQUEST)


# Framework exceptions, named as the frameworks name them (matched by class name, never imported).
class MaxTurnsExceeded(Exception):  # openai-agents
    pass


class ModelBehaviorError(Exception):  # openai-agents
    pass


class UnexpectedModelBehavior(Exception):  # pydantic-ai
    pass


class UsageLimitExceeded(Exception):  # pydantic-ai
    pass


class GraphRecursionError(Exception):  # LangGraph
    pass


class OutputParserException(ValueError):  # LangChain
    pass


class InputGuardrailTripwireTriggered(Exception):  # openai-agents
    pass


class ToolNotFoundError(Exception):  # an application's own
    pass


class PlanUnreadable(Exception):
    pass


def decode_error() -> json.JSONDecodeError:
    try:
        json.loads("Sure! I think")
    except json.JSONDecodeError as exc:
        return exc
    raise AssertionError


def chained_from_decode_error() -> Exception:
    try:
        try:
            json.loads("{not json")
        except ValueError as exc:
            raise PlanUnreadable("the plan is not JSON") from exc
    except PlanUnreadable as exc:
        return exc
    raise AssertionError


def pydantic_error() -> pydantic.ValidationError:
    class Arguments(pydantic.BaseModel):
        order_id: int

    try:
        Arguments.model_validate({"order_id": "seven"})
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError


class WithStatus(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


CASES: list[tuple[str, BaseException, ErrorSource | None, str, str]] = [
    # provider SDKs: system errors
    ("openai rate limit", openai.RateLimitError("slow down", response=response(429), body=None), ErrorSource.LLM,
     "system", "rate_limit"),
    ("openai timeout", openai.APITimeoutError(request=REQUEST), ErrorSource.LLM, "system", "timeout"),
    ("openai connection", openai.APIConnectionError(request=REQUEST), ErrorSource.LLM, "system", "connection"),
    ("openai 500", openai.InternalServerError("boom", response=response(500), body=None), ErrorSource.LLM,
     "system", "server_error"),
    ("openai 401", openai.AuthenticationError("no", response=response(401), body=None), ErrorSource.LLM, "system",
     "auth"),
    ("openai 400", openai.BadRequestError("bad", response=response(400), body=None), ErrorSource.LLM, "system",
     "invalid_request"),
    ("openai context too long", openai.BadRequestError("This model's maximum context length is 128000 tokens",
                                                       response=response(400), body=None),
     ErrorSource.LLM, "cognitive", "context_overflow"),
    ("openai other status", openai.APIStatusError("teapot", response=response(418), body=None), ErrorSource.LLM,
     "system", "invalid_request"),
    ("anthropic overloaded", anthropic.OverloadedError("busy", response=response(529), body=None), ErrorSource.LLM,
     "system", "server_error"),
    ("anthropic rate limit", anthropic.RateLimitError("slow", response=response(429), body=None), ErrorSource.LLM,
     "system", "rate_limit"),
    ("openai refusal", openai.ContentFilterFinishReasonError(), ErrorSource.LLM, "cognitive", "refusal"),
    ("openai output cut at max tokens", openai.LengthFinishReasonError(
        completion=ChatCompletion.model_construct(usage=None)), ErrorSource.LLM, "cognitive", "output_truncated"),
    ("openai unknown model", openai.NotFoundError("no such model", response=response(404), body=None),
     ErrorSource.LLM, "system", "not_found"),
    # transports and the standard library
    ("httpx connect", httpx.ConnectError("refused", request=REQUEST), ErrorSource.TOOL, "system", "connection"),
    ("httpx read timeout", httpx.ReadTimeout("slow", request=REQUEST), ErrorSource.TOOL, "system", "timeout"),
    ("httpx 503", httpx.HTTPStatusError("503", request=REQUEST, response=response(503)), ErrorSource.TOOL,
     "system", "server_error"),
    ("builtin timeout", TimeoutError("late"), ErrorSource.TOOL, "system", "timeout"),
    ("asyncio timeout", asyncio.TimeoutError(), ErrorSource.TASK, "system", "timeout"),
    ("connection refused", ConnectionRefusedError(), ErrorSource.TOOL, "system", "connection"),
    ("cancelled", asyncio.CancelledError(), ErrorSource.TASK, "system", "cancelled"),
    ("a status code", WithStatus(429), ErrorSource.TOOL, "system", "rate_limit"),
    ("an unknown error", ValueError("nope"), ErrorSource.TASK, "system", "other"),
    # frameworks: cognitive errors
    ("openai-agents max turns", MaxTurnsExceeded("Max turns (10) exceeded"), ErrorSource.TASK, "cognitive",
     "step_limit"),
    ("openai-agents unknown tool", ModelBehaviorError("Tool track_parcel not found in agent support"),
     ErrorSource.TASK, "cognitive", "tool_not_found"),
    ("openai-agents bad tool JSON", ModelBehaviorError("Invalid JSON input for tool search: {oops"),
     ErrorSource.TOOL, "cognitive", "invalid_tool_arguments"),
    ("pydantic-ai output", UnexpectedModelBehavior("Exceeded maximum retries (1) for output validation"),
     ErrorSource.TASK, "cognitive", "output_parse"),
    ("pydantic-ai other", UnexpectedModelBehavior("Received empty model response"), ErrorSource.TASK, "cognitive",
     "model_behavior"),
    ("pydantic-ai usage limit", UsageLimitExceeded("The next request would exceed the request_limit of 5"),
     ErrorSource.TASK, "cognitive", "step_limit"),
    ("langgraph recursion", GraphRecursionError("Recursion limit of 25 reached"), ErrorSource.TASK, "cognitive",
     "step_limit"),
    ("langchain output parser", OutputParserException("Could not parse"), ErrorSource.TASK, "cognitive",
     "output_parse"),
    ("guardrail", InputGuardrailTripwireTriggered("tripped"), ErrorSource.TASK, "cognitive", "guardrail"),
    ("an application's unknown tool", ToolNotFoundError("track_parcel"), ErrorSource.TOOL, "cognitive",
     "tool_not_found"),
    # decoding: the model's output in a task; a provider's or tool's response elsewhere
    ("JSON decode error in a task", decode_error(), ErrorSource.TASK, "cognitive", "output_parse"),
    ("raised from a JSON decode error", chained_from_decode_error(), ErrorSource.TASK, "cognitive", "output_parse"),
    ("JSON decode error in a tool", decode_error(), ErrorSource.TOOL, "system", "server_error"),
    ("tool arguments that do not validate", pydantic_error(), ErrorSource.TOOL, "cognitive",
     "invalid_tool_arguments"),
    ("structured output that does not validate", pydantic_error(), ErrorSource.TASK, "cognitive", "output_parse"),
    # budgets
    ("step budget", agentvitals.BudgetExhausted("llm_calls", "t", 4, 4), ErrorSource.TASK, "cognitive", "step_limit"),
    ("cost budget", agentvitals.BudgetExhausted("cost", "t", 0.2, 0.1), ErrorSource.TASK, "cognitive",
     "budget_limit"),
]


@pytest.mark.parametrize(("exc", "source", "error_class", "cause"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_classification(exc: BaseException, source: ErrorSource | None, error_class: str, cause: str) -> None:
    classified = classify(exc, source)
    assert (classified.error_class.value, classified.cause.value) == (error_class, cause)
    assert classified.error_type == type(exc).__qualname__


@pytest.mark.parametrize(("error_type", "status", "source", "cause"), [
    ("openai.RateLimitError", None, ErrorSource.LLM, "rate_limit"),
    ("MaxTurnsExceeded", None, ErrorSource.TASK, "step_limit"),
    ("pydantic_ai.exceptions.ModelHTTPError", 503, ErrorSource.LLM, "server_error"),
    ("500", None, None, "server_error"),  # HTTP instrumentations put the status code in error.type
    ("SomethingElse", None, ErrorSource.TOOL, "other"),
])
def test_classification_from_what_a_span_records(error_type: str, status: int | None, source: ErrorSource | None,
                                                 cause: str) -> None:
    assert classify_type(error_type, status, source).cause.value == cause


def test_classification_never_raises() -> None:
    class Hostile(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no message for you")

    hostile = type("ModelBehaviorError", (Hostile,), {})()  # its message is read to refine the cause
    assert classify(hostile).cause.value == "other"


# --- the API for what only the application knows ------------------------------------------------------------------
def errors(telemetry: Telemetry) -> dict[tuple[Any, ...], float]:
    return {(p.attributes[ERROR_CLASS], p.attributes[ERROR_CAUSE], p.attributes[ERROR_SOURCE]): p.value
            for p in telemetry.points(ERRORS.name)}


def test_cognitive_error_is_an_event_a_metric_and_a_task_count(telemetry: Telemetry) -> None:
    with agentvitals.task("plan") as task:
        agentvitals.cognitive_error("tool_not_found", "track_parcel")
        with agentvitals.tool("search"):
            agentvitals.cognitive_error("output_parse")
        task.set_outcome("success")
    span = telemetry.span("invoke_agent plan")
    [event] = [e for e in span.events if e.name == COGNITIVE_ERROR_EVENT]
    assert dict(event.attributes) == {ERROR_CLASS: "cognitive", ERROR_CAUSE: "tool_not_found"}  # no detail: capture off
    assert span.attributes[TASK_COGNITIVE_ERRORS] == 2
    assert errors(telemetry) == {("cognitive", "tool_not_found", "application"): 1,
                                 ("cognitive", "output_parse", "application"): 1}


def test_cognitive_error_detail_only_with_content_capture() -> None:
    telemetry = make_telemetry(capture_content=True)
    try:
        with agentvitals.task("plan"):
            agentvitals.cognitive_error("tool_not_found", "track_parcel")
        [event] = telemetry.span("invoke_agent plan").events
        assert event.attributes[ERROR_DETAIL] == "track_parcel"
    finally:
        agentvitals.shutdown()


def test_an_unknown_kind_is_counted_as_other_cognitive_with_a_warning(telemetry: Telemetry,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agentvitals"):
        agentvitals.cognitive_error("made_up_kind")
        agentvitals.cognitive_error("timeout")  # a system cause is not a cognitive error
    assert errors(telemetry) == {("cognitive", "other_cognitive", "application"): 2}
    assert "made_up_kind" in caplog.text


def test_cognitive_error_never_raises_without_init() -> None:
    agentvitals.cognitive_error("loop_detected", object())  # type: ignore[arg-type]
