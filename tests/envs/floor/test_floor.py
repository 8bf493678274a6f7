"""The core suites, run at the oldest OpenTelemetry and wrapt releases pyproject.toml accepts: LLM spans with
their HTTP children, cost, tasks, metric points recorded at collection, the exit deadline, redaction and hostile
provider data."""

from __future__ import annotations

import importlib
import pkgutil

import agentvitals
from tests.test_anthropic import *  # noqa: F403 - the same tests, collected here too
from tests.test_exit import *  # noqa: F403
from tests.test_hostile_provider import *  # noqa: F403
from tests.test_openai import *  # noqa: F403
from tests.test_recording import *  # noqa: F403
from tests.test_redaction import *  # noqa: F403
from tests.test_tasks import *  # noqa: F403

OPTIONAL = ("agentvitals.demo", "agentvitals.monitoring", "agentvitals.control", "agentvitals.routing")


def test_every_core_module_imports_at_the_floor() -> None:
    for module in pkgutil.walk_packages(agentvitals.__path__, "agentvitals."):
        if not module.name.startswith(OPTIONAL):
            importlib.import_module(module.name)
