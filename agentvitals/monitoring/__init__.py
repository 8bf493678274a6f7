"""Dashboards, recording rules, alerts and the KEDA manifest, generated from one source.

Everything here is derived from :mod:`agentvitals.names` (the metric names the SDK emits) and one
:class:`MonitoringConfig` (datasource uids, thresholds, windows), so the dashboards and rules cannot
drift from the telemetry. ``agentvitals generate`` writes them; the committed copies are checked
against a fresh generation in the tests.
"""

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
