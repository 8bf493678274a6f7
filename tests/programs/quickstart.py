"""The README quick start (init, a task with a tool and a priced LLM call), then the end of the program.

    python quickstart.py exit|shutdown|sigint [TASKS]

The Collector is whatever ``OTEL_EXPORTER_OTLP_ENDPOINT`` points at. Prints ``ready`` once the work is
done, then: ``exit`` returns from the program; ``shutdown`` calls ``agentvitals.shutdown(timeout_s=2)``,
prints ``shutdown took <seconds>`` and returns; ``sigint`` waits to be interrupted (Ctrl-C). The exit-deadline
tests and ``benchmarks/exit_time.py`` time what follows ``ready``.
"""

from __future__ import annotations

import signal
import sys
import time

import agentvitals

agentvitals.init(service_name="support-agent")


@agentvitals.task("answer", budget=agentvitals.Budget(max_llm_calls=5))
def answer(question: str) -> str:
    with agentvitals.tool("lookup_order"):
        order = {"id": 42, "status": "shipped"}  # your tool code
    with agentvitals.llm_call("openai", "gpt-4o-mini") as call:  # an LLM call, without a network
        call.record(input_tokens=120, output_tokens=30)
    return f"{question} Order {order['id']} is {order['status']}."


def main(mode: str, tasks: int) -> None:
    if mode == "sigint":  # started from a background job, Python inherits Ctrl-C ignored: the test sends it
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for _ in range(tasks):
        answer("Where is my order?")
    print("ready", flush=True)
    if mode == "shutdown":
        started = time.monotonic()
        agentvitals.shutdown(timeout_s=2)
        print(f"shutdown took {time.monotonic() - started:.3f}", flush=True)
    elif mode == "sigint":
        time.sleep(600)  # until Ctrl-C


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)
