"""One replica of an agent whose ModelRouter reads its mode from Alertmanager (the router stack test).

    python router_replica.py OTLP_HTTP_ENDPOINT ALERTMANAGER_URL INSTANCE_ID SPIKE_FILE POLL_S COOLDOWN_S HOLD_S

Runs tasks on a few threads until SIGTERM: each chooses the "answer" route (one in four at critical priority)
and waits as long as the served model takes. While SPIKE_FILE exists the large model is slow (above the
latency alert's 2 s threshold) and the small one stays fast, so degrading the standard calls really helps,
as in production. Prints ``ready`` once the router's Alertmanager source has finished its first poll, as a
replica gating its readiness on it would. Metrics go to the Collector every 0.5 s; no traces.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import agentvitals
from agentvitals.routing import AlertmanagerSource, Choice, Priority, Route

SPIKE_S = 2.5
FAST_S = 0.05
WORKERS = 3
ROUTES = {"answer": Route(normal=Choice("large", max_tokens=400), degraded=Choice("small", max_tokens=96))}


def work(router: agentvitals.ModelRouter, spike_file: str, stop: threading.Event, first: int) -> None:
    number = first
    while not stop.is_set():
        number += 1
        priority = Priority.CRITICAL if number % 4 == 0 else Priority.STANDARD
        with agentvitals.task("support"):
            decision = router.choose("answer", priority=priority)
            slow = decision.model == "large" and os.path.exists(spike_file)
            stop.wait(SPIKE_S if slow else FAST_S)
        stop.wait(0.1)


def main() -> None:
    endpoint, alertmanager, instance, spike_file = sys.argv[1:5]
    poll_s, cooldown_s, hold_s = (float(value) for value in sys.argv[5:8])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    source = AlertmanagerSource(alertmanager, interval_s=poll_s, cooldown_s=cooldown_s, hold_s=hold_s, timeout_s=1.0)
    agentvitals.init("support-agent", endpoint=endpoint, metric_export_interval=0.5,
                     resource_attributes={"service.instance.id": instance}, alertmanager=source)
    router = agentvitals.ModelRouter(ROUTES, name="support")
    if not source.wait_ready(10):
        raise SystemExit("the Alertmanager source never finished a poll")
    print(f"ready {router.mode.value}", flush=True)
    workers = [threading.Thread(target=work, args=(router, spike_file, stop, index)) for index in range(WORKERS)]
    for thread in workers:
        thread.start()
    stop.wait()
    for thread in workers:
        thread.join(5)
    print(f"transitions {[(round(at, 3), mode.value, why) for at, mode, why in router.transitions]}", flush=True)
    agentvitals.shutdown()


if __name__ == "__main__":
    main()
