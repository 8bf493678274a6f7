"""Pluggable scalers and router switches.

* :class:`CallbackScaler`: any in-process pool (the demo's worker pool uses it).
* :class:`CommandScaler`: a shell-command hook, e.g. ``kubectl scale deployment/agent --replicas={replicas}``
  or ``docker compose up -d --scale agent={replicas} --no-recreate``.
* Kubernetes beyond one machine: KEDA scales the Deployment on the same PromQL the alert uses
  (``deploy/kubernetes/keda-scaledobject.yaml``, generated); the control service then only degrades.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import threading
from collections.abc import Callable

_logger = logging.getLogger("agentvitals.control")

__all__ = ["CallbackScaler", "CommandRouterSwitch", "CommandScaler"]


class CallbackScaler:
    def __init__(self, current: Callable[[], int], scale_to: Callable[[int], object]) -> None:
        self._current = current
        self._scale_to = scale_to

    def current(self) -> int:
        return int(self._current())

    def scale_to(self, workers: int) -> None:
        self._scale_to(workers)


def _run(command: str, timeout_s: float) -> None:
    result = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        raise RuntimeError(f"{command!r} exited {result.returncode}: {result.stderr.strip()[:500]}")


class CommandScaler:
    """Runs ``command`` (``{replicas}`` substituted, no shell) and remembers the count it asked for."""

    def __init__(self, command: str, *, initial: int, timeout_s: float = 60.0) -> None:
        if "{replicas}" not in command:
            raise ValueError("the scale command must contain {replicas}")
        self._command = command
        self._replicas = initial
        self._timeout_s = timeout_s
        self._lock = threading.Lock()

    def current(self) -> int:
        return self._replicas

    def scale_to(self, workers: int) -> None:
        with self._lock:
            _run(self._command.format(replicas=int(workers)), self._timeout_s)
            self._replicas = workers


class CommandRouterSwitch:
    """Runs one command to enter degraded mode and another to leave it (e.g. set a feature flag)."""

    def __init__(self, degrade_command: str, restore_command: str, *, timeout_s: float = 60.0) -> None:
        self._commands = {True: degrade_command, False: restore_command}
        self._timeout_s = timeout_s
        self._degraded = False

    def set_degraded(self, degraded: bool, reason: str = "") -> bool:
        if degraded == self._degraded:
            return False
        _run(self._commands[degraded], self._timeout_s)
        self._degraded = degraded
        return True
