"""``agentvitals explain`` on a real demo run: from the OTLP JSON file ``init(trace_file=...)`` wrote, and from a fake
Tempo HTTP endpoint serving the same traces the way Tempo does (base64 ids, enum names, ``/api/v2/traces/<id>``,
a TraceQL search); bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from agentvitals.attributes import TASK_COST_AMOUNT, TASK_WALL_TIME
from demo_agent.runner import DemoConfig, run_demo
from tests.served import ServedHTTP

BIN = Path(sys.executable).parent
KINDS = {0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT",
         4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER"}
STATUS = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


def explain(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "agentvitals"), "explain", *arguments], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explain") / "traces.jsonl"
    asyncio.run(run_demo(DemoConfig(phases="steady:4", rate=3, seed=5, progress=False,
                                    init_kwargs={"trace_file": str(path)})))
    return path


def requests(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def task_spans(path: Path) -> list[dict[str, Any]]:
    return [span for request in requests(path) for rs in request["resourceSpans"] for ss in rs["scopeSpans"]
            for span in ss["spans"] if any(a["key"] == TASK_WALL_TIME for a in span.get("attributes", ()))]


def attribute(span: dict[str, Any], key: str) -> Any:
    value = next(a["value"] for a in span["attributes"] if a["key"] == key)
    return next(iter(value.values()))


def slowest_trace(path: Path) -> str:
    return max(task_spans(path), key=lambda s: int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"]))["traceId"]


# --- the file -----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_explain_the_slowest_task_of_a_demo_run_from_its_trace_file(demo_file: Path) -> None:
    result = explain("--file", str(demo_file))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"trace {slowest_trace(demo_file)}")
    for expected in ("task support", "offset", "duration", "timeline", "* critical path", "time split",
                     "critical path ", "tokens and cost by operation and model", "budget ", "errors ", "findings",
                     "chat demo-small", "embeddings demo-embed"):
        assert expected in out, expected
    assert out.count("\n*") >= 2  # the task and at least one span on its critical path


@pytest.mark.slow
def test_explain_picks_the_slowest_and_costliest_tasks(demo_file: Path) -> None:
    slowest = explain("--file", str(demo_file), "--slowest", "2")
    assert slowest.returncode == 0 and "[1/2]" in slowest.stdout and "[2/2]" in slowest.stdout
    costliest = explain("--file", str(demo_file), "--costliest", "1")
    top = max(task_spans(demo_file), key=lambda s: attribute(s, TASK_COST_AMOUNT))
    assert costliest.returncode == 0 and costliest.stdout.startswith(f"trace {top['traceId']}")


@pytest.mark.slow
def test_explain_a_trace_by_id_from_the_file_or_the_environment(demo_file: Path) -> None:
    trace_id = task_spans(demo_file)[0]["traceId"]
    by_id = explain(trace_id, "--file", str(demo_file))
    assert by_id.returncode == 0 and by_id.stdout.startswith(f"trace {trace_id}")
    from_env = explain(trace_id, env={**os.environ, "AGENTVITALS_TRACE_FILE": str(demo_file)})
    assert from_env.stdout == by_id.stdout


# --- a fake Tempo ---------------------------------------------------------------------------------------------------
def as_tempo(span: dict[str, Any]) -> dict[str, Any]:
    """A span as Tempo's API answers it: protobuf JSON (base64 ids, enum names)."""
    tempo = copy.deepcopy(span)
    for key in ("traceId", "spanId", "parentSpanId"):
        if tempo.get(key):
            tempo[key] = base64.b64encode(bytes.fromhex(tempo[key])).decode()
    tempo["kind"] = KINDS[tempo.get("kind", 0)]
    if "status" in tempo:
        tempo["status"] = {**tempo["status"], "code": STATUS[tempo["status"].get("code", 0)]}
    return tempo


class FakeTempo(ServedHTTP):
    def __init__(self, path: Path) -> None:
        traces: dict[str, list[dict[str, Any]]] = {}
        for request in requests(path):
            for resource_spans in request["resourceSpans"]:
                for scope_spans in resource_spans["scopeSpans"]:
                    for span in scope_spans["spans"]:
                        traces.setdefault(span["traceId"], []).append(
                            {"resource": resource_spans["resource"], "scopeSpans": [
                                {"scope": scope_spans["scope"], "spans": [as_tempo(span)]}]})
        tasks = task_spans(path)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urllib.parse.urlsplit(self.path)
                if url.path.startswith("/api/v2/traces/"):
                    found = traces.get(url.path.rsplit("/", 1)[-1])
                    if found is None:
                        self.send_response(404)
                        self.send_header("content-length", "0")
                        self.end_headers()
                        return
                    self._json(200, {"trace": {"resourceSpans": found}, "status": "COMPLETE", "metrics": {}})
                elif url.path == "/api/search":
                    query = urllib.parse.parse_qs(url.query)["q"][0]
                    assert TASK_WALL_TIME in query and "select(" in query
                    self._json(200, {"traces": [
                        {"traceID": t["traceId"].lstrip("0"), "rootServiceName": "support-agent",
                         "spanSets": [{"spans": [{"spanID": t["spanId"], "attributes": [
                             {"key": TASK_WALL_TIME, "value": {"doubleValue": attribute(t, TASK_WALL_TIME)}},
                             {"key": TASK_COST_AMOUNT, "value": {"doubleValue": attribute(t, TASK_COST_AMOUNT)}},
                         ]}], "matched": 1}]} for t in tasks]})
                else:
                    self._json(404, {})

        super().__init__(Handler)


@pytest.fixture(scope="module")
def tempo(demo_file: Path) -> Iterator[FakeTempo]:
    with FakeTempo(demo_file) as server:
        yield server


@pytest.mark.slow
def test_explain_a_trace_from_tempo_says_what_the_file_says(demo_file: Path, tempo: FakeTempo) -> None:
    trace_id = slowest_trace(demo_file)
    from_tempo = explain(trace_id, "--tempo-url", tempo.url)
    assert from_tempo.returncode == 0, from_tempo.stderr
    assert from_tempo.stdout == explain(trace_id, "--file", str(demo_file)).stdout


@pytest.mark.slow
def test_explain_the_slowest_task_in_tempo(demo_file: Path, tempo: FakeTempo) -> None:
    result = explain("--tempo-url", tempo.url, "--slowest", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == explain("--file", str(demo_file), "--slowest", "1").stdout


# --- bad input: one line on stderr, exit code 2 --------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize(("case", "message"), [
    ("unknown trace in the file", "not found in"),
    ("unknown trace in Tempo", "not found in Tempo"),
    ("Tempo unreachable", "cannot reach Tempo"),
    ("not JSON", "is not OTLP JSON"),
    ("JSON but not OTLP", "is not OTLP JSON (no resourceSpans)"),
    ("no such file", "cannot read"),
    ("no source", "give one source"),
    ("not a trace id", "is not a trace id"),
], ids=lambda value: value.replace(" ", "-") if isinstance(value, str) else value)
def test_bad_input_is_one_line_and_exit_code_2(case: str, message: str, demo_file: Path, tempo: FakeTempo,
                                               tmp_path: Path) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    text = tmp_path / "notes.txt"
    text.write_text("these are notes\nnot spans\n")
    other = tmp_path / "other.jsonl"
    other.write_text('{"resourceMetrics": []}\n')
    arguments = {
        "unknown trace in the file": [unknown, "--file", str(demo_file)],
        "unknown trace in Tempo": [unknown, "--tempo-url", tempo.url],
        "Tempo unreachable": [unknown, "--tempo-url", f"http://127.0.0.1:{closed_port()}"],
        "not JSON": ["--file", str(text)],
        "JSON but not OTLP": ["--file", str(other)],
        "no such file": ["--file", str(tmp_path / "missing.jsonl")],
        "no source": [unknown],
        "not a trace id": ["not-hex", "--file", str(demo_file)],
    }[case]
    env = {k: v for k, v in os.environ.items() if k != "AGENTVITALS_TRACE_FILE"}
    result = explain(*arguments, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("agentvitals explain: ") and message in lines[0], result.stderr
