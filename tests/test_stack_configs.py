"""The stack's configuration files: validated by the real tool where one runs here, else by documented keys.

Docker cannot run on our machines, so docker-compose.yml is validated with Debian's docker-compose;
Prometheus and Alertmanager configs with promtool and amtool; the Collector's with the built binary
(in test_stack_e2e). Tempo 3.0.3 and Grafana 13.2 cannot run here: their files are checked against
the keys their documentation gives for those versions (listed in the README as not run here).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stack import ROOT, require_binary

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ENV_DEFAULT = re.compile(r"\$\{env:[A-Z_]+:-([^}]*)\}")


@pytest.mark.stack
def test_compose_file_validates_with_docker_compose() -> None:
    binary = require_binary("docker-compose")
    result = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


def test_images_are_pinned_and_the_collector_matches_the_builder_manifest() -> None:
    manifest = yaml.safe_load((ROOT / "collector" / "builder-config.yaml").read_text())
    built_here = {service["image"] for service in SERVICES.values() if "build" in service}
    images = {name: service["image"] for name, service in SERVICES.items()
              if "image" in service and service["image"] not in built_here}
    for name, image in images.items():
        repository, _, tag = image.rpartition(":")
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: unpinned image {image}"
        if repository.startswith("prom/"):
            assert tag.startswith("v"), f"{name}: prom images are tagged with a v prefix"
    assert images["otel-collector"] == f"otel/opentelemetry-collector-contrib:{manifest['dist']['version']}"
    assert images["tempo"] == "grafana/tempo:3.0.3"
    assert images["prometheus"] == "prom/prometheus:v3.14.0"
    assert images["alertmanager"] == "prom/alertmanager:v0.34.0"
    assert images["grafana"] == "grafana/grafana:13.2.0"


def test_the_image_built_here_starts_from_a_pinned_base() -> None:
    (base,) = re.findall(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), flags=re.M)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base
    users = [name for name, service in SERVICES.items() if service.get("image") == "agentvitals:local"]
    assert {"model-server", "tool-service", "agent"} <= set(users)


def test_ports_are_bound_to_localhost() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is not bound to 127.0.0.1"


def test_no_healthcheck_on_shell_less_images_and_no_deadlocking_dependencies() -> None:
    for name in ("otel-collector", "tempo"):
        assert "healthcheck" not in SERVICES[name], f"{name}'s image has no shell: its healthcheck would always fail"
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        for dependency, condition in (depends.items() if isinstance(depends, dict) else []):
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{name} waits on {dependency}, which has no healthcheck"


def test_mounted_files_exist() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_collector_listens_on_all_interfaces_in_containers() -> None:
    text = (ROOT / "collector" / "config.yaml").read_text()
    defaults = {m.group(0).split(":-")[0][6:]: m.group(1) for m in ENV_DEFAULT.finditer(text)}
    for variable in ("OTLP_GRPC_ENDPOINT", "OTLP_HTTP_ENDPOINT", "HEALTH_CHECK_ENDPOINT",
                     "PROMETHEUS_EXPORTER_ENDPOINT", "SELF_METRICS_HOST"):
        assert defaults[variable].startswith("0.0.0.0"), variable
    assert defaults["TEMPO_OTLP_ENDPOINT"] == "tempo:4317"


@pytest.mark.stack
def test_prometheus_config_passes_promtool() -> None:
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "config", "--syntax-only", str(ROOT / "prometheus" / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.stack
def test_alertmanager_config_passes_amtool_and_routes_by_action() -> None:
    amtool = require_binary("amtool")
    config = str(ROOT / "alerts" / "alertmanager.yml")
    result = subprocess.run([amtool, "check-config", config], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    for labels, receiver in (("action=scale_out", "control"), ("action=degrade", "control"),
                             ("action=page", "control"), ("severity=info", "log-only")):
        routed = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}", labels],
                                capture_output=True, text=True, timeout=60)
        assert routed.stdout.strip() == receiver, (labels, routed.stdout)
    webhook = yaml.safe_load(Path(config).read_text())["receivers"][1]["webhook_configs"][0]
    assert webhook["send_resolved"] is True


class TestTempo303:
    config: dict[str, Any] = yaml.safe_load((ROOT / "tempo" / "tempo.yaml").read_text())

    def test_no_2x_blocks_that_tempo_3_refuses(self) -> None:
        for removed in ("ingester", "compactor", "ingester_client", "metrics_generator_client"):
            assert removed not in self.config
        generator = self.config["metrics_generator"]
        assert "traces_storage" not in generator and "local_blocks" not in generator.get("processor", {})
        processors = self.config["overrides"]["defaults"]["metrics_generator"]["processors"]
        assert "local-blocks" not in processors
        assert set(processors) <= {"service-graphs", "span-metrics"}

    def test_documented_keys(self) -> None:
        assert self.config["server"]["http_listen_port"] == 3200
        assert self.config["stream_over_http_enabled"] is True
        grpc = self.config["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
        assert grpc == "0.0.0.0:4317"  # localhost is the default since 2.7: unreachable from the Collector
        storage = self.config["storage"]["trace"]
        assert storage["backend"] == "local" and storage["wal"]["path"] and storage["local"]["path"]
        remote = self.config["metrics_generator"]["storage"]["remote_write"][0]
        assert remote["url"] == "http://prometheus:9090/api/v1/write" and remote["send_exemplars"] is True
        assert "--web.enable-remote-write-receiver" in SERVICES["prometheus"]["command"]
        assert self.config["overrides"]["defaults"]["metrics_generator"]["generate_native_histograms"] in (
            "both", "classic", "native")
        assert self.config["usage_report"]["reporting_enabled"] is False


class TestGrafanaProvisioning:
    datasources = yaml.safe_load((ROOT / "dashboards/provisioning/datasources/datasources.yaml").read_text())
    raw_datasources = (ROOT / "dashboards/provisioning/datasources/datasources.yaml").read_text()
    providers = yaml.safe_load((ROOT / "dashboards/provisioning/dashboards/dashboards.yaml").read_text())

    def by_uid(self) -> dict[str, dict[str, Any]]:
        return {ds["uid"]: ds for ds in self.datasources["datasources"]}

    def test_datasource_uids_and_urls_match_compose(self) -> None:
        sources = self.by_uid()
        assert sources["prometheus"]["url"] == "http://prometheus:9090"
        assert sources["tempo"]["url"] == "http://tempo:3200"
        assert sources["alertmanager"]["jsonData"]["implementation"] == "prometheus"
        assert {"prometheus", "tempo", "alertmanager"} <= set(SERVICES)

    def test_exemplars_link_both_trace_id_labels_to_tempo(self) -> None:
        destinations = self.by_uid()["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
        assert {(d["name"], d["datasourceUid"]) for d in destinations} == {("trace_id", "tempo"), ("traceID", "tempo")}

    def test_dollar_signs_are_escaped_for_grafana(self) -> None:
        values = "\n".join(line for line in self.raw_datasources.splitlines() if not line.lstrip().startswith("#"))
        assert "$$__tags" in values
        assert "$" not in values.replace("$$", "")

    def test_dashboard_provider_path_is_the_compose_mount(self) -> None:
        (provider,) = self.providers["providers"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["grafana"]["volumes"]}
        assert mounts[provider["options"]["path"]] == "./dashboards"
        assert provider["type"] == "file" and self.providers["apiVersion"] == 1

    def test_anonymous_access_is_read_only_and_admin_password_from_env(self) -> None:
        environment = SERVICES["grafana"]["environment"]
        assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
        assert environment["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD")
