"""How long a program takes to end after its work is done, whatever the Collector does. Not part of the test run.

    .venv/bin/python benchmarks/exit_time.py [--source DIR] [--rounds N]

Runs ``tests/programs/quickstart.py`` (the README quick start) in a fresh interpreter against each kind of
Collector (healthy, a closed port, a blackhole that never answers, one that answers 503, one that answers
after 5 s) and prints, per case, the seconds from "work done" to the end of the process: on a normal
exit, after Ctrl-C, and the time ``shutdown(timeout_s=2)`` itself took. ``--source`` runs another
checkout of agentvitals (e.g. an older commit, to compare).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import subprocess_environ  # noqa: E402
from tests.stack import Blackhole, OtlpHttpSink, free_port  # noqa: E402

PROGRAM = ROOT / "tests" / "programs" / "quickstart.py"
COLLECTORS = ("healthy", "closed port", "blackhole", "503", "slow (5 s)")
MODES = ("exit", "sigint", "shutdown")
HARD_LIMIT_S = 120.0


@contextmanager
def collector(kind: str) -> Iterator[str]:
    """The OTLP endpoint of a Collector that behaves as ``kind`` says, for as long as the block runs."""
    if kind == "closed port":
        yield f"http://127.0.0.1:{free_port()}"
    elif kind == "blackhole":
        with Blackhole() as hole:
            yield hole.url
    else:
        options = {"healthy": {}, "503": {"status": 503}, "slow (5 s)": {"delay_s": 5.0}}[kind]
        with OtlpHttpSink(**options) as sink:  # type: ignore[arg-type]
            yield sink.url


@dataclass
class Ending:
    exit_s: float
    """From "work done" (or from Ctrl-C) to the end of the process."""
    shutdown_s: float | None
    """What ``shutdown(timeout_s=2)`` took, in ``shutdown`` mode."""
    returncode: int
    stderr: str


def run(endpoint: str, mode: str, *, tasks: int = 20, source: Path | None = None,
        env: dict[str, str] | None = None) -> Ending:
    """Run the quick start against ``endpoint`` and time its end."""
    extra = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "PYTHONUNBUFFERED": "1", **(env or {})}
    if source is not None:  # ahead of the installed (editable) agentvitals
        extra["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, str(PROGRAM), mode, str(tasks)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=subprocess_environ(**extra))
    assert proc.stdout is not None
    try:
        lines = []
        for line in proc.stdout:  # blocks until the work is done (bounded by the hard limit below)
            lines.append(line)
            if line.strip() == "ready":
                break
        done = time.monotonic()
        if mode == "sigint":
            proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=HARD_LIMIT_S)
        exit_s = time.monotonic() - done
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shutdown_s = None
    for line in [*lines, *rest.splitlines()]:
        if line.startswith("shutdown took "):
            shutdown_s = float(line.split()[-1])
    return Ending(exit_s, shutdown_s, proc.returncode, stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="an agentvitals checkout to run instead of the installed one")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"{'collector':<14}{'exit (s)':>10}{'Ctrl-C (s)':>12}{'shutdown(2) (s)':>17}{'its exit (s)':>14}")
    for kind in COLLECTORS:
        cells = []
        for mode in MODES:
            endings = []
            for _ in range(args.rounds):
                with collector(kind) as endpoint:
                    endings.append(run(endpoint, mode, source=args.source))
            cells.append(statistics.median(e.exit_s for e in endings))
            if mode == "shutdown":
                cells.insert(2, statistics.median(e.shutdown_s or float("nan") for e in endings))
        print(f"{kind:<14}{cells[0]:>10.2f}{cells[1]:>12.2f}{cells[2]:>17.2f}{cells[3]:>14.2f}", flush=True)


if __name__ == "__main__":
    main()
