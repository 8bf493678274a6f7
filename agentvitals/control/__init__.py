"""The control loop: Alertmanager webhooks in; degraded-mode routing and scale-out/in out.

    controller = Controller(router=my_router, scaler=CallbackScaler(pool_size, resize), cooldown_s=60)
    ControlServer(controller, secret=open("control-webhook.secret").read(), host="0.0.0.0").start()

Alertmanager routes alerts by their ``action`` label (``scale_out``, ``degrade``, ``page``) to
``POST /alertmanager`` with the shared secret as a bearer token (see ``alerts/alertmanager.yml``).
The controller's model of notifications is in ``_controller``, the HTTP contract and the server's
limits (:class:`ServerLimits`) in ``_webhook``. The server needs aiohttp (``agentvitals[control]``),
imported only when a ControlServer is built.
"""

from agentvitals.control._controller import ACTIONS, AlertEvent, Controller, RouterSwitch, Scaler, ThreadScheduler
from agentvitals.control._scalers import CallbackScaler, CommandRouterSwitch, CommandScaler
from agentvitals.control._webhook import ControlServer, PayloadError, ServerLimits, parse_notification

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
