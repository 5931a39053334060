package ticketing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// TypeCommandPresence reports an agent's presence on the commands topic,
// the record form of PUT /v1/agents/{id}/presence; repeating it is the
// heartbeat (R4).
const TypeCommandPresence = "chatgate.command.presence"

// PresenceCommand is the data of a chatgate.command.presence record, keyed
// "agent:<id>".
type PresenceCommand struct {
	AgentID string         `json:"agent_id"`
	Status  PresenceStatus `json:"status"`
}

// Record encodes the presence report as a commands-topic record.
func (p PresenceCommand) Record(source, topic string, at time.Time) (gateway.Message, error) {
	key := "agent:" + p.AgentID
	id := fmt.Sprintf("presence:%s:%d", p.AgentID, at.UnixNano())
	return gateway.EncodeRecord(topic, key, id, source, TypeCommandPresence, key, at, p)
}

// presenceCommands applies the batch's presence records and returns the
// other records. The heartbeat is the record's time (never later than now),
// so a report that waited in Kafka does not look fresher than it is.
// Invalid reports are dead-lettered with the reason.
func (s *Service) presenceCommands(ctx context.Context, msgs []gateway.Message, now time.Time, ch *Changes) ([]gateway.Message, error) {
	rest := msgs[:0:0]
	for _, m := range msgs {
		ev, p, err := gateway.DecodeRecord[PresenceCommand](m.Value)
		if err != nil || ev.Type != TypeCommandPresence {
			rest = append(rest, m)
			continue
		}
		if strings.TrimSpace(p.AgentID) == "" || !p.Status.Valid() {
			rec, err := s.deadletter(ctx, m, fmt.Errorf("%w: agent %q, status %q (want online, away or offline)", ErrInvalidPresence, p.AgentID, p.Status), now)
			if err != nil {
				return nil, err
			}
			ch.Outbox = append(ch.Outbox, rec)
			continue
		}
		at := ev.Time
		if at.IsZero() || at.After(now) {
			at = now
		}
		if err := s.Directory.SetPresence(ctx, Presence{AgentID: p.AgentID, Status: p.Status, HeartbeatAt: at.UTC()}); err != nil {
			return nil, fmt.Errorf("presence of %s: %w", p.AgentID, err)
		}
	}
	return rest, nil
}
