"""After ``os.fork()``: telemetry keeps working in the child (multiprocessing's fork start method, pre-fork
servers such as gunicorn with ``preload_app``).

The SDK's providers refresh the resource's ``service.instance.id`` in a child themselves (it is "process
dependent"), so a child's metric series never collide with its parent's.

A child inherits the parent's memory but not its threads. What must not be used as it is there, and what
happens instead, all through ``os.register_at_fork`` hooks run in the child:

* the export threads are gone: the span export processor and the SDK's periodic metric reader start new
  ones (each has its own hook);
* pooled HTTP connections are the parent's sockets: the sessions of the OTLP exporters ``init()`` makes
  are closed (:func:`fork_safe_session`), so the child opens connections of its own;
* a lock another thread held at the fork stays held forever: ours are re-created (their owners' hooks);
* metric points still waiting for the parent's next collection (``_recording``) are the parent's to record:
  the child drops its copy;
* multiprocessing ends a child with ``os._exit``, which skips exit handlers: ``init()`` starts a thread in
  the child that flushes, within the exit deadline, once the child's main thread is done.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from typing import Any

_logger = logging.getLogger("agentvitals")

__all__ = ["fork_safe_session", "on_fork_in_child"]

# Variables that make the OTLP/HTTP exporters load a session of their own (a credential provider): then we
# leave the session to them.
_CREDENTIAL_PROVIDER_VARIABLES = ("OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
                                  "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
                                  "OTEL_PYTHON_EXPORTER_OTLP_HTTP_METRICS_CREDENTIAL_PROVIDER")

_sessions: weakref.WeakSet[Any] = weakref.WeakSet()


def on_fork_in_child(method: Callable[[], object]) -> None:
    """Call ``method`` (a bound method, held weakly: fork hooks cannot be unregistered) in each forked child."""
    if not hasattr(os, "register_at_fork"):
        return
    reference = weakref.WeakMethod(method)

    def hook() -> None:
        target = reference()
        if target is not None:
            try:
                target()
            except Exception:  # deliberate: a fork hook that raises is only printed, and must not stop the others
                _logger.debug("agentvitals: an after-fork hook failed", exc_info=True)

    os.register_at_fork(after_in_child=hook)


def fork_safe_session() -> Any:
    """A ``requests`` session for an OTLP/HTTP exporter, closed in each forked child (``None`` when a credential
    provider variable asks the exporter to load its own session)."""
    if any(os.environ.get(variable) for variable in _CREDENTIAL_PROVIDER_VARIABLES):
        return None
    import requests  # the OTLP/HTTP exporters' own dependency

    session = requests.Session()
    _sessions.add(session)
    return session


def _after_fork_in_child() -> None:
    for session in list(_sessions):
        try:
            session.close()  # closes only this process's copies of the parent's sockets
        except Exception:
            _logger.debug("agentvitals: could not close an inherited HTTP session", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

