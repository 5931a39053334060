#!/usr/bin/env bash
# Writes deploy/.env for deploy/compose.yaml: a PostgreSQL password and the three bootstrap
# tokens, each 32 random bytes as hex (URL-safe, so the password can sit in
# CHATGATE_DATABASE_URL), the file readable by you only. It never overwrites: remove
# deploy/.env first to start over (the password is then no longer the database's; remove the
# pgdata volume too, `docker compose -f deploy/compose.yaml down -v`). Add channel settings
# (TWILIO_*, CHATGATE_API_CALLBACK_URL, …) to the file afterwards; deploy/example.env lists
# the usual ones. An argument names another file to write.
set -euo pipefail
env_file="${1:-$(cd "$(dirname "$0")" && pwd)/.env}"
if [ -e "$env_file" ]; then
  echo "make-env: $env_file exists; not overwriting it" >&2
  exit 1
fi
secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
umask 077
cat >"$env_file" <<ENV
# Made by deploy/make-env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Never commit it.
POSTGRES_PASSWORD=$(secret)
CHATGATE_API_TOKEN=$(secret)
CHATGATE_DESK_TOKEN=$(secret)
CHATGATE_OPS_TOKEN=$(secret)
CHATGATE_PUBLIC_URL=http://localhost:8080
ENV
echo "make-env: wrote $env_file (mode 0600)" >&2
