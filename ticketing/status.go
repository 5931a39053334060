package ticketing

import (
	"context"
	"errors"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// handleStatuses handles the batch's records of the status topic. Delivery
// statuses are not applied to messages yet: each record is dead-lettered
// with that reason, so none is lost.
func (s *Service) handleStatuses(ctx context.Context, _ StoreTx, msgs []gateway.Message, now time.Time, ch *Changes) error {
	for _, m := range msgs {
		rec, err := s.deadletter(ctx, m, errors.New("delivery statuses are not applied by this version"), now)
		if err != nil {
			return err
		}
		ch.Outbox = append(ch.Outbox, rec)
	}
	return nil
}
