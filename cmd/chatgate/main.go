// Command chatgate is the messaging-channel gateway worker: channel adapters,
// the ticketing worker, the outbox relay and the HTTP API in one binary. See
// README.md for the quick start and docs/ for configuration.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := execute(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		stop()
		os.Exit(exitCode(err))
	}
}
