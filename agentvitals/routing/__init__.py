"""Model routing that alerts can switch: routes, priorities, A/B variants, and where the mode comes from.

    import agentvitals
    from agentvitals.routing import Choice, Route, Variant

    agentvitals.init(service_name="support-agent", alertmanager=["http://alertmanager-0:9093",
                                                                 "http://alertmanager-1:9093"])
    router = agentvitals.ModelRouter({
        "answer": Route(normal=Choice("gpt-4o", max_tokens=400), degraded=Choice("gpt-4o-mini", max_tokens=150),
                        variants=[Variant("candidate", 0.10, normal=Choice("gpt-4.1", max_tokens=400))]),
    })

    with agentvitals.task("support"):
        decision = router.choose("answer", priority="standard")
        client.chat.completions.create(**decision.kwargs(), messages=...)

Mode sources and the actions they handle
----------------------------------------
=====================================  =============================================  =========================
Source                                 Handles                                         Use it for
=====================================  =============================================  =========================
:class:`AlertmanagerSource` (pull)     ``degrade``: alerts whose ``action`` label      many replicas (every one
                                       lists it (``filters``)                          polls; the default there)
webhook push: ``ControlServer`` +      ``degrade`` (``router.set_degraded``),          one process
``Controller(router=router)``          ``scale_out`` (a scaler), ``page`` (counted)
``router.force(mode, until=...)``      the mode, for operators                         overrides
KEDA / the scalers                     ``scale_out``                                   scaling (never the router)
=====================================  =============================================  =========================

The router is degraded while a force says so, or (no force) while the push or the pull source says so.
"""

from agentvitals.routing._alertmanager import DEGRADE_FILTER, AlertmanagerSource, SourceState
from agentvitals.routing._alertmanager import check_urls as check_alertmanager_urls
from agentvitals.routing._model import CONTROL, Admission, Choice, Decision, Mode, Priority, Route, Variant
from agentvitals.routing._router import ModelRouter
from agentvitals.routing._tasks import MAX_VARIANT_NAMES

__all__ = [
    "CONTROL",
    "DEGRADE_FILTER",
    "MAX_VARIANT_NAMES",
    "Admission",
    "AlertmanagerSource",
    "Choice",
    "Decision",
    "ModelRouter",
    "Mode",
    "Priority",
    "Route",
    "SourceState",
    "Variant",
    "check_alertmanager_urls",
]
