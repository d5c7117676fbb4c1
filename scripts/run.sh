#!/usr/bin/env bash
# Installs what is missing, then runs the bot: `scripts/run.sh` (or `scripts/run.sh check`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m bot "$@"
