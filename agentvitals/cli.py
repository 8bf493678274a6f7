"""The ``agentvitals`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
