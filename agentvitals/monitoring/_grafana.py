"""Grafana dashboards in today's JSON: grafanalib where it writes the current shape, small typed panels of
ours where it cannot. The only module that imports grafanalib; dashboards are written against this one.

grafanalib (0.7.1, unmaintained) still writes Grafana-4-era dashboards: ``schemaVersion`` 12, keys the
current schema dropped (``rows``, ``style``, ``span``, ...), ``null`` where Grafana expects an object,
gauge and bar-gauge options in Grafana 6's shape, a table panel with top-level styling. Here:

- time series, stats and state timelines are grafanalib's panels, given what they lack (``pluginVersion``,
  a thresholds color, min/max) through their public ``extraJson``;
- gauges, bar gauges and tables are :class:`CurrentPanel`, a typed panel of ours that writes the current
  options itself (grafanalib's dashboard takes any object with ``to_json_data()`` as a panel);
- the dashboard is grafanalib's, converted with each object's public ``to_json_data()``, and
  :func:`_current_json` drops the keys and ``null`` values the current schema does not have.

A test loads every generated dashboard with grafana-foundation-sdk's model and fails on a field it drops.
Panels are placed in full rows (:meth:`Board.row`): a row whose widths do not fill the 24 columns of the
grid is an error, so the layout has no holes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from grafanalib import core as g

__all__ = [
    "GRID_COLUMNS",
    "SCHEMA_VERSION",
    "Board",
    "CurrentPanel",
    "PanelSpec",
    "Placement",
    "Query",
    "Threshold",
    "bar_gauge",
    "dashboards_link",
    "gauge",
    "query_variable",
    "state_timeline",
    "stat",
    "table",
    "timeseries",
    "value_text",
]

SCHEMA_VERSION: Final = 42
"""Grafana 12/13's classic dashboard schema (what grafana-foundation-sdk 0.0.21 writes): nothing to migrate."""
GRID_COLUMNS: Final = 24
_LEGACY_DASHBOARD_KEYS: Final = ("__inputs", "hideControls", "rows", "sharedCrosshair", "style")
_LEGACY_PANEL_KEYS: Final = ("editable", "error", "height", "minSpan", "span")
_LEGACY_TEMPLATE_KEYS: Final = ("useTags", "tagsQuery", "tagValuesQuery", "auto", "auto_min", "auto_count")
_LEGACY_TIMEPICKER_KEYS: Final = ("time_options",)

Threshold = tuple[str, float | None]
"""(color, lower bound); the first step's bound is None (base)."""


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel."""

    expr: str
    legend: str = ""
    exemplar: bool = False
    instant: bool = False
    table: bool = False
    """Ask Prometheus for a table (``format: table``): one row per series, labels as columns."""


def value_text(mapping: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """A value mapping: raw value -> (text, color)."""
    return [{"type": "value", "options": {value: {"text": text, "color": color, "index": index}
                                          for index, (value, (text, color)) in enumerate(mapping.items())}}]


def _thresholds(steps: Sequence[Threshold]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


class _Context:
    """What every panel builder needs: the datasource and the Grafana version panels are written for."""

    def __init__(self, datasource: dict[str, str], plugin_version: str) -> None:
        self.datasource = datasource
        self.plugin_version = plugin_version

    def targets(self, queries: Sequence[Query]) -> list[dict[str, Any]]:
        out = []
        for index, query in enumerate(queries):
            target: dict[str, Any] = {
                "datasource": self.datasource,
                "expr": query.expr,
                "legendFormat": query.legend,
                "refId": chr(ord("A") + index),
                "range": not (query.instant or query.table),
                "instant": query.instant or query.table,
                "editorMode": "code",
            }
            if query.table:
                target["format"] = "table"
            if query.exemplar:
                target["exemplar"] = True
            out.append(target)
        return out


@dataclass(frozen=True)
class Placement:
    """Where a panel goes: its id and its cell on the grid."""

    panel_id: int
    x: int
    y: int
    width: int
    height: int

    def grid_pos(self) -> dict[str, int]:
        return {"h": self.height, "w": self.width, "x": self.x, "y": self.y}


@dataclass(frozen=True)
class PanelSpec:
    """A panel to be placed: how wide, and how to build it once its place is known."""

    width: int
    build: Callable[[_Context, Placement], Any]
    """Returns a grafanalib panel or a :class:`CurrentPanel`."""


def timeseries(title: str, queries: Sequence[Query], *, width: int, unit: str, description: str = "",
               stacked: bool = False, min_value: float | None = 0, max_value: float | None = None,
               threshold: float | None = None, legend_calcs: Sequence[str] = ("mean", "max"),
               bars: bool = False, no_value: str | None = None) -> PanelSpec:
    """A time series panel. ``threshold`` draws a dashed line (the alert threshold the panel is about);
    ``no_value`` replaces Grafana's "No data" where no series is the good news (no errors yet)."""

    def build(ctx: _Context, place: Placement) -> Any:
        steps: list[Threshold] = [("green", None)]
        if threshold is not None:
            steps.append(("red", threshold))
        defaults: dict[str, Any] = {"thresholds": _thresholds(steps)}
        for key, value in (("min", min_value), ("max", max_value), ("noValue", no_value)):
            if value is not None:
                defaults[key] = value
        return g.TimeSeries(
            title=title, description=description or None, dataSource=ctx.datasource,
            targets=ctx.targets(queries), id=place.panel_id, gridPos=g.GridPos(**place.grid_pos()), unit=unit,
            drawStyle="bars" if bars else "line", fillOpacity=80 if bars else 35 if stacked else 10,
            stacking={"mode": "normal", "group": "A"} if stacked else {"mode": "none", "group": "A"},
            legendDisplayMode="table" if len(queries) > 2 or stacked else "list",
            legendCalcs=list(legend_calcs), tooltipMode="multi", tooltipSort="desc", showPoints="never",
            lineWidth=1 if stacked else 2, thresholdsStyleMode="dashed" if threshold is not None else "off",
            maxDataPoints=None,  # let Grafana fit points to the panel's width
            extraJson={"pluginVersion": ctx.plugin_version, "fieldConfig": {"defaults": defaults}},
        )

    return PanelSpec(width, build)


def stat(title: str, query: Query, *, width: int, unit: str, description: str = "",
         thresholds: Sequence[Threshold] = (("green", None),), mappings: Sequence[dict[str, Any]] = (),
         no_value: str = "0", decimals: int | None = None, sparkline: bool = True) -> PanelSpec:
    """A single figure (the last value), colored by ``thresholds``, with a sparkline."""

    def build(ctx: _Context, place: Placement) -> Any:
        return g.Stat(
            title=title, description=description or None, dataSource=ctx.datasource,
            targets=ctx.targets([query]), id=place.panel_id, gridPos=g.GridPos(**place.grid_pos()), format=unit,
            decimals=decimals,
            color={"mode": "thresholds"}, reduceCalc="lastNotNull", graphMode="area" if sparkline else "none",
            colorMode="value", textMode="value", noValue=no_value, mappings=list(mappings),
            thresholds=_thresholds(thresholds)["steps"], maxDataPoints=200,
            extraJson={"pluginVersion": ctx.plugin_version,
                       "options": {"wideLayout": True, "showPercentChange": False,
                                   "percentChangeColorMode": "standard"}},
        )

    return PanelSpec(width, build)


def state_timeline(title: str, queries: Sequence[Query], *, width: int, mappings: Sequence[dict[str, Any]],
                   description: str = "") -> PanelSpec:
    """A state timeline: one lane per series, colored by its mapped state."""

    def build(ctx: _Context, place: Placement) -> Any:
        return g.StateTimeline(
            title=title, description=description or None, dataSource=ctx.datasource,
            targets=ctx.targets(queries), id=place.panel_id, gridPos=g.GridPos(**place.grid_pos()),
            mappings=list(mappings),
            colorMode="thresholds", fillOpacity=80, lineWidth=0, mergeValues=True, rowHeight=0.8,
            showValue="auto", alignValue="center", tooltipMode="single", maxDataPoints=None,
            extraJson={"pluginVersion": ctx.plugin_version,
                       "fieldConfig": {"defaults": {"thresholds": _thresholds([("green", None)])}}},
        )

    return PanelSpec(width, build)


@dataclass(frozen=True)
class CurrentPanel:
    """A panel in today's shape, for the kinds grafanalib writes in an old one: its table keeps top-level
    styling the schema no longer has, its gauge has no options (Grafana then reduces by *mean*, not the
    last value), its bar gauge uses Grafana 6's ``options.fieldOptions``."""

    type: str
    id: int
    title: str
    description: str | None
    datasource: dict[str, str]
    grid_pos: dict[str, int]
    targets: list[dict[str, Any]]
    plugin_version: str
    field_config: dict[str, Any]
    options: dict[str, Any]
    transformations: list[dict[str, Any]] = field(default_factory=list)

    def to_json_data(self) -> dict[str, Any]:
        return {
            "type": self.type, "id": self.id, "pluginVersion": self.plugin_version, "title": self.title,
            "description": self.description, "datasource": self.datasource, "gridPos": self.grid_pos,
            "targets": self.targets, "fieldConfig": self.field_config, "options": self.options,
            "transformations": self.transformations,
        }


def _current(kind: str, title: str, description: str, query: Query, ctx: _Context, place: Placement, *,
             field_config: dict[str, Any], options: dict[str, Any],
             transformations: Sequence[dict[str, Any]] = ()) -> CurrentPanel:
    return CurrentPanel(kind, place.panel_id, title, description or None, ctx.datasource, place.grid_pos(),
                        ctx.targets([query]), ctx.plugin_version, field_config, options, list(transformations))


_REDUCE_LAST: Final = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def table(title: str, query: Query, *, width: int, description: str = "", hidden: Iterable[str] = ("Time",),
          renamed: Mapping[str, str] | None = None, sort_by: str = "", no_value: str | None = None) -> PanelSpec:
    """A table of an instant query (``format: table``: one row per series, its labels as columns).
    ``no_value`` replaces Grafana's "No data" where no row is the good news (no alert firing)."""
    organize = {"excludeByName": dict.fromkeys(hidden, True), "renameByName": dict(renamed or {}),
                "indexByName": {}}
    defaults: dict[str, Any] = {"custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False,
                                           "filterable": False},
                                "thresholds": _thresholds([("green", None)]), "mappings": []}
    if no_value is not None:
        defaults["noValue"] = no_value

    def build(ctx: _Context, place: Placement) -> CurrentPanel:
        return _current(
            "table", title, description, Query(query.expr, query.legend, table=True), ctx, place,
            field_config={"defaults": defaults, "overrides": []},
            options={"showHeader": True, "cellHeight": "sm", "frameIndex": 0,
                     "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False},
                     "sortBy": [{"displayName": sort_by, "desc": False}] if sort_by else []},
            transformations=[{"id": "organize", "options": organize}])

    return PanelSpec(width, build)


def gauge(title: str, query: Query, *, width: int, unit: str = "percentunit", max_value: float = 1.0,
          description: str = "") -> PanelSpec:
    """A gauge of the last value, orange from 80% and red from 95% of ``max_value``."""
    steps = _thresholds([("green", None), ("orange", 0.8 * max_value), ("red", 0.95 * max_value)])

    def build(ctx: _Context, place: Placement) -> CurrentPanel:
        return _current(
            "gauge", title, description, Query(query.expr, query.legend, instant=True), ctx, place,
            field_config={"defaults": {"unit": unit, "min": 0, "max": max_value, "color": {"mode": "thresholds"},
                                       "mappings": [], "thresholds": steps},
                          "overrides": []},
            options={"reduceOptions": _REDUCE_LAST, "orientation": "auto", "showThresholdLabels": False,
                     "showThresholdMarkers": True, "sizing": "auto", "minVizWidth": 75, "minVizHeight": 75})

    return PanelSpec(width, build)


def bar_gauge(title: str, query: Query, *, width: int, unit: str, description: str = "") -> PanelSpec:
    """Horizontal bars of each series' last value."""

    def build(ctx: _Context, place: Placement) -> CurrentPanel:
        return _current(
            "bargauge", title, description, Query(query.expr, query.legend, instant=True), ctx, place,
            field_config={"defaults": {"unit": unit, "min": 0, "color": {"mode": "continuous-GrYlRd"},
                                       "mappings": [], "thresholds": _thresholds([("green", None)])},
                          "overrides": []},
            options={"reduceOptions": _REDUCE_LAST, "orientation": "horizontal", "displayMode": "gradient",
                     "valueMode": "color", "namePlacement": "auto", "showUnfilled": True, "sizing": "auto",
                     "minVizWidth": 8, "minVizHeight": 16, "maxVizHeight": 300,
                     "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom", "calcs": []}})

    return PanelSpec(width, build)


def query_variable(name: str, label: str, query: str, datasource: dict[str, str]) -> Any:
    """A multi-value variable of a Prometheus query's label values, "All" by default."""
    return g.Template(name=name, label=label, dataSource=datasource, type="query", query=query, includeAll=True,
                      multi=True, default="$__all", refresh=2, allValue=".*", hide=0, sort=1)


def dashboards_link(title: str, tag: str) -> Any:
    """A dropdown of the dashboards tagged ``tag``, keeping the time range and variables."""
    return g.DashboardLink(title=title, type="dashboards", tags=[tag], asDropdown=True, includeVars=True,
                           keepTime=True)


class Board:
    """One dashboard: panels placed row by row on the 24-column grid, then written as current JSON."""

    def __init__(self, *, datasource: dict[str, str], plugin_version: str) -> None:
        self._context = _Context(datasource, plugin_version)
        self._panels: list[Any] = []
        self._y = 0

    def row(self, height: int, *panels: PanelSpec) -> None:
        """Place ``panels`` left to right in one row of ``height``; their widths must fill the grid."""
        widths = [panel.width for panel in panels]
        if sum(widths) != GRID_COLUMNS:
            raise ValueError(f"a row must fill {GRID_COLUMNS} columns, got widths {widths}")
        x = 0
        for panel in panels:
            place = Placement(len(self._panels) + 1, x, self._y, panel.width, height)
            self._panels.append(panel.build(self._context, place))
            x += panel.width
        self._y += height

    def render(self, *, uid: str, title: str, description: str, tags: Sequence[str], variables: Sequence[Any],
               annotations: Sequence[dict[str, Any]], links: Sequence[Any]) -> dict[str, Any]:
        """The dashboard as current JSON; ``variables`` and ``links`` from :func:`query_variable` and
        :func:`dashboards_link`."""
        dashboard = g.Dashboard(
            title=title, uid=uid, description=description, tags=list(tags), timezone="browser", refresh="10s",
            time=g.Time("now-30m", "now"), graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
            templating=g.Templating(list=list(variables)), annotations=g.Annotations(list=list(annotations)),
            panels=self._panels, links=list(links), schemaVersion=SCHEMA_VERSION, editable=False,
            timePicker=g.TimePicker(refreshIntervals=["5s", "10s", "30s", "1m", "5m"], timeOptions=[]),
        )
        return _current_json(_plain(dashboard))


def _plain(value: Any) -> Any:
    """grafanalib objects as plain JSON data, through their public ``to_json_data()``."""
    to_json = getattr(value, "to_json_data", None)
    if callable(to_json):
        return _plain(to_json())
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _drop(data: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def _current_json(dashboard: dict[str, Any]) -> dict[str, Any]:
    """Drop what the current schema does not have: ``null`` values (a base threshold step's ``value`` is
    the one ``null`` Grafana expects) and the keys grafanalib still writes for Grafana 4."""
    data: dict[str, Any] = _without_nulls(_drop(dashboard, _LEGACY_DASHBOARD_KEYS))
    data["panels"] = [_drop(panel, _LEGACY_PANEL_KEYS) for panel in data["panels"]]
    for panel in data["panels"]:
        for step in panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", []):
            step.setdefault("value", None)
    data["templating"]["list"] = [_drop(variable, _LEGACY_TEMPLATE_KEYS) for variable in data["templating"]["list"]]
    for variable in data["templating"]["list"]:
        variable["current"] = _drop(variable["current"], ("tags",))
    data["timepicker"] = _drop(data["timepicker"], _LEGACY_TIMEPICKER_KEYS)
    return data
