"""Generated files are committed, and regenerating them must produce no diff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentvitals.monitoring import MonitoringConfig, build_dashboards, generated_files, write_files
from tests.stack import ROOT

BIN = Path(sys.executable).parent


def test_committed_files_match_a_fresh_generation() -> None:
    stale = write_files(ROOT, check=True)
    assert not stale, f"out of date, run `agentvitals generate`: {stale}"


def test_generate_cli_writes_user_settings(tmp_path: Path) -> None:
    result = subprocess.run([BIN / "agentvitals", "generate", "--output-dir", str(tmp_path),
                             "--prometheus-uid", "prom2", "--latency-threshold", "5", "--hourly-budget", "12.5"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    overview = (tmp_path / "dashboards" / "overview.json").read_text()
    assert '"uid": "prom2"' in overview and '"uid": "prometheus"' not in overview
    rules = (tmp_path / "alerts" / "rules" / "agentvitals.rules.yml").read_text()
    assert "p95_5m > 5\n" in rules and "* 3600 > 12.5\n" in rules
    check = subprocess.run([BIN / "agentvitals", "generate", "--output-dir", str(tmp_path), "--check"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 1 and "out of date" in check.stderr  # defaults differ from what was written


def test_bad_settings_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match="must be a bucket edge"):
        MonitoringConfig(latency_threshold_s=2.2)
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        MonitoringConfig(rate_window="5 minutes")
    result = subprocess.run([BIN / "agentvitals", "generate", "--latency-threshold", "2.2", "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "bucket edge" in result.stderr


def test_dashboards_are_modern_and_well_formed() -> None:
    allowed = {"timeseries", "stat", "gauge", "bargauge", "table", "heatmap"}
    for stem, dashboard in build_dashboards(MonitoringConfig()).items():
        assert dashboard["uid"].startswith("agentvitals-")
        assert {v["name"] for v in dashboard["templating"]["list"]} >= {"service"}
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), stem
        for panel in dashboard["panels"]:
            assert panel["type"] in allowed, (stem, panel["title"], panel["type"])
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert ref_ids and all(ref_ids) and len(ref_ids) == len(set(ref_ids)), panel["title"]
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"]
        latency = [p for p in dashboard["panels"] if p["type"] == "timeseries" and "p95" in p["title"]]
        assert all(t.get("exemplar") for p in latency for t in p["targets"] if "histogram_quantile" in t["expr"])


def test_every_generated_file_is_listed_once() -> None:
    files = generated_files()
    assert set(files) == {*(f"dashboards/{s}.json" for s in ("overview", "llm", "tools", "gpu-cache", "cost")),
                          "alerts/rules/agentvitals.rules.yml", "deploy/kubernetes/keda-scaledobject.yaml"}
    assert all(content.endswith("\n") for content in files.values())


def test_every_alert_has_a_runbook_section_its_link_points_to() -> None:
    import re

    from agentvitals.monitoring import Rules

    readme = (ROOT / "README.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", readme, flags=re.M)}
    config = MonitoringConfig()
    for alert in Rules(config).alerts:
        anchor = f"runbook-{alert.name.lower()}"
        assert anchor in anchors, f"README has no runbook section for {alert.name}"
