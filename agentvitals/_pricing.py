"""Cost of LLM calls from a bundled, versioned price table (USD per 1M tokens). No network, ever.

The table ships in the wheel (``agentvitals/data/prices.json``). Users add or replace prices with
``init(pricing=...)`` or ``AGENTVITALS_PRICES`` (a JSON file), in the override shape::

    {"openai": {"my-finetune": {"input": 0.3, "output": 1.2, "cache_read": 0.15}}}

Matching is provider first, then the model name normalised (``openai/`` and ``azure_`` prefixes and
trailing release dates removed) against each entry's exact ids, then its prefixes, in file order.
An unknown model has no cost (``None``), never 0: callers mark the call unpriced and count it.

Cost uses the inclusive usage convention of :class:`agentvitals._records.Usage`::

    (input - cache_read - cache_write) * input_price + cache_read * cache_read_price
        + cache_write * cache_write_price + output * output_price

Reasoning tokens are part of output and priced at the output price unless ``reasoning`` is given,
in which case they are moved from the output price to the reasoning price.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agentvitals._config import ConfigError
from agentvitals._records import Usage

_logger = logging.getLogger("agentvitals")

__all__ = ["Cost", "PriceTable", "Prices", "load_price_table"]

_PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning")
_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-\d{4})$")


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per 1M tokens. ``cache_read``/``cache_write`` default to ``input``; ``reasoning`` to ``output``."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    ids: frozenset[str]
    prefixes: tuple[str, ...]
    prices: Prices
    tiers: tuple[tuple[int, Prices], ...]
    """(above_input_tokens, prices), highest threshold first."""


@dataclass(frozen=True, slots=True)
class Cost:
    amount_usd: float
    source: str = "local"


def normalise_model(model: str) -> str:
    name = model.strip().lower()
    for prefix in ("openai/", "anthropic/", "azure_", "azure/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return _DATE_SUFFIX.sub("", name)


class PriceTable:
    """Provider -> ordered price entries, with a per-(provider, model) memo so look-ups are O(1)."""

    def __init__(self, version: str, entries: Mapping[str, list[_Entry]]) -> None:
        self.version = version
        self._entries = {provider: list(items) for provider, items in entries.items()}
        self._memo: dict[tuple[str, str], _Entry | None] = {}
        self._warned: set[tuple[str, str]] = set()

    def _lookup(self, provider: str, model: str) -> _Entry | None:
        key = (provider, model)
        try:
            return self._memo[key]
        except KeyError:
            pass
        name = normalise_model(model)
        entries = self._entries.get(provider, [])
        found = next((e for e in entries if model.lower() in e.ids or name in e.ids), None)
        if found is None:
            found = next((e for e in entries if any(name.startswith(p) for p in e.prefixes)), None)
        if len(self._memo) < 4096:  # bounded: model names come from responses
            self._memo[key] = found
        return found

    def is_priced(self, provider: str, model: str) -> bool:
        return self._lookup(provider, model) is not None

    def call_cost(self, provider: str, response_model: str | None, request_model: str | None,
                  usage: Usage | None) -> Cost | None:
        """A call's cost: priced by the model that answered, else by the model requested (an alias or a dated
        version the table does not list)."""
        model = response_model or request_model
        cost = self.cost(provider, model, usage)
        if cost is None and request_model and request_model != model:
            cost = self.cost(provider, request_model, usage)
        return cost

    def cost(self, provider: str, model: str | None, usage: Usage | None) -> Cost | None:
        """USD cost of a call, or ``None`` when the model is unknown or usage is absent."""
        if not model or usage is None or usage.input_tokens is None and usage.output_tokens is None:
            return None
        entry = self._lookup(provider, model)
        if entry is None:
            if (provider, model) not in self._warned and len(self._warned) < 256:
                self._warned.add((provider, model))
                _logger.info("agentvitals: no price for %s model %r; its calls count as unpriced", provider, model)
            return None
        prices = entry.prices
        for threshold, tier_prices in entry.tiers:
            if (usage.input_tokens or 0) > threshold:
                prices = tier_prices
                break
        cache_read = usage.cache_read_tokens or 0
        cache_write = usage.cache_write_tokens or 0
        output = usage.output_tokens or 0
        reasoning = min(usage.reasoning_tokens or 0, output) if prices.reasoning is not None else 0
        total = (
            usage.uncached_input_tokens * prices.input
            + cache_read * (prices.cache_read if prices.cache_read is not None else prices.input)
            + cache_write * (prices.cache_write if prices.cache_write is not None else prices.input)
            + (output - reasoning) * prices.output
            + reasoning * (prices.reasoning or 0.0)
        )
        return Cost(total / 1_000_000)

    def merged(self, overrides: Mapping[str, Mapping[str, Prices]]) -> PriceTable:
        """A new table where each override model is matched first (exactly) for its provider."""
        entries = {provider: list(items) for provider, items in self._entries.items()}
        for provider, models in overrides.items():
            extra = [
                _Entry(frozenset({model.lower(), normalise_model(model)}), (), prices, ())
                for model, prices in models.items()
            ]
            entries[provider] = extra + entries.get(provider, [])
        return PriceTable(self.version + "+overrides", entries)


def _price(value: object, where: str) -> Prices:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: prices must be an object with input/output (USD per 1M tokens)")
    unknown = set(value) - set(_PRICE_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown price field(s) {sorted(unknown)}; allowed: {list(_PRICE_FIELDS)}")
    fields: dict[str, float | None] = {}
    for name in _PRICE_FIELDS:
        raw = value.get(name)
        if raw is None and name in ("input", "output"):
            raise ConfigError(f"{where}: missing required price {name!r}")
        if raw is not None and (
            isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw < 0
        ):
            raise ConfigError(f"{where}.{name}: expected a non-negative number (USD per 1M tokens), got {raw!r}")
        fields[name] = None if raw is None else float(raw)
    return Prices(**fields)  # type: ignore[arg-type]


def _parse_table(data: Any, origin: str) -> PriceTable:
    if not isinstance(data, Mapping) or not isinstance(data.get("providers"), Mapping):
        raise ConfigError(f"{origin}: expected an object with 'version' and 'providers'")
    if data.get("unit") != "usd_per_million_tokens":
        raise ConfigError(f"{origin}: 'unit' must be 'usd_per_million_tokens'")
    entries: dict[str, list[_Entry]] = {}
    for provider, models in data["providers"].items():
        if not isinstance(models, list):
            raise ConfigError(f"{origin}: providers.{provider} must be a list of models")
        parsed = []
        for index, model in enumerate(models):
            where = f"{origin}: providers.{provider}[{index}]"
            if not isinstance(model, Mapping) or not isinstance(model.get("ids"), list) or not model["ids"]:
                raise ConfigError(f"{where}: each model needs a non-empty 'ids' list")
            raw_tiers = model.get("tiers", [])
            tiers = tuple(sorted(
                ((int(t["above_input_tokens"]), _price(t.get("prices"), f"{where}.tiers")) for t in raw_tiers),
                key=lambda tier: -tier[0],
            ))
            parsed.append(
                _Entry(
                    ids=frozenset(str(i).lower() for i in model["ids"]),
                    prefixes=tuple(str(p).lower() for p in model.get("prefixes", [])),
                    prices=_price(model.get("prices"), where),
                    tiers=tiers,
                )
            )
        entries[str(provider)] = parsed
    return PriceTable(str(data.get("version", "unknown")), entries)


def parse_overrides(overrides: object, origin: str = "pricing") -> dict[str, dict[str, Prices]]:
    """Validate the override shape ``{provider: {model: {input, output, ...}}}``."""
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{origin}: expected {{provider: {{model: {{input: ..., output: ...}}}}}}, got {overrides!r}")
    parsed: dict[str, dict[str, Prices]] = {}
    for provider, models in overrides.items():
        if not isinstance(provider, str) or not isinstance(models, Mapping):
            raise ConfigError(f"{origin}: {provider!r} must map model names to prices")
        parsed[provider] = {}
        for model, prices in models.items():
            if not isinstance(model, str) or not model:
                raise ConfigError(f"{origin}.{provider}: model names must be non-empty strings, got {model!r}")
            parsed[provider][model] = _price(prices, f"{origin}.{provider}.{model}")
    return parsed


def _bundled() -> PriceTable:
    text = resources.files("agentvitals").joinpath("data/prices.json").read_text(encoding="utf-8")
    return _parse_table(json.loads(text), "bundled prices.json")


def load_price_table(overrides: object = None, overrides_file: str | None = None) -> PriceTable:
    """The bundled table with file overrides, then argument overrides, applied (argument wins)."""
    table = _bundled()
    if overrides_file:
        try:
            data = json.loads(Path(overrides_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"price file {overrides_file}: cannot read JSON ({exc})") from None
        table = table.merged(parse_overrides(data, f"price file {overrides_file}"))
    if overrides is not None:
        table = table.merged(parse_overrides(overrides))
    return table
