"""Generated files are committed, regenerating them must produce no diff, and the dashboards are current
Grafana JSON that a person can read during an incident."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentvitals.monitoring import (
    MonitoringConfig,
    Rules,
    build_dashboards,
    build_rules,
    generated_files,
    write_files,
)
from agentvitals.monitoring._grafana import GRID_COLUMNS
from agentvitals.semconv import Generation
from tests.stack import ROOT, require_binary

BIN = Path(sys.executable).parent
CONFIG = MonitoringConfig()
DASHBOARDS = build_dashboards(CONFIG)


def panels(stem: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    return [(name, panel) for name, dashboard in DASHBOARDS.items() if stem in (None, name)
            for panel in dashboard["panels"]]


def test_committed_files_match_a_fresh_generation() -> None:
    stale = write_files(ROOT, check=True)
    assert not stale, f"out of date, run `agentvitals generate`: {stale}"


def test_generate_cli_writes_user_settings(tmp_path: Path) -> None:
    result = subprocess.run([BIN / "agentvitals", "generate", "--output-dir", str(tmp_path),
                             "--prometheus-uid", "prom2", "--latency-threshold", "5", "--hourly-budget", "12.5",
                             "--genai-names", "current"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    overview = (tmp_path / "dashboards" / "overview.json").read_text()
    assert '"uid": "prom2"' in overview and '"uid": "prometheus"' not in overview
    rules = (tmp_path / "alerts" / "rules" / "agentvitals.rules.yml").read_text()
    assert "p95_5m > 5\n" in rules and "* 3600 > 12.5\n" in rules
    check = subprocess.run([BIN / "agentvitals", "generate", "--output-dir", str(tmp_path), "--check"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 1 and "out of date" in check.stderr  # defaults differ from what was written


def test_generate_for_the_latest_genai_names(tmp_path: Path) -> None:
    result = subprocess.run([BIN / "agentvitals", "generate", "--output-dir", str(tmp_path), "--genai-names", "latest"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rules = (tmp_path / "alerts" / "rules" / "agentvitals.rules.yml").read_text()
    llm = (tmp_path / "dashboards" / "llm.json").read_text()
    for text in (rules, llm):
        assert "gen_ai_client_inference_duration_seconds" in text and "gen_ai_client_operation_duration" not in text
    assert "gen_ai_client_inference_usage_cache_read_input_tokens_total" in rules
    assert "gen_ai_execute_tool_duration_seconds_bucket" in (tmp_path / "dashboards" / "tools.json").read_text()
    overview = (tmp_path / "dashboards" / "overview.json").read_text()
    assert overview == (ROOT / "dashboards" / "overview.json").read_text()  # nothing on it is a GenAI name


@pytest.mark.parametrize("generation", list(Generation), ids=lambda g: f"{g.value}-names")
def test_rules_and_every_panel_query_parse_for_both_generations(generation: Generation, tmp_path: Path) -> None:
    """promtool parses the rules and every panel query (as Grafana sends it) for each generation of names:
    offline, what the stack test proves by running them."""
    promtool = require_binary("promtool")
    config = MonitoringConfig(genai_names=generation)
    queries = [{"record": f"panel:query:{index}", "expr": target["expr"].replace("$__rate_interval", "1m")
                .replace("$__interval", "15s").replace("$service", ".*").replace("$model", ".*")}
               for index, target in enumerate(target for dashboard in build_dashboards(config).values()
                                              for panel in dashboard["panels"] for target in panel["targets"])]
    rules = build_rules(config)
    rules["groups"].append({"name": "panel-queries", "rules": queries})
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    left = [query["expr"] for query in queries if re.search(r"\$[a-z_]", query["expr"])]  # "$1": label_replace
    assert not left, left  # every Grafana variable substituted


def test_bad_settings_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match="must be a bucket edge"):
        MonitoringConfig(latency_threshold_s=2.2)
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        MonitoringConfig(rate_window="5 minutes")
    with pytest.raises(ValueError, match="births_lookback .* must not be shorter"):
        MonitoringConfig(fast_window="2h")
    result = subprocess.run([BIN / "agentvitals", "generate", "--latency-threshold", "2.2", "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "bucket edge" in result.stderr
    result = subprocess.run([BIN / "agentvitals", "generate", "--genai-names", "v2", "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_every_generated_file_is_listed_once() -> None:
    files = generated_files()
    stems = ("overview", "llm", "tools", "gpu-cache", "cost", "routing")
    assert set(files) == {*(f"dashboards/{s}.json" for s in stems),
                          "alerts/rules/agentvitals.rules.yml", "deploy/kubernetes/keda-scaledobject.yaml"}
    assert all(content.endswith("\n") for content in files.values())


def test_every_alert_has_a_runbook_section_its_link_points_to() -> None:
    readme = (ROOT / "README.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", readme, flags=re.M)}
    for alert in Rules(CONFIG).alerts:
        assert alert.runbook_anchor in anchors, f"README has no runbook section for {alert.name}"


# --- current Grafana JSON ------------------------------------------------------------------------------------

def _nulls(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _nulls(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _nulls(item, f"{path}[{index}]")]
    return []


def test_dashboards_are_current_grafana_json() -> None:
    allowed = {"timeseries", "stat", "gauge", "bargauge", "table", "state-timeline"}
    for stem, dashboard in DASHBOARDS.items():
        assert dashboard["schemaVersion"] >= 39, stem
        assert dashboard["uid"].startswith("agentvitals-")
        assert {v["name"] for v in dashboard["templating"]["list"]} >= {"service"}
        # The one null Grafana expects: the base step of a thresholds list has no lower bound.
        nulls = [p for p in _nulls(dashboard) if not re.search(r"\.thresholds\.steps\[0\]\.value$", p)]
        assert not nulls, (stem, nulls)
        assert set(dashboard).isdisjoint({"rows", "style", "hideControls", "sharedCrosshair"})
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), stem
        for panel in dashboard["panels"]:
            where = (stem, panel["title"])
            assert panel["type"] in allowed, where
            assert panel["pluginVersion"] == CONFIG.grafana_version, where
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, where
            assert {"span", "height", "minSpan", "error", "editable"}.isdisjoint(panel), where
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert ref_ids and all(ref_ids) and len(ref_ids) == len(set(ref_ids)), where
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"], where
            if panel["type"] in ("gauge", "bargauge", "stat"):
                assert panel["options"]["reduceOptions"]["calcs"] == ["lastNotNull"], where  # not Grafana's mean
                assert "fieldOptions" not in panel["options"], where  # Grafana 6's shape
            if panel["type"] == "table":
                assert all(target["format"] == "table" for target in panel["targets"]), where
            if panel["type"] == "timeseries":
                assert "maxDataPoints" not in panel, where  # points follow the panel's width
        latency = [p for p in dashboard["panels"] if p["type"] == "timeseries" and "p95" in p["title"]]
        assert all(t.get("exemplar") for p in latency for t in p["targets"] if "histogram_quantile" in t["expr"])


def _valid_units() -> set[str]:
    units = pytest.importorskip("grafana_foundation_sdk.models.units")
    return {value for name, value in vars(units).items() if not name.startswith("_") and isinstance(value, str)}


def test_every_unit_is_a_grafana_unit_id() -> None:
    valid = _valid_units()
    for stem, panel in panels():
        unit = panel["fieldConfig"]["defaults"].get("unit")
        if unit is None:
            continue
        custom = re.fullmatch(r"(suffix|prefix):.+", unit)
        assert unit in valid or custom, (stem, panel["title"], unit)


def _cells(dashboard: dict[str, Any]) -> dict[tuple[int, int], str]:
    occupied: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{panel['title']} overlaps {occupied[(x, y)]}"
                occupied[(x, y)] = panel["title"]
    return occupied


@pytest.mark.parametrize("stem", list(DASHBOARDS))
def test_the_grid_has_no_holes(stem: str) -> None:
    occupied = _cells(DASHBOARDS[stem])
    bottom = max(y for _, y in occupied) + 1
    holes = sorted({(x, y) for x in range(GRID_COLUMNS) for y in range(bottom)} - set(occupied))
    assert not holes, holes[:5]


def _outer_by(expr: str) -> set[str]:
    match = re.search(r"\bby \(([^)]*)\)", expr)
    return {label.strip() for label in match[1].split(",")} if match else set()


def test_legends_name_only_labels_the_query_keeps() -> None:
    # A legend {{job}} on max() without "by (job)" renders the literal word "job".
    for stem, panel in panels():
        for target in panel["targets"]:
            wanted = set(re.findall(r"\{\{(\w+)\}\}", target["legendFormat"]))
            assert wanted <= _outer_by(target["expr"]), (stem, panel["title"], target["legendFormat"])


def test_five_minute_figures_say_so() -> None:
    window = CONFIG.rate_window
    for stem, panel in panels():
        exprs = " ".join(target["expr"] for target in panel["targets"])
        if re.search(rf"(rate|_){window}\b|\[{window}\]", exprs):
            texts = [panel["title"], *(target["legendFormat"] for target in panel["targets"])]
            assert any(f"{window}" in text for text in texts), (stem, panel["title"])


def test_only_the_task_latency_panel_draws_the_task_latency_threshold() -> None:
    with_threshold = {(stem, panel["title"]) for stem, panel in panels()
                      if panel["type"] == "timeseries"
                      and panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
                      and any(step["value"] == CONFIG.latency_threshold_s
                              for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"])}
    assert with_threshold == {("overview", "Task latency p50 / p95 / p99")}


def test_every_dashboard_marks_when_alerts_fired() -> None:
    for stem, dashboard in DASHBOARDS.items():
        alerts = [a for a in dashboard["annotations"]["list"] if "ALERTS" in a.get("expr", "")]
        assert len(alerts) == 1 and alerts[0]["enable"] and alerts[0]["datasource"]["uid"] == "prometheus", stem


def test_a_panel_empty_by_design_says_why_instead_of_no_data() -> None:
    # "Firing alerts" has no row while nothing fires: in the Overview's top row, "No data" would read as broken.
    from agentvitals.monitoring import CONDITIONAL_PANELS

    conditional = [(stem, panel) for stem, panel in panels() if panel["title"] in CONDITIONAL_PANELS]
    assert {panel["title"] for _, panel in conditional} == set(CONDITIONAL_PANELS)
    for stem, panel in conditional:
        assert panel["fieldConfig"]["defaults"].get("noValue"), (stem, panel["title"])


def test_the_json_targets_the_grafana_the_stack_runs() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["grafana"]["image"] == f"grafana/grafana:{CONFIG.grafana_version}"


def test_overview_shows_the_incident_above_the_fold() -> None:
    by_title = {panel["title"]: panel for _, panel in panels("overview")}
    fold = 12  # grid units: what a 1080p screen shows without scrolling, with room to spare
    control = [by_title["Router mode"], by_title["Workers, busy and queued"], by_title["Firing alerts"]]
    assert by_title["Router mode"]["type"] == "state-timeline"
    assert len({p["gridPos"]["y"] for p in control}) == 1 and control[0]["gridPos"]["y"] + 8 <= fold + 4
    time_goes = next(p for title, p in by_title.items() if title.startswith("Where task time goes"))
    assert time_goes["gridPos"]["w"] == GRID_COLUMNS and time_goes["gridPos"]["y"] <= fold
    defaults = time_goes["fieldConfig"]["defaults"]
    assert defaults["unit"] == "percentunit" and defaults["max"] == 1
    assert defaults["custom"]["stacking"]["mode"] == "normal"


def test_overview_ends_with_the_task_analysis_row() -> None:
    overview = panels("overview")
    bottom = max(panel["gridPos"]["y"] for _, panel in overview)
    last_row = {panel["title"].split(" (")[0]: panel for _, panel in overview if panel["gridPos"]["y"] == bottom}
    assert set(last_row) == {"Critical path by kind: share of task time", "Saveable share of task time",
                             "Errors per task by class"}
    critical_path = last_row["Critical path by kind: share of task time"]["fieldConfig"]["defaults"]
    assert critical_path["unit"] == "percentunit" and critical_path["max"] == 1
    assert critical_path["custom"]["stacking"]["mode"] == "normal"
    assert last_row["Saveable share of task time"]["fieldConfig"]["defaults"]["unit"] == "percentunit"
    errors = last_row["Errors per task by class"]["targets"][0]["expr"]
    assert Rules(CONFIG).breakdown.errors_per_task in errors


def test_routing_compares_each_mode_and_variant_on_cost_success_and_latency() -> None:
    from agentvitals.attributes import TASK_MODE, TASK_VARIANT
    from agentvitals.monitoring.series import prometheus_label

    by_title = {panel["title"].split(" (")[0]: panel for _, panel in panels("routing")}
    for what, label in (("mode", prometheus_label(TASK_MODE)), ("variant", prometheus_label(TASK_VARIANT))):
        row = [by_title[f"{figure} by {what}"] for figure in ("Cost per task", "Success rate", "Task p95")]
        assert len({panel["gridPos"]["y"] for panel in row}) == 1  # side by side
        for panel in row:
            expr = panel["targets"][0]["expr"]
            assert label in _outer_by(expr) and f'{label}!=""' in expr, (panel["title"], expr)  # routed tasks only
    assert {"Router decisions / s by route, priority, variant and mode", "Admissions / s by priority and answer"} \
        <= set(by_title)


def _without_defaults(original: Any, loaded: Any, path: str = "") -> list[str]:
    """Paths of ``original`` that ``loaded`` lacks or changed (fields the model added are fine)."""
    if isinstance(original, dict):
        if not isinstance(loaded, dict):
            return [path]
        return [p for key, item in original.items()
                for p in ([f"{path}.{key}"] if key not in loaded else _without_defaults(item, loaded[key],
                                                                                        f"{path}.{key}"))]
    if isinstance(original, list):
        if not isinstance(loaded, list) or len(loaded) != len(original):
            return [path]
        return [p for index, (a, b) in enumerate(zip(original, loaded, strict=True))
                for p in _without_defaults(a, b, f"{path}[{index}]")]
    return [] if original == loaded else [path]


@pytest.mark.parametrize("stem", list(DASHBOARDS))
def test_grafana_foundation_sdk_loads_every_dashboard_without_dropping_a_field(stem: str) -> None:
    pytest.importorskip("grafana_foundation_sdk")
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    register_default_plugins()  # panel options and queries decode into their plugins' models
    committed = json.loads((ROOT / "dashboards" / f"{stem}.json").read_text())
    model = Dashboard.from_json(committed)  # the classic schema, which Grafana 13 provisions as it is
    loaded = json.loads(json.dumps(model, cls=JSONEncoder))
    assert not _without_defaults(committed, loaded)


def test_grafanalib_stays_behind_the_builder_module() -> None:
    importers = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "agentvitals").rglob("*.py")
                       if re.search(r"^\s*(from|import) grafanalib", path.read_text(), flags=re.M))
    assert importers == ["agentvitals/monitoring/_grafana.py"]


def test_promql_builders() -> None:
    from agentvitals.monitoring._promql import Selector, aggregate, counted_rate, eq, legend, quantile, ratio

    tasks = Selector("tasks_total").where(eq("job", "a"), "")
    assert str(tasks) == 'tasks_total{job="a"}' and str(Selector("up")) == "up"
    assert aggregate("sum", tasks, ("job",)) == 'sum by (job) (tasks_total{job="a"})'
    assert aggregate("max", "x") == "max(x)"
    assert quantile(0.95, Selector("d_bucket"), "1m", ("job",)) == \
        "histogram_quantile(0.95, sum by (le, job) (rate(d_bucket[1m])))"
    assert ratio("a", "b", ("job",)) == "(\nsum by (job) (a)\nor\nsum by (job) (b) * 0\n)\n/\nsum by (job) (b)"
    assert counted_rate(tasks, "1m", 60, "1h") == (
        '(\nlast_over_time(tasks_total{job="a"}[1m])\nunless\npresent_over_time(tasks_total{job="a"}[1h] offset 1m)'
        '\n) / 60\nor\nrate(tasks_total{job="a"}[1m])')
    assert legend("job", prefix="p95") == "p95 {{job}}" and legend("a", "b") == "{{a}} {{b}}"


def test_a_row_must_fill_the_grid() -> None:
    from agentvitals.monitoring._grafana import Board, Query, stat

    board = Board(datasource={"type": "prometheus", "uid": "p"}, plugin_version=CONFIG.grafana_version)
    with pytest.raises(ValueError, match="must fill 24 columns"):
        board.row(4, stat("a", Query("up"), width=12, unit="short"))
