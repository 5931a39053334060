package ticketing

import (
	"context"
	"errors"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// handleCommands handles the batch's records of the commands topic. Desk
// commands are not implemented yet: each record is dead-lettered with that
// reason, so none is lost and a desk sees why nothing happened.
func (s *Service) handleCommands(ctx context.Context, _ StoreTx, msgs []gateway.Message, now time.Time, ch *Changes) error {
	for _, m := range msgs {
		rec, err := s.deadletter(ctx, m, errors.New("desk commands are not handled by this version"), now)
		if err != nil {
			return err
		}
		ch.Outbox = append(ch.Outbox, rec)
	}
	return nil
}
