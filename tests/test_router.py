"""agentvitals.ModelRouter: routes, priorities, admission, variants pinned per task, the marks on tasks and
LLM spans, the mode sources (force, webhook push, Alertmanager pull against a fake Alertmanager), and what
the router reports as metrics. Real Alertmanager and Prometheus: tests/test_router_e2e.py."""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import agentvitals
from agentvitals.attributes import TASK_MODE, TASK_NAME, TASK_VARIANT
from agentvitals.control import Controller
from agentvitals.control.metrics import (
    ROUTER_MODE,
    ROUTER_PRIORITY,
    ROUTER_ROUTE,
    ROUTER_SWITCH_REASON,
    ROUTER_VARIANT,
)
from agentvitals.routing import (
    DEGRADE_FILTER,
    Admission,
    AlertmanagerSource,
    Choice,
    Mode,
    ModelRouter,
    Priority,
    Route,
    Variant,
)
from agentvitals.routing import _tasks as routing_tasks
from agentvitals.semconv import GEN_AI_REQUEST_MODEL
from tests.conftest import Telemetry
from tests.fake_llm import FakeLLMServer
from tests.served import ServedHTTP

LARGE, SMALL, CANDIDATE = Choice("large", max_tokens=400), Choice("small", max_tokens=96), Choice("large-v2")
ROUTES = {
    "answer": Route(normal=LARGE, degraded=SMALL),
    "plan": Route(normal=Choice("small", max_tokens=64)),  # degraded mode does not change it
}


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Metrics:
    """A meter provider with an in-memory reader, for the router's own metrics."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        return [point for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics
                for metric in sm.metrics if metric.name == name for point in metric.data.data_points]

    def total(self, name: str, **labels: str) -> float:
        return sum(p.value for p in self.points(name)
                   if all(p.attributes.get(k) == v for k, v in labels.items()))


@pytest.fixture
def meters() -> Iterator[Metrics]:
    found = Metrics()
    yield found
    found.provider.shutdown()


def router(meters: Metrics, routes: dict[str, Route] | None = None, **options: Any) -> ModelRouter:
    options.setdefault("source", False)
    return ModelRouter(routes or ROUTES, meter_provider=meters.provider, **options)


# --- routes, priorities, admission ------------------------------------------------------------------------
def test_normal_mode_serves_every_priority_the_normal_choice(meters: Metrics) -> None:
    r = router(meters)
    for priority in Priority:
        decision = r.choose("answer", priority=priority)
        assert (decision.model, decision.mode, decision.variant) == ("large", Mode.NORMAL, None)
        assert decision.kwargs() == {"model": "large", "max_tokens": 400}
    assert r.admit("background") is Admission.ADMIT


def test_degraded_mode_keeps_critical_on_the_normal_choice_and_defers_background(meters: Metrics) -> None:
    r = router(meters)
    r.set_degraded(True, "test")
    assert r.choose("answer", priority="critical").model == "large"
    for priority in ("standard", "background"):
        decision = r.choose("answer", priority=priority)
        assert (decision.model, decision.max_tokens, decision.mode) == ("small", 96, Mode.DEGRADED)
    assert r.choose("plan").mode is Mode.NORMAL  # a route without a degraded choice is not degraded
    assert r.admit(Priority.BACKGROUND) is Admission.DEFER
    assert r.admit("standard") is Admission.ADMIT and r.admit("critical") is Admission.ADMIT
    shedding = router(meters, background="shed", name="shedding")
    shedding.force("degraded")
    assert shedding.admit("background") is Admission.SHED and not shedding.admit("background").admitted
    assert meters.total("agentvitals.router.admissions", **{"agentvitals.router.admission": "defer"}) == 1
    assert meters.total("agentvitals.router.admissions", **{"agentvitals.router.admission": "shed"}) == 2


def test_a_route_can_degrade_critical_calls_too(meters: Metrics) -> None:
    r = router(meters, {"answer": Route(normal=LARGE, degraded=SMALL, degrade_critical=True)})
    r.force(Mode.DEGRADED)
    assert r.choose("answer", priority="critical").model == "small"


def test_choices_carry_prompts_and_settings(meters: Metrics) -> None:
    r = router(meters, {"answer": Route(normal=Choice("large", prompt="answer-v1", settings={"temperature": 0.2}),
                                        degraded=Choice("small", prompt="answer-short"))})
    normal = r.choose("answer")
    assert normal.prompt == "answer-v1" and normal.kwargs() == {"model": "large", "temperature": 0.2}
    r.force("degraded")
    assert r.choose("answer").prompt == "answer-short"


@pytest.mark.parametrize(("build", "message"), [
    (lambda: Choice(""), "model must be a non-empty string"),
    (lambda: Choice("m", max_tokens=0), "max_tokens must be a positive integer"),
    (lambda: Choice("m", settings={"model": "x"}), "must not set"),
    (lambda: Variant("control", 0.1, LARGE), "names a route's own choices"),
    (lambda: Variant("a b", 0.1, LARGE), "Variant.name must be"),
    (lambda: Variant("cand", 1.5, LARGE), "share must be a number in"),
    (lambda: Route(LARGE, variants=[Variant("a", 0.6, LARGE), Variant("b", 0.6, LARGE)]), "sum to more than 1"),
    (lambda: Route(LARGE, variants=[Variant("a", 0.1, LARGE), Variant("a", 0.1, LARGE)]), "distinct names"),
    (lambda: ModelRouter({}), "at least one route"),
    (lambda: ModelRouter({"bad route": Route(LARGE)}, source=False), "a route name must be"),
    (lambda: ModelRouter(ROUTES, source=True), "ambiguous"),
])
def test_configuration_mistakes_fail_when_built(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_unknown_route_or_priority_is_a_clear_error(meters: Metrics) -> None:
    r = router(meters)
    with pytest.raises(ValueError, match=r"unknown route 'anwser'; this router has \['answer', 'plan'\]"):
        r.choose("anwser")
    with pytest.raises(ValueError, match="'urgent' is not a valid Priority"):
        r.choose("answer", priority="urgent")


# --- mode sources: force, webhook push -------------------------------------------------------------------
def test_force_holds_a_mode_until_it_expires(meters: Metrics) -> None:
    clock = Clock()
    r = router(meters, clock=clock)
    r.force("degraded", until=timedelta(seconds=30))
    assert r.degraded
    r.set_degraded(False)  # the push says normal: the force still wins
    clock.now += 29
    assert r.degraded
    clock.now += 1
    assert r.mode is Mode.NORMAL
    assert [(mode, reason) for _, mode, reason in r.transitions] == [(Mode.DEGRADED, "force"),
                                                                      (Mode.NORMAL, "force_expired")]
    assert meters.total("agentvitals.router.switches", **{ROUTER_SWITCH_REASON: "force_expired"}) == 1


def test_force_normal_overrides_a_degrading_source_and_force_none_ends_it(meters: Metrics) -> None:
    clock = Clock()
    r = router(meters, clock=clock)
    r.set_degraded(True)
    r.force("normal", until=datetime.fromtimestamp(clock.now + 60, tz=timezone.utc))
    assert r.choose("answer").model == "large"
    r.force(None)
    assert r.choose("answer").model == "small"
    with pytest.raises(ValueError, match="in the past"):
        r.force("degraded", until=clock.now - 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        r.force("degraded", until=datetime(2030, 1, 1))  # noqa: DTZ001 - the naive datetime under test


def test_the_control_service_switches_the_router_through_its_webhook_push(meters: Metrics) -> None:
    r = router(meters)
    controller = Controller(router=r, cooldown_s=0)
    from agentvitals.control import AlertEvent

    controller.handle(AlertEvent("firing", "AgentTaskLatencyHigh", "degrade", "f1", "2026-01-01T00:00:00Z"))
    assert r.degraded and r.transitions[-1][2] == "webhook"
    assert not r.set_degraded(True)  # already degraded by the push: no change


# --- variants, pinned per task ------------------------------------------------------------------------------
VARIANT_ROUTES = {
    "answer": Route(normal=LARGE, degraded=SMALL, variants=[Variant("candidate", 0.10, normal=CANDIDATE)]),
    "plan": Route(normal=Choice("small"), variants=[Variant("candidate", 0.10, normal=Choice("small-v2"))]),
}


def test_a_task_keeps_one_variant_for_all_its_choices_nested_tasks_included(telemetry: Telemetry,
                                                                             meters: Metrics) -> None:
    r = router(meters, VARIANT_ROUTES, seed=7)
    seen: dict[str, int] = {"control": 0, "candidate": 0}
    for _ in range(400):
        with agentvitals.task("support"):
            first = r.choose("answer")
            with agentvitals.task("sub-step"):
                inner = {r.choose("answer").variant, r.choose("plan").variant}
            assert inner == {first.variant} and r.choose("answer").model == first.model
            seen[str(first.variant)] += 1
    assert 0.05 < seen["candidate"] / 400 < 0.15  # the share, loosely: the exact split is tested on 2,000 tasks


def test_outside_a_task_each_choice_draws_anew(meters: Metrics) -> None:
    r = router(meters, VARIANT_ROUTES, seed=3)
    variants = {r.choose("answer").variant for _ in range(200)}
    assert variants == {"control", "candidate"}


def test_a_variant_in_degraded_mode_gets_the_route_degraded_choice_unless_it_has_its_own(meters: Metrics) -> None:
    routes = {"answer": Route(normal=LARGE, degraded=SMALL, variants=[
        Variant("all", 1.0, normal=CANDIDATE, degraded=Choice("tiny"))])}
    r = router(meters, routes)
    r.force("degraded")
    assert (r.choose("answer").model, r.choose("answer").variant) == ("tiny", "all")
    plain = router(meters, {"answer": Route(normal=LARGE, degraded=SMALL, variants=[Variant("all", 1.0, CANDIDATE)])},
                   name="plain")
    plain.force("degraded")
    assert plain.choose("answer").model == "small"


def test_the_task_metrics_and_span_carry_the_variant_and_the_mode_served(telemetry: Telemetry,
                                                                          meters: Metrics) -> None:
    r = router(meters, {"answer": Route(normal=LARGE, degraded=SMALL, variants=[Variant("candidate", 1.0, CANDIDATE)])})
    with agentvitals.task("normal-task"):
        r.choose("answer")
    r.force("degraded")
    with agentvitals.task("degraded-task"):
        r.choose("answer", priority="critical")  # normal choice first ...
        r.choose("answer")  # ... then a degraded one: the task was served degraded
    with agentvitals.task("critical-task"):
        r.choose("answer", priority="critical")
    with agentvitals.task("unrouted"):
        pass
    spans = {s.attributes[TASK_NAME]: s.attributes for s in telemetry.spans("invoke_agent")}
    assert (spans["normal-task"][TASK_VARIANT], spans["normal-task"][TASK_MODE]) == ("candidate", "normal")
    assert spans["degraded-task"][TASK_MODE] == "degraded" and spans["critical-task"][TASK_MODE] == "normal"
    assert TASK_VARIANT not in spans["unrouted"] and TASK_MODE not in spans["unrouted"]
    durations = {p.attributes[TASK_NAME]: p.attributes for p in telemetry.points("agentvitals.task.duration")}
    assert durations["degraded-task"][TASK_MODE] == "degraded"
    assert durations["degraded-task"][TASK_VARIANT] == "candidate"
    assert TASK_MODE not in durations["unrouted"]
    costs = {p.attributes[TASK_NAME]: p.attributes for p in telemetry.points("agentvitals.task.cost.usd")}
    assert costs["critical-task"][TASK_MODE] == "normal"


def test_llm_spans_after_a_choice_carry_its_route_variant_mode_and_priority(telemetry: Telemetry,
                                                                            meters: Metrics) -> None:
    r = router(meters, {"answer": Route(normal=LARGE, degraded=SMALL, variants=[Variant("candidate", 1.0, CANDIDATE)])})
    r.force("degraded")
    with agentvitals.task("support"):
        decision = r.choose("answer", priority="standard")
        with agentvitals.llm_call("openai", decision.model) as call:
            call.record(input_tokens=10, output_tokens=5)
        with agentvitals.llm_call("openai", "embedder", operation="embeddings"):
            pass  # another model: not this decision's call
    routed = telemetry.span("chat small")
    assert {k: routed.attributes[k] for k in (ROUTER_ROUTE, ROUTER_VARIANT, ROUTER_MODE, ROUTER_PRIORITY)} == {
        ROUTER_ROUTE: "answer", ROUTER_VARIANT: "candidate", ROUTER_MODE: "degraded", ROUTER_PRIORITY: "standard"}
    assert ROUTER_ROUTE not in telemetry.span("embeddings embedder").attributes


def test_the_auto_instrumented_client_spans_carry_the_decision_streamed_or_not(telemetry: Telemetry, meters: Metrics,
                                                                               fake_llm: FakeLLMServer) -> None:
    import openai

    client = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="sk-test", max_retries=0)
    r = router(meters, {"answer": Route(normal=Choice("gpt-4o", max_tokens=50), degraded=Choice("gpt-4o-mini"),
                                        variants=[Variant("candidate", 1.0, Choice("gpt-4o"))])})
    r.force("degraded")
    with agentvitals.task("support"):
        decision = r.choose("answer")
        client.chat.completions.create(**decision.kwargs(), messages=[{"role": "user", "content": "hi"}])
        for _ in client.chat.completions.create(**decision.kwargs(), messages=[{"role": "user", "content": "hi"}],
                                                stream=True):
            pass
    spans = telemetry.spans("chat gpt-4o-mini")
    assert len(spans) == 2
    for span in spans:
        assert {k: span.attributes.get(k) for k in (ROUTER_ROUTE, ROUTER_VARIANT, ROUTER_MODE)} == {
            ROUTER_ROUTE: "answer", ROUTER_VARIANT: "candidate", ROUTER_MODE: "degraded"}


def test_decisions_are_counted_by_route_priority_variant_mode_and_model(meters: Metrics) -> None:
    r = router(meters, {"answer": Route(normal=LARGE, degraded=SMALL, variants=[Variant("candidate", 1.0, CANDIDATE)])})
    r.choose("answer", priority="critical")
    r.force("degraded")
    r.choose("answer", priority="critical")
    r.choose("answer")
    decisions = {(p.attributes[ROUTER_PRIORITY], p.attributes[ROUTER_MODE], p.attributes[GEN_AI_REQUEST_MODEL]):
                 p.value for p in meters.points("agentvitals.router.decisions")}
    assert decisions == {("critical", "normal", "large-v2"): 2, ("standard", "degraded", "small"): 1}


def test_variant_labels_stay_bounded(meters: Metrics, telemetry: Telemetry) -> None:
    names = [f"bounded-{i}" for i in range(routing_tasks.MAX_VARIANT_NAMES + 1)]
    with pytest.raises(ValueError, match="at most 64 distinct variant names"):
        router(meters, {"answer": Route(LARGE, variants=[Variant(n, 0.001, LARGE) for n in names])})
    with agentvitals.task("edited") as task:
        assert task.run is not None
        task.run.variant, task.run.mode = "user-1234", "panic"  # written by hand, not by a router
    (span,) = [s for s in telemetry.spans("invoke_agent") if s.attributes[TASK_NAME] == "edited"]
    assert (span.attributes[TASK_VARIANT], span.attributes[TASK_MODE]) == ("other", "other")


# --- the Alertmanager pull source against a fake Alertmanager ----------------------------------------------------
class FakeAlertmanager(ServedHTTP):
    """Answers GET /api/v2/alerts with ``alerts``; ``status`` other than 200 answers that; ``hold`` (an Event)
    makes each request wait for it. Records the query of every request."""

    def __init__(self) -> None:
        fake = self
        self.alerts: list[dict[str, Any]] = []
        self.status = 200
        self.body: bytes | None = None
        self.queries: list[dict[str, list[str]]] = []
        self.hold: threading.Event | None = None
        self.holding = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = urllib.parse.urlsplit(self.path)
                fake.queries.append(urllib.parse.parse_qs(parts.query))
                if fake.hold is not None:
                    fake.holding.set()
                    fake.hold.wait(10)
                body = fake.body if fake.body is not None else json.dumps(fake.alerts).encode()
                if parts.path != "/api/v2/alerts":
                    self.send_response(404)
                    body = b"not found"
                else:
                    self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)

    def fire(self, name: str = "AgentTaskLatencyHigh") -> None:
        self.alerts = [{"labels": {"alertname": name, "action": "scale_out,degrade"}, "fingerprint": "f1",
                        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T01:00:00Z",
                        "updatedAt": "2026-01-01T00:00:00Z", "receivers": [{"name": "control-degrade"}],
                        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}}]


@pytest.fixture
def alertmanager() -> Iterator[FakeAlertmanager]:
    with FakeAlertmanager() as fake:
        yield fake


def source(url: str | list[str], clock: Clock, meters: Metrics, **options: Any) -> AlertmanagerSource:
    options.setdefault("timeout_s", 2)
    return AlertmanagerSource(url, clock=clock, meter_provider=meters.provider, **options)


def test_the_poll_asks_for_active_unsilenced_uninhibited_degrade_alerts(alertmanager: FakeAlertmanager,
                                                                       meters: Metrics) -> None:
    pull = source(alertmanager.url + "/", Clock(), meters, filters=[DEGRADE_FILTER, 'job="support-agent"'])
    assert pull.poll_once()
    assert alertmanager.queries == [{"active": ["true"], "silenced": ["false"], "inhibited": ["false"],
                                     "filter": ['action=~"(.+,)?degrade(,.+)?"', 'job="support-agent"']}]


def test_pull_degrades_while_an_alert_is_active_then_after_the_cooldown_returns(alertmanager: FakeAlertmanager,
                                                                               meters: Metrics) -> None:
    clock = Clock()
    pull = source(alertmanager.url, clock, meters, cooldown_s=60)
    r = router(meters, source=pull, clock=clock)
    pull.stop()  # polls driven by the test
    alertmanager.fire()
    pull.poll_once()
    assert r.degraded and r.choose("answer").model == "small" and r.choose("answer", "critical").model == "large"
    alertmanager.alerts = []
    clock.now += 5
    pull.poll_once()
    assert pull.state().reason == "cooldown" and r.degraded
    clock.now += 59
    alertmanager.fire()  # back within the cool-down: it starts again from the next clear poll
    pull.poll_once()
    alertmanager.alerts = []
    clock.now += 1
    pull.poll_once()
    clock.now += 59.9
    assert r.degraded
    clock.now += 0.2
    assert not r.degraded
    assert [(m.value, why) for _, m, why in r.transitions] == [("degraded", "alertmanager"), ("normal", "alertmanager")]


def test_unreachable_alertmanager_holds_the_mode_then_returns_to_normal_with_a_log_line(
        alertmanager: FakeAlertmanager, meters: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    pull = source(alertmanager.url, clock, meters, cooldown_s=60, hold_s=120)
    r = router(meters, source=pull, clock=clock)
    pull.stop()
    alertmanager.fire()
    pull.poll_once()
    alertmanager.status = 503
    caplog.set_level(logging.INFO, logger="agentvitals.routing")
    for _ in range(4):
        clock.now += 30
        assert not pull.poll_once()
        assert r.degraded  # held: 120 s after the last answer
    clock.now += 0.5
    pull.poll_once()
    assert not r.degraded and r.transitions[-1][1:] == (Mode.NORMAL, "alertmanager_unreachable")
    assert meters.total("agentvitals.router.poll.failures", **{"error.type": "http_status"}) == 5
    assert meters.total("agentvitals.router.switches", **{ROUTER_SWITCH_REASON: "alertmanager_unreachable"}) == 1
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings  # the outage begins; the router switches back (with its reason)
    assert "alertmanager_unreachable" in warnings[1]
    # Alertmanager back, the alert still firing: degraded at once; back with none: no cool-down from the old one.
    alertmanager.status = 200
    pull.poll_once()
    assert r.degraded
    alertmanager.status, clock.now = 503, clock.now + 200
    pull.poll_once()
    alertmanager.status, alertmanager.alerts = 200, []
    pull.poll_once()
    assert not r.degraded


def test_any_member_of_an_ha_cluster_answering_is_enough(alertmanager: FakeAlertmanager, meters: Metrics) -> None:
    from tests.stack import free_port

    down = f"http://127.0.0.1:{free_port()}"
    pull = source([down, alertmanager.url], Clock(), meters)
    alertmanager.fire()
    assert pull.poll_once() and pull.state().degraded
    assert pull.poll_once()  # the member that answered is asked first next time
    assert len(alertmanager.queries) == 2
    assert meters.total("agentvitals.router.poll.failures") == 0


@pytest.mark.parametrize(("body", "status", "kind"), [
    (b"<html>", 200, "malformed"), (b'{"alerts": []}', 200, "malformed"), (b"[{}]", 200, "malformed"),
    (b"[]", 400, "http_status"),
])
def test_bad_answers_are_failed_polls(alertmanager: FakeAlertmanager, meters: Metrics, body: bytes, status: int,
                                      kind: str) -> None:
    pull = source(alertmanager.url, Clock(), meters)
    alertmanager.body, alertmanager.status = body, status
    assert not pull.poll_once()
    assert meters.total("agentvitals.router.poll.failures", **{"error.type": kind}) == 1
    assert pull.state().known and not pull.state().degraded


def test_suppressed_alerts_never_degrade(alertmanager: FakeAlertmanager, meters: Metrics) -> None:
    pull = source(alertmanager.url, Clock(), meters)
    alertmanager.fire()
    alertmanager.alerts[0]["status"]["state"] = "suppressed"
    pull.poll_once()
    assert not pull.state().degraded


def test_choose_never_waits_for_a_poll_in_flight(alertmanager: FakeAlertmanager, meters: Metrics) -> None:
    alertmanager.hold = threading.Event()
    pull = source(alertmanager.url, Clock(), meters, timeout_s=10)
    r = router(meters, source=pull)  # starts polling; the first request hangs until released
    try:
        assert alertmanager.holding.wait(10)
        assert r.choose("answer").model == "large"  # answered while the poll is stuck: it did not wait
        assert r.reported_mode() is None  # and the mode is not reported as known yet
    finally:
        alertmanager.hold.set()
        pull.stop()


def test_the_mode_gauge_appears_once_the_first_poll_answered(alertmanager: FakeAlertmanager, meters: Metrics) -> None:
    alertmanager.fire()
    pull = source(alertmanager.url, Clock(), meters, interval_s=60)
    gauged = router(meters, source=pull, name="gauged")
    try:
        assert pull.wait_ready(10) and gauged.degraded
        (point,) = [p for p in meters.points("agentvitals.router.degraded")
                    if p.attributes["agentvitals.router.name"] == "gauged"]
        assert point.value == 1
    finally:
        pull.stop()


def test_source_arguments_are_checked() -> None:
    for urls, message in (([], "at least one"), ("alertmanager:9093", "not an Alertmanager URL"),
                          ("http://am:9093/?x=1", "no query")):
        with pytest.raises(ValueError, match=message):
            AlertmanagerSource(urls)
    with pytest.raises(ValueError, match="interval_s must be positive"):
        AlertmanagerSource("http://am:9093", interval_s=0)


def test_alertmanager_credentials_are_refused_without_being_repeated(monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    # urllib would take the userinfo for part of the host and every failed poll would log it: refused, and the
    # message (logged when it comes from the environment) does not repeat the password or a query token.
    for url in ("http://agent:canary-am-password@am:9093", "http://am:9093/?token=canary-am-token"):
        with pytest.raises(ValueError) as raised:
            AlertmanagerSource(url)
        assert "canary" not in str(raised.value) and "REDACTED" in str(raised.value)
    with pytest.raises(ValueError, match="takes no credentials"):
        AlertmanagerSource("http://agent:canary-am-password@am:9093")
    monkeypatch.setenv("AGENTVITALS_ALERTMANAGER_URLS", "http://agent:canary-am-password@am:9093")
    with caplog.at_level(logging.WARNING, logger="agentvitals"):
        agentvitals.init("router-test", endpoint=False)
        agentvitals.shutdown()
    lines = [r.getMessage() for r in caplog.records]
    assert any("takes no credentials" in line for line in lines) and not any("canary" in line for line in lines)


# --- init(alertmanager=...) ---------------------------------------------------------------------------------
def test_init_starts_the_process_source_routers_follow_it_and_shutdown_stops_it(
        alertmanager: FakeAlertmanager, meters: Metrics, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentvitals.routing import _default

    alertmanager.fire()
    before = ModelRouter(ROUTES, meter_provider=meters.provider, name="built-before-init")
    agentvitals.init("router-test", endpoint=False, alertmanager=[alertmanager.url])
    try:
        pull = _default.source()
        assert pull is not None and pull.running and pull.wait_ready(10)
        after = ModelRouter(ROUTES, meter_provider=meters.provider, name="built-after-init")
        assert before.degraded and after.degraded and before.source is pull
    finally:
        agentvitals.shutdown()
    assert _default.source() is None and not pull.running and not before.degraded
    monkeypatch.setenv("AGENTVITALS_ALERTMANAGER_URLS", alertmanager.url)
    agentvitals.init("router-test", endpoint=False)
    try:
        assert _default.source() is not None and _default.source().urls == (alertmanager.url,)  # type: ignore[union-attr]
    finally:
        agentvitals.shutdown()
    monkeypatch.delenv("AGENTVITALS_ALERTMANAGER_URLS")
    agentvitals.init("router-test", endpoint=False)
    try:
        assert _default.source() is None  # nothing configured: no polling, no network
    finally:
        agentvitals.shutdown()


def test_init_rejects_a_bad_alertmanager_argument() -> None:
    with pytest.raises(agentvitals.ConfigError, match="alertmanager: not an Alertmanager URL"):
        agentvitals.init("router-test", endpoint=False, alertmanager="am:9093")
