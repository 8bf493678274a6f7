"""Nothing secret leaves the process: content (capture off), exception messages, URL secrets, SQL literals,
credential headers, and whatever the user's scrubbing hook names; whichever instrumentation set it.

The canary test plants secrets everywhere an agent leaks them in practice and looks for each in everything
exported to a real OTLP receiver (spans and metrics) and in every log line agentvitals or OpenTelemetry wrote.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pydantic
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import agentvitals
import agentvitals._sdk
from agentvitals._redaction import redact_url, sanitize_sql
from agentvitals.metrics import TOOL_DURATION
from tests.conftest import make_telemetry
from tests.fake_llm import FakeLLMServer
from tests.stack import OtlpHttpSink


def foreign_tracer(name: str) -> trace.Tracer:
    """A tracer of another instrumentation on the provider init() created (the one the filter guards)."""
    runtime = agentvitals._sdk._runtime
    assert runtime is not None and runtime.owns_tracer_provider
    return trace.get_tracer(name, tracer_provider=runtime.tracer_provider)


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    """init() owning its provider, spans exported (through the export processor) to memory."""
    exporter = InMemorySpanExporter()
    agentvitals.init("redaction-test", endpoint=False, span_exporter=exporter, instrumentations=[])
    yield exporter
    agentvitals.shutdown()


def finished(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    assert agentvitals.force_flush(timeout_s=10)
    return {span.name: span for span in exporter.get_finished_spans()}


# --- the pieces --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "redacted"), [
    ("https://api.example.com/v1/chat", "https://api.example.com/v1/chat"),
    ("https://user:pw@api.example.com/v1/x?api_key=k1&token=t&v=2#access_token=a",
     "https://REDACTED:REDACTED@api.example.com/v1/x?api_key=REDACTED&token=REDACTED&v=REDACTED#REDACTED"),
    ("/search?q=what+is+my+card&flag", "/search?q=REDACTED&REDACTED"),
    ("http://[::1/broken?token=t", "http://[::1/broken"),  # unparseable: everything after the path goes
])
def test_urls_lose_userinfo_query_values_and_fragment(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize(("system", "statement", "sanitized"), [
    ("sqlite", "SELECT * FROM cards WHERE number = '4111 1111' AND owner_id = 42 LIMIT 10",
     "SELECT * FROM cards WHERE number = ? AND owner_id = ? LIMIT ?"),
    ("sqlite", "INSERT INTO t2 VALUES ('it''s', -1.5e3, x'ff', ?)", "INSERT INTO t2 VALUES (?, -?, x?, ?)"),
    ("postgresql", 'SELECT "user"."id" FROM "user" WHERE email = $1 AND note = $$secret$$',
     'SELECT "user"."id" FROM "user" WHERE email = $1 AND note = ?'),
    ("mysql", 'SELECT `id` FROM users WHERE name = "alice" AND age > 0x1F',
     "SELECT `id` FROM users WHERE name = ? AND age > ?"),
    (None, "UPDATE t SET a = %s, b = %(b)s, c = :c WHERE d = 'x", "UPDATE t SET a = %s, b = %(b)s, c = :c WHERE d = ?"),
])
def test_sql_literals_become_placeholders(system: str | None, statement: str, sanitized: str) -> None:
    assert sanitize_sql(statement, system) == sanitized


def test_bad_scrub_settings_are_clear_errors(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(agentvitals.ConfigError, match=r"scrub pattern '\(unclosed' does not compile"):
        agentvitals.init("x", endpoint=False, scrub=["(unclosed"])
    with pytest.raises(agentvitals.ConfigError, match="scrub must be a function"):
        agentvitals.init("x", endpoint=False, scrub=42)  # type: ignore[arg-type]
    monkeypatch.setenv("AGENTVITALS_SCRUB_PATTERNS", '["sk-secret-(", ')
    with caplog.at_level(logging.WARNING, logger="agentvitals"):
        agentvitals.init("x", endpoint=False, instrumentations=[])
        agentvitals.shutdown()
    assert [r.getMessage() for r in caplog.records] == [
        "agentvitals: ignoring AGENTVITALS_SCRUB_PATTERNS: not a JSON list of regular expressions"]
    assert "sk-secret" not in caplog.text


# --- content stays off when off (issue 18.7), whichever instrumentation set it ------------------------------
def pydantic_ai_spans(tracer: trace.Tracer, secret: str) -> None:
    """Shaped like pydantic-ai's own instrumentation (settings versions 2 and 3)."""
    with tracer.start_as_current_span("invoke_agent support", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
            "pydantic_ai.all_messages": f'[{{"role": "user", "parts": [{{"content": "{secret} all"}}]}}]',
            "final_result": f"{secret} final", "gen_ai.system_instructions": f'[{{"content": "{secret} system"}}]'}):
        with tracer.start_as_current_span("chat gpt-4o", kind=trace.SpanKind.CLIENT, attributes={
                "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 10, "gen_ai.input.messages": f'[{{"content": "{secret} in"}}]',
                "gen_ai.output.messages": f'[{{"content": "{secret} out"}}]',
                "gen_ai.tool.definitions": f'[{{"name": "lookup", "description": "{secret} tool"}}]',
                "model_request_parameters": f'{{"function_tools": ["{secret} params"]}}',
                "events": f'[{{"event.name": "gen_ai.user.message", "content": "{secret} events"}}]'}) as chat:
            chat.add_event("gen_ai.user.message", {"content": f"{secret} event"})
            chat.add_event("gen_ai.choice", {"message": f"{secret} choice"})
        with tracer.start_as_current_span("execute_tool lookup", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup",
                "tool_arguments": f'{{"order": "{secret} v2 args"}}', "tool_response": f"{secret} v2 result",
                "gen_ai.tool.call.arguments": f'{{"order": "{secret} args"}}',
                "gen_ai.tool.call.result": f"{secret} result"}):
            pass


def openinference_spans(tracer: trace.Tracer, secret: str) -> None:
    """Shaped like OpenInference instrumentations' spans (no gen_ai.* keys)."""
    with tracer.start_as_current_span("Agent", attributes={
            "openinference.span.kind": "AGENT", "input.value": f"{secret} agent input",
            "output.value": f"{secret} agent output", "session.id": "s-1"}):
        with tracer.start_as_current_span("ChatOpenAI", attributes={
                "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 10,
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": f"{secret} message",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": f'{{"q": "{secret} call"}}',
                "llm.prompt_template.template": f"{secret} template {{x}}",
                "llm.prompt_template.variables": f'{{"x": "{secret} variable"}}',
                "llm.tools.0.tool.json_schema": f'{{"description": "{secret} schema"}}',
                "llm.invocation_parameters": '{"temperature": 0}'}):
            pass
        with tracer.start_as_current_span("lookup", attributes={
                "openinference.span.kind": "TOOL", "tool.name": "lookup",
                "tool.parameters": f'{{"order": "{secret} parameters"}}', "input.value": f"{secret} tool input"}):
            pass
        with tracer.start_as_current_span("retrieve", attributes={
                "openinference.span.kind": "RETRIEVER", "retrieval.documents.0.document.id": "d1",
                "retrieval.documents.0.document.content": f"{secret} document", "reranker.query": f"{secret} query"}):
            pass


def test_content_of_every_instrumentation_family_is_removed_when_capture_is_off(
        exported: InMemorySpanExporter) -> None:
    secret = "content-canary-7f3a"
    tracer = foreign_tracer("pydantic-ai")
    pydantic_ai_spans(tracer, secret)
    openinference_spans(foreign_tracer("openinference.instrumentation.langchain"), secret)
    spans = finished(exported)

    everything = json.dumps([json.loads(span.to_json()) for span in spans.values()])
    assert secret not in everything
    # What is not content stays: the spans, their structure, models, tokens, tool names and parameters (and
    # what the accounting adds: a foreign agent run is a task, a foreign inference call is priced).
    def foreign(name: str) -> dict[str, Any]:
        return {k: v for k, v in (spans[name].attributes or {}).items() if not k.startswith("agentvitals.")}

    assert foreign("chat gpt-4o") == {
        "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10}
    assert [event.name for event in spans["chat gpt-4o"].events] == []
    assert set(foreign("execute_tool lookup")) == {"gen_ai.operation.name", "gen_ai.tool.name"}
    assert set(foreign("ChatOpenAI")) == {
        "openinference.span.kind", "llm.model_name", "llm.token_count.prompt", "llm.invocation_parameters"}
    assert set(foreign("Agent")) == {"openinference.span.kind", "session.id"}
    assert set(foreign("retrieve")) == {"openinference.span.kind"}
    assert spans["chat gpt-4o"].parent is not None and spans["chat gpt-4o"].parent.span_id == (
        spans["invoke_agent support"].context.span_id)


def test_content_passes_when_capture_is_on() -> None:
    exporter = InMemorySpanExporter()
    agentvitals.init("capture-on", endpoint=False, span_exporter=exporter, instrumentations=[], capture_content=True)
    try:
        pydantic_ai_spans(foreign_tracer("pydantic-ai"), "kept-7f3a")
        with pytest.raises(ValueError), agentvitals.task("t"):
            raise ValueError("message kept-7f3a")
        spans = finished(exporter)
    finally:
        agentvitals.shutdown()
    assert spans["chat gpt-4o"].attributes["gen_ai.input.messages"] == '[{"content": "kept-7f3a in"}]'
    assert [event.name for event in spans["chat gpt-4o"].events] == ["gen_ai.user.message", "gen_ai.choice"]
    assert spans["invoke_agent t"].status.description == "ValueError: message kept-7f3a"


def test_a_reused_application_provider_is_said_once_to_be_unfiltered(caplog: pytest.LogCaptureFixture,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agentvitals._sdk, "_unfiltered_warned", False)
    with caplog.at_level(logging.WARNING, logger="agentvitals"):
        for _ in range(2):
            make_telemetry()  # an application's TracerProvider, passed to init()
            agentvitals.shutdown()
    lines = [r.getMessage() for r in caplog.records if "cannot filter" in r.getMessage()]
    assert len(lines) == 1 and "content capture off" in lines[0]


# --- the user's scrubbing hook ----------------------------------------------------------------------------
def test_scrub_patterns_apply_to_every_exported_string() -> None:
    exporter = InMemorySpanExporter()
    agentvitals.init("scrub", endpoint=False, span_exporter=exporter, instrumentations=[],
                     scrub=[r"acct-\d{6}", re.compile("employee-[a-z]+")])
    try:
        with agentvitals.task("t", attributes={"app.account": "acct-123456", "app.ids": ("acct-654321", "x")}):
            with agentvitals.tool("lookup employee-alice"):
                pass
        spans = finished(exporter)
    finally:
        agentvitals.shutdown()
    task = next(span for name, span in spans.items() if name.startswith("invoke_agent"))
    assert task.attributes["app.account"] == "[REDACTED]" and task.attributes["app.ids"] == ("[REDACTED]", "x")
    assert "execute_tool lookup [REDACTED]" in spans  # span names too
    assert spans["execute_tool lookup [REDACTED]"].attributes["gen_ai.tool.name"] == "lookup [REDACTED]"


def test_a_scrub_function_sees_each_attribute_and_a_failing_one_drops_it(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def scrub(key: str, value: Any) -> Any:
        seen.append(key)
        if key == "app.user":
            return None  # drop it
        if key == "app.bad":
            raise RuntimeError("hook bug")
        return value

    exporter = InMemorySpanExporter()
    agentvitals.init("scrub-fn", endpoint=False, span_exporter=exporter, instrumentations=[], scrub=scrub)
    try:
        with caplog.at_level(logging.WARNING, logger="agentvitals"):
            with pytest.raises(KeyError), agentvitals.task("t", attributes={"app.user": "u-1", "app.bad": "b",
                                                                             "app.ok": "fine"}):
                raise KeyError("k")
            spans = finished(exporter)
    finally:
        agentvitals.shutdown()
    attributes = spans["invoke_agent t"].attributes or {}
    assert "app.user" not in attributes and "app.bad" not in attributes and attributes["app.ok"] == "fine"
    assert {"app.user", "app.ok", "agentvitals.task.name", "otel.status_description"} <= set(seen)
    assert [r.getMessage() for r in caplog.records] == [
        "agentvitals: the scrub hook raised RuntimeError; the attributes it fails on are dropped"]


def test_metric_attributes_go_through_the_scrub_hook() -> None:
    with OtlpHttpSink() as sink:
        agentvitals.init("scrub-metrics", endpoint=sink.url, instrumentations=[], scrub=[r"tool-\d+"])
        try:
            with agentvitals.task("t"), agentvitals.tool("tool-42"):
                pass
        finally:
            agentvitals.shutdown(timeout_s=10)
        sent = "\n".join(str(request) for request in sink.received)
    assert TOOL_DURATION.name in sent and "[REDACTED]" in sent and "tool-42" not in sent


# --- the canaries ------------------------------------------------------------------------------------------
CANARIES = {
    # exception messages
    "API key echoed in a 401 body": "sk-canary-401-a1b2c3d4e5",
    "card number in a tool error": "4929-5555-0199-1234",
    "model output in a parse error": "canary-model-output-said-9911",
    "literal in a DB error": "canary-sql-error-literal-7733",
    "message of an exception a foreign span recorded": "canary-foreign-exception-5150",
    # content (capture off)
    "prompt": "canary-prompt-where-is-order-6060",
    "system instruction": "canary-system-you-are-the-planner-6161",
    "tool arguments": "canary-tool-arguments-6262",
    "tool result": "canary-tool-result-6363",
    "retrieval query": "canary-retrieval-query-6464",
    "foreign (pydantic-ai / OpenInference) content": "canary-foreign-content-6565",
    # URLs
    "api_key= in a query": "canary-query-api-key-7070",
    "token= in a query": "canary-query-token-7171",
    "password in URL userinfo": "canary-userinfo-password-7272",
    "token in a URL fragment": "canary-fragment-token-7373",
    # SQL
    "string literal in SQL": "canary-sql-string-literal-8080",
    "numeric literal in SQL": "31415926535897",
    "statement parameter": "canary-sql-parameter-8282",
    # headers
    "captured Authorization header": "canary-bearer-header-9090",
    "captured x-api-key header": "canary-x-api-key-9191",
    "OTLP export header": "canary-otlp-header-9292",
}


class AllRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("agentvitals", "opentelemetry")):
            self.lines.append(logging.Formatter().format(record))  # with any traceback


def plant_canaries(llm: FakeLLMServer) -> None:
    """An agent that leaks everything it can: each secret goes where agents put such things in practice."""
    secret = CANARIES
    client = openai.OpenAI(base_url=llm.url + "/v1", api_key=secret["API key echoed in a 401 body"], max_retries=0)
    with pytest.raises(openai.AuthenticationError), agentvitals.task("support"):
        client.chat.completions.create(model="gpt-4o-mini", extra_headers={"x-fake": "unauthorized"},
                                       messages=[{"role": "user", "content": "hi"}])
    with agentvitals.task("support"):
        client.chat.completions.create(model="gpt-4o-mini", extra_headers={"x-fake": "echo"}, messages=[
            {"role": "system", "content": secret["system instruction"]},
            {"role": "user", "content": secret["prompt"]}])
        with pytest.raises(ValueError), agentvitals.tool("charge_card", arguments={"a": secret["tool arguments"]}):
            raise ValueError(f"card {secret['card number in a tool error']} declined")
        with agentvitals.tool("lookup") as lookup:
            lookup.set_result(secret["tool result"])
        with agentvitals.retrieval("kb", query=secret["retrieval query"]):
            pass
        with pytest.raises(pydantic.ValidationError), agentvitals.tool("parse_answer"):
            pydantic.TypeAdapter(int).validate_json(json.dumps(secret["model output in a parse error"]))
        tracer = foreign_tracer("an.application")
        with pytest.raises(RuntimeError), tracer.start_as_current_span("foreign"):  # records the exception
            raise RuntimeError(secret["message of an exception a foreign span recorded"])
        pydantic_ai_spans(foreign_tracer("pydantic-ai"), secret["foreign (pydantic-ai / OpenInference) content"])
        openinference_spans(foreign_tracer("openinference"), secret["foreign (pydantic-ai / OpenInference) content"])

        host = llm.url.removeprefix("http://")
        headers = {"authorization": f"Bearer {secret['captured Authorization header']}",
                   "x-api-key": secret["captured x-api-key header"]}
        with httpx.Client(headers=headers) as http:
            http.get(f"{llm.url}/v1/search", params={"api_key": secret["api_key= in a query"],
                                                     "token": secret["token= in a query"]})
            http.get(f"http://agent:{secret['password in URL userinfo']}@{host}/v1/me")
            http.get(f"{llm.url}/v1/callback#access_token={secret['token in a URL fragment']}")

        database = sqlite3.connect(":memory:")
        cursor = database.cursor()
        cursor.execute("CREATE TABLE cards (number TEXT, account INTEGER)")
        cursor.execute(f"INSERT INTO cards VALUES ('{secret['string literal in SQL']}', "
                       f"{secret['numeric literal in SQL']})")
        cursor.execute("INSERT INTO cards VALUES (?, 1)", (secret["statement parameter"],))
        with pytest.raises(sqlite3.OperationalError):
            # An unterminated literal (a string-building bug): the driver quotes it back in its error.
            cursor.execute(f"SELECT * FROM cards WHERE number = '{secret['literal in a DB error']}")
        database.close()


def test_no_planted_secret_reaches_spans_metrics_or_logs(monkeypatch: pytest.MonkeyPatch,
                                                         fake_llm: FakeLLMServer) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", "authorization,x-api-key")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{CANARIES['OTLP export header']}")
    logs = AllRecords()
    logging.getLogger().addHandler(logs)
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        with OtlpHttpSink() as sink:
            agentvitals.init("canary", endpoint=sink.url, instrumentations=["openai", "httpx", "sqlite3"])
            try:
                plant_canaries(fake_llm)
            finally:
                agentvitals.shutdown(timeout_s=10)
    finally:
        logging.getLogger().removeHandler(logs)
        logging.getLogger().setLevel(root_level)
    sent = "\n".join(str(request) for request in sink.received)
    logged = "\n".join(logs.lines)

    leaked = {name: where for name, secret in CANARIES.items()
              for where, text in (("export", sent), ("logs", logged)) if secret in text}
    assert leaked == {}, f"{len(leaked)} of {len(CANARIES)} canaries leaked"

    # The telemetry itself is all there (so the test can fail): failures by type, redacted URLs, sanitised SQL.
    assert sink.spans >= 25 and "gen_ai.client.operation.duration" in sent
    assert 'string_value: "AuthenticationError"' in sent and 'string_value: "ValueError"' in sent
    assert "api_key=REDACTED&token=REDACTED" in sent and "REDACTED:REDACTED@" in sent and "#REDACTED" in sent
    assert "INSERT INTO cards VALUES (?, ?)" in sent
    assert 'key: "exception.type"' in sent and 'string_value: "OperationalError"' in sent
    assert "http.request.header.authorization" in sent and "[REDACTED]" in sent


def test_db_literals_are_kept_when_the_user_opts_in() -> None:
    exporter = InMemorySpanExporter()
    agentvitals.init("literals", endpoint=False, span_exporter=exporter, instrumentations=["sqlite3"],
                     capture_db_literals=True)
    try:
        database = sqlite3.connect(":memory:")
        database.cursor().execute("SELECT 'kept' AS x, 42")
        database.close()
        spans = finished(exporter)
    finally:
        agentvitals.shutdown()
    assert spans["SELECT"].attributes["db.query.text"] == "SELECT 'kept' AS x, 42"


def test_exception_events_keep_their_type(exported: InMemorySpanExporter) -> None:
    with pytest.raises(ZeroDivisionError), foreign_tracer("app").start_as_current_span("divide"):
        raise ZeroDivisionError("division by the secret 1234")
    span = finished(exported)["divide"]
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "ZeroDivisionError"
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "ZeroDivisionError"
    assert not {"exception.message", "exception.stacktrace"} & set(span.events[0].attributes)
