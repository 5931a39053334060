package whatsapp

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// LeaseConfig configures a device lease.
type LeaseConfig struct {
	// DatabaseURL is the PostgreSQL server every replica shares.
	DatabaseURL string
	// Device names what is leased: the device's phone number or JID user.
	Device string
	// RetryInterval is how often a waiting process tries to take the lease.
	// Default 2 s.
	RetryInterval time.Duration
	// HeartbeatInterval is how often the holder checks its session. The
	// server ends a holder's session that stays silent for three intervals
	// (idle_session_timeout), which frees the lock of a hung or cut-off
	// holder. Default 5 s.
	HeartbeatInterval time.Duration
	Logger            *slog.Logger
}

func (c LeaseConfig) withDefaults() LeaseConfig {
	if c.RetryInterval <= 0 {
		c.RetryInterval = 2 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// TakeoverBound is the longest a waiting process needs to take over a
// device whose holder stopped without releasing it: the server notices a
// silent session after three heartbeats (at once if the holder's process
// died and its connection closed), and the waiter tries every RetryInterval.
func (c LeaseConfig) TakeoverBound() time.Duration {
	c = c.withDefaults()
	return 3*c.HeartbeatInterval + c.RetryInterval
}

// Lease is a held PostgreSQL session advisory lock on one device: while a
// process holds it, it alone serves the device's socket. The lock lives as
// long as the session, so a holder that dies frees it without any cleanup.
type Lease struct {
	cfg  LeaseConfig
	key  int64
	conn *pgx.Conn

	lost        chan struct{}
	lostOnce    sync.Once
	releaseOnce sync.Once
	releaseErr  error
	stop        chan struct{}
	done        chan struct{}
	errMu       sync.Mutex
	lostErr     error

	// hang stops the heartbeat, so tests can play a hung holder.
	hang atomic.Bool
}

// LeaseKey is the advisory lock key of a device.
func LeaseKey(device string) int64 {
	sum := sha256.Sum256([]byte("chatgate.whatsapp.device:" + device))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// AcquireLease blocks until this process holds the lease of cfg.Device,
// trying every RetryInterval, or until ctx ends.
func AcquireLease(ctx context.Context, cfg LeaseConfig) (*Lease, error) {
	cfg = cfg.withDefaults()
	var waiting bool
	for {
		l, err := TryAcquireLease(ctx, cfg)
		if err == nil && l != nil {
			return l, nil
		}
		if err != nil {
			cfg.Logger.WarnContext(ctx, "whatsapp lease: try failed", "err", err)
		} else if !waiting {
			waiting = true
			cfg.Logger.InfoContext(ctx, "whatsapp lease held by another process; standing by", "retry_interval", cfg.RetryInterval)
		}
		t := time.NewTimer(cfg.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// TryAcquireLease takes the lease if it is free and returns nil, nil if
// another session holds it.
func TryAcquireLease(ctx context.Context, cfg LeaseConfig) (*Lease, error) {
	cfg = cfg.withDefaults()
	if cfg.Device == "" {
		return nil, errors.New("whatsapp lease: Device is required")
	}
	pcfg, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("whatsapp lease: parse database URL: %w", err)
	}
	pcfg.RuntimeParams["application_name"] = "chatgate-whatsapp-lease"
	// The server frees the lock of a session that stays silent (hung
	// holder) or whose peer vanished (cut-off holder).
	idle := 3 * cfg.HeartbeatInterval
	pcfg.RuntimeParams["idle_session_timeout"] = strconv.FormatInt(idle.Milliseconds(), 10)
	pcfg.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(max(1, int(cfg.HeartbeatInterval.Seconds())))
	pcfg.RuntimeParams["tcp_keepalives_interval"] = "1"
	pcfg.RuntimeParams["tcp_keepalives_count"] = "3"
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("whatsapp lease: connect: %w", err)
	}
	key := LeaseKey(cfg.Device)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("whatsapp lease: try lock: %w", err)
	}
	if !got {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, nil
	}
	l := &Lease{cfg: cfg, key: key, conn: conn, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.heartbeat()
	cfg.Logger.InfoContext(ctx, "whatsapp lease acquired", "lock_key", key)
	return l, nil
}

// heartbeat pings the session; a failed ping means the lock is gone.
func (l *Lease) heartbeat() {
	defer close(l.done)
	t := time.NewTicker(l.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if l.hang.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.HeartbeatInterval)
		err := l.conn.Ping(ctx)
		cancel()
		if err != nil {
			l.markLost(fmt.Errorf("whatsapp lease lost: %w", err))
			_ = l.conn.Close(context.Background())
			return
		}
	}
}

func (l *Lease) markLost(err error) {
	l.lostOnce.Do(func() {
		l.errMu.Lock()
		l.lostErr = err
		l.errMu.Unlock()
		close(l.lost)
	})
}

// Lost is closed when the lease is gone: the session failed, or Release
// was called. The holder must stop serving the device at once.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err says why the lease was lost; nil while it is held or after Release.
func (l *Lease) Err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.lostErr
}

// Release unlocks and closes the session. Safe to call more than once and
// after the lease was lost.
func (l *Lease) Release(ctx context.Context) error {
	l.releaseOnce.Do(func() {
		close(l.stop)
		<-l.done
		l.markLost(nil)
		if l.conn.IsClosed() {
			return
		}
		// Closing the session frees the lock too; unlocking first makes
		// the intent explicit.
		_, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
		cerr := l.conn.Close(ctx)
		switch {
		case err != nil:
			l.releaseErr = fmt.Errorf("whatsapp lease: unlock: %w", err)
		case cerr != nil:
			l.releaseErr = fmt.Errorf("whatsapp lease: close: %w", cerr)
		}
	})
	return l.releaseErr
}

// backendPID is the server process of the lease's session, for tests.
func (l *Lease) backendPID() uint32 { return l.conn.PgConn().PID() }

// LeaseHeld reports whether some process holds the lease of device now,
// i.e. whether a chatgate serves it.
func LeaseHeld(ctx context.Context, databaseURL, device string) (bool, error) {
	l, err := TryAcquireLease(ctx, LeaseConfig{DatabaseURL: databaseURL, Device: device})
	if err != nil {
		return false, err
	}
	if l == nil {
		return true, nil
	}
	return false, l.Release(ctx)
}
