"""The Grafana dashboards, one module each, built on :mod:`agentvitals.monitoring._grafana`."""

from __future__ import annotations

from typing import Any

from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._dashboards.cost import cost
from agentvitals.monitoring._dashboards.gpu_cache import gpu_and_cache
from agentvitals.monitoring._dashboards.llm import llm
from agentvitals.monitoring._dashboards.overview import overview
from agentvitals.monitoring._dashboards.routing import routing
from agentvitals.monitoring._dashboards.tools import tools
from agentvitals.monitoring._rules import Rules

__all__ = ["CONDITIONAL_PANELS", "build_dashboards"]

CONDITIONAL_PANELS = {
    "Firing alerts": "ALERTS only has series while an alert fires (the control-loop test makes one fire).",
}
"""Panels that only show data under a condition, by title, with why (the query test lists them)."""


def build_dashboards(config: MonitoringConfig) -> dict[str, dict[str, Any]]:
    """Dashboard JSON by file stem."""
    rules = Rules(config)
    return {
        "overview": overview(config, rules),
        "llm": llm(config, rules),
        "tools": tools(config, rules),
        "gpu-cache": gpu_and_cache(config, rules),
        "cost": cost(config, rules),
        "routing": routing(config, rules),
    }
