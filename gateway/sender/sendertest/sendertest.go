// Package sendertest has in-memory stand-ins for what gateway/sender needs,
// for the tests of the sender runner and of every channel's Provider.
package sendertest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// SendLog is an in-memory gateway.SendLog with the same claiming rules as
// the PostgreSQL one. The zero value is ready to use.
type SendLog struct {
	mu sync.Mutex
	m  map[string]gateway.SendAttempt
}

var _ gateway.SendLog = (*SendLog)(nil)

// Begin implements gateway.SendLog.
func (l *SendLog) Begin(_ context.Context, id string, ch gateway.Channel, at time.Time) (gateway.SendAttempt, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := l.m[id]; ok {
		return a, false, nil
	}
	if l.m == nil {
		l.m = map[string]gateway.SendAttempt{}
	}
	l.m[id] = gateway.SendAttempt{RequestID: id, Channel: ch, Status: gateway.StatusSending, StartedAt: at}
	return gateway.SendAttempt{}, true, nil
}

// Finish implements gateway.SendLog.
func (l *SendLog) Finish(_ context.Context, a gateway.SendAttempt) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, ok := l.m[a.RequestID]
	if !ok {
		return errors.New("not claimed")
	}
	a.Channel, a.StartedAt = prev.Channel, prev.StartedAt
	l.m[a.RequestID] = a
	return nil
}

// StatusSink is a gateway.Publisher that decodes the status records it is
// given. The zero value is ready to use.
type StatusSink struct {
	mu       sync.Mutex
	statuses []gateway.Status
}

var _ gateway.Publisher = (*StatusSink)(nil)

// Publish implements gateway.Publisher.
func (s *StatusSink) Publish(_ context.Context, msgs ...gateway.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		_, st, err := gateway.DecodeRecord[gateway.Status](m.Value)
		if err != nil {
			return err
		}
		s.statuses = append(s.statuses, st)
	}
	return nil
}

// Statuses returns what was published so far.
func (s *StatusSink) Statuses() []gateway.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses)
}
