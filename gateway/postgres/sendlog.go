package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
)

// SendLog is gateway.SendLog on PostgreSQL (table sends).
type SendLog struct {
	pool *pgxpool.Pool
}

var _ gateway.SendLog = (*SendLog)(nil)

// NewSendLog returns a send log on pool.
func NewSendLog(pool *pgxpool.Pool) *SendLog { return &SendLog{pool: pool} }

const (
	sqlClaimSend = `INSERT INTO sends (request_id, channel, status, started_at) VALUES ($1, $2, 'sending', $3)
ON CONFLICT (request_id) DO NOTHING`
	sqlGetSend = `SELECT request_id, channel, coalesce(provider_id, ''), status, error_code, error_message, started_at, finished_at
FROM sends WHERE request_id = $1`
	sqlFinishSend = `UPDATE sends SET provider_id = nullif($2, ''), status = $3, error_code = $4, error_message = $5, finished_at = $6
WHERE request_id = $1`
)

// Begin implements gateway.SendLog.
func (l *SendLog) Begin(ctx context.Context, requestID string, channel gateway.Channel, at time.Time) (gateway.SendAttempt, bool, error) {
	tag, err := l.pool.Exec(ctx, sqlClaimSend, requestID, string(channel), at.UTC())
	if err != nil {
		return gateway.SendAttempt{}, false, fmt.Errorf("claim send %s: %w", requestID, err)
	}
	if tag.RowsAffected() == 1 {
		return gateway.SendAttempt{}, true, nil
	}
	var a gateway.SendAttempt
	var ch, status string
	var finished pgtype.Timestamptz
	err = l.pool.QueryRow(ctx, sqlGetSend, requestID).Scan(&a.RequestID, &ch, &a.ProviderID, &status,
		&a.ErrorCode, &a.ErrorMessage, &a.StartedAt, &finished)
	if errors.Is(err, pgx.ErrNoRows) {
		return gateway.SendAttempt{}, false, fmt.Errorf("send %s: claimed but not found", requestID)
	}
	if err != nil {
		return gateway.SendAttempt{}, false, fmt.Errorf("read send %s: %w", requestID, err)
	}
	a.Channel, a.Status = gateway.Channel(ch), gateway.DeliveryStatus(status)
	a.StartedAt = a.StartedAt.UTC()
	if finished.Valid {
		a.FinishedAt = finished.Time.UTC()
	}
	return a, false, nil
}

// Finish implements gateway.SendLog.
func (l *SendLog) Finish(ctx context.Context, a gateway.SendAttempt) error {
	tag, err := l.pool.Exec(ctx, sqlFinishSend, a.RequestID, a.ProviderID, string(a.Status), a.ErrorCode, a.ErrorMessage, a.FinishedAt.UTC())
	if err != nil {
		return fmt.Errorf("finish send %s: %w", a.RequestID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("finish send %s: no claim", a.RequestID)
	}
	return nil
}
