"""The process's Alertmanager source, started by ``init(alertmanager=...)`` (or ``AGENTVITALS_ALERTMANAGER_URLS``).

Routers built with ``source=None`` follow it, whether they were built before or after ``init()``; its polls
refresh them. Nothing here touches the network unless a URL was configured.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry import metrics

from agentvitals.environment_variables import AGENTVITALS_ALERTMANAGER_URLS

if TYPE_CHECKING:
    from agentvitals.routing._alertmanager import AlertmanagerSource
    from agentvitals.routing._router import ModelRouter

_logger = logging.getLogger("agentvitals.routing")

__all__ = ["follow", "resolve", "source", "start", "stop"]

_source: AlertmanagerSource | None = None
_followers: weakref.WeakSet[ModelRouter] = weakref.WeakSet()
_lock = threading.Lock()

def check(setting: object) -> None:
    """ValueError when ``init(alertmanager=...)`` cannot work (checked before anything starts)."""
    from agentvitals.routing._alertmanager import AlertmanagerSource, check_urls

    if setting is None or setting is False or isinstance(setting, AlertmanagerSource):
        return
    if setting is True:
        if not os.environ.get(AGENTVITALS_ALERTMANAGER_URLS, "").strip():
            raise ValueError(f"True needs {AGENTVITALS_ALERTMANAGER_URLS} to name the Alertmanager URLs")
        return
    if isinstance(setting, str) or (isinstance(setting, Sequence) and all(isinstance(u, str) for u in setting)):
        check_urls([setting] if isinstance(setting, str) else list(setting))
        return
    raise ValueError(f"expected URL(s), an AlertmanagerSource, True or False, got {type(setting).__name__}")


def resolve(setting: str | Sequence[str] | AlertmanagerSource | bool | None,
            meter_provider: metrics.MeterProvider | None) -> AlertmanagerSource | None:
    """The source ``init()`` should start: the explicit argument (checked by :func:`check`), else the environment
    variable (a bad value is logged and ignored), else none. ``False`` turns it off whatever the environment;
    ``True`` requires the variable."""
    from agentvitals.routing._alertmanager import AlertmanagerSource

    if setting is False:
        return None
    if isinstance(setting, AlertmanagerSource):
        return setting
    if setting is not None and setting is not True:
        return AlertmanagerSource(setting, meter_provider=meter_provider)
    raw = os.environ.get(AGENTVITALS_ALERTMANAGER_URLS, "").strip()
    if not raw:
        return None
    try:
        return AlertmanagerSource([url.strip() for url in raw.split(",") if url.strip()], meter_provider=meter_provider)
    except ValueError as exc:
        _logger.warning("agentvitals: ignoring %s (%s)", AGENTVITALS_ALERTMANAGER_URLS, exc)
        return None


def start(new: AlertmanagerSource | None) -> None:
    """Make ``new`` the process's source and start it (stopping a previous one)."""
    global _source
    with _lock:
        previous, _source = _source, new
    if previous is not None and previous is not new:
        previous.stop()
    if new is not None:
        new.subscribe(_refresher.refresh)
        new.start()


def stop() -> None:
    start(None)


def source() -> AlertmanagerSource | None:
    return _source


def follow(router: ModelRouter) -> None:
    _followers.add(router)


class _Refresher:
    """The followers' refresh as a bound method: sources hold their listeners weakly."""

    def refresh(self) -> None:
        for router in list(_followers):
            router.reported_mode()


_refresher = _Refresher()
