"""The control service: webhook validation and auth, idempotency, degrade/restore with cool-down, scaling."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agentvitals.control import AlertEvent, CallbackScaler, CommandScaler, Controller, ControlServer

SECRET = "test-secret-of-some-length"


class ManualScheduler:
    """Runs scheduled callbacks only when the test says time has passed."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pending: list[list[Any]] = []

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Any:
        entry = [self.now + delay_s, callback, False]
        self.pending.append(entry)

        class Handle:
            def cancel(self) -> None:
                entry[2] = True

        return Handle()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [e for e in self.pending if e[0] <= self.now and not e[2]]
        self.pending = [e for e in self.pending if e not in due]
        for _, callback, _ in due:
            callback()


class FakeRouter:
    def __init__(self) -> None:
        self.degraded = False

    def set_degraded(self, degraded: bool, reason: str = "") -> bool:
        changed = degraded != self.degraded
        self.degraded = degraded
        return changed


class Pool:
    def __init__(self, size: int) -> None:
        self.size = size


def event(status: str, action: str, fingerprint: str = "f1", starts_at: str = "2026-11-21T10:00:00Z") -> AlertEvent:
    return AlertEvent(status, "AgentTaskLatencyHigh", action, fingerprint, starts_at, {"action": action})


@pytest.fixture
def loop() -> tuple[Controller, FakeRouter, Pool, ManualScheduler]:
    router, pool, scheduler = FakeRouter(), Pool(4), ManualScheduler()
    scaler = CallbackScaler(lambda: pool.size, lambda n: setattr(pool, "size", n))
    controller = Controller(router=router, scaler=scaler, max_workers=10, scale_step=4, cooldown_s=60,
                            scheduler=scheduler)
    return controller, router, pool, scheduler


def test_degrade_then_restore_only_after_resolve_and_cooldown(loop: Any) -> None:
    controller, router, _, scheduler = loop
    assert controller.handle(event("firing", "degrade")) == "applied"
    assert router.degraded
    assert controller.handle(event("resolved", "degrade")) == "applied"
    scheduler.advance(59)
    assert router.degraded  # still cooling down
    scheduler.advance(1)
    assert not router.degraded


def test_refiring_during_cooldown_cancels_the_restore(loop: Any) -> None:
    controller, router, _, scheduler = loop
    controller.handle(event("firing", "degrade"))
    controller.handle(event("resolved", "degrade"))
    scheduler.advance(30)
    controller.handle(event("firing", "degrade", starts_at="2026-11-21T10:05:00Z"))  # a new instance
    scheduler.advance(120)
    assert router.degraded  # no flapping back to normal while it fires


def test_scale_out_is_bounded_and_scales_back_in(loop: Any) -> None:
    controller, _, pool, scheduler = loop
    controller.handle(event("firing", "scale_out", "a"))
    assert pool.size == 8
    controller.handle(event("firing", "scale_out", "b"))
    assert pool.size == 10  # bounded by max_workers
    controller.handle(event("resolved", "scale_out", "a"))
    scheduler.advance(300)
    assert pool.size == 10  # alert b still fires
    controller.handle(event("resolved", "scale_out", "b"))
    scheduler.advance(60)
    assert pool.size == 4


def test_replayed_notifications_are_idempotent(loop: Any) -> None:
    controller, _, pool, _ = loop
    assert controller.handle(event("firing", "scale_out")) == "applied"
    assert controller.handle(event("firing", "scale_out")) == "duplicate"
    assert pool.size == 8
    assert controller.handle(event("resolved", "page", "never-fired")) == "ignored"


def test_command_scaler_runs_the_hook(tmp_path: Any) -> None:
    record = tmp_path / "replicas"
    scaler = CommandScaler(f"python3 -c \"open('{record}', 'w').write('{{replicas}}')\"", initial=2)
    scaler.scale_to(7)
    assert record.read_text() == "7" and scaler.current() == 7
    with pytest.raises(ValueError, match="replicas"):
        CommandScaler("kubectl scale deployment/agent", initial=1)


# --- the HTTP webhook ----------------------------------------------------------------------------
@pytest.fixture
def server(loop: Any) -> Iterator[tuple[ControlServer, Any]]:
    controller = loop[0]
    control = ControlServer(controller, secret=SECRET, port=0).start()
    yield control, loop
    control.stop()


def post(url: str, body: bytes, *, token: str | None = SECRET, content_type: str = "application/json"
         ) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def notification(status: str = "firing", action: str = "degrade", **extra: Any) -> bytes:
    alert = {"status": status, "labels": {"alertname": "AgentTaskLatencyHigh", "action": action, "job": "a"},
             "annotations": {"summary": "slow"}, "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus/graph", "fingerprint": "abc123"}
    return json.dumps({"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": status,
                       "receiver": "control", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                       "externalURL": "http://alertmanager:9093", "alerts": [alert], **extra}).encode()


def test_valid_notification_is_applied(server: Any) -> None:
    control, (_, router, _, _) = server
    status, body = post(control.url, notification(notification_reason="alert_group_updated", routeLabels={}))
    assert status == 200 and body["results"][0]["result"] == "applied"
    assert router.degraded


def test_replayed_notification_changes_nothing(server: Any) -> None:
    control, (controller, router, _, _) = server
    post(control.url, notification())
    status, body = post(control.url, notification())
    assert status == 200 and body["results"][0]["result"] == "duplicate"
    assert len([h for h in controller.history if h[1] == "router"]) == 1


@pytest.mark.parametrize(("token", "expected"), [(None, 401), ("wrong-secret-of-some-length", 401)])
def test_wrong_or_missing_secret_is_rejected(server: Any, token: str | None, expected: int) -> None:
    control, (_, router, _, _) = server
    status, body = post(control.url, notification(), token=token)
    assert status == expected and "bearer" in body["error"]
    assert not router.degraded


@pytest.mark.parametrize(("body", "fragment"), [
    (b"{not json", "malformed notification"),
    (b"[]", "payload must be a JSON object"),
    (json.dumps({"version": "3", "status": "firing", "alerts": []}).encode(), "unsupported payload version"),
    (json.dumps({"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "X"}}]
                 }).encode(), "fingerprint must be a non-empty string"),
    (json.dumps({"version": "4", "status": "maybe", "alerts": []}).encode(), "status must be"),
])
def test_malformed_payloads_get_400(server: Any, body: bytes, fragment: str) -> None:
    control, (_, router, _, _) = server
    status, reply = post(control.url, body)
    assert status == 400 and fragment in reply["error"]
    assert not router.degraded


def test_unknown_alert_action_gets_422(server: Any) -> None:
    control, (_, router, pool, _) = server
    status, body = post(control.url, notification(action="reboot"))
    assert status == 422 and body["unknown"] == ["AgentTaskLatencyHigh (action='reboot')"]
    assert not router.degraded and pool.size == 4


def test_other_paths_methods_and_types(server: Any) -> None:
    control, _ = server
    assert post(control.url.replace("/alertmanager", "/other"), notification())[0] == 404
    assert post(control.url, notification(), content_type="text/plain")[0] == 415
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(control.url, timeout=5)
    assert raised.value.code == 405


def test_short_secret_is_refused(loop: Any) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        ControlServer(loop[0], secret="short", port=0)
