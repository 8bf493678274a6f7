"""The stack's configuration files: validated by the real tool where one runs here, else by documented keys.

Docker cannot run on our machines, so docker-compose.yml (and its Collector-tier override) is validated
with Debian's docker-compose; Prometheus and Alertmanager configs with promtool and amtool; every
Collector config (collector/*.yaml and the ones the Kubernetes example carries) with the built binary;
the Kubernetes manifests against the Kubernetes schemas. Tempo 3.0.3, Grafana 13.2 and Kubernetes cannot
run here: their files are checked against the keys their documentation gives for those versions (listed
in the README as not run here).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stack import ROOT, collector_binary, require_binary

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
TIER_SERVICES: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.tier.yml").read_text())["services"]
ENV_DEFAULT = re.compile(r"\$\{env:([A-Z_0-9]+):-([^}]*)\}")
COLLECTOR_CONFIGS = ("config.yaml", "agent.yaml", "gateway.yaml")
KUBERNETES = [doc for doc in yaml.safe_load_all((ROOT / "deploy/kubernetes/collector-tier.yaml").read_text()) if doc]


def collector_config(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "collector" / name).read_text()))


def env_defaults(config: str) -> dict[str, str]:
    return {match.group(1): match.group(2) for match in ENV_DEFAULT.finditer(config)}


def kubernetes(kind: str, name: str) -> dict[str, Any]:
    (found,) = [doc for doc in KUBERNETES if doc["kind"] == kind and doc["metadata"]["name"] == name]
    return found


def kubernetes_collector_configs() -> dict[str, str]:
    """The Collector configs the Kubernetes example's ConfigMaps carry, by file name."""
    return {key: text for doc in KUBERNETES if doc["kind"] == "ConfigMap" for key, text in doc["data"].items()}


@pytest.mark.stack
@pytest.mark.parametrize("files", [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.tier.yml"]],
                         ids=["single", "tier"])
def test_compose_file_validates_with_docker_compose(files: list[str]) -> None:
    binary = require_binary("docker-compose")
    result = subprocess.run([binary, *(arg for name in files for arg in ("-f", str(ROOT / name))), "config", "-q"],
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
    for name, service in {**SERVICES, **TIER_SERVICES}.items():
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
    for name, service in [*SERVICES.items(), *TIER_SERVICES.items()]:
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


@pytest.mark.parametrize("name", COLLECTOR_CONFIGS)
def test_collector_listens_on_all_interfaces_in_containers(name: str) -> None:
    defaults = env_defaults((ROOT / "collector" / name).read_text())
    listening = {"OTLP_GRPC_ENDPOINT", "OTLP_HTTP_ENDPOINT", "HEALTH_CHECK_ENDPOINT", "PROMETHEUS_EXPORTER_ENDPOINT",
                 "SELF_METRICS_HOST"} & set(defaults)
    assert {"OTLP_GRPC_ENDPOINT", "HEALTH_CHECK_ENDPOINT", "PROMETHEUS_EXPORTER_ENDPOINT"} <= listening
    for variable in listening:
        assert defaults[variable].startswith("0.0.0.0"), variable
    if name != "agent.yaml":  # the agent sends traces to the gateways, not to Tempo
        assert defaults["TEMPO_OTLP_ENDPOINT"] == "tempo:4317"


def test_builder_manifest_lists_exactly_the_components_the_configs_use() -> None:
    manifest = yaml.safe_load((ROOT / "collector" / "builder-config.yaml").read_text())
    module_names = {
        "otlpreceiver": "otlp", "memorylimiterprocessor": "memory_limiter", "batchprocessor": "batch",
        "tailsamplingprocessor": "tail_sampling", "otlpexporter": "otlp_grpc", "prometheusexporter": "prometheus",
        "loadbalancingexporter": "load_balancing", "spanmetricsconnector": "span_metrics",
        "healthcheckextension": "health_check",
    }
    kinds = ("receivers", "processors", "exporters", "connectors", "extensions")
    built = {kind: {module_names[Path(item["gomod"].split()[0]).name] for item in manifest[kind]} for kind in kinds}
    configs = [collector_config(name) for name in COLLECTOR_CONFIGS]
    configs += [yaml.safe_load(text) for text in kubernetes_collector_configs().values()]
    used = {kind: {name.split("/")[0] for config in configs for name in config.get(kind, {})} for kind in kinds}
    assert built == used
    versions = {item["gomod"].split()[1] for kind in kinds for item in manifest[kind]}
    assert versions == {"v" + manifest["dist"]["version"]}


@pytest.mark.stack
@pytest.mark.parametrize("name", [*COLLECTOR_CONFIGS, *(f"kubernetes:{key}" for key in kubernetes_collector_configs())])
def test_collector_configs_validate_with_the_built_binary(name: str, tmp_path: Path) -> None:
    if name.startswith("kubernetes:"):
        path = tmp_path / name.split(":")[1]
        path.write_text(kubernetes_collector_configs()[path.name])
    else:
        path = ROOT / "collector" / name
    result = subprocess.run([collector_binary(), "validate", f"--config={path}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


class TestCollectorTier:
    agent = collector_config("agent.yaml")
    gateway = collector_config("gateway.yaml")

    def test_agents_balance_traces_by_trace_id_and_serve_the_sdk_metrics_themselves(self) -> None:
        balancing = self.agent["exporters"]["load_balancing"]
        assert balancing["routing_key"] == "traceID"
        assert set(balancing["resolver"]) == {"static"}
        pipelines = self.agent["service"]["pipelines"]
        assert pipelines["traces"]["exporters"] == ["load_balancing"]
        assert pipelines["metrics"] == {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"],
                                        "exporters": ["prometheus"]}

    def test_gateways_compute_span_metrics_from_every_span_and_sample_before_tempo(self) -> None:
        pipelines = self.gateway["service"]["pipelines"]
        into_span_metrics = [p for p in pipelines.values() if "span_metrics" in p.get("exporters", [])]
        assert into_span_metrics and all("tail_sampling" not in p["processors"] for p in into_span_metrics)
        to_tempo = [p for p in pipelines.values() if "otlp_grpc/tempo" in p.get("exporters", [])]
        assert to_tempo and all("tail_sampling" in p["processors"] for p in to_tempo)
        assert {p["receivers"][0] for p in [*into_span_metrics, *to_tempo]} == {"otlp"}
        assert all("otlp" not in p["receivers"] for name, p in pipelines.items() if name.startswith("metrics"))

    def test_tail_sampling_keeps_errors_slow_traces_and_a_share(self) -> None:
        policies = {p["type"]: p for p in self.gateway["processors"]["tail_sampling"]["policies"]}
        assert set(policies) == {"status_code", "latency", "probabilistic"}
        assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
        assert policies["latency"]["latency"] == {"threshold_ms": 2000}  # the latency alert's threshold

    def test_span_metrics_are_configured_as_in_the_single_collector(self) -> None:
        single = collector_config("config.yaml")
        assert self.gateway["connectors"]["span_metrics"] == single["connectors"]["span_metrics"]

    def test_compose_gateways_are_the_agents_default_gateways_and_prometheus_finds_them(self) -> None:
        hostnames = env_defaults((ROOT / "collector" / "agent.yaml").read_text())["GATEWAY_ENDPOINTS"]
        gateways = {name: service for name, service in TIER_SERVICES.items() if name.startswith("otel-gateway")}
        assert yaml.safe_load(hostnames) == [f"{name}:4317" for name in sorted(gateways)]
        prometheus = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
        discovered = {(sd["names"][0], sd["port"]) for job in prometheus["scrape_configs"]
                      for sd in job.get("dns_sd_configs", [])}
        assert discovered == {("otel-gateway", 8889), ("otel-gateway", 8888)}
        manifest = yaml.safe_load((ROOT / "collector" / "builder-config.yaml").read_text())
        for service in gateways.values():
            assert service["networks"]["default"]["aliases"] == ["otel-gateway"]
            assert service["image"] == SERVICES["otel-collector"]["image"]
            assert service["image"].endswith(":" + manifest["dist"]["version"])
        assert TIER_SERVICES["otel-collector"]["command"] == ["--config=/etc/otelcol/agent.yaml"]


class TestKubernetesCollectorTier:
    def test_manifests_match_the_kubernetes_schemas(self) -> None:
        import kubernetes_validate

        for doc in KUBERNETES:
            try:
                kubernetes_validate.validate(doc, "1.32", strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc.message}")

    def test_configmaps_carry_the_committed_configs_the_agent_with_a_k8s_resolver(self) -> None:
        carried = {key: yaml.safe_load(text) for key, text in kubernetes_collector_configs().items()}
        assert set(carried) == {"agent.yaml", "gateway.yaml"}
        assert carried["gateway.yaml"] == collector_config("gateway.yaml")
        resolver = carried["agent.yaml"]["exporters"]["load_balancing"].pop("resolver")
        expected = collector_config("agent.yaml")
        del expected["exporters"]["load_balancing"]["resolver"]
        assert carried["agent.yaml"] == expected
        service = kubernetes("Service", "otel-gateway")
        assert resolver == {"k8s": {"service": f"otel-gateway.{service['metadata']['namespace']}", "ports": [4317]}}
        assert service["spec"]["clusterIP"] == "None"
        assert {"port": 4317, "name": "otlp-grpc", "targetPort": "otlp-grpc"} in service["spec"]["ports"]

    def test_the_agents_may_watch_the_gateway_endpoints(self) -> None:
        daemonset = kubernetes("DaemonSet", "otel-agent")
        account = daemonset["spec"]["template"]["spec"]["serviceAccountName"]
        binding = kubernetes("RoleBinding", "otel-agent-gateway-endpoints")
        assert {"kind": "ServiceAccount", "name": account, "namespace": "monitoring"} in binding["subjects"]
        role = kubernetes("Role", binding["roleRef"]["name"])
        assert role["metadata"]["namespace"] == kubernetes("Service", "otel-gateway")["metadata"]["namespace"]
        (rule,) = role["rules"]
        assert rule["apiGroups"] == ["discovery.k8s.io"] and rule["resources"] == ["endpointslices"]
        assert set(rule["verbs"]) == {"get", "list", "watch"}

    @pytest.mark.parametrize(("kind", "name", "config"), [("DaemonSet", "otel-agent", "agent.yaml"),
                                                         ("Deployment", "otel-gateway", "gateway.yaml")])
    def test_workloads_run_the_pinned_collector_on_their_configmap(self, kind: str, name: str, config: str) -> None:
        manifest = yaml.safe_load((ROOT / "collector" / "builder-config.yaml").read_text())
        workload = kubernetes(kind, name)
        template = workload["spec"]["template"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
        (container,) = template["spec"]["containers"]
        assert container["image"] == f"otel/opentelemetry-collector-contrib:{manifest['dist']['version']}"
        (mount,) = container["volumeMounts"]
        assert container["args"] == [f"--config={mount['mountPath']}/{config}"]
        (volume,) = template["spec"]["volumes"]
        assert volume["name"] == mount["name"]
        assert config in kubernetes("ConfigMap", volume["configMap"]["name"])["data"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports["health"] == 13133 and container["readinessProbe"]["httpGet"] == {"path": "/ready",
                                                                                       "port": "health"}
        services = [doc for doc in KUBERNETES if doc["kind"] == "Service"
                    and doc["spec"]["selector"].items() <= template["metadata"]["labels"].items()]
        assert services and all(port["targetPort"] in ports for s in services for port in s["spec"]["ports"])


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
    # An alert requesting several actions reaches one receiver per action (continue: true); a lookalike
    # action name reaches none of them.
    for labels, receivers in (('action="scale_out,degrade"', "control-scale-out,control-degrade"),
                              ("action=scale_out", "control-scale-out"), ("action=degrade", "control-degrade"),
                              ("action=page", "control-page"),
                              ('action="degrade,page"', "control-degrade,control-page"),
                              ("action=degraded", "log-only"), ("severity=info", "log-only")):
        routed = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}", labels],
                                capture_output=True, text=True, timeout=60)
        assert routed.stdout.strip() == receivers, (labels, routed.stdout)
    receivers = {r["name"]: r for r in yaml.safe_load(Path(config).read_text())["receivers"]}
    for action in ("scale_out", "degrade", "page"):
        (webhook,) = receivers[f"control-{action.replace('_', '-')}"]["webhook_configs"]
        assert webhook["url"].endswith(f"/alertmanager/{action}")  # the control service takes the action from it
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
