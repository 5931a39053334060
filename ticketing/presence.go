package ticketing

import (
	"context"
	"fmt"
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

// checkPresence is the validation of presence input, on the commands topic
// and over HTTP: an agent id (gateway.CheckAgentID) and a known status.
func checkPresence(agentID string, status PresenceStatus) error {
	if problem := gateway.CheckAgentID(agentID); problem != "" {
		return fmt.Errorf("%w: agent_id %s", ErrInvalidPresence, problem)
	}
	if !status.Valid() {
		return fmt.Errorf("%w: status %q is not one of online, away, offline", ErrInvalidPresence, clip(string(status)))
	}
	return nil
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
		if err := checkPresence(p.AgentID, p.Status); err != nil {
			// Before the store, which would refuse an agent id with a NUL
			// and fail the whole batch (R38).
			rec, err := s.deadletter(ctx, m, err, now)
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
