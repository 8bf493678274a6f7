"""A minimal OpenAI- and Anthropic-compatible HTTP server on 127.0.0.1 for SDK tests.

Behaviour is chosen per request with the ``x-fake`` header: ``ok`` (default), ``no_usage``,
``bad_json``, ``error_500``, ``wrong_types``, ``truncated`` (stream cut mid-event, ends cleanly),
``abort`` (stream connection dropped mid-body: the client sees a protocol error), ``unauthorized`` (401
quoting the API key back, as OpenAI does), ``echo`` (the answer repeats the last message), and hostile
data: ``huge_usage`` (2^70 prompt tokens), ``infinite_cost`` (a gateway's ``usage.cost`` of Infinity),
``repeat_finish`` (a stream whose every chunk carries a finish reason). ``x-fake-chunks: N`` sets how
many content chunks a chat stream has (default 5). GET requests (any path, any query) answer
``{"ok": true}``.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.served import ServedHTTP

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 50,
    "total_tokens": 1250,
    "prompt_tokens_details": {"cached_tokens": 1000},
    "completion_tokens_details": {"reasoning_tokens": 10},
}
ANTHROPIC_USAGE = {
    "input_tokens": 100,
    "output_tokens": 40,
    "cache_read_input_tokens": 1000,
    "cache_creation_input_tokens": 200,
}


def _chat(model: str, mode: str, request: dict[str, Any]) -> dict[str, Any]:
    answer = "hello"
    if mode == "echo" and request.get("messages"):
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


def _chat_chunks(model: str, include_usage: bool, mode: str = "ok", count: int = 5) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 0, "model": model + "-2024-07-18"}
    every = "stop" if mode == "repeat_finish" else None
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        *({**base, "choices": [{"index": 0, "delta": {"content": "abcde"[i % 5]}, "finish_reason": every}]}
          for i in range(count)),
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    if include_usage:
        chunks.append({**base, "choices": [], "usage": _hostile_usage(OPENAI_USAGE, mode)})
    return chunks


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


def _message_events(model: str) -> list[tuple[str, dict[str, Any]]]:
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, events: list[tuple[str | None, dict[str, Any]]], done: bool, truncate: bool,
                abort: bool = False) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        if abort:  # promise more body than is sent, then hang up
            self.send_header("content-length", "1000000")
        self.end_headers()
        for index, (event, data) in enumerate(events):
            if abort and index == len(events) // 2:
                self.wfile.flush()
                self.close_connection = True
                return
            if truncate and index == len(events) // 2:
                self.wfile.write(b"data: {\"id\": \"trunc")  # cut inside a JSON payload
                self.wfile.flush()
                self.close_connection = True
                return
            prefix = f"event: {event}\n" if event else ""
            self.wfile.write(f"{prefix}data: {json.dumps(data)}\n\n".encode())
        if done:
            self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._send(200, b'{"ok": true}')

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        try:
            self._post()
        except (BrokenPipeError, ConnectionResetError):  # the client closed a stream early: expected
            self.close_connection = True

    def _post(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        mode = self.headers.get("x-fake", "ok")
        model = request.get("model", "unknown")
        if mode == "error_500":
            self._send(500, json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode())
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
        if self.path.endswith("/chat/completions"):
            if request.get("stream"):
                include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
                chunks = _chat_chunks(model, include_usage, mode, int(self.headers.get("x-fake-chunks") or 5))
                self._stream([(None, c) for c in chunks], True, mode == "truncated", mode == "abort")
            else:
                self._send(200, json.dumps(_chat(model, mode, request)).encode())
        elif self.path.endswith("/embeddings"):
            body = {"object": "list", "model": model,
                    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                    "usage": {"prompt_tokens": 8, "total_tokens": 8}}
            self._send(200, json.dumps(body).encode())
        elif self.path.endswith("/messages"):
            if request.get("stream"):
                self._stream(list(_message_events(model)), False, mode == "truncated")
            else:
                self._send(200, json.dumps(_message(model, mode)).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')


class FakeLLMServer(ServedHTTP):
    """Serves on a free 127.0.0.1 port; use as a context manager (always stopped)."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self._server.requests = []  # type: ignore[attr-defined]

    @property
    def requests(self) -> list[str]:
        return self._server.requests  # type: ignore[attr-defined, no-any-return]
