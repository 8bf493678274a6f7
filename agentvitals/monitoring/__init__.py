"""Dashboards, recording rules, alerts and the KEDA manifest, generated from one source.

Everything here is derived from the metric registry (:mod:`agentvitals.metrics`, the names the SDK emits)
and one :class:`MonitoringConfig` (datasource uids, thresholds, windows), so the dashboards and rules cannot
drift from the telemetry. ``agentvitals generate`` writes them; the committed copies are checked against a
fresh generation in the tests. Generating needs the ``monitoring`` extra (grafanalib, PyYAML);
:mod:`agentvitals.monitoring.series` (Prometheus-side names) needs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentvitals.monitoring._config import MonitoringConfig
    from agentvitals.monitoring._dashboards import CONDITIONAL_PANELS, build_dashboards
    from agentvitals.monitoring._generate import generated_files, keda_scaled_object, write_files
    from agentvitals.monitoring._rules import Alert, Recording, Rules, build_rules

__all__ = [
    "CONDITIONAL_PANELS",
    "Alert",
    "MonitoringConfig",
    "Recording",
    "Rules",
    "build_dashboards",
    "build_rules",
    "generated_files",
    "keda_scaled_object",
    "write_files",
]

_HOMES = {
    "MonitoringConfig": "_config",
    "CONDITIONAL_PANELS": "_dashboards",
    "build_dashboards": "_dashboards",
    "generated_files": "_generate",
    "keda_scaled_object": "_generate",
    "write_files": "_generate",
    "Alert": "_rules",
    "Recording": "_rules",
    "Rules": "_rules",
    "build_rules": "_rules",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: the generators need grafanalib and PyYAML (the `monitoring` extra), while
    # `agentvitals.monitoring.series` is read by code that has neither.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agentvitals.monitoring' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"agentvitals.monitoring.{home}"), name)
