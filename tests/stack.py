"""Real Collector and Prometheus processes on free 127.0.0.1 ports, configured from the committed files.

The Collector runs ``collector/config.yaml`` itself (its ``${env:...}`` defaults overridden with
loopback addresses); Prometheus runs ``prometheus/prometheus.yml`` with only its targets, intervals
and rule files rewritten. Every process is stopped when its context exits. A missing binary is a
skip on a developer machine and a failure where ``AGENTVITALS_REQUIRE_STACK`` or ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.conftest import subprocess_environ
from tests.served import ServedHTTP

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str, env_var: str | None = None) -> str:
    path = os.environ.get(env_var) if env_var else None
    path = path or shutil.which(name)
    if path and os.access(path, os.X_OK):
        return path
    message = f"{name} not found (run scripts/test.sh, which installs/builds it)"
    if os.environ.get("AGENTVITALS_REQUIRE_STACK") or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def collector_binary() -> str:
    if not os.environ.get("AGENTVITALS_OTELCOL"):
        built = subprocess.run([ROOT / "scripts" / "build-collector.sh"], capture_output=True, text=True)
        if built.returncode == 0 and built.stdout.strip():
            os.environ["AGENTVITALS_OTELCOL"] = built.stdout.strip().splitlines()[-1]
    return require_binary("otelcol-agentvitals", "AGENTVITALS_OTELCOL")


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not ready yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scraped(address: str, metric: str, **labels: str) -> float:
    """Sum of the samples named ``metric`` (with these labels) that ``http://address/metrics`` serves now.

    Names as the Prometheus client's parser gives them: a counter's samples end in ``_total``."""
    from prometheus_client.parser import text_string_to_metric_families

    status, body = http_get(f"http://{address}/metrics")
    assert status == 200, f"{address}/metrics: {status}"
    return sum(sample.value for family in text_string_to_metric_families(body.decode())
               for sample in family.samples
               if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()))


@contextmanager
def process(args: list[str], *, env: dict[str, str] | None = None, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=subprocess_environ(**(env or {})))
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@contextmanager
def serving(args: list[str], *, log: Path, ready_url: str, what: str,
            env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``process``, once ``ready_url`` answers 200 (fails with ``what`` and the log's path after 30 s)."""
    with process(args, env=env, log=log) as proc:
        wait_until(lambda: proc.poll() is None and http_get(ready_url)[0] == 200,
                   timeout=30, what=f"{what} to be ready (log: {log})")
        yield proc


class TraceSink:
    """An OTLP/gRPC trace receiver standing in for Tempo: records the trace ids it receives."""

    def __init__(self) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        sink = self
        self.trace_ids: set[str] = set()
        self.span_names: list[str] = []
        self.spans: list[tuple[str, str]] = []  # (trace id, span id) of every span received, repeats included

        class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC API
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            sink.trace_ids.add(span.trace_id.hex())
                            sink.span_names.append(span.name)
                            sink.spans.append((span.trace_id.hex(), span.span_id.hex()))
                return trace_service_pb2.ExportTraceServiceResponse()

        self.port = free_port()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self._server)
        self._server.add_insecure_port(f"127.0.0.1:{self.port}")

    def __enter__(self) -> TraceSink:
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop(grace=None)


class Collector:
    """A committed Collector config (``collector/<config>``) run with loopback addresses.

    ``tempo_endpoint`` is where an ``otlp_grpc/tempo`` exporter sends; ``env`` sets further
    ``${env:...}`` variables of that config (e.g. the agent's gateway list).
    """

    def __init__(self, tmp: Path, tempo_endpoint: str | None = None, *, config: str = "config.yaml",
                 name: str = "collector", env: Mapping[str, str] | None = None) -> None:
        self.binary = collector_binary()
        self.config = ROOT / "collector" / config
        self.name = name
        self.otlp_http = free_port()
        self.otlp_grpc = free_port()
        self.health = free_port()
        self.prometheus_exporter = free_port()
        self.self_metrics = free_port()
        self.log = tmp / f"{name}.log"
        self.env = {
            "OTLP_HTTP_ENDPOINT": f"127.0.0.1:{self.otlp_http}",
            "OTLP_GRPC_ENDPOINT": f"127.0.0.1:{self.otlp_grpc}",
            "HEALTH_CHECK_ENDPOINT": f"127.0.0.1:{self.health}",
            "PROMETHEUS_EXPORTER_ENDPOINT": f"127.0.0.1:{self.prometheus_exporter}",
            "SELF_METRICS_HOST": "127.0.0.1",
            "SELF_METRICS_PORT": str(self.self_metrics),
            # Longer than the 1s scrape: the connector clears exemplars after each flush, so a flush
            # interval shorter than the scrape interval could hide them from Prometheus.
            "SPAN_METRICS_FLUSH_INTERVAL": "3s",
            **({"TEMPO_OTLP_ENDPOINT": tempo_endpoint} if tempo_endpoint else {}),
            **(env or {}),
        }

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.otlp_http}"

    @property
    def otlp_grpc_address(self) -> str:
        return f"127.0.0.1:{self.otlp_grpc}"

    @property
    def exporter_address(self) -> str:
        return f"127.0.0.1:{self.prometheus_exporter}"

    @property
    def self_metrics_address(self) -> str:
        return f"127.0.0.1:{self.self_metrics}"

    @contextmanager
    def running(self) -> Iterator[Collector]:
        args = [self.binary, f"--config={self.config}"]
        with serving(args, env=self.env, log=self.log, ready_url=f"http://127.0.0.1:{self.health}/ready",
                     what=f"the Collector {self.name}"):
            yield self


class Prometheus:
    """Debian's Prometheus with ``prometheus/prometheus.yml``: each committed target (``host:port``, or a
    DNS service-discovery name with its port) is replaced by the loopback addresses standing in for it;
    jobs with none are dropped. ``targets`` adds to (or overrides) the ones derived from ``collector``."""

    def __init__(self, tmp: Path, collector: Collector | None = None, rule_files: list[Path] | None = None,
                 alertmanager: str | None = None, model_server: str | None = None, *,
                 targets: Mapping[str, Sequence[str]] | None = None) -> None:
        self.binary = require_binary("prometheus")
        self.port = free_port()
        self.tmp = tmp
        self.log = tmp / "prometheus.log"
        config = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
        config["global"]["scrape_interval"] = "1s"
        config["global"]["evaluation_interval"] = "1s"
        config["rule_files"] = [str(path) for path in rule_files or []]
        stand_ins: dict[str, list[str]] = {"model-server:8000": [model_server] if model_server else []}
        if collector is not None:
            stand_ins["otel-collector:8889"] = [collector.exporter_address]
            stand_ins["otel-collector:8888"] = [collector.self_metrics_address]
        stand_ins.update({target: list(addresses) for target, addresses in (targets or {}).items()})
        jobs = []
        for job in config["scrape_configs"]:
            committed = [target for static in job.pop("static_configs", []) for target in static["targets"]]
            committed += [f"{name}:{sd['port']}" for sd in job.pop("dns_sd_configs", []) for name in sd["names"]]
            loopback = [address for target in committed for address in stand_ins.get(target, [])]
            if loopback:
                jobs.append({**job, "static_configs": [{"targets": loopback}]})
        config["scrape_configs"] = jobs
        if alertmanager is None:
            config.pop("alerting", None)
        else:
            config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [alertmanager]
        self.config = tmp / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def running(self) -> Iterator[Prometheus]:
        args = [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.tmp / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--enable-feature=exemplar-storage",
        ]
        with serving(args, log=self.log, ready_url=f"{self.url}/-/ready", what="Prometheus"):
            yield self

    def api(self, path: str, **params: str) -> Any:
        status, body = http_get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        payload = json.loads(body)
        if status != 200 or payload.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params}: {status} {payload}")
        return payload["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def series(self, metric: str) -> list[dict[str, str]]:
        return list(self.api("series", **{"match[]": metric})) if metric else []

    def exemplars(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query_exemplars", query=expr, start="0", end=str(time.time() + 60)))


class Alertmanager:
    """Debian's Alertmanager with ``alerts/alertmanager.yml``: only the webhook URLs' scheme, host and port
    (``control_url``; their paths, one per action, are kept), the secret's path and the grouping intervals
    (seconds instead of minutes) are rewritten."""

    def __init__(self, tmp: Path, control_url: str, secret_file: Path) -> None:
        self.binary = require_binary("prometheus-alertmanager")
        self.port = free_port()
        self.tmp = tmp
        self.log = tmp / "alertmanager.log"
        config = yaml.safe_load((ROOT / "alerts" / "alertmanager.yml").read_text())
        for route in [config["route"], *config["route"].get("routes", [])]:
            route.update(group_wait="1s", group_interval="2s", repeat_interval="1m")
        for receiver in config["receivers"]:
            for webhook in receiver.get("webhook_configs", []):
                committed = urllib.parse.urlsplit(webhook["url"])
                webhook["url"] = control_url.rstrip("/") + committed.path
                webhook["http_config"]["authorization"]["credentials_file"] = str(secret_file)
        self.config = tmp / "alertmanager.yml"
        self.config.write_text(yaml.safe_dump(config))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @contextmanager
    def running(self) -> Iterator[Alertmanager]:
        args = [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.path={self.tmp / 'alertmanager-data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",
        ]
        with serving(args, log=self.log, ready_url=f"http://{self.address}/-/ready", what="Alertmanager"):
            yield self


class OtlpHttpSink(ServedHTTP):
    """An OTLP/HTTP receiver on a given 127.0.0.1 port: counts the spans (and their attributes) it receives,
    optionally slowly (``delay_s``) or refusing every export with ``status`` (e.g. 503, which exporters retry)."""

    def __init__(self, port: int = 0, *, delay_s: float = 0.0, status: int = 200) -> None:
        from http.server import BaseHTTPRequestHandler

        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        sink = self
        self.spans = 0
        self.requests = 0
        self.span_names: list[str] = []
        self.span_tree: list[tuple[str, bytes, bytes]] = []
        """(name, span id, parent span id) of every span received."""
        self.received: list[Any] = []
        """Every decoded export request (traces and metrics), for tests that inspect what left the process."""

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.requests += 1
                if delay_s:
                    time.sleep(delay_s)  # a slow Collector, by design of this fake
                if status == 200 and self.path.endswith("/v1/traces"):
                    request = ExportTraceServiceRequest.FromString(body)
                    sink.received.append(request)
                    received = [span for r in request.resource_spans for s in r.scope_spans for span in s.spans]
                    sink.spans += len(received)
                    sink.span_names.extend(span.name for span in received)
                    sink.span_tree.extend((span.name, span.span_id, span.parent_span_id) for span in received)
                elif status == 200 and self.path.endswith("/v1/metrics"):
                    sink.received.append(ExportMetricsServiceRequest.FromString(body))
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler, port)


class Blackhole:
    """A TCP port that listens but never accepts nor answers: connections hang (a Collector behind a dead
    load balancer or a firewall that drops packets). Closed when the ``with`` block ends."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(1)  # the kernel completes a handshake or two, then drops further connection attempts
        self.port = int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._socket.close()


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free 127.0.0.1 port (trust auth, data in a temp dir)."""

    def __init__(self, tmp: Path) -> None:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        if not candidates:
            require_binary("postgres")  # fails in CI, skips elsewhere
        self.bin = candidates[-1].parent
        self.port = free_port()
        self.log = tmp / "postgres.log"
        # Its own directory: the postgres user cannot traverse root's private pytest temp dirs.
        self.home = Path(tempfile.mkdtemp(prefix="agentvitals-pg-"))
        self.data = self.home / "data"
        self.as_user = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://agentvitals@127.0.0.1:{self.port}/postgres"

    @contextmanager
    def running(self) -> Iterator[PostgresServer]:
        self.data.mkdir()
        if self.as_user:
            shutil.chown(self.home, "postgres")
            shutil.chown(self.data, "postgres")
        subprocess.run([*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-U", "agentvitals",
                        "--auth=trust", "--no-sync"], check=True, capture_output=True, timeout=120)
        args = [*self.as_user, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.data}", "-c", "fsync=off"]
        with process(args, log=self.log) as proc:
            wait_until(lambda: proc.poll() is None and subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True).returncode == 0, timeout=30, what=f"PostgreSQL (log: {self.log})")
            try:
                yield self
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                shutil.rmtree(self.home, ignore_errors=True)


class RedisServer:
    def __init__(self, tmp: Path) -> None:
        self.binary = require_binary("redis-server")
        self.port = free_port()
        self.log = tmp / "redis.log"
        self.tmp = tmp

    @contextmanager
    def running(self) -> Iterator[RedisServer]:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.tmp)]
        with process(args, log=self.log) as proc:
            import redis

            wait_until(lambda: proc.poll() is None and redis.Redis(port=self.port).ping(), timeout=30,
                       what=f"redis-server (log: {self.log})")
            yield self
