package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// DeadletterParams says what a component gives up on, and why. Every
// chatgate.deadletter record is built from one by NewDeadletter, so that
// the id format and the fields are the same whoever dead-letters.
type DeadletterParams struct {
	// Topic is the full name of the deadletter topic the record goes to
	// (Topics.Name(TopicDeadletter)); the outbox takes the bare suffix.
	Topic string
	// Source is the CloudEvents source of the component that gives up
	// (the ticketing worker, the consumer of a topic, a channel adapter).
	Source string
	// Original is the record given up on: as it was consumed, with its
	// Topic, Partition and Offset, or, for a provider message an adapter
	// refused before anything reached Kafka, the record it would have
	// published, with Topic empty.
	Original Message
	// Cause says why; its text is the record's reason.
	Cause error
	// At is when the component gave up.
	At time.Time
}

// DeadletterID names the dead letter of original. A consumed record is
// named by where it was read, so dead-lettering it again (a retried batch,
// a replay that fails the same way at the same offset) keeps its name; a
// record that never reached Kafka is named by its CloudEvents id (the
// provider message's deterministic id), or, if it has none, by a digest of
// its key and value.
func DeadletterID(original Message) string {
	if original.Topic != "" {
		return "deadletter:" + original.Topic + ":" + strconv.Itoa(original.Partition) + ":" + strconv.FormatInt(original.Offset, 10)
	}
	if ev, err := DecodeEvent(original.Value); err == nil {
		return "deadletter:" + ev.ID
	}
	sum := sha256.Sum256(append(append([]byte{}, original.Key...), original.Value...))
	return "deadletter:sha256:" + hex.EncodeToString(sum[:16])
}

// NewDeadletter builds the chatgate.deadletter record of p, keyed like the
// original (so one contact's dead letters stay in order) and returns it with
// its data.
func NewDeadletter(p DeadletterParams) (Message, Deadletter, error) {
	if p.Topic == "" || p.Source == "" {
		return Message{}, Deadletter{}, errors.New("dead letter: topic and source are required")
	}
	reason := "unknown"
	if p.Cause != nil {
		reason = p.Cause.Error()
	}
	o := p.Original
	d := Deadletter{
		Topic: o.Topic, Partition: o.Partition, Offset: o.Offset,
		Key: string(o.Key), Value: string(o.Value), Reason: reason,
	}
	if o.Topic == "" {
		d.Partition, d.Offset = 0, 0 // never read from Kafka: no position
	}
	subject := o.Topic
	if subject == "" {
		subject = string(o.Key)
	}
	msg, err := EncodeRecord(p.Topic, string(o.Key), DeadletterID(o), p.Source, TypeDeadletter, subject, p.At, d)
	if err != nil {
		return Message{}, Deadletter{}, fmt.Errorf("dead letter: %w", err)
	}
	return msg, d, nil
}

// ErrNotReplayable marks a dead letter that cannot be published again.
var ErrNotReplayable = errors.New("dead letter cannot be replayed")

// ReplayRecord returns what replaying d publishes: its original key and
// value, to its original topic. A record an adapter refused before it
// reached Kafka (no topic) goes to inboundTopic when its value is a
// chatgate.inbound.message record keyed by its contact; anything else is
// refused with ErrNotReplayable and the reason. Replays are safe to repeat:
// the worker stores an inbound message once per provider id (R1), applies a
// command once per request id, and a status only forward.
func (d Deadletter) ReplayRecord(inboundTopic, deadletterTopic string) (Message, error) {
	topic := d.Topic
	if topic == "" {
		ev, in, err := DecodeRecord[Inbound](bytesOf(d.Value))
		switch {
		case err != nil:
			return Message{}, fmt.Errorf("%w: it never reached Kafka and its value is not a CloudEvent (%v)", ErrNotReplayable, err)
		case ev.Type != TypeInboundMessage:
			return Message{}, fmt.Errorf("%w: it never reached Kafka and its value is a %s, not an inbound message", ErrNotReplayable, ev.Type)
		case in.ContactKey() != d.Key:
			return Message{}, fmt.Errorf("%w: it never reached Kafka and its key is not the contact key of its inbound message", ErrNotReplayable)
		}
		topic = inboundTopic
	}
	if topic == deadletterTopic {
		return Message{}, fmt.Errorf("%w: its original topic is the deadletter topic", ErrNotReplayable)
	}
	m := Message{Topic: topic, Key: bytesOf(d.Key), Value: bytesOf(d.Value)}
	if _, err := DecodeEvent(m.Value); err == nil {
		// The original's headers are not kept; this is the one chatgate sets.
		m.Headers = []Header{{Key: "content-type", Value: []byte(CloudEventsStructuredCT)}}
	}
	return m, nil
}

// bytesOf returns s as a byte slice, nil for "" so that an empty key stays
// absent on Kafka.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
