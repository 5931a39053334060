#!/usr/bin/env bash
# Installs the MinIO server that gateway/blob's S3 tests run against, when
# it is missing or not the pinned version. It is built from source with
# `go install`, which needs nothing but the Go module proxy: MinIO publishes
# no tagged Go module versions, so a pseudo-version (a commit) is pinned
# here. The first build takes six to seven minutes on two busy cores; after
# that this script does nothing. The binary goes where `go install` puts it
# ($(go env GOBIN), else the first $(go env GOPATH)/bin), which is where
# the tests look.
#
# MinIO's server is AGPL-3.0. It is only run by the tests on a loopback
# port; chatgate neither links nor ships it.
#
# WITHOUT_MINIO=1 skips the install (the S3 tests then skip, loudly; under
# CI they fail). MINIO_VERSION overrides the pinned version.
set -euo pipefail

MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

if [ "${WITHOUT_MINIO:-0}" = "1" ]; then
  echo "ensure-minio: WITHOUT_MINIO=1: not installing MinIO; the S3 blob store tests will skip" >&2
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-minio: Go is not installed (https://go.dev/dl/, Go 1.26 or newer)" >&2
  exit 1
fi

bin="$(go env GOBIN)"
if [ -z "$bin" ]; then
  gopath="$(go env GOPATH)"
  bin="${gopath%%:*}/bin"
fi

if [ -x "$bin/minio" ] &&
  go version -m "$bin/minio" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/minio/minio[[:space:]]+${MINIO_VERSION}([[:space:]]|$)"; then
  exit 0
fi

echo "ensure-minio: building the MinIO server ${MINIO_VERSION} into $bin with go install" >&2
echo "ensure-minio: (once per machine; six to seven minutes on two cores)" >&2
start=$(date +%s)
# Outside any module, so chatgate's go.mod plays no part in the build.
if ! (cd / && GOFLAGS=-buildvcs=false go install "github.com/minio/minio@${MINIO_VERSION}"); then
  echo "ensure-minio: go install github.com/minio/minio@${MINIO_VERSION} failed." >&2
  echo "  Install a MinIO server yourself and set CHATGATE_TEST_MINIO=/path/to/minio," >&2
  echo "  or set WITHOUT_MINIO=1 to run the tests without the S3 blob store tests." >&2
  exit 1
fi
echo "ensure-minio: built $bin/minio in $(( $(date +%s) - start ))s" >&2
