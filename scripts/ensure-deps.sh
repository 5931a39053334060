#!/usr/bin/env bash
# Installs what chatgate's embedded mode and its tests need when it is
# missing: PostgreSQL server binaries (initdb, postgres). Set WITH_KCAT=1 to
# also install kcat, the Kafka command-line client the README uses to watch
# topics. Idempotent: does nothing when everything is there.
set -euo pipefail

have_postgres() {
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    return 0
  fi
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "ensure-deps: need root (or sudo) to install $*" >&2; return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-deps: no apt-get here; install $* with your package manager" >&2
    return 1
  fi
  echo "ensure-deps: installing $* …" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v go >/dev/null 2>&1; then
  echo "ensure-deps: Go is not installed (https://go.dev/dl/, Go 1.26 or newer)" >&2
  exit 1
fi

if ! have_postgres; then
  apt_install postgresql || {
    echo "ensure-deps: PostgreSQL server binaries are missing; install them, or set" >&2
    echo "  CHATGATE_DATABASE_URL (run) / CHATGATE_TEST_DATABASE_URL (tests) to use an existing server." >&2
    exit 1
  }
fi

# As root, the managed cluster runs as the postgres OS user (initdb refuses root).
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi

if [ "${WITH_KCAT:-0}" = "1" ] && ! command -v kcat >/dev/null 2>&1; then
  apt_install kcat
fi
