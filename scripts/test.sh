#!/usr/bin/env bash
# Runs the whole test suite on a fresh or prepared machine: sets up the virtual environment,
# MariaDB and Chromium (scripts/setup.sh), lints, then runs pytest. The local AWS endpoint (moto server) is
# started by the tests themselves on a free port of 127.0.0.1 and stopped after them.
# Extra arguments go to pytest, e.g. scripts/test.sh -k migrations
set -euo pipefail
cd "$(dirname "$0")/.."
CLASSSIGHT_WITH_BROWSER=1 bash scripts/setup.sh
VENV=${VENV:-.venv}

printf '\033[1m==> %s\033[0m\n' "ruff and mypy"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"

printf '\033[1m==> %s\033[0m\n' "pytest"
exec "$VENV/bin/python" -m pytest "$@"
