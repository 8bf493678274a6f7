"""Programs the tests run in a fresh interpreter, and how to run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_own_export(scenario: str, *args: str) -> dict[str, Any]:
    """Run a scenario of own_export.py; returns what it exported (see that program)."""
    from tests.conftest import subprocess_environ

    result = subprocess.run([sys.executable, str(HERE / "own_export.py"), scenario, *args], capture_output=True,
                            text=True, timeout=120, env=subprocess_environ(), cwd=HERE.parents[1])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
