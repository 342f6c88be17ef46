#!/usr/bin/env bash
# The main job on one machine with no AWS account: sets up the environment (scripts/setup.sh),
# then runs the local end-to-end demo (python -m infra.demo), which brings the AWS-shaped stack
# up from template.yaml on 127.0.0.1 and drives real footage through it. Ctrl-C stops it cleanly.
# Extra arguments go to the demo, e.g. scripts/demo.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${VENV:-.venv}/bin/python" -m infra.demo "$@"
