// Package gateway is chatgate's record contract: the CloudEvents envelope every
// Kafka record uses, the record types that travel on each topic, topic names,
// and the small Publisher interface the adapters and the relay write through.
//
// It depends on the standard library only, so every other package can import
// it without pulling in a client library.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Topic is the suffix of a Kafka topic name; the full name is prefix + Topic.
type Topic string

// The six topics (docs/events.md).
const (
	TopicInbound    Topic = "inbound"
	TopicOutbound   Topic = "outbound"
	TopicStatus     Topic = "status"
	TopicCommands   Topic = "commands"
	TopicTickets    Topic = "tickets"
	TopicDeadletter Topic = "deadletter"
)

// AllTopics lists every topic chatgate uses, in a stable order.
var AllTopics = []Topic{TopicInbound, TopicOutbound, TopicStatus, TopicCommands, TopicTickets, TopicDeadletter}

// DefaultTopicPrefix is the prefix used when CHATGATE_TOPIC_PREFIX is unset.
const DefaultTopicPrefix = "chatgate."

// Topics turns topic suffixes into full names with one prefix.
type Topics struct {
	Prefix string
}

// Name returns the full Kafka topic name of t.
func (ts Topics) Name(t Topic) string { return ts.Prefix + string(t) }

// All returns the full names of every topic, in the order of AllTopics.
func (ts Topics) All() []string {
	names := make([]string, len(AllTopics))
	for i, t := range AllTopics {
		names[i] = ts.Name(t)
	}
	return names
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is one Kafka record as chatgate's packages see it, independent of
// the client library. Partition and Offset are set on consumed messages only.
type Message struct {
	Topic     string
	Key       []byte
	Value     []byte
	Headers   []Header
	Partition int
	Offset    int64
}

// Publisher writes messages to Kafka. Publish returns only after the broker
// acknowledged every message (acks=all), or with an error, in which case any
// subset may have been written: callers retry, and consumers dedupe by id.
// Messages with the same key and topic keep their order.
type Publisher interface {
	Publish(ctx context.Context, msgs ...Message) error
}

// BatchHandler handles one batch of consumed messages. Returning nil lets the
// consumer commit the batch's offsets; returning an error makes the consumer
// retry the same batch with backoff, so the handler must be idempotent.
type BatchHandler func(ctx context.Context, msgs []Message) error

// PublisherFunc adapts a function to the Publisher interface.
type PublisherFunc func(ctx context.Context, msgs ...Message) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, msgs ...Message) error { return f(ctx, msgs...) }

// Channel names a messaging channel. A contact is one address on one channel.
type Channel string

// The channels chatgate speaks.
const (
	ChannelAPI      Channel = "api"
	ChannelSMS      Channel = "sms"
	ChannelWhatsApp Channel = "whatsapp"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	switch c {
	case ChannelAPI, ChannelSMS, ChannelWhatsApp:
		return true
	}
	return false
}

// ContactKey is the Kafka key of a contact's records: "channel:address". Keying
// inbound, outbound and status records by it keeps one contact's records in
// one partition, in order (R2).
func ContactKey(ch Channel, address string) string { return string(ch) + ":" + address }

// ParseContactKey splits a key made by ContactKey.
func ParseContactKey(key string) (Channel, string, error) {
	ch, addr, ok := strings.Cut(key, ":")
	if !ok || !Channel(ch).Valid() || addr == "" {
		return "", "", fmt.Errorf("invalid contact key %q: want channel:address", key)
	}
	return Channel(ch), addr, nil
}

// ErrUnavailable marks a failure of a dependency (Kafka, PostgreSQL) that is
// expected to pass: callers answer 503 or retry.
var ErrUnavailable = errors.New("dependency unavailable")
