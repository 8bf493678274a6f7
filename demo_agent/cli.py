"""The demo's commands (``agentvitals demo``, ``serve-model``, ``serve-tools``), added to the ``agentvitals`` command
line through the ``agentvitals.commands`` entry point: the library never imports the demo. Its dependencies come
with ``pip install 'agentvitals[demo]'``; without them each command says so."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentvitals.cli import positive

__all__ = ["add_commands"]


def _missing_demo_dependency(command: str, exc: ImportError) -> int:
    print(f"agentvitals {command}: missing dependency ({exc.name}); install with: pip install 'agentvitals[demo]'",
          file=sys.stderr)
    return 2


def _demo(args: argparse.Namespace) -> int:
    try:
        from .load import make_phases
        from .runner import DemoConfig, run_demo
    except ImportError as exc:
        return _missing_demo_dependency("demo", exc)
    if args.max_workers < args.workers:
        args.parser.error(f"--max-workers ({args.max_workers}) must be at least --workers ({args.workers})")
    try:
        make_phases(args.phases, duration_s=args.duration, base_rate=args.rate, spike_multiplier=args.spike_multiplier)
    except ValueError as exc:
        args.parser.error(f"--phases: {exc}")
    secret = None
    if args.control_port is not None:
        try:
            with open(args.control_secret_file, encoding="utf-8") as handle:
                secret = handle.read().strip()
        except OSError as exc:
            args.parser.error(f"--control-secret-file: {exc}")
        if secret is None or len(secret) < 16:
            args.parser.error("--control-secret-file: the secret must be at least 16 characters")
    if args.alertmanager_url:
        from agentvitals.routing import check_alertmanager_urls

        try:
            check_alertmanager_urls(args.alertmanager_url)
        except ValueError as exc:
            args.parser.error(f"--alertmanager-url: {exc}")
    config = DemoConfig(
        control_port=args.control_port, control_host=args.control_host, control_secret=secret,
        control_cooldown_s=args.control_cooldown,
        duration_s=args.duration, rate=args.rate, phases=args.phases, spike_multiplier=args.spike_multiplier,
        workers=args.workers, max_workers=args.max_workers, degraded=args.degraded,
        otlp_endpoint=args.otlp_endpoint, db_url=args.db_url, seed=args.seed, max_tasks=args.max_tasks,
        metrics_port=args.metrics_port or None, model_url=args.model_url, tools_url=args.tools_url,
        progress=not args.no_progress, service_name=args.service_name,
        alertmanager_urls=tuple(args.alertmanager_url or ()),
    )
    import asyncio
    import json

    run = asyncio.run(run_demo(config))
    print(run.report.render())
    if args.report_json:
        with open(args.report_json, "w", encoding="utf-8") as handle:
            json.dump(run.report.as_dict(), handle, indent=2, default=str)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    try:
        from .model_server import ModelServer
        from .tool_server import ToolServer
    except ImportError as exc:
        return _missing_demo_dependency(args.command, exc)

    async def serve() -> None:
        server = ModelServer(seed=args.seed) if args.command == "serve-model" else ToolServer(seed=args.seed)
        url = await server.start(args.host, args.port)
        print(f"agentvitals {args.command}: listening on {url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.stop()

    asyncio.run(serve())
    return 0




def add_commands(commands: Any) -> None:
    """Register the demo's sub-commands on the ``agentvitals`` parser's sub-parsers."""
    demo = commands.add_parser(
        "demo", help="run the demo agent under load on loopback and print a report",
        description="Runs a fake OpenAI-compatible model server, a tool service and an instrumented support "
                    "agent under Poisson load (warmup, steady, spike, recovery), then prints a report computed "
                    "from the emitted telemetry. Needs no infrastructure; --otlp-endpoint feeds a Collector.",
    )
    demo.add_argument("--duration", type=positive(), default=60.0, help="seconds of load (default 60)")
    demo.add_argument("--rate", type=positive(), default=2.0, help="steady arrivals per second (default 2)")
    demo.add_argument("--phases", default=None,
                      help="comma-separated phases, each NAME or NAME:SECONDS, from warmup, steady, spike, recovery "
                           "(default: all four, sharing --duration)")
    demo.add_argument("--spike-multiplier", type=positive(), default=4.0, help="spike rate / steady rate")
    demo.add_argument("--workers", type=positive(int), default=12, help="initial agent workers (default 12)")
    demo.add_argument("--max-workers", type=positive(int), default=32, help="scale-out ceiling (default 32)")
    demo.add_argument("--degraded", action="store_true", help="start with the router in degraded mode")
    demo.add_argument("--otlp-endpoint", default=None,
                      help="send traces and metrics to this OTLP/HTTP endpoint (e.g. http://localhost:4318)")
    demo.add_argument("--db-url", default=None, help="postgresql://... (default: SQLite in memory)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--max-tasks", type=positive(int), default=None, help="stop after this many arrivals")
    demo.add_argument("--metrics-port", type=int, default=9464,
                      help="serve the agent's metrics for Prometheus on 127.0.0.1:PORT (0: off; default 9464)")
    demo.add_argument("--model-url", default=None, help="use a model server running elsewhere")
    demo.add_argument("--tools-url", default=None, help="use a tool service running elsewhere")
    demo.add_argument("--service-name", default="support-agent")
    demo.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    demo.add_argument("--report-json", default=None, help="also write the report as JSON here")
    demo.add_argument("--control-port", type=int, default=None,
                      help="serve the control loop's Alertmanager webhook on this port (degrade, scale out/in)")
    demo.add_argument("--control-host", default="127.0.0.1")
    demo.add_argument("--control-secret-file", default="alerts/control-webhook.secret",
                      help="shared secret Alertmanager sends as a bearer token")
    demo.add_argument("--control-cooldown", type=positive(), default=60.0,
                      help="seconds after an alert resolves before undoing its action (default 60)")
    demo.add_argument("--alertmanager-url", action="append", default=None, metavar="URL",
                      help="poll this Alertmanager's API for degrade alerts (the router's pull source, as each of "
                           "many replicas does; repeat for an HA cluster)")
    demo.set_defaults(run=_demo, parser=demo)

    for name, default_port, what in (("serve-model", 8000, "the fake OpenAI-compatible model server"),
                                     ("serve-tools", 8001, "the demo's tool service")):
        serve = commands.add_parser(name, help=f"run {what} (for docker-compose)")
        serve.add_argument("--host", default="127.0.0.1")
        serve.add_argument("--port", type=int, default=default_port)
        serve.add_argument("--seed", type=int, default=1)
        serve.set_defaults(run=_serve)
