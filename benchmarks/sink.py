"""A local OTLP/HTTP sink: accepts every export on 127.0.0.1, discards it, and counts what arrived.

It runs in its own process (``Sink()`` starts it), so the benchmarked process pays for sending its
telemetry (encoding, the HTTP request) and nothing for receiving it. Of spans it counts how many each
instrumentation scope sent, and how many carry agentvitals' cost attribute (a call that was priced).
It answers like a Collector: 200 with an empty protobuf response (a valid ``Export*ServiceResponse``), over
keep-alive HTTP/1.1 connections.

    python benchmarks/sink.py    # prints the port, serves until killed
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Sink"]


COST_ATTRIBUTE = "agentvitals.usage.cost.amount"


def _span_counts(body: bytes) -> Counter[str]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    counts: Counter[str] = Counter()
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            counts[f"spans from {scope_spans.scope.name}"] += len(scope_spans.spans)
            counts["priced spans"] += sum(any(a.key == COST_ATTRIBUTE for a in span.attributes)
                                          for span in scope_spans.spans)
    return counts


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as with a real Collector
    received: Counter[str] = Counter()

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        self.received[f"{self.path} requests"] += 1
        self.received[f"{self.path} bytes"] += len(body)
        if self.path == "/v1/traces":
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            self.received.update(_span_counts(body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps(dict(self.received)).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass


class Sink:
    """The sink in a child process; ``endpoint`` is its OTLP base URL. ``received()`` reads its counts."""

    def __init__(self) -> None:
        self._process = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        port = int(self._process.stdout.readline())
        self.endpoint = f"http://127.0.0.1:{port}"

    def received(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.endpoint}/stats", timeout=10) as response:
            counts: dict[str, int] = json.load(response)
        return counts

    def close(self) -> None:
        self._process.kill()
        self._process.wait()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
