#!/usr/bin/env bash
# Creates .venv and installs the project when pyproject.toml changed.
# `bootstrap.sh` installs what running needs; `bootstrap.sh dev` adds the test and lint tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv ..."
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras:+-$extras}
if [ ! -f "$stamp" ]; then
  echo "Installing dependencies${extras:+ ($extras)} into .venv (once) ..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  target="."
  [ -n "$extras" ] && target=".[$extras]"
  log=$(mktemp)
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target" \
    >"$log" 2>&1; then
    cat "$log"
    exit 1
  fi
  rm -f "$log" .venv/.installed-*
  touch "$stamp"
fi
