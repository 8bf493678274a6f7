"""What every dashboard shares: the datasource, the ``service``/``model`` variables, the alerts annotation,
the cross-dashboard links and the units that Grafana has no id for."""

from __future__ import annotations

from typing import Any, Final

from agentvitals.metrics import TASK_DURATION
from agentvitals.monitoring._config import MonitoringConfig
from agentvitals.monitoring._grafana import Board, dashboards_link, query_variable
from agentvitals.monitoring._promql import Selector, matches
from agentvitals.monitoring._rules import MODEL, Rules
from agentvitals.monitoring.series import series

__all__ = ["FIRING_ALERTS", "PER_SECOND", "RATE", "TASKS_PER_SECOND", "TIMES", "Page"]

RATE: Final = "$__rate_interval"
"""Grafana's window for ``rate()`` in time series: at least four scrapes, wider when zoomed out."""
TASKS_PER_SECOND: Final = "suffix: tasks/s"
"""A custom unit: tasks are not requests (``reqps``)."""
PER_SECOND: Final = "suffix:/s"
TIMES: Final = "suffix:×"
"""A custom unit for a factor (Grafana has no ``x`` unit id)."""
FIRING_ALERTS: Final = 'ALERTS{alertstate="firing"}'


class Page:
    """One dashboard under construction: its board, config, rules and the matchers its variables make."""

    def __init__(self, config: MonitoringConfig, rules: Rules) -> None:
        self.config = config
        self.rules = rules
        self.datasource = {"type": "prometheus", "uid": config.prometheus_uid}
        self.board = Board(datasource=self.datasource, plugin_version=config.grafana_version)
        self.service = config.service_label
        self.in_service = matches(self.service, "$service")
        self.of_model = matches(MODEL, "$model")

    def pick(self, name: str, *matchers: str) -> Selector:
        """A series (usually a recording rule) of the selected services, with more ``matchers``."""
        return Selector(name, (self.in_service, *matchers))

    def render(self, uid: str, title: str, description: str, *, with_model: bool = False) -> dict[str, Any]:
        return self.board.render(
            uid=uid, title=title, description=description, tags=["agentvitals", "generated"],
            variables=self._variables(with_model), annotations=self._annotations(),
            links=[dashboards_link("agentvitals", "agentvitals")],
        )

    def _variables(self, with_model: bool) -> list[Any]:
        variables = [self._variable("service", "Service", series(TASK_DURATION, "_count"), self.service)]
        if with_model:
            calls = series(self.rules.llm.inference_duration, "_count")
            variables.append(self._variable("model", "Model", calls, MODEL))
        return variables

    def _variable(self, name: str, label: str, metric: str, value_label: str) -> Any:
        return query_variable(name, label, f"label_values({metric}, {value_label})", self.datasource)

    def _annotations(self) -> list[dict[str, Any]]:
        """Grafana's own annotations, and every alert as a region while it fired: after an incident the
        dashboards still show that (and which) alerts fired."""
        return [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
             "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
            {"datasource": self.datasource, "enable": True, "hide": False, "iconColor": "red",
             "name": "Firing alerts", "expr": FIRING_ALERTS, "step": "15s", "titleFormat": "{{alertname}}",
             "textFormat": "{{alertname}} (action {{action}}, {{severity}}) {{job}}",
             "tagKeys": "action,severity", "useValueForTime": False},
        ]
