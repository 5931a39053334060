package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway/postgres"
)

// postgresAttempt bounds one attempt of connectPostgres, and so how often it
// says in the log that it still waits.
const postgresAttempt = 5 * time.Second

// connectPostgres opens the pool, waiting until ctx ends for the server to
// answer, and says in the log what it waits for and why each attempt failed.
func connectPostgres(ctx context.Context, dbURL string, maxConns int32, log *slog.Logger) (*pgxpool.Pool, error) {
	// A URL that does not parse will not parse any better later.
	if _, err := pgxpool.ParseConfig(dbURL); err != nil {
		return nil, fmt.Errorf("CHATGATE_DATABASE_URL: %w", err)
	}
	where := describeDatabase(dbURL)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, postgresAttempt)
		pool, err := postgres.Connect(actx, dbURL, maxConns)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.InfoContext(ctx, "postgres answered", "database", where, "waited", time.Since(start).Round(time.Millisecond))
			}
			return pool, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("postgres %s did not answer (waited %s): %w", where, time.Since(start).Round(time.Second), err)
		}
		log.WarnContext(ctx, "waiting for postgres", "database", where,
			"waited", time.Since(start).Round(time.Second), "error", err)
	}
}

// describeDatabase is dbURL without its credentials, for logs and errors.
func describeDatabase(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host + u.Path
}

// startupError explains a start-up step that failed. When startCtx, the
// start-up's deadline, ran out (and not ctx: that is a stop), it names the
// variable that sets the deadline.
func startupError(ctx, startCtx context.Context, step string, timeout time.Duration, err error) error {
	if errors.Is(startCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("start-up: %s gave up after CHATGATE_STARTUP_TIMEOUT (%s): %w", step, timeout, err)
	}
	return fmt.Errorf("start-up: %s: %w", step, err)
}

// answeredFirst returns brokers with answered moved to the front, so the
// start-up steps after the wait ask a broker known to answer first.
func answeredFirst(brokers []string, answered string) []string {
	i := slices.Index(brokers, answered)
	if i <= 0 {
		return brokers
	}
	return append([]string{answered}, slices.Delete(slices.Clone(brokers), i, i+1)...)
}
