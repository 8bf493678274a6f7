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
        }  # and no Collector: the exit-time flush is bounded by init()'s own deadline
        result = subprocess.run([python, str(script)], capture_output=True, text=True, env=env, timeout=120,
                                cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello"
    assert "Traceback" not in result.stderr
    assert server.requests == ["/v1/chat/completions"]
    installed = subprocess.run([env_dir / "bin" / "agentvitals", "cost", "openai", "gpt-4o", "--output-tokens", "1000"],
                               capture_output=True, text=True, check=True)
    assert "$0.010000" in installed.stdout
    # Dependencies by use: the core install carries no generator, server or demo dependency, and no generic
    # top-level package of ours; the demo is agentvitals.demo, its command is there and asks for its extra.
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    top_level = {path.name for path in Path(site).iterdir()}
    assert "demo_agent" not in top_level and (Path(site) / "agentvitals" / "demo" / "runner.py").exists()
    for dependency in ("grafanalib", "yaml", "aiohttp", "prometheus_client", "grpc"):
        assert dependency not in top_level, dependency
    demo = subprocess.run([env_dir / "bin" / "agentvitals", "demo", "--duration", "1"], capture_output=True,
                          text=True)
    assert demo.returncode == 2 and "pip install 'agentvitals[demo]'" in demo.stderr


def test_every_package_on_disk_is_in_the_wheel() -> None:
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "agentvitals").rglob("__init__.py")}
    on_disk |= {"agentvitals.demo"} if (ROOT / "demo_agent" / "__init__.py").exists() else set()
    assert on_disk == listed
