"""``pip install .`` into a fresh virtualenv works, and the README quick start runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import venv
from pathlib import Path

import pytest

from tests.fake_llm import FakeLLMServer

ROOT = Path(__file__).resolve().parents[1]


def quick_start_code() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return blocks[0]


@pytest.mark.slow
@pytest.mark.timeout(900)  # a fresh install on a loaded machine: its own steps are bounded below
def test_fresh_install_and_quick_start(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT), "openai"],
                   check=True, timeout=600)
    script = tmp_path / "quick_start.py"
    script.write_text(quick_start_code())
    with FakeLLMServer() as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))},
            "OPENAI_BASE_URL": server.url + "/v1",
            "OPENAI_API_KEY": "sk-readme",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1",  # no Collector here: bound the exit-time flush
        }
        result = subprocess.run([python, str(script)], capture_output=True, text=True, env=env, timeout=120,
                                cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello"
    assert "Traceback" not in result.stderr
    assert server.requests == ["/v1/chat/completions"]
    installed = subprocess.run([env_dir / "bin" / "agentvitals", "cost", "openai", "gpt-4o", "--output-tokens", "1000"],
                               capture_output=True, text=True, check=True)
    assert "$0.010000" in installed.stdout
