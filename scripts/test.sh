#!/usr/bin/env bash
# Installs what is missing, then runs lint, types and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy bot handlers storage
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$(bash scripts/postgres.sh)}"
.venv/bin/python -m pytest "$@"
