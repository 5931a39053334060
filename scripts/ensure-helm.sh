#!/usr/bin/env bash
# Installs the pinned helm into .cache/bin of this repository for the
# offline chart checks (`make deploy-check`), when it is missing or another
# version. helm is built from source with `go install`, which needs nothing
# but the Go module proxy: no download site, no package manager. The first
# build takes a few minutes on two busy cores (from a cold Go build cache);
# with a warm one it is a link step. Idempotent: does nothing when the pinned
# version is there. Prints the binary's path on stdout.
#
# HELM_VERSION overrides the pinned version (a helm.sh/helm/v4 module version).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.2}"

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.cache/bin"
helm="$bin/helm"

if ! command -v go >/dev/null 2>&1; then
  echo "ensure-helm: Go is not installed (https://go.dev/dl/, Go 1.26 or newer)" >&2
  exit 1
fi

# The module version recorded in the binary is the one that was asked for:
# compare it rather than trusting whatever helm is on PATH.
if [ -x "$helm" ] &&
  go version -m "$helm" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+helm.sh/helm/v4[[:space:]]+${HELM_VERSION}([[:space:]]|$)"; then
  echo "$helm"
  exit 0
fi

echo "ensure-helm: building helm ${HELM_VERSION} into $bin with go install" >&2
start=$(date +%s)
mkdir -p "$bin"
# Outside any module, so chatgate's go.mod plays no part in the build;
# CGO_ENABLED=0 gives a static binary that needs no C toolchain.
if ! (cd / && CGO_ENABLED=0 GOBIN="$bin" GOFLAGS=-buildvcs=false go install "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"); then
  echo "ensure-helm: go install helm.sh/helm/v4/cmd/helm@${HELM_VERSION} failed" >&2
  exit 1
fi
echo "ensure-helm: built $helm in $(( $(date +%s) - start ))s" >&2
echo "$helm"
