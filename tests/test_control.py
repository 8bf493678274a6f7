"""The control service: webhook validation and auth, idempotency, degrade/restore with cool-down, scaling;
the state machine under every order of notifications; the webhook server's limits under hostile clients."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

from agentvitals.control import AlertEvent, CallbackScaler, CommandScaler, Controller, ControlServer
from agentvitals.control._controller import timestamp_ns

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
        """Run what falls due, in time order, including what those callbacks schedule within the window."""
        end = self.now + seconds
        while True:
            due = sorted((e for e in self.pending if e[0] <= end and not e[2]), key=lambda e: e[0])
            if not due:
                break
            first = due[0]
            self.pending.remove(first)
            self.now = max(self.now, first[0])
            first[1]()
        self.now = end
        self.pending = [e for e in self.pending if not e[2]]


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


def event(status: str, action: str, fingerprint: str = "f1", starts_at: str = "2026-11-21T10:00:00Z",
          ends_at: str = "") -> AlertEvent:
    if status == "resolved" and not ends_at:
        ends_at = starts_at.replace("T10:", "T11:")
    return AlertEvent(status, "AgentTaskLatencyHigh", action, fingerprint, starts_at, {"action": action}, ends_at)


def make_loop(**options: Any) -> tuple[Controller, FakeRouter, Pool, ManualScheduler]:
    router, pool, scheduler = FakeRouter(), Pool(4), ManualScheduler()
    scaler = CallbackScaler(lambda: pool.size, lambda n: setattr(pool, "size", n))
    options = {"max_workers": 10, "scale_step": 4, "cooldown_s": 60, **options}
    controller = Controller(router=router, scaler=scaler, scheduler=scheduler, clock=lambda: scheduler.now, **options)
    return controller, router, pool, scheduler


@pytest.fixture
def loop() -> tuple[Controller, FakeRouter, Pool, ManualScheduler]:
    return make_loop()


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


# --- the state machine: order, repetition and loss of notifications ------------------------------
def test_a_resolve_delivered_before_its_firing_is_honoured(loop: Any) -> None:
    controller, router, _, scheduler = loop
    assert controller.handle(event("resolved", "degrade")) == "ignored"  # nothing was active
    assert controller.handle(event("firing", "degrade")) == "stale"  # the same instance, already resolved
    assert not router.degraded
    assert controller.handle(event("resolved", "degrade")) == "duplicate"
    scheduler.advance(3600)
    assert not router.degraded and not scheduler.pending


def test_a_later_start_is_a_new_instance_and_an_older_resolve_is_stale(loop: Any) -> None:
    controller, router, _, scheduler = loop
    controller.handle(event("firing", "degrade"))
    controller.handle(event("resolved", "degrade"))
    assert controller.handle(event("firing", "degrade", starts_at="2026-11-21T12:00:00Z")) == "applied"
    assert controller.handle(event("resolved", "degrade")) == "stale"  # the first instance's resolve, re-sent
    scheduler.advance(600)
    assert router.degraded
    assert controller.handle(event("resolved", "degrade", starts_at="2026-11-21T12:00:00Z",
                                   ends_at="2026-11-21T12:30:00Z")) == "applied"
    scheduler.advance(60)
    assert not router.degraded


def test_timestamps_compare_by_instant_not_by_text() -> None:
    assert timestamp_ns("2026-11-21T10:00:00.000000001Z") - timestamp_ns("2026-11-21T10:00:00Z") == 1
    assert timestamp_ns("2026-11-21T11:00:00+01:00") == timestamp_ns("2026-11-21T10:00:00Z")
    assert timestamp_ns("2026-11-21T10:00:00.5Z") > timestamp_ns("2026-11-21T10:00:00.123456789Z")
    assert timestamp_ns("0001-01-01T00:00:00Z") < 0
    for bad in ("2026-11-21", "2026-13-01T00:00:00Z", "yesterday", "2026-11-21T10:00:00"):
        with pytest.raises(ValueError):
            timestamp_ns(bad)


def test_a_lost_resolve_expires_and_a_repeat_revives() -> None:
    controller, router, _, scheduler = make_loop(expire_after_s=3600)
    controller.handle(event("firing", "degrade"))
    for _ in range(3):  # Alertmanager repeats a firing alert every repeat_interval: it stays active
        scheduler.advance(1800)
        assert controller.handle(event("firing", "degrade")) == "duplicate"
    assert router.degraded
    scheduler.advance(3600 + 59)  # the resolve was lost: expired, then the cool-down
    assert router.degraded
    scheduler.advance(1)
    assert not router.degraded
    assert controller.handle(event("firing", "degrade")) == "applied"  # it still fires after all
    assert router.degraded
    assert controller.handle(event("resolved", "degrade")) == "applied"
    scheduler.advance(60)
    assert not router.degraded and controller.state()["active"]["degrade"] == 0


ACTION_PAIRS = [("degrade", "degrade"), ("degrade", "scale_out"), ("scale_out", "scale_out")]
S1, S2 = "2026-11-21T10:00:00Z", "2026-11-21T10:20:00Z"


def two_alert_events(first: str, second: str) -> list[AlertEvent]:
    """Alert x: firing, resolve, and a repeat of each. Alert y: firing, resolve, then a new instance firing."""
    return [event("firing", first, "x", S1), event("resolved", first, "x", S1),
            event("firing", first, "x", S1), event("resolved", first, "x", S1),
            event("firing", second, "y", S1), event("resolved", second, "y", S1), event("firing", second, "y", S2)]


def expected_active(received: list[AlertEvent]) -> dict[str, bool]:
    """The model: per alert, the observation greatest by (startsAt, resolved after firing, endsAt) wins."""
    newest: dict[tuple[str, str], AlertEvent] = {}
    for e in received:
        key = (e.action, e.fingerprint)
        if key not in newest or e.order() > newest[key].order():
            newest[key] = e
    return {action: any(e.status == "firing" for (a, _), e in newest.items() if a == action)
            for action in ("degrade", "scale_out")}


@pytest.mark.parametrize("gap_s", [0, 61], ids=["no-time-between", "cool-down-between"])
@pytest.mark.parametrize(("first", "second"), ACTION_PAIRS)
def test_every_order_of_notifications_for_two_alerts_ends_as_the_model_says(first: str, second: str,
                                                                             gap_s: float) -> None:
    events = two_alert_events(first, second)
    identity = [0, 1, 0, 1, 2, 3, 4]  # repeats are the same notification: skip orders that only swap them
    orders = {tuple(identity[i] for i in order): order for order in itertools.permutations(range(len(events)))}
    assert len(orders) == 1260
    for order in orders.values():
        controller, router, pool, scheduler = make_loop(max_workers=16)
        received: list[AlertEvent] = []
        for index in order:
            received.append(events[index])
            controller.handle(events[index])
            scheduler.advance(gap_s)
            active = expected_active(received)
            pending = controller.state()["pending_restore"]
            where = f"after {[(e.fingerprint, e.status, e.starts_at[11:16]) for e in received]}"
            assert router.degraded == active["degrade"] or (router.degraded and "degrade" in pending), where
            assert (pool.size > 4) == active["scale_out"] or (pool.size > 4 and "scale_out" in pending), where
            if gap_s:  # a cool-down has passed since the last change: exactly the model's state, never stuck
                assert router.degraded == active["degrade"] and (pool.size > 4) == active["scale_out"], where
        scheduler.advance(60)
        active = expected_active(received)
        assert router.degraded == active["degrade"] and (pool.size > 4) == active["scale_out"], order
        assert 4 <= pool.size <= 16
        assert active["degrade"] or active["scale_out"]  # y's second instance outranks everything y had before


def test_a_flood_of_distinct_fingerprints_stays_within_the_bounds() -> None:
    controller, router, _, scheduler = make_loop(max_alerts=500, history_size=100)
    for n in range(20_000):
        controller.handle(event("firing", "degrade", f"flood-{n}"))
        controller.handle(event("resolved", "page", f"never-fired-{n}"))
    state = controller.state()
    assert state["tracked"] == 500 and len(controller.history) == 100
    assert state["active"]["degrade"] == 500 and state["forgotten_active"] == 20_000 - 500
    assert router.degraded
    for n in range(20_000 - 500, 20_000):  # the ones still tracked resolve: back to normal, nothing sticks
        controller.handle(event("resolved", "degrade", f"flood-{n}"))
    scheduler.advance(60)
    assert not router.degraded and controller.state()["tracked"] == 500


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


def post(url: str, body: bytes, *, token: str | None = SECRET, content_type: str = "application/json",
         timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
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


def test_an_alert_listing_two_actions_applies_both_on_the_generic_path(server: Any) -> None:
    control, (controller, router, pool, _) = server
    status, body = post(control.url, notification(action="scale_out,degrade"))
    assert status == 200
    assert [(r["action"], r["result"]) for r in body["results"]] == [("scale_out", "applied"), ("degrade", "applied")]
    assert router.degraded and pool.size == 8
    assert controller.state()["active"] == {"scale_out": 1, "degrade": 1, "page": 0}


@pytest.mark.parametrize(("action", "degraded", "workers"), [("degrade", True, 4), ("scale_out", False, 8),
                                                             ("page", False, 4)])
def test_an_action_path_applies_its_action_whatever_the_label_lists(server: Any, action: str, degraded: bool,
                                                                    workers: int) -> None:
    control, (controller, router, pool, _) = server
    # Alertmanager's fan-out: the same alert (one fingerprint) delivered to the receiver of each action.
    status, body = post(f"{control.url}/{action}", notification(action="scale_out,degrade"))
    assert status == 200 and [(r["action"], r["result"]) for r in body["results"]] == [(action, "applied")]
    assert router.degraded is degraded and pool.size == workers
    assert controller.state()["active"][action] == 1


def test_fanned_out_deliveries_of_one_alert_are_separate_actions_and_resolve_separately(server: Any) -> None:
    control, (controller, router, pool, scheduler) = server
    for action in ("scale_out", "degrade"):
        assert post(f"{control.url}/{action}", notification(action="scale_out,degrade"))[0] == 200
    assert router.degraded and pool.size == 8
    resolved = notification("resolved", action="scale_out,degrade").replace(
        b'"endsAt": "0001-01-01T00:00:00Z"', b'"endsAt": "2026-11-21T10:05:00Z"')
    assert post(f"{control.url}/degrade", resolved)[1]["results"][0]["result"] == "applied"
    assert controller.state()["active"] == {"scale_out": 1, "degrade": 0, "page": 0}


def test_unknown_action_path_is_404(server: Any) -> None:
    control, (_, router, _, _) = server
    assert post(f"{control.url}/reboot", notification())[0] == 404
    assert not router.degraded


def test_short_secret_is_refused(loop: Any) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        ControlServer(loop[0], secret="short", port=0)


# --- the webhook server under hostile clients ------------------------------------------------------
@pytest.fixture
def serve(loop: Any) -> Iterator[Callable[..., ControlServer]]:
    """Starts servers on the loop's controller with the given limits; stops them after the test."""
    started: list[ControlServer] = []

    def start(**limits: Any) -> ControlServer:
        started.append(ControlServer(loop[0], secret=SECRET, port=0, **limits).start())
        return started[-1]

    yield start
    for control in started:
        control.stop()


def address(control: ControlServer) -> tuple[str, int]:
    host, port = control.url.removeprefix("http://").removesuffix("/alertmanager").rsplit(":", 1)
    return host, int(port)


def read_until_closed(sock: socket.socket, timeout: float = 30.0) -> bytes:
    """Everything the server sends until it closes the connection (or raises after ``timeout``)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def authorized_headers(length: int | str, extra: bytes = b"") -> bytes:
    return (b"POST /alertmanager HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + SECRET.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: " + str(length).encode() + b"\r\n" + extra +
            b"\r\n")


def test_slow_headers_and_short_bodies_are_cut_off_while_others_are_served(serve: Any) -> None:
    control = serve(timeout_s=1.0)
    trickler = socket.create_connection(address(control))
    closed_after: list[float] = []

    def trickle() -> None:  # slowloris: a header byte every 50 ms, never finishing
        started = time.monotonic()
        try:
            for byte in b"POST /alertmanager HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 1200:
                trickler.send(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            closed_after.append(time.monotonic() - started)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    short = socket.create_connection(address(control))
    short.sendall(authorized_headers(1000) + b'{"version": "4"')  # promises 1000 bytes, sends 15
    try:
        assert post(control.url, notification())[0] == 200  # meanwhile a legitimate notification goes through
        assert read_until_closed(short).startswith(b"HTTP/1.1 408 ")
        thread.join(60)
        # Closed by the server, not before the timeout; the trickle alone would have lasted 60 s.
        assert len(closed_after) == 1 and 0.9 <= closed_after[0] < 50
    finally:
        trickler.close()
        short.close()


def test_idle_connections_beyond_the_limit_wait_their_turn_and_are_released(serve: Any) -> None:
    control = serve(timeout_s=1.0, max_connections=8)
    idle = [socket.create_connection(address(control)) for _ in range(30)]
    try:
        # Queued in the listen backlog behind 30 idle sockets, 8 served at a time: answered once they time out.
        status, _ = post(control.url, notification(), timeout=60)
        assert status == 200
        assert all(read_until_closed(sock) == b"" for sock in idle)  # every idle one closed by the server
    finally:
        for sock in idle:
            sock.close()


def test_closed_connections_give_their_slots_back(serve: Any) -> None:
    control = serve(timeout_s=120.0, max_connections=4)  # nothing times out during the test
    health = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
    for _ in range(3):  # each round needs all 4 slots that the previous round's clients gave back
        clients = [socket.create_connection(address(control), timeout=30) for _ in range(4)]
        for sock in clients:
            sock.sendall(health)
        for sock in clients:  # kept alive after the answer: each holds its slot until it closes
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        for sock in clients:
            sock.close()


def test_hundreds_of_idle_connections_do_not_starve_a_request(serve: Any) -> None:
    control = serve(timeout_s=120.0)  # the idle ones stay open for the whole test
    idle = [socket.create_connection(address(control)) for _ in range(300)]
    try:
        assert post(control.url, notification(), timeout=30)[0] == 200
        assert post(control.url, notification(), timeout=30)[1]["results"][0]["result"] == "duplicate"
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize("max_connections", [512, 50])
async def test_a_thousand_concurrent_notifications_are_all_answered(loop: Any, max_connections: int) -> None:
    controller = loop[0]
    control = ControlServer(controller, secret=SECRET, port=0, max_connections=max_connections).start()
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True),
                                         timeout=aiohttp.ClientTimeout(total=120)) as session:
            async def send(n: int) -> int:
                body = notification(action="page").replace(b"abc123", f"page-{n}".encode())
                async with session.post(control.url, data=body, headers=headers) as response:
                    return response.status

            statuses = await asyncio.gather(*(send(n) for n in range(1000)), return_exceptions=True)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, control.stop)
    failures = [s for s in statuses if s != 200]
    assert not failures, failures[:5]
    assert controller.state()["tracked"] == 1000


def test_a_blocked_controller_gets_503_and_the_retry_is_a_duplicate() -> None:
    release = threading.Event()

    class StuckRouter(FakeRouter):
        def set_degraded(self, degraded: bool, reason: str = "") -> bool:
            release.wait(60)  # e.g. a router hook waiting on a slow remote flag store
            return super().set_degraded(degraded, reason)

    router = StuckRouter()
    control = ControlServer(Controller(router=router, scheduler=ManualScheduler()), secret=SECRET, port=0,
                            handler_timeout_s=0.5).start()
    try:
        assert post(control.url, notification(), timeout=30)[0] == 503
        health = control.url.replace("/alertmanager", "/healthz")
        with urllib.request.urlopen(health, timeout=30) as response:  # the server itself is not blocked
            assert response.status == 200
        release.set()
        status, body = post(control.url, notification(), timeout=30)  # Alertmanager retries 5xx
        assert status == 200 and body["results"][0]["result"] == "duplicate" and router.degraded
    finally:
        release.set()
        control.stop()


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deeply_nested_json_gets_400(server: Any, depth: int) -> None:
    control, _ = server
    status, reply = post(control.url, b"[" * depth + b"]" * depth)
    assert status == 400 and "nested deeper than 32" in reply["error"]


def test_brackets_and_escaped_quotes_inside_strings_are_not_nesting(server: Any) -> None:
    control, (_, router, _, _) = server
    payload = json.loads(notification())
    payload["alerts"][0]["annotations"]["summary"] = 'say "[[[{{" \\ ' + "[" * 100
    status, _ = post(control.url, json.dumps(payload).encode())
    assert status == 200 and router.degraded


def test_state_needs_the_secret_and_healthz_is_open(server: Any) -> None:
    control, _ = server
    base = control.url.removesuffix("/alertmanager")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(base + "/state", timeout=5)
    assert raised.value.code == 401
    request = urllib.request.Request(base + "/state", headers={"Authorization": f"Bearer {SECRET}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200 and json.loads(response.read())["active"]["degrade"] == 0
    with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
        assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}


@pytest.mark.parametrize(("request_bytes", "expected"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64), 400),  # a TLS ClientHello
    (b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", None),
    (b"POST /alertmanager HTTP/1.1\r\nHost: test\r\nContent-Length: nope\r\n\r\n", 400),
    (authorized_headers(10**9), 413),
    (authorized_headers(4).replace(b"Content-Length: 4", b"Transfer-Encoding: chunked") + b"0\r\n\r\n", 411),
    (authorized_headers(4) + b"\xff\xfe{}", 400),  # not UTF-8
    (authorized_headers(22) + b'{"version": "4", "a": ', 400),  # truncated JSON
    (authorized_headers(60) + b'{"version":"4","status":"firing","alerts":[{"status":"firing"}]}', 400),
], ids=["garbage", "tls", "huge-header", "bad-length", "too-large", "chunked", "not-utf8", "truncated", "no-labels"])
def test_every_malformed_request_gets_a_4xx(server: Any, request_bytes: bytes, expected: int | None) -> None:
    control, (_, router, _, _) = server
    with socket.create_connection(address(control), timeout=30) as sock:
        sock.sendall(request_bytes)
        reply = b""
        while b"\r\n" not in reply and (chunk := sock.recv(4096)):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    assert status == expected if expected is not None else 400 <= status < 500, reply[:200]
    assert not router.degraded


def test_the_control_package_needs_aiohttp_only_for_the_server() -> None:
    code = """
import sys
import agentvitals, agentvitals.control
assert "aiohttp" not in sys.modules, "imported eagerly"
sys.modules["aiohttp"] = None  # as if not installed
from agentvitals.control import Controller, ControlServer, parse_notification
controller = Controller()
try:
    ControlServer(controller, secret="s" * 20, port=0)
except ImportError as exc:
    print(exc)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "agentvitals[control]" in result.stdout
