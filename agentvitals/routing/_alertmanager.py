"""The Alertmanager pull source: every replica reads the mode from Alertmanager's API itself.

A webhook reaches one pod behind a Service; Alertmanager, already clustered and already the truth about
what fires, can be asked by all of them. Each replica polls, on a background thread::

    GET <url>/api/v2/alerts?active=true&silenced=false&inhibited=false&filter=action=~"(.+,)?degrade(,.+)?"

Any alert returned requests degraded mode (the filters are configurable; the default matches the
``action`` label listing ``degrade``, see ``alerts/alertmanager.yml``). Several URLs (the members of an
HA cluster) are tried in turn until one answers: each member holds every alert, so one is enough.
Polls never block the router: :meth:`AlertmanagerSource.state` reads the result of the last poll.

The mode follows the control service's cool-down: degraded while at least one matching alert is active;
when the last one is gone, normal again only after ``cooldown_s`` with none active (a silence or an
inhibition counts as gone: the filter asks for unsilenced, uninhibited alerts).

When no Alertmanager answers, the last known mode is kept for ``hold_s`` after the last answer, then the
source says normal: the router switches back with one warning and a switch counted with reason
``alertmanager_unreachable`` (the outage's start is logged once too; every failed poll counts in
``agentvitals.router.poll.failures``). When an Alertmanager answers again its alerts apply at once.

Network happens only on the poll thread, started by :meth:`start` (``init(alertmanager=...)`` does it),
and never with instrumentation (the polls make no spans).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from opentelemetry import metrics

from agentvitals._redaction import redact_url
from agentvitals.control.metrics import ROUTER_POLL_FAILURES
from agentvitals.metrics import create_instrument
from agentvitals.semconv import ERROR_TYPE

_logger = logging.getLogger("agentvitals.routing")

__all__ = ["DEGRADE_FILTER", "AlertmanagerSource", "SourceState", "check_urls"]

DEGRADE_FILTER = 'action=~"(.+,)?degrade(,.+)?"'
"""Alerts whose ``action`` label lists ``degrade`` (``action="degrade"`` or ``action="scale_out,degrade"``)."""
MAX_RESPONSE_BYTES = 4 << 20
"""Larger answers are refused (bounded memory): thousands of alerts match no sane degrade filter."""


class _PollError(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        """``timeout``, ``connection``, ``http_status`` or ``malformed``: the error.type label."""


@dataclass(frozen=True)
class SourceState:
    """What a source says now."""

    known: bool
    """False until the first poll finished (answered or not)."""
    degraded: bool
    reason: str
    """``firing`` (a matching alert is active), ``cooldown``, ``clear``, ``unreachable`` or ``unknown``."""


# The five things a source can say (state() runs on every choose() and admit(): no object built per call).
_UNKNOWN = SourceState(False, False, "unknown")
_UNREACHABLE = SourceState(True, False, "unreachable")
_FIRING = SourceState(True, True, "firing")
_COOLDOWN = SourceState(True, True, "cooldown")
_CLEAR = SourceState(True, False, "clear")


@dataclass(frozen=True)
class _Snapshot:
    last_answer: float | None = None
    """Source clock of the last poll an Alertmanager answered."""
    active: bool = False
    """Whether that answer held a matching alert."""
    clear_since: float | None = None
    """When an answer first held none after one that did (the cool-down starts)."""
    alerts: tuple[str, ...] = ()
    """The names of the matching alerts of the last answer (for status and logs)."""


def check_urls(urls: Sequence[str]) -> tuple[str, ...]:
    """The URLs without trailing slashes; ValueError unless each is ``http[s]://host[:port][/prefix]``."""
    if not urls:
        raise ValueError("at least one Alertmanager URL is needed")
    return tuple(_check_url(url) for url in urls)


def _check_url(url: str) -> str:
    if not isinstance(url, str):
        raise ValueError(f"an Alertmanager URL must be a string, got {type(url).__name__}")
    shown = redact_url(url)  # these messages are logged (the environment variable's): no credentials in them
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts, hostname = None, None
    if parts is None or parts.scheme not in ("http", "https") or not hostname:
        raise ValueError(f"not an Alertmanager URL (http[s]://host[:port][/prefix]): {shown!r}")
    if "@" in parts.netloc:
        # urllib does not send URL userinfo (it would be taken as part of the host), and every poll
        # failure would log it: credentials go in headers=, which are never logged.
        raise ValueError(f"an Alertmanager URL takes no credentials (pass an Authorization header with "
                         f"headers=): {shown!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"an Alertmanager URL takes no query or fragment: {shown!r}")
    return url.rstrip("/")


class AlertmanagerSource:
    """Polls Alertmanager's v2 API for active degrade alerts; a :class:`~agentvitals.ModelRouter` mode source.

    Args:
        urls: One Alertmanager, or the members of an HA cluster (any one answering is enough).
        filters: Alertmanager matchers, all of which an alert must match (default: its ``action`` label lists
            ``degrade``).
        interval_s: Seconds between polls (each replica adds up to ±10% jitter, so replicas spread out).
        timeout_s: Per-request timeout.
        cooldown_s: After the last matching alert is gone, stay degraded this long (as the control service does).
        hold_s: Keep the last known mode this long after the last answer when no Alertmanager answers.
        headers: Extra request headers (e.g. ``Authorization`` for an Alertmanager behind a proxy); never logged.
        meter_provider: Where ``agentvitals.router.poll.failures`` goes (default: the global one).
    """

    def __init__(self, urls: str | Sequence[str], *, filters: Sequence[str] = (DEGRADE_FILTER,),
                 interval_s: float = 10.0, timeout_s: float = 3.0, cooldown_s: float = 60.0, hold_s: float = 300.0,
                 headers: Mapping[str, str] | None = None, meter_provider: metrics.MeterProvider | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.urls = check_urls([urls] if isinstance(urls, str) else list(urls))
        self.filters = tuple(filters)
        if not all(isinstance(matcher, str) and matcher for matcher in self.filters):
            raise ValueError("filters must be non-empty Alertmanager matcher strings, e.g. 'action=\"degrade\"'")
        for name, value in (("interval_s", interval_s), ("timeout_s", timeout_s)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        for name, value in (("cooldown_s", cooldown_s), ("hold_s", hold_s)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        self.interval_s = float(interval_s)
        self.timeout_s = float(timeout_s)
        self.cooldown_s = float(cooldown_s)
        self.hold_s = float(hold_s)
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._query = urlencode([("active", "true"), ("silenced", "false"), ("inhibited", "false"),
                                 *(("filter", matcher) for matcher in self.filters)])
        self._clock = clock
        self._snapshot = _Snapshot()
        self._preferred = 0
        self._failing_since: float | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[weakref.WeakMethod[Callable[[], Any]]] = []
        self._listeners_lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._jitter = random.Random()
        meter = metrics.get_meter("agentvitals.routing", meter_provider=meter_provider)
        self._failures = create_instrument(meter, ROUTER_POLL_FAILURES)

    def __repr__(self) -> str:
        return f"AlertmanagerSource({list(self.urls)!r}, filters={list(self.filters)!r})"

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> AlertmanagerSource:
        """Start polling on a daemon thread (the first poll at once). Idempotent."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="agentvitals-alertmanager-poll", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop polling; waits for a poll in flight at most ``timeout_s`` (default: the request timeout)."""
        thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout_s + 1 if timeout_s is None else timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the first poll finished (answered or not); True if it did within ``timeout_s``.

        Gate a replica's readiness on it, so one started during an incident serves its first request degraded.
        """
        return self._ready.wait(timeout_s)

    def subscribe(self, callback: Callable[[], Any]) -> None:
        """Call ``callback`` (a bound method, held weakly) after every poll, on the poll thread."""
        with self._listeners_lock:
            self._listeners.append(weakref.WeakMethod(callback))

    # --- the state, read without I/O ---------------------------------------------------------------------------
    def state(self) -> SourceState:
        if not self._ready.is_set():
            return _UNKNOWN
        snapshot = self._snapshot
        now = self._clock()
        if snapshot.last_answer is None or now - snapshot.last_answer > self.hold_s:
            return _UNREACHABLE
        if snapshot.active:
            return _FIRING
        if snapshot.clear_since is not None and now < snapshot.clear_since + self.cooldown_s:
            return _COOLDOWN
        return _CLEAR

    def status(self) -> dict[str, Any]:
        """For operators: the last answer's alerts, when it came, and whether polls are failing."""
        snapshot, now = self._snapshot, self._clock()
        return {
            "state": self.state().reason,
            "alerts": list(snapshot.alerts),
            "seconds_since_answer": None if snapshot.last_answer is None else round(now - snapshot.last_answer, 3),
            "failing_for_s": None if self._failing_since is None else round(now - self._failing_since, 3),
        }

    # --- polling -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            self.poll_once()
            self._stopping.wait(self.interval_s * (0.9 + 0.2 * self._jitter.random()))

    def poll_once(self) -> bool:
        """Poll now (on the caller's thread); True if an Alertmanager answered. The poll thread calls this."""
        with self._poll_lock:
            try:
                answered = self._poll()
            except Exception:  # deliberate: a bug here must not kill the poll thread; counted as malformed
                _logger.exception("agentvitals router: polling Alertmanager failed")
                self._failed(_PollError("malformed", "unexpected error"))
                answered = False
            self._ready.set()
        with self._listeners_lock:
            listeners = [listener() for listener in self._listeners]
            self._listeners = [ref for ref, listener in zip(self._listeners, listeners, strict=True)
                               if listener is not None]
        for listener in listeners:
            if listener is not None:
                try:
                    listener()
                except Exception:  # deliberate: one listener must not stop the others or the polling
                    _logger.exception("agentvitals router: a mode listener failed")
        return answered

    def _poll(self) -> bool:
        error: _PollError | None = None
        count = len(self.urls)
        for offset in range(count):
            index = (self._preferred + offset) % count
            try:
                alerts = self._fetch(self.urls[index])
            except _PollError as exc:
                error = exc
                continue
            self._preferred = index
            self._answered(alerts)
            return True
        assert error is not None
        self._failed(error)
        return False

    def _fetch(self, url: str) -> list[str]:
        """The names of the matching alerts one Alertmanager reports (raises _PollError)."""
        import socket
        import urllib.error
        import urllib.request

        from opentelemetry.instrumentation.utils import suppress_instrumentation

        request = urllib.request.Request(f"{url}/api/v2/alerts?{self._query}", headers=self._headers)
        try:
            with suppress_instrumentation(), urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise _PollError("http_status", f"{url} answered HTTP {exc.code}") from None
        except TimeoutError as exc:
            raise _PollError("timeout", f"{url}: no answer within {self.timeout_s:g}s") from exc
        except urllib.error.URLError as exc:
            kind = "timeout" if isinstance(exc.reason, (TimeoutError, socket.timeout)) else "connection"
            raise _PollError(kind, f"{url}: {exc.reason}") from None
        except (OSError, ValueError) as exc:  # connection reset mid-body, a bad status line, ...
            raise _PollError("connection", f"{url}: {type(exc).__name__}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise _PollError("malformed", f"{url}: answer over {MAX_RESPONSE_BYTES} bytes")
        return _matching_alerts(body, url)

    def _answered(self, alerts: list[str]) -> None:
        now = self._clock()
        previous = self._snapshot
        # After the hold expired the old answer no longer counts: an Alertmanager back with nothing firing
        # must not start a cool-down from an alert it was never asked about again.
        trusted = previous.last_answer is not None and now - previous.last_answer <= self.hold_s
        was_degrading = trusted and (previous.active or previous.clear_since is not None)
        active = bool(alerts)
        clear_since = None
        if not active and was_degrading:
            clear_since = previous.clear_since if previous.clear_since is not None else now
        self._snapshot = _Snapshot(now, active, clear_since, tuple(sorted(set(alerts)))[:20])
        if self._failing_since is not None:
            _logger.info("agentvitals router: Alertmanager answers again (after %.0fs without an answer)",
                         now - self._failing_since)
        self._failing_since = None

    def _failed(self, error: _PollError) -> None:
        now = self._clock()
        self._failures.add(1, {ERROR_TYPE: error.kind})
        if self._failing_since is None:
            self._failing_since = now
            _logger.warning("agentvitals router: no Alertmanager answered (%s); keeping the current degrade "
                            "state for up to %gs after the last answer", error, self.hold_s)


def _matching_alerts(body: bytes, url: str) -> list[str]:
    try:
        alerts = json.loads(body)
    except ValueError:
        raise _PollError("malformed", f"{url}: the answer is not JSON") from None
    if not isinstance(alerts, list):
        raise _PollError("malformed", f"{url}: expected a JSON list of alerts")
    names = []
    for alert in alerts:
        labels = alert.get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict):
            raise _PollError("malformed", f"{url}: an alert without labels")
        status = alert.get("status")
        # Asked for active, unsilenced, uninhibited alerts; an older or odd server that ignores the flags
        # must still not degrade on a suppressed one.
        if isinstance(status, dict) and status.get("state") == "suppressed":
            continue
        names.append(str(labels.get("alertname", "")))
    return names
