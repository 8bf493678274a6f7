"""The tests that need an environment of their own (tests/envs/<name>/), each run in that environment.

``scripts/test.sh`` creates ``.venv-<name>`` (agentvitals editable plus ``tests/envs/<name>/requirements.txt``) and
stamps it with the hash of what it installed; each environment's tests then run here, in its interpreter, as one
test of the main run, whose failure shows that run's output.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENVS = sorted(path.parent.name for path in (ROOT / "tests" / "envs").glob("*/requirements.txt"))
STAMP = ".agentvitals-requirements.sha256"


def wanted_stamp(name: str) -> str:
    """What scripts/test.sh writes: the sha256 of the environment's requirements followed by pyproject.toml."""
    return hashlib.sha256((ROOT / "tests" / "envs" / name / "requirements.txt").read_bytes()
                          + (ROOT / "pyproject.toml").read_bytes()).hexdigest()


def environment_python(name: str) -> Path:
    venv = ROOT / f".venv-{name}"
    python, stamp = venv / "bin" / "python", venv / STAMP
    problem = None
    if not python.exists():
        problem = f"{venv.name} does not exist"
    elif not stamp.exists() or stamp.read_text().strip() != wanted_stamp(name):
        problem = f"{venv.name} is out of date with tests/envs/{name}/requirements.txt or pyproject.toml"
    if problem is not None:
        message = f"{problem} (run scripts/test.sh, which creates it)"
        if os.environ.get("AGENTVITALS_REQUIRE_STACK") or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def test_every_environment_has_tests() -> None:
    assert ENVS, "no tests/envs/*/requirements.txt"
    for name in ENVS:
        assert list((ROOT / "tests" / "envs" / name).glob("test_*.py")), name


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", ENVS)
def test_environment(name: str) -> None:
    python = environment_python(name)
    environ = {**os.environ, "AGENTVITALS_TEST_ENV": name}
    command = [str(python), "-m", "pytest", f"tests/envs/{name}", "-q", "-rfEs", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=1700)
    output = result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "(no output)"
    assert result.returncode == 0, f"tests/envs/{name} in .venv-{name}: {summary}\n{output[-20000:]}"
    assert " passed" in summary and "skipped" not in summary, f"tests/envs/{name}: {summary}"
    print(f"tests/envs/{name}: {summary}")
