"""The control loop: Alertmanager webhooks in; degraded-mode routing and scale-out/in out.

    controller = Controller(router=my_router, scaler=CallbackScaler(pool_size, resize), cooldown_s=60)
    ControlServer(controller, secret=open("control-webhook.secret").read(), host="0.0.0.0").start()

Alertmanager routes alerts by their ``action`` label (``scale_out``, ``degrade``, ``page``, comma-separated
when several) to one receiver per action, ``POST /alertmanager/<action>``, with the shared secret as a bearer
token (see ``alerts/alertmanager.yml``); the generic ``POST /alertmanager`` reads the label. With many agent
replicas, each one's :class:`agentvitals.ModelRouter` pulls degraded mode from Alertmanager instead
(:class:`agentvitals.routing.AlertmanagerSource`); the control service then only scales, or KEDA does.
The controller's model of notifications is in ``_controller``, the HTTP contract and the server's
limits (:class:`ServerLimits`) in ``_webhook``. The server needs aiohttp (``agentvitals[control]``),
imported only when a ControlServer is built.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from agentvitals.control._controller import (
        ACTIONS,
        AlertEvent,
        Controller,
        RouterSwitch,
        Scaler,
        ThreadScheduler,
    )
    from agentvitals.control._scalers import CallbackScaler, CommandRouterSwitch, CommandScaler
    from agentvitals.control._webhook import ControlServer, PayloadError, ServerLimits, parse_notification

# Loaded on first use (PEP 562): ``agentvitals.control.metrics`` (the router's metric names) is imported by
# every ``import agentvitals``, and must not bring the controller, the scalers' subprocess and the webhook along.
_HOMES = {
    **dict.fromkeys(("ACTIONS", "AlertEvent", "Controller", "RouterSwitch", "Scaler", "ThreadScheduler"),
                    "_controller"),
    **dict.fromkeys(("CallbackScaler", "CommandRouterSwitch", "CommandScaler"), "_scalers"),
    **dict.fromkeys(("ControlServer", "PayloadError", "ServerLimits", "parse_notification"), "_webhook"),
}


def __getattr__(name: str) -> _Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agentvitals.control' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"agentvitals.control.{home}"), name)


__all__ = [
    "ACTIONS",
    "AlertEvent",
    "CallbackScaler",
    "CommandRouterSwitch",
    "CommandScaler",
    "ControlServer",
    "Controller",
    "PayloadError",
    "RouterSwitch",
    "Scaler",
    "ServerLimits",
    "ThreadScheduler",
    "parse_notification",
]
