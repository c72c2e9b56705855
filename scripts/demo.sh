#!/usr/bin/env bash
# The demo: set-up (idempotent), then the sandbox Asterisk + tongdai on SQLite + a few simulated callers.
# It prints the agent desktop URL and keeps running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tongdai demo "$@"
