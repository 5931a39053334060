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
	go func() {
		// The first signal asks for a clean stop; once it is under way the
		// default action is back, so a second Ctrl-C stops at once.
		<-ctx.Done()
		stop()
	}()
	if err := execute(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		stop()
		os.Exit(exitCode(err))
	}
}
