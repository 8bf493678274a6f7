"""The ``agentvitals`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from agentvitals._version import __version__
from agentvitals.semconv import Generation

__all__ = ["COMMANDS_GROUP", "build_parser", "main", "positive"]

COMMANDS_GROUP = "agentvitals.commands"
"""Entry points that add sub-commands: each is ``add(subparsers)`` (argparse's sub-parsers action)."""


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


def positive(kind: type = float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    try:  # the generators import grafanalib and PyYAML
        from agentvitals.monitoring import MonitoringConfig, write_files
    except ImportError as exc:
        print(f"agentvitals generate needs the monitoring extra: pip install 'agentvitals[monitoring]' ({exc})",
              file=sys.stderr)
        return 2

    # Options left out keep MonitoringConfig's defaults (the values the committed files use).
    chosen = {"prometheus_uid": args.prometheus_uid, "tempo_uid": args.tempo_uid,
              "latency_threshold_s": args.latency_threshold, "hourly_budget_usd": args.hourly_budget,
              "slo_success_target": args.slo_target,
              "genai_names": Generation(args.genai_names) if args.genai_names else None}
    try:
        config = MonitoringConfig(**{field: value for field, value in chosen.items() if value is not None})
        changed = write_files(Path(args.output_dir), config, check=args.check)
    except ValueError as exc:
        args.parser.error(str(exc))
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

    generate = commands.add_parser(
        "generate", help="write the Grafana dashboards, Prometheus rules and KEDA manifest for your settings",
        description="Generates dashboards/*.json, alerts/rules/agentvitals.rules.yml and "
                    "deploy/kubernetes/keda-scaledobject.yaml under --output-dir.")
    generate.add_argument("--output-dir", default=".", help="where to write (default: current directory)")
    generate.add_argument("--prometheus-uid", help="Grafana uid of your Prometheus datasource (default prometheus)")
    generate.add_argument("--tempo-uid", help="Grafana uid of your Tempo datasource (default tempo)")
    generate.add_argument("--latency-threshold", type=positive(),
                          help="task p95 alert threshold in seconds (a bucket edge; default 2)")
    generate.add_argument("--hourly-budget", type=positive(), help="LLM spend budget in $/h (default 5)")
    generate.add_argument("--slo-target", type=positive(), help="task success SLO (default 0.99)")
    generate.add_argument("--genai-names", choices=[generation.value for generation in Generation],
                          help="the generation of GenAI metric names your application emits: current (semantic "
                               "conventions v1.41, the default) or latest (v0.1.0, "
                               "OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental)")
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
    pick.add_argument("--slowest", type=positive(int), default=None, help="explain the N slowest tasks")
    pick.add_argument("--costliest", type=positive(int), default=None, help="explain the N costliest tasks")
    explain.add_argument("--since", type=positive(), default=3600.0,
                         help="with --tempo-url and no trace id: search this many seconds back (default 3600)")
    explain.add_argument("--max-rows", type=positive(int), default=60, help="waterfall rows (default 60)")
    explain.set_defaults(run=_explain)


    for entry_point in entry_points(group=COMMANDS_GROUP):
        # Commands other distributions (or our own optional parts, such as the demo) add; loading one must not
        # break the others.
        try:
            entry_point.load()(commands)
        except Exception as exc:  # deliberate: a broken plugin is reported, not fatal
            print(f"agentvitals: command plugin {entry_point.name!r} failed to load: {exc}", file=sys.stderr)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
