"""The ``agentvitals`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from agentvitals._version import __version__


def _cost(args: argparse.Namespace) -> int:
    from agentvitals._config import ConfigError
    from agentvitals._pricing import load_price_table
    from agentvitals._records import Usage

    try:
        table = load_price_table(None, args.prices)
    except ConfigError as exc:
        print(f"agentvitals cost: {exc}", file=sys.stderr)
        return 2
    usage = Usage(args.input_tokens, args.output_tokens, args.cache_read_tokens, args.cache_write_tokens)
    cost = table.cost(args.provider, args.model, usage)
    if cost is None:
        print(f"{args.provider}/{args.model}: no price in table {table.version} (calls would count as unpriced)")
        return 1
    print(f"{args.provider}/{args.model}: ${cost.amount_usd:.6f} (price table {table.version})")
    return 0


def _positive(kind: type = float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _missing_demo_dependency(command: str, exc: ImportError) -> int:
    print(f"agentvitals {command}: missing dependency ({exc.name}); install with: pip install 'agentvitals[demo]'",
          file=sys.stderr)
    return 2


def _demo(args: argparse.Namespace) -> int:
    try:
        from demo_agent.load import make_phases
        from demo_agent.runner import DemoConfig, run_demo
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
        if len(secret) < 16:
            args.parser.error("--control-secret-file: the secret must be at least 16 characters")
    config = DemoConfig(
        control_port=args.control_port, control_host=args.control_host, control_secret=secret,
        control_cooldown_s=args.control_cooldown,
        duration_s=args.duration, rate=args.rate, phases=args.phases, spike_multiplier=args.spike_multiplier,
        workers=args.workers, max_workers=args.max_workers, degraded=args.degraded,
        otlp_endpoint=args.otlp_endpoint, db_url=args.db_url, seed=args.seed, max_tasks=args.max_tasks,
        metrics_port=args.metrics_port or None, model_url=args.model_url, tools_url=args.tools_url,
        progress=not args.no_progress, service_name=args.service_name,
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
        from demo_agent.model_server import ModelServer
        from demo_agent.tool_server import ToolServer
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


def _generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from agentvitals.monitoring import MonitoringConfig, write_files

    # Options left out keep MonitoringConfig's defaults (the values the committed files use).
    chosen = {"prometheus_uid": args.prometheus_uid, "tempo_uid": args.tempo_uid,
              "latency_threshold_s": args.latency_threshold, "hourly_budget_usd": args.hourly_budget,
              "slo_success_target": args.slo_target}
    try:
        config = MonitoringConfig(**{field: value for field, value in chosen.items() if value is not None})
    except ValueError as exc:
        args.parser.error(str(exc))
    changed = write_files(Path(args.output_dir), config, check=args.check)
    if args.check:
        if changed:
            print("agentvitals generate --check: out of date (run `agentvitals generate`):\n  " + "\n  ".join(changed),
                  file=sys.stderr)
            return 1
        print("agentvitals generate --check: up to date")
        return 0
    print("\n".join(f"wrote {path}" for path in changed) or "nothing changed")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from agentvitals._explain._command import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentvitals", description="OpenTelemetry for LLM agents.")
    parser.add_argument("--version", action="version", version=f"agentvitals {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    cost = commands.add_parser("cost", help="price one call with the bundled price table (no network)")
    cost.add_argument("provider", help="gen_ai.provider.name, e.g. openai or anthropic")
    cost.add_argument("model")
    cost.add_argument("--input-tokens", type=int, default=0, help="all input tokens, cached ones included")
    cost.add_argument("--output-tokens", type=int, default=0)
    cost.add_argument("--cache-read-tokens", type=int, default=None)
    cost.add_argument("--cache-write-tokens", type=int, default=None)
    cost.add_argument("--prices", default=None, help="JSON price override file")
    cost.set_defaults(run=_cost)

    demo = commands.add_parser(
        "demo", help="run the demo agent under load on loopback and print a report",
        description="Runs a fake OpenAI-compatible model server, a tool service and an instrumented support "
                    "agent under Poisson load (warmup, steady, spike, recovery), then prints a report computed "
                    "from the emitted telemetry. Needs no infrastructure; --otlp-endpoint feeds a Collector.",
    )
    demo.add_argument("--duration", type=_positive(), default=60.0, help="seconds of load (default 60)")
    demo.add_argument("--rate", type=_positive(), default=2.0, help="steady arrivals per second (default 2)")
    demo.add_argument("--phases", default=None,
                      help="comma-separated phases, each NAME or NAME:SECONDS, from warmup, steady, spike, recovery "
                           "(default: all four, sharing --duration)")
    demo.add_argument("--spike-multiplier", type=_positive(), default=4.0, help="spike rate / steady rate")
    demo.add_argument("--workers", type=_positive(int), default=12, help="initial agent workers (default 12)")
    demo.add_argument("--max-workers", type=_positive(int), default=32, help="scale-out ceiling (default 32)")
    demo.add_argument("--degraded", action="store_true", help="start with the router in degraded mode")
    demo.add_argument("--otlp-endpoint", default=None,
                      help="send traces and metrics to this OTLP/HTTP endpoint (e.g. http://localhost:4318)")
    demo.add_argument("--db-url", default=None, help="postgresql://... (default: SQLite in memory)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--max-tasks", type=_positive(int), default=None, help="stop after this many arrivals")
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
    demo.add_argument("--control-cooldown", type=_positive(), default=60.0,
                      help="seconds after an alert resolves before undoing its action (default 60)")
    demo.set_defaults(run=_demo, parser=demo)

    generate = commands.add_parser(
        "generate", help="write the Grafana dashboards, Prometheus rules and KEDA manifest for your settings",
        description="Generates dashboards/*.json, alerts/rules/agentvitals.rules.yml and "
                    "deploy/kubernetes/keda-scaledobject.yaml under --output-dir.")
    generate.add_argument("--output-dir", default=".", help="where to write (default: current directory)")
    generate.add_argument("--prometheus-uid", help="Grafana uid of your Prometheus datasource (default prometheus)")
    generate.add_argument("--tempo-uid", help="Grafana uid of your Tempo datasource (default tempo)")
    generate.add_argument("--latency-threshold", type=_positive(),
                          help="task p95 alert threshold in seconds (a bucket edge; default 2)")
    generate.add_argument("--hourly-budget", type=_positive(), help="LLM spend budget in $/h (default 5)")
    generate.add_argument("--slo-target", type=_positive(), help="task success SLO (default 0.99)")
    generate.add_argument("--check", action="store_true", help="only check the files are up to date (exit 1 if not)")
    generate.set_defaults(run=_generate, parser=generate)

    explain = commands.add_parser(
        "explain", help="explain a task: waterfall, critical path, time split, tokens and cost, findings",
        description="Prints one task as an ASCII waterfall (critical path marked, the task's own work visible), its "
                    "time split and critical path by kind, tokens and cost by operation and model, budget use, "
                    "errors by class and findings with suggestions. From an OTLP JSON file (the Collector's file "
                    "exporter, or init(trace_file=...)) or Tempo's HTTP API. Without a trace id: the slowest task.")
    explain.add_argument("trace_id", nargs="?", default=None, help="the trace to explain (hex)")
    source = explain.add_mutually_exclusive_group()
    source.add_argument("--file", default=None,
                        help="OTLP JSON lines (default: $AGENTVITALS_TRACE_FILE when --tempo-url is not given)")
    source.add_argument("--tempo-url", default=None, help="Tempo's HTTP API, e.g. http://localhost:3200")
    pick = explain.add_mutually_exclusive_group()
    pick.add_argument("--slowest", type=_positive(int), default=None, help="explain the N slowest tasks")
    pick.add_argument("--costliest", type=_positive(int), default=None, help="explain the N costliest tasks")
    explain.add_argument("--since", type=_positive(), default=3600.0,
                         help="with --tempo-url and no trace id: search this many seconds back (default 3600)")
    explain.add_argument("--max-rows", type=_positive(int), default=60, help="waterfall rows (default 60)")
    explain.set_defaults(run=_explain)

    for name, default_port, what in (("serve-model", 8000, "the fake OpenAI-compatible model server"),
                                     ("serve-tools", 8001, "the demo's tool service")):
        serve = commands.add_parser(name, help=f"run {what} (for docker-compose)")
        serve.add_argument("--host", default="127.0.0.1")
        serve.add_argument("--port", type=int, default=default_port)
        serve.add_argument("--seed", type=int, default=1)
        serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
