# chatgate — the two commands of the quick start are `make run` and `make test`.
GO ?= go
# The version stamped into release binaries and images: the nearest tag, else the commit.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)

.PHONY: run test check bench build deps image dist deploy-check

## run: start chatgate on its embedded defaults (embedded Kafka-protocol broker, managed PostgreSQL)
# Built, then exec'd rather than `go run`: go run exits 1 whenever it gets a
# SIGINT, so a clean Ctrl-C made make report "Error 1". With exec, make's
# only child is chatgate, which stops cleanly and exits 0.
run: deps
	$(GO) build -o bin/chatgate ./cmd/chatgate
	exec bin/chatgate run

## test: the whole test suite (real PostgreSQL, the embedded broker, a MinIO server for the S3
## blob store; race detector on)
test: deps
	@scripts/ensure-minio.sh
	$(GO) test -race -count=1 -timeout 15m ./...

## check: formatting, vet and builds that CI also checks
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/chatgate
	CGO_ENABLED=0 $(GO) build -tags nowhatsapp -o /tmp/chatgate-nowhatsapp ./cmd/chatgate
	@! $(GO) version -m /tmp/chatgate-nowhatsapp | grep -q go.mau.fi || { echo "nowhatsapp build links go.mau.fi"; exit 1; }
	$(GO) vet -tags nowhatsapp ./cmd/chatgate

## bench: the end-to-end load command against a private chatgate, then the Go benchmarks
bench: deps
	$(GO) run ./cmd/chatgate bench
	$(GO) test -run='^$$' -bench=. -benchtime=20x ./ticketing/pgstore/ ./cmd/chatgate/

## build: static binaries in bin/: chatgate, and chatgate-nowhatsapp without the GPL-3.0 libsignal
build:
	CGO_ENABLED=0 $(GO) build -o bin/chatgate ./cmd/chatgate
	CGO_ENABLED=0 $(GO) build -tags nowhatsapp -o bin/chatgate-nowhatsapp ./cmd/chatgate

## deps: install what running and testing need (PostgreSQL server binaries) if missing
deps:
	@scripts/ensure-deps.sh

## image: the container images chatgate and chatgate-nowhatsapp (deploy/Dockerfile), tagged
## $(IMAGE_PREFIX)chatgate:$(VERSION); needs a running Docker engine
IMAGE_PREFIX ?=
image:
	@command -v docker >/dev/null 2>&1 || { echo "make image: no docker command here; install Docker, or build deploy/Dockerfile with another OCI builder" >&2; exit 1; }
	@err="$$(docker info --format '{{.ServerVersion}}' 2>&1 >/dev/null)" || { \
	  echo "make image: the docker client is installed, but no Docker engine answers:" >&2; \
	  echo "  $$(printf '%s' "$$err" | head -n 3)" >&2; \
	  echo "  start dockerd, or point DOCKER_HOST at an engine; nothing was built" >&2; exit 1; }
	for target in chatgate chatgate-nowhatsapp; do \
	  docker build -f deploy/Dockerfile --target $$target \
	    --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	    --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	    -t $(IMAGE_PREFIX)$$target:$(VERSION) . || exit 1; \
	done

## dist: static release binaries in dist/ for linux/amd64 and linux/arm64, with and without
## WhatsApp (chatgate-nowhatsapp: no GPL-3.0 code), stamped with $(VERSION), and SHA256SUMS
DIST_PLATFORMS ?= linux/amd64 linux/arm64
dist:
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(DIST_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; \
	  for variant in chatgate chatgate-nowhatsapp; do \
	    tags=""; [ $$variant = chatgate ] || tags=nowhatsapp; \
	    out=dist/$${variant}_$(VERSION)_$${os}_$${arch}; \
	    echo "build $$out"; \
	    CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -tags "$$tags" \
	      -ldflags "-s -w -X main.version=$(VERSION)" -o $$out ./cmd/chatgate; \
	  done; \
	  if $(GO) version -m dist/chatgate-nowhatsapp_$(VERSION)_$${os}_$${arch} | grep -q go.mau.fi; then \
	    echo "dist: chatgate-nowhatsapp links go.mau.fi" >&2; exit 1; fi; \
	done
	cd dist && sha256sum chatgate* > SHA256SUMS && cat SHA256SUMS

## deploy-check: the offline checks of deploy/: helm lint and helm template of the chart
## (default and full values), every manifest decoded strictly into the Kubernetes API types
## and held to the deployment rules, the compose file loaded with the compose-spec loader
## (deploy/check, a Go module of its own; helm is built by scripts/ensure-helm.sh).
## UPDATE=1 rewrites deploy/kubernetes/chatgate.yaml from the chart.
deploy-check:
	@helm="$$(scripts/ensure-helm.sh)" && cd deploy/check && \
	  CGO_ENABLED=0 $(GO) vet ./... && \
	  HELM="$$helm" CGO_ENABLED=0 $(GO) test -count=1 ./... $(if $(UPDATE),-run TestPlainManifestsAreTheChartRendered -args -update)
