# chatgate — the two commands of the quick start are `make run` and `make test`.
GO ?= go

.PHONY: run test check bench build deps

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
