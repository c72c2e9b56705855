#!/usr/bin/env bash
# The test command: set-up (idempotent), lint, type and layer checks, the installed wheel's smoke test,
# then every test tier, the real Asterisk ones included (they fail, never skip, when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache   # the layer contracts in pyproject.toml ([tool.importlinter])
bash scripts/wheel-smoke.sh         # the wheel, installed outside the checkout, migrates and starts
exec .venv/bin/pytest "$@"
