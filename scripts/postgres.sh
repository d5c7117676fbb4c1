#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with a role and database `bot`
# (password `bot`), installing Debian's `postgresql` package and starting a cluster when none
# runs; prints the DSN. Idempotent: when the server already answers it only checks the role.
# Usage: export TEST_DATABASE_URL=$(bash scripts/postgres.sh)
set -euo pipefail
HOST=127.0.0.1
PORT=5432
DSN="postgresql://bot:bot@$HOST:$PORT/bot"
log() { echo "postgres.sh: $*" >&2; }

answers() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
}

if command -v psql >/dev/null 2>&1 && PGPASSWORD=bot PGCONNECT_TIMEOUT=3 \
  psql "$DSN" -Atqc 'SELECT 1' >/dev/null 2>&1; then
  echo "$DSN"
  exit 0
fi

if ! answers; then
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    log "installing PostgreSQL (Debian package postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  version=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1}')
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    log "creating cluster $version/main"
    pg_createcluster "$version" main --port "$PORT" >&2
  fi
  cluster=$(pg_lsclusters -h | awk 'NR==1 {print $2}')
  mkdir -p /var/run/postgresql && chown postgres:postgres /var/run/postgresql
  log "starting cluster $version/$cluster"
  pg_ctlcluster "$version" "$cluster" start >&2 || true
  for _ in $(seq 1 50); do answers && break; sleep 0.2; done
  answers || { log "the server did not start; see /var/log/postgresql/"; exit 1; }
fi

log "creating role and database bot"
as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres >&2 <<'SQL'
SELECT 'CREATE ROLE bot LOGIN CREATEDB PASSWORD ''bot'''
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bot')\gexec
ALTER ROLE bot LOGIN CREATEDB PASSWORD 'bot';
GRANT pg_signal_backend TO bot;
SELECT 'CREATE DATABASE bot OWNER bot'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'bot')\gexec
SQL
echo "$DSN"
