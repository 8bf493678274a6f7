#!/usr/bin/env bash
# The main job (README "Run the demo"): sets up .venv with agentvitals and the demo's dependencies,
# then runs `agentvitals demo` on its embedded default (no infrastructure needed).
# Extra arguments go to `agentvitals demo` (see `agentvitals demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[demo]'
exec .venv/bin/agentvitals demo "$@"
