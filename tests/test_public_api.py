"""The public surface is small and explicit; importing it pulls in no provider SDK or OTel SDK."""

from __future__ import annotations

import inspect
import subprocess
import sys

import agentvitals


def test_all_lists_exactly_the_public_names() -> None:
    # Submodules (names, monitoring, control, ...) appear as attributes once imported: not part of __all__.
    public = {name for name in dir(agentvitals)
              if not name.startswith("_") and not inspect.ismodule(getattr(agentvitals, name))}
    lazy = {"export_stats", "force_flush", "init", "shutdown"}  # loaded on first use (PEP 562)
    assert set(agentvitals.__all__) == public | {"__version__"} | lazy


def test_import_is_light() -> None:
    code = (
        "import sys, agentvitals; "
        "heavy = [m for m in ('openai', 'anthropic', 'httpx', 'httpx2', 'opentelemetry.sdk', 'grpc') "
        "if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
