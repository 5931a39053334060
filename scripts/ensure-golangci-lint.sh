#!/usr/bin/env bash
# Installs golangci-lint at the pinned version through the Go module proxy
# (no download site is needed) into .cache/bin of the checkout, and prints
# its path. Idempotent: an installed binary of the right version is reused.
set -euo pipefail
version=v2.15.0
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.cache/bin"
tool="$bin/golangci-lint"
if [ -x "$tool" ] && "$tool" --version 2>/dev/null | grep -q "version ${version#v} "; then
  echo "$tool"
  exit 0
fi
mkdir -p "$bin"
echo "ensure-golangci-lint: installing golangci-lint $version (Go module proxy; takes a few minutes the first time) …" >&2
GOBIN="$bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
echo "$tool"
