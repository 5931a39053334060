// Package outbox relays the transactional outbox to Kafka: rows written by
// the worker in the same transaction as the change they describe are
// published in id order and then marked published. Delivery is at least
// once: a crash between publish and mark republishes the rows, and every
// event carries a unique id for consumers to dedupe.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres"
)

// relayLockID is the advisory lock that elects the one active relay: a
// single publisher keeps each conversation's events in commit order.
const relayLockID = 0x63676f7574626f78 // "cgoutbox"

var (
	published = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_outbox_published_total",
		Help: "Outbox rows published to Kafka, per topic.",
	}, []string{"topic"})
	lagSeconds = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatgate_outbox_lag_seconds",
		Help: "Age of the oldest unpublished outbox row when the relay last looked (0 when drained).",
	})
	pendingRows = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatgate_outbox_pending_rows",
		Help: "Unpublished rows seen in the relay's last fetch (capped at the batch size).",
	})
)

// Config configures a Relay.
type Config struct {
	Pool      *pgxpool.Pool
	Publisher gateway.Publisher
	Topics    gateway.Topics
	Logger    *slog.Logger
	// BatchSize is the most rows published per round. Default 1000.
	BatchSize int
	// PollInterval is how long the relay sleeps without a notification before
	// looking anyway (a safety net; NOTIFY wakes it at once). Default 1 s.
	PollInterval time.Duration
	// Retention is how long published rows are kept before deletion. Default 1 h.
	Retention time.Duration
	// Now is the clock used for retention; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Retention <= 0 {
		c.Retention = time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Relay publishes outbox rows. Run it in every process that may relay; the
// advisory lock makes exactly one of them active and the others stand by.
type Relay struct {
	cfg Config
}

// New returns a relay.
func New(cfg Config) (*Relay, error) {
	cfg = cfg.withDefaults()
	if cfg.Pool == nil || cfg.Publisher == nil {
		return nil, errors.New("outbox relay: Pool and Publisher are required")
	}
	return &Relay{cfg: cfg}, nil
}

// Run relays until ctx ends. Failures (database or Kafka down) are retried
// with backoff; it returns nil once ctx is done.
func (r *Relay) Run(ctx context.Context) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = 0
	for ctx.Err() == nil {
		err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := b.NextBackOff()
		r.cfg.Logger.WarnContext(ctx, "outbox relay interrupted; retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// session holds one connection: it waits for the leader lock, listens for
// notifications and drains the outbox until an error or ctx ends.
func (r *Relay) session(ctx context.Context) error {
	conn, err := r.cfg.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	// The session-level lock and LISTEN belong to this connection: never hand
	// it back to the pool with them.
	defer func() {
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	}()
	for {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(relayLockID)).Scan(&got); err != nil {
			return fmt.Errorf("leader lock: %w", err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.cfg.PollInterval):
		}
	}
	r.cfg.Logger.InfoContext(ctx, "outbox relay active")
	if _, err := conn.Exec(ctx, `LISTEN `+postgres.OutboxNotifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	lastCleanup := time.Time{}
	for {
		for {
			n, err := r.drainOnce(ctx, conn.Conn())
			if err != nil {
				return err
			}
			if n < r.cfg.BatchSize {
				break
			}
		}
		if now := r.cfg.Now(); now.Sub(lastCleanup) > time.Minute {
			if _, err := conn.Exec(ctx, `DELETE FROM outbox WHERE published_at < $1`, now.Add(-r.cfg.Retention)); err != nil {
				return fmt.Errorf("delete published rows: %w", err)
			}
			lastCleanup = now
		}
		wctx, cancel := context.WithTimeout(ctx, r.cfg.PollInterval)
		_, err := conn.Conn().WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

type row struct {
	id      int64
	topic   string
	key     []byte
	value   []byte
	created time.Time
}

// drainOnce publishes one batch of unpublished rows and marks them. It
// returns how many rows it published.
func (r *Relay) drainOnce(ctx context.Context, conn *pgx.Conn) (int, error) {
	rows, err := conn.Query(ctx, `SELECT id, topic, key, value, created_at FROM outbox
		WHERE published_at IS NULL ORDER BY id LIMIT $1`, r.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		var x row
		err := cr.Scan(&x.id, &x.topic, &x.key, &x.value, &x.created)
		return x, err
	})
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	pendingRows.Set(float64(len(batch)))
	if len(batch) == 0 {
		lagSeconds.Set(0)
		return 0, nil
	}
	lagSeconds.Set(r.cfg.Now().Sub(batch[0].created).Seconds())
	msgs := make([]gateway.Message, len(batch))
	ids := make([]int64, len(batch))
	for i, x := range batch {
		msgs[i] = gateway.Message{
			Topic:   r.cfg.Topics.Name(gateway.Topic(x.topic)),
			Key:     x.key,
			Value:   x.value,
			Headers: []gateway.Header{{Key: "content-type", Value: []byte(gateway.CloudEventsStructuredCT)}},
		}
		ids[i] = x.id
	}
	if err := r.cfg.Publisher.Publish(ctx, msgs...); err != nil {
		return 0, fmt.Errorf("publish %d outbox rows: %w", len(msgs), err)
	}
	if _, err := conn.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("mark %d outbox rows published: %w", len(ids), err)
	}
	for _, m := range msgs {
		published.WithLabelValues(m.Topic).Inc()
	}
	return len(batch), nil
}
