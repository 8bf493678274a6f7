"""Price table: provider conventions, tiers, aliases, unknown models, overrides (table-driven)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentvitals._config import ConfigError
from agentvitals._pricing import load_price_table
from agentvitals._records import Usage

TABLE = load_price_table()


@pytest.mark.parametrize(
    ("provider", "model", "usage", "expected_per_million"),
    [
        # OpenAI: inclusive input; cached tokens at the cache-read price; reasoning is part of output.
        ("openai", "gpt-4o-mini", Usage(1200, 50, cache_read_tokens=1000, reasoning_tokens=10),
         200 * 0.15 + 1000 * 0.075 + 50 * 0.60),
        ("openai", "gpt-4o-2024-08-06", Usage(1000, 1000), 1000 * 2.50 + 1000 * 10.00),  # dated alias
        ("openai", "openai/gpt-4.1-mini", Usage(1000, 0), 1000 * 0.40),  # provider-prefixed alias
        ("openai", "gpt-4o", Usage(None, 100), 100 * 10.00),  # only output reported
        # Anthropic, normalised to inclusive: 1300 input = 100 fresh + 1000 read + 200 written.
        ("anthropic", "claude-sonnet-4-5-20250929", Usage(1300, 40, cache_read_tokens=1000, cache_write_tokens=200),
         100 * 3.00 + 1000 * 0.30 + 200 * 3.75 + 40 * 15.00),
        # Long-context tier above 200k input tokens.
        ("anthropic", "claude-sonnet-4-5", Usage(250_000, 1000), 250_000 * 6.00 + 1000 * 22.50),
        ("anthropic", "claude-sonnet-4-5", Usage(200_000, 1000), 200_000 * 3.00 + 1000 * 15.00),
    ],
)
def test_costs(provider: str, model: str, usage: Usage, expected_per_million: float) -> None:
    cost = TABLE.cost(provider, model, usage)
    assert cost is not None
    assert cost.amount_usd == pytest.approx(expected_per_million / 1e6)


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        ("openai", "my-finetune", Usage(10, 10)),  # unknown model
        ("mistral_ai", "gpt-4o", Usage(10, 10)),  # known model, other provider
        ("openai", "gpt-4o", None),  # no usage
        ("openai", None, Usage(10, 10)),  # no model
    ],
)
def test_unknown_is_none_never_zero(provider: str, model: str | None, usage: Usage | None) -> None:
    assert TABLE.cost(provider, model, usage) is None


def test_override_beats_bundled_and_adds_models(tmp_path: Path) -> None:
    file = tmp_path / "prices.json"
    file.write_text(json.dumps({"openai": {"gpt-4o": {"input": 1.0, "output": 1.0}}}))
    table = load_price_table({"openai": {"my-finetune": {"input": 2.0, "output": 4.0}}}, str(file))
    assert table.cost("openai", "gpt-4o", Usage(1_000_000, 0)).amount_usd == pytest.approx(1.0)
    assert table.cost("openai", "my-finetune", Usage(1_000_000, 1_000_000)).amount_usd == pytest.approx(6.0)
    argument_wins = load_price_table({"openai": {"gpt-4o": {"input": 3.0, "output": 3.0}}}, str(file))
    assert argument_wins.cost("openai", "gpt-4o", Usage(1_000_000, 0)).amount_usd == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"openai": {"m": {"input": "cheap", "output": 1}}}, "openai.m.input: expected a non-negative number"),
        ({"openai": {"m": {"input": 1}}}, "missing required price 'output'"),
        ({"openai": {"m": {"input": 1, "output": 1, "per_token": 1}}}, "unknown price field"),
        ({"openai": ["m"]}, "must map model names to prices"),
        ([1, 2], "expected {provider"),
    ],
)
def test_bad_overrides_give_one_clear_error(overrides: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        load_price_table(overrides)


def test_malformed_price_file_is_a_config_error(tmp_path: Path) -> None:
    file = tmp_path / "prices.json"
    file.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read JSON"):
        load_price_table(None, str(file))
