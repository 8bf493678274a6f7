#!/usr/bin/env bash
# The test command (README "Run the tests"): installs what the suite needs, then runs all of it.
#   1. Debian packages: prometheus + promtool, prometheus-alertmanager + amtool, docker-compose,
#      postgresql and redis-server (started by the tests on loopback, never as services)
#   2. the test Collector, built with ocb from collector/builder-config.yaml (cached in ~/.cache)
#   3. a virtualenv in .venv with agentvitals and its test extras
#   4. one virtualenv per tests/envs/<name>/requirements.txt, .venv-<name>: frameworks whose pins clash with
#      the test extras (tests/envs/README.md); (re)installed when those requirements or pyproject.toml change,
#      and run by tests/test_test_envs.py as part of the one pytest run
# Stack tests need the real binaries; here they fail when one is missing, they never skip.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not stack" for the fast unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for binary in prometheus promtool prometheus-alertmanager amtool docker-compose redis-server; do
  command -v "$binary" >/dev/null || missing+=("$binary")
done
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgres)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing Debian packages for: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq prometheus prometheus-alertmanager docker-compose \
    postgresql redis-server >/dev/null
fi

AGENTVITALS_OTELCOL=$(scripts/build-collector.sh | tail -1)
export AGENTVITALS_OTELCOL

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

for requirements in tests/envs/*/requirements.txt; do
  name=$(basename "$(dirname "$requirements")")
  venv=".venv-$name"
  stamp="$venv/.agentvitals-requirements.sha256"
  wanted=$(cat "$requirements" pyproject.toml | sha256sum | cut -d' ' -f1)
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "test.sh: installing $venv for tests/envs/$name"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e . -r "$requirements"
    echo "$wanted" > "$stamp"
  fi
done

export AGENTVITALS_REQUIRE_STACK=1
.venv/bin/ruff check .
.venv/bin/mypy  # strict on the agentvitals package (pyproject [tool.mypy])
exec .venv/bin/python -m pytest "$@"
