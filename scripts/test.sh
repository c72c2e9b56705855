#!/usr/bin/env bash
# The test command: set-up (idempotent), lint and type checks, then every test tier, the real
# Asterisk ones included (they fail, never skip, when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
