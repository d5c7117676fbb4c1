#!/usr/bin/env bash
# Installs what is missing, then runs lint, types and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy bot handlers storage
.venv/bin/python -m pytest "$@"
