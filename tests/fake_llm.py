"""A local LLM backend on 127.0.0.1 for SDK and framework tests: the OpenAI (chat completions, embeddings,
Responses), Anthropic (messages) and Gemini (generateContent, streamGenerateContent, embedContent,
batchEmbedContents) wire formats, plain and streamed (SSE), each sending the usage constants below.

Behaviour is chosen per request with the ``x-fake`` header: ``ok`` (default), ``no_usage``,
``bad_json``, ``error_500`` (or any ``error_<status>``), ``wrong_types``, ``incomplete`` (Responses: status
``incomplete``), ``truncated`` (stream cut mid-event, ends cleanly), ``abort`` (stream connection dropped mid-body:
the client sees a protocol error), ``unauthorized`` (401 quoting the API key back, as OpenAI does), ``echo``
(the chat answer repeats the last message), and hostile data: ``huge_usage`` (2^70 prompt tokens),
``infinite_cost`` (a gateway's ``usage.cost`` of Infinity), ``repeat_finish`` (a chat stream whose every chunk
carries a finish reason). ``x-fake-chunks: N`` sets how many content chunks a chat stream has (default 5).
GET requests (any path, any query) answer ``{"ok": true}``.

Agent turns (chat completions and Responses, plain and streamed): the ``x-fake-tools`` header scripts
the tool calls an agent framework's requests get, e.g. ``weather,weather;final_answer``: the first
turn calls ``weather`` twice (parallel calls), the next calls ``final_answer``, then the model answers
with text. Which turn a request is in follows from the assistant messages (chat completions) or tool
results (Responses) it carries; arguments are filled from each tool's JSON schema. Every answer, tool
calls or text, sends the same usage.

The server records every request path it received (``requests``) and counts, per path, the LLM
responses it answered in full (``answered``): a test asserts "LLM calls counted = requests answered".
Routes match on the path's suffix, so any base URL prefix works (``/v1/chat/completions``,
``/chat/completions``, ``/v1beta/models/gemini-2.5-flash:generateContent``, Vertex's
``/v1beta1/projects/p/locations/l/publishers/google/models/m:generateContent``).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.served import ServedHTTP

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 50,
    "total_tokens": 1250,
    "prompt_tokens_details": {"cached_tokens": 1000},
    "completion_tokens_details": {"reasoning_tokens": 10},
}
EMBEDDING_USAGE = {"prompt_tokens": 8, "total_tokens": 8}
RESPONSES_USAGE = {  # openai.types.responses.ResponseUsage: inclusive like chat completions
    "input_tokens": 1200,
    "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 0},
    "output_tokens": 50,
    "output_tokens_details": {"reasoning_tokens": 10},
    "total_tokens": 1250,
}
ANTHROPIC_USAGE = {  # additive: input_tokens excludes the cache reads and writes
    "input_tokens": 100,
    "output_tokens": 40,
    "cache_read_input_tokens": 1000,
    "cache_creation_input_tokens": 200,
}
GEMINI_USAGE = {  # prompt includes the cached tokens; candidates exclude the thoughts
    "promptTokenCount": 1200,
    "cachedContentTokenCount": 1000,
    "candidatesTokenCount": 40,
    "thoughtsTokenCount": 10,
    "totalTokenCount": 1250,
}
GEMINI_EMBEDDING_USAGE = {"promptTokenCount": 8, "totalTokenCount": 8}

Event = tuple[str | None, dict[str, Any]]
"""One SSE event: (``event:`` name or ``None``, ``data:`` payload)."""


# --- OpenAI chat completions and embeddings ---------------------------------------------------------
def _chat(model: str, mode: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = "hello"
    if mode == "echo" and request and request.get("messages"):
        answer = str(request["messages"][-1].get("content"))
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model + "-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        "usage": OPENAI_USAGE,
    }
    if mode == "no_usage":
        del body["usage"]
    if mode == "wrong_types":
        body["usage"] = {"prompt_tokens": "many", "completion_tokens": -3}
        body["choices"] = [{"index": 0, "message": {"role": "assistant", "content": 7}, "finish_reason": 12}]
    body["usage"] = _hostile_usage(body.get("usage"), mode)
    return body


def _hostile_usage(usage: dict[str, Any] | None, mode: str) -> dict[str, Any] | None:
    if mode == "huge_usage":
        return {**OPENAI_USAGE, "prompt_tokens": 2**70}
    if mode == "infinite_cost":
        return {**OPENAI_USAGE, "cost": float("inf")}  # serialised as Infinity, which JSON parsers accept
    return usage


def _chat_chunks(model: str, include_usage: bool, mode: str = "ok", count: int = 5) -> list[Event]:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 0, "model": model + "-2024-07-18"}
    every = "stop" if mode == "repeat_finish" else None
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        *({**base, "choices": [{"index": 0, "delta": {"content": "abcde"[i % 5]}, "finish_reason": every}]}
          for i in range(count)),
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    if include_usage:  # the extra final chunk: empty choices, the usage of the whole call
        chunks.append({**base, "choices": [], "usage": _hostile_usage(OPENAI_USAGE, mode)})
    return [(None, chunk) for chunk in chunks]


def _embeddings(model: str, mode: str) -> dict[str, Any]:
    body: dict[str, Any] = {"object": "list", "model": model,
                            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                            "usage": EMBEDDING_USAGE}
    if mode == "no_usage":
        del body["usage"]
    return body


# --- OpenAI Responses API -------------------------------------------------------------------------
def _response(model: str, mode: str, request: dict[str, Any], *, text: str = "hello",
              status: str = "completed") -> dict[str, Any]:
    message = {"type": "message", "id": "msg_r1", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}
    body: dict[str, Any] = {
        "id": "resp_1", "object": "response", "created_at": 0, "status": status,
        "model": model + "-2024-07-18", "output": [message] if status != "in_progress" else [],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
        "incomplete_details": None, "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"), "temperature": request.get("temperature", 1.0),
        "top_p": request.get("top_p", 1.0), "text": {"format": {"type": "text"}}, "truncation": "disabled",
        "usage": RESPONSES_USAGE if status != "in_progress" else None,
    }
    if mode == "incomplete" and status != "in_progress":
        body["status"] = "incomplete"
        body["incomplete_details"] = {"reason": "max_output_tokens"}
    if mode == "no_usage":
        body["usage"] = None
    if mode == "wrong_types":
        body["usage"] = {"input_tokens": "many", "output_tokens": -3}
        body["status"] = 12
    return body


def _response_events(model: str, mode: str, request: dict[str, Any]) -> list[Event]:
    """The event sequence the Responses API streams for one text message."""
    words = "abcde"
    started = _response(model, mode, request, status="in_progress")
    item = {"type": "message", "id": "msg_r1", "status": "in_progress", "role": "assistant", "content": []}
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    where = {"item_id": "msg_r1", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **where, "part": part},
        *({"type": "response.output_text.delta", **where, "delta": w, "logprobs": []} for w in words),
        {"type": "response.output_text.done", **where, "text": words, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": {**part, "text": words}},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {**item, "status": "completed", "content": [{**part, "text": words}]}},
    ]
    final = _response(model, mode, request, text=words)
    done = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    events.append({"type": done, "response": final})
    return [(event["type"], {**event, "sequence_number": index}) for index, event in enumerate(events)]


# --- Agent turns: scripted tool calls ----------------------------------------------------------------
ToolCall = tuple[str, str, str]
"""(call id, tool name, JSON arguments)."""


def _schema_value(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    return {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}.get(kind or "", "hello")


def _arguments(parameters: dict[str, Any] | None) -> str:
    properties = (parameters or {}).get("properties") or {}
    required = (parameters or {}).get("required") or list(properties)
    return json.dumps({name: _schema_value(properties.get(name) or {}) for name in required})


def _declared_tools(request: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Tool name -> JSON schema of its parameters, from a chat completions or a Responses request."""
    declared: dict[str, dict[str, Any] | None] = {}
    for tool in request.get("tools") or ():
        function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            declared[function["name"]] = function.get("parameters")
    return declared


def _turn(request: dict[str, Any], groups: list[list[str]]) -> int:
    """How many scripted turns this conversation has been through: its assistant messages (chat completions;
    some frameworks replay tool calls as text), or the tool results it carries (Responses)."""
    messages = request.get("messages")
    if isinstance(messages, list):
        return sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
    items = request.get("input")
    results = sum(1 for i in items if isinstance(i, dict) and i.get("type") == "function_call_output") \
        if isinstance(items, list) else 0
    turn = 0
    while turn < len(groups) and results >= len(groups[turn]):
        results -= len(groups[turn])
        turn += 1
    return turn


def _tool_calls_due(request: dict[str, Any], script: str | None) -> list[ToolCall]:
    """The tool calls this request is answered with: the scripted turn the conversation has reached."""
    declared = _declared_tools(request)
    if not script or not declared:
        return []
    groups = [[name.strip() for name in group.split(",") if name.strip()] for group in script.split(";")]
    turn = _turn(request, groups)
    if turn >= len(groups):
        return []
    return [(f"call_{turn}_{index}", name, _arguments(declared.get(name))) for index, name in enumerate(groups[turn])]


def _chat_tool_calls(model: str, calls: list[ToolCall]) -> dict[str, Any]:
    body = _chat(model, "ok")
    body["choices"] = [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                       for call_id, name, arguments in calls]}}]
    return body


def _chat_tool_call_chunks(model: str, calls: list[ToolCall], include_usage: bool) -> list[Event]:
    base = {"id": "chatcmpl-3", "object": "chat.completion.chunk", "created": 0, "model": model + "-2024-07-18"}
    chunks: list[dict[str, Any]] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": None}, "finish_reason": None}]}]
    for index, (call_id, name, arguments) in enumerate(calls):
        start = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        rest = {"index": index, "function": {"arguments": arguments}}
        chunks += [{**base, "choices": [{"index": 0, "delta": {"tool_calls": [delta]}, "finish_reason": None}]}
                   for delta in (start, rest)]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    if include_usage:
        chunks.append({**base, "choices": [], "usage": OPENAI_USAGE})
    return [(None, chunk) for chunk in chunks]


def _function_call_items(calls: list[ToolCall], status: str = "completed") -> list[dict[str, Any]]:
    return [{"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": name,
             "arguments": arguments if status == "completed" else "", "status": status}
            for call_id, name, arguments in calls]


def _response_tool_calls(model: str, request: dict[str, Any], calls: list[ToolCall]) -> dict[str, Any]:
    return {**_response(model, "ok", request), "output": _function_call_items(calls)}


def _response_tool_call_events(model: str, request: dict[str, Any], calls: list[ToolCall]) -> list[Event]:
    started = _response(model, "ok", request, status="in_progress")
    events: list[dict[str, Any]] = [{"type": "response.created", "response": started},
                                    {"type": "response.in_progress", "response": started}]
    pending, completed = _function_call_items(calls, "in_progress"), _function_call_items(calls)
    for index, (item, done) in enumerate(zip(pending, completed, strict=True)):
        events += [
            {"type": "response.output_item.added", "output_index": index, "item": item},
            {"type": "response.function_call_arguments.delta", "item_id": item["id"], "output_index": index,
             "delta": done["arguments"]},
            {"type": "response.function_call_arguments.done", "item_id": item["id"], "output_index": index,
             "name": done["name"], "arguments": done["arguments"]},
            {"type": "response.output_item.done", "output_index": index, "item": done},
        ]
    events.append({"type": "response.completed", "response": _response_tool_calls(model, request, calls)})
    return [(event["type"], {**event, "sequence_number": index}) for index, event in enumerate(events)]


# --- Anthropic messages ---------------------------------------------------------------------------
def _message(model: str, mode: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": ANTHROPIC_USAGE,
    }
    if mode == "no_usage":
        body["usage"] = {}
    return body


def _message_events(model: str) -> list[Event]:
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    message = {**_message(model, "ok"), "content": [], "stop_reason": None, "usage": start_usage}
    return [
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        *(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": w}}) for w in "abc"),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 40}}),
        ("message_stop", {"type": "message_stop"}),
    ]


# --- Gemini (Developer API and Vertex share the shapes) ----------------------------------------------
def _gemini(model: str, mode: str, text: str = "hello", usage: dict[str, Any] | None = None,
            finish: str | None = "STOP") -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "gemini-resp-1",
                            "usageMetadata": GEMINI_USAGE if usage is None else usage}
    if mode == "no_usage":
        del body["usageMetadata"]
    if mode == "wrong_types":
        body["usageMetadata"] = {"promptTokenCount": "many", "candidatesTokenCount": -3}
    return body


def _gemini_chunks(model: str, mode: str) -> list[Event]:
    # As the API streams: every chunk carries the usage so far; only the last one has the output counts.
    prompt = GEMINI_USAGE["promptTokenCount"]
    partial = {"promptTokenCount": prompt, "totalTokenCount": prompt}
    chunks = [_gemini(model, mode, w, partial, None) for w in "abcd"]
    chunks.append(_gemini(model, mode, "e"))
    return [(None, chunk) for chunk in chunks]


def _gemini_embeddings(path: str, request: dict[str, Any], mode: str) -> dict[str, Any]:
    count = len(request.get("requests") or ()) or 1
    body: dict[str, Any] = {"usageMetadata": GEMINI_EMBEDDING_USAGE}
    if path.endswith(":batchEmbedContents"):
        body["embeddings"] = [{"values": [0.1, 0.2]} for _ in range(count)]
    else:
        body["embedding"] = {"values": [0.1, 0.2]}
    if mode == "no_usage":
        del body["usageMetadata"]
    return body


def _gemini_model(path: str) -> str:
    """``.../models/{model}:method`` -> ``model``."""
    return path.rpartition("/models/")[2].partition(":")[0] or "unknown"


# --- the server -------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _answered(self) -> None:
        self.server.answered_one(self._route)  # type: ignore[attr-defined]

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, body: dict[str, Any]) -> None:
        self._send(200, json.dumps(body).encode())
        self._answered()

    def _stream(self, events: list[Event], done: bool, mode: str) -> None:
        truncate, abort = mode == "truncated", mode == "abort"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        if abort:  # promise more body than is sent, then hang up
            self.send_header("content-length", "1000000")
        self.end_headers()
        self.close_connection = True
        for index, (event, data) in enumerate(events):
            if abort and index == len(events) // 2:
                self.wfile.flush()
                return
            if truncate and index == len(events) // 2:
                self.wfile.write(b"data: {\"id\": \"trunc")  # cut inside a JSON payload
                self.wfile.flush()
                return
            prefix = f"event: {event}\n" if event else ""
            self.wfile.write(f"{prefix}data: {json.dumps(data)}\n\n".encode())
        if done:
            self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self._answered()

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._send(200, b'{"ok": true}')

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        try:
            self._post()
        except (BrokenPipeError, ConnectionResetError):  # the client closed a stream early: expected
            self.close_connection = True

    def _post(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        self._route = urlsplit(self.path).path
        length = int(self.headers.get("content-length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        mode = self.headers.get("x-fake", "ok")
        if mode.startswith("error_"):  # error_500, error_429, ...: that status with an OpenAI-shaped error body
            status = int(mode.removeprefix("error_"))
            self._send(status, json.dumps({"error": {"message": "boom", "type": "server_error", "code": status,
                                                     "status": "INTERNAL"}}).encode())
            return
        if mode == "bad_json":
            self._send(200, b"{not json")
            return
        if mode == "unauthorized":
            key = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key}. You can find your API key at https://example.invalid."
            self._send(401, json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                                  "code": "invalid_api_key"}}).encode())
            return
        handler = next((h for suffix, h in _ROUTES if self._route.endswith(suffix)), None)
        if handler is None:
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        handler(self, request, mode)

    # One api_* method per API, answering with a JSON body or an SSE stream (the prefix keeps clear of the
    # base class's own names: BaseHTTPRequestHandler.responses is its status-line table).
    def api_chat_completions(self, request: dict[str, Any], mode: str) -> None:
        model = request.get("model", "unknown")
        calls = _tool_calls_due(request, self.headers.get("x-fake-tools"))
        if calls:
            if request.get("stream"):
                include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
                self._stream(_chat_tool_call_chunks(model, calls, include_usage), True, mode)
            else:
                self._json(_chat_tool_calls(model, calls))
        elif request.get("stream"):
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            chunks = _chat_chunks(model, include_usage, mode, int(self.headers.get("x-fake-chunks") or 5))
            self._stream(chunks, True, mode)
        else:
            self._json(_chat(model, mode, request))

    def api_embeddings(self, request: dict[str, Any], mode: str) -> None:
        self._json(_embeddings(request.get("model", "unknown"), mode))

    def api_responses(self, request: dict[str, Any], mode: str) -> None:
        model = request.get("model", "unknown")
        calls = _tool_calls_due(request, self.headers.get("x-fake-tools"))
        if calls:
            if request.get("stream"):
                self._stream(_response_tool_call_events(model, request, calls), False, mode)
            else:
                self._json(_response_tool_calls(model, request, calls))
        elif request.get("stream"):
            self._stream(_response_events(model, mode, request), False, mode)
        else:
            self._json(_response(model, mode, request))

    def api_messages(self, request: dict[str, Any], mode: str) -> None:
        model = request.get("model", "unknown")
        if request.get("stream"):
            self._stream(_message_events(model), False, mode)
        else:
            self._json(_message(model, mode))

    def api_generate_content(self, request: dict[str, Any], mode: str) -> None:
        self._json(_gemini(_gemini_model(self._route), mode))

    def api_stream_generate_content(self, request: dict[str, Any], mode: str) -> None:
        self._stream(_gemini_chunks(_gemini_model(self._route), mode), False, mode)

    def api_embed_content(self, request: dict[str, Any], mode: str) -> None:
        self._json(_gemini_embeddings(self._route, request, mode))


_ROUTES: tuple[tuple[str, Callable[[_Handler, dict[str, Any], str], None]], ...] = (
    ("/chat/completions", _Handler.api_chat_completions),
    ("/embeddings", _Handler.api_embeddings),
    ("/responses", _Handler.api_responses),
    ("/messages", _Handler.api_messages),
    (":generateContent", _Handler.api_generate_content),
    (":streamGenerateContent", _Handler.api_stream_generate_content),
    (":embedContent", _Handler.api_embed_content),
    (":batchEmbedContents", _Handler.api_embed_content),
)


class FakeLLMServer(ServedHTTP):
    """Serves on a free 127.0.0.1 port; use as a context manager (always stopped)."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        server: Any = self._server
        server.requests = []
        server.answered = Counter()
        lock = threading.Lock()

        def answered_one(path: str) -> None:
            with lock:
                server.answered[path] += 1

        server.answered_one = answered_one

    @property
    def requests(self) -> list[str]:
        """Every request path received (with its query), in order."""
        return self._server.requests  # type: ignore[attr-defined, no-any-return]

    @property
    def answered(self) -> Counter[str]:
        """Per path (without query): LLM responses sent in full (a 200 with a complete body or stream)."""
        return self._server.answered  # type: ignore[attr-defined, no-any-return]

    def answered_total(self) -> int:
        return sum(self.answered.values())
