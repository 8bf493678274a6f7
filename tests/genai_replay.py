"""Replaying real recorded provider responses (tests/cassettes) through the real SDKs, and reading them back.

The cassettes were recorded by OpenTelemetry's own GenAI instrumentation suites (see tests/cassettes/README.md).
Replay matches on method, host and path only: a test sends the request the cassette recorded
(:func:`recorded_request`), so the SDK sees exactly the recorded response; where a test adds a parameter the
recording lacks, it says so. Record mode ``none``: a request the cassette does not hold fails, nothing reaches
the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import vcr
import yaml

CASSETTES = Path(__file__).parent / "cassettes"

replay = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path"),
)


def _interactions(cassette: str) -> list[dict[str, Any]]:
    with open(CASSETTES / cassette, encoding="utf-8") as file:
        return list(yaml.safe_load(file)["interactions"])


def recorded_request(cassette: str, index: int = 0) -> dict[str, Any]:
    """The JSON body of the ``index``-th request the cassette recorded (the SDK call's keyword arguments)."""
    body = _interactions(cassette)[index]["request"]["body"]
    return dict(json.loads(body))


def recorded_response(cassette: str, index: int = 0) -> dict[str, Any]:
    return dict(json.loads(_interactions(cassette)[index]["response"]["body"]["string"]))


def recorded_events(cassette: str, index: int = 0) -> list[dict[str, Any]]:
    """The ``data:`` payloads of a recorded server-sent-event stream, in order (``[DONE]`` left out)."""
    body = _interactions(cassette)[index]["response"]["body"]["string"]
    events = []
    for line in body.splitlines():
        if line.startswith("data: ") and line.strip() != "data: [DONE]":
            events.append(json.loads(line[len("data: "):]))
    return events
