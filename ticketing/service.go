package ticketing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
)

// EventSource is the CloudEvents source of every event the worker emits.
const EventSource = "chatgate/ticketing"

var (
	batchSize = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "chatgate_worker_batch_records",
		Help:    "Records per batch handled by the ticketing worker.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 7),
	})
	txSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "chatgate_worker_tx_seconds",
		Help:    "Duration of the ticketing worker's per-batch database transaction.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	messagesStored = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatgate_worker_messages_stored_total",
		Help: "Inbound messages stored.",
	})
	duplicatesSkipped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatgate_worker_duplicates_skipped_total",
		Help: "Inbound records skipped because their provider id was already stored (R1).",
	})
	deadLettered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatgate_worker_deadlettered_total",
		Help: "Records the worker could not understand, sent to the deadletter topic.",
	})
)

// Service runs the decision core over batches of Kafka records.
type Service struct {
	Store  Store
	Now    func() time.Time
	Logger *slog.Logger
}

// HandleBatch is the worker's gateway.BatchHandler for the inbound topic. The
// whole batch is decided and written in one transaction: contacts,
// conversations, messages and outbox records. Records it cannot parse go to
// the deadletter topic through the same outbox, with the reason, so nothing
// is dropped silently. Replaying a batch is a no-op for messages already
// stored (R1).
func (s *Service) HandleBatch(ctx context.Context, msgs []gateway.Message) error {
	batchSize.Observe(float64(len(msgs)))
	start := time.Now()
	err := s.Store.InTx(ctx, func(tx StoreTx) error { return s.decideBatch(ctx, tx, msgs) })
	txSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("handle batch of %d: %w", len(msgs), err)
	}
	return nil
}

type pending struct {
	in  gateway.Inbound
	ref MessageRef
}

func (s *Service) decideBatch(ctx context.Context, tx StoreTx, msgs []gateway.Message) error {
	now := s.Now().UTC()
	ch := &Changes{}
	var items []pending
	req := LoadRequest{}
	seenContact := map[string]bool{}
	for _, m := range msgs {
		in, err := decodeInbound(m)
		if err != nil {
			deadLettered.Inc()
			s.logger().WarnContext(ctx, "inbound record dead-lettered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
			rec, derr := deadletter(m, err, now)
			if derr != nil {
				return derr
			}
			ch.Outbox = append(ch.Outbox, rec)
			continue
		}
		ref := MessageRef{Channel: in.Channel, ProviderID: in.ProviderID}
		items = append(items, pending{in: in, ref: ref})
		req.Messages = append(req.Messages, ref)
		if key := in.ContactKey(); !seenContact[key] {
			seenContact[key] = true
			req.Contacts = append(req.Contacts, ContactRef{Channel: in.Channel, Address: in.From, Name: in.ContactName})
		}
	}
	if len(items) > 0 {
		if err := s.decideInbound(ctx, tx, req, items, now, ch); err != nil {
			return err
		}
	}
	if ch.empty() {
		return nil
	}
	return tx.Save(ctx, ch)
}

func (s *Service) decideInbound(ctx context.Context, tx StoreTx, req LoadRequest, items []pending, now time.Time, ch *Changes) error {
	loaded, err := tx.Load(ctx, req)
	if err != nil {
		return err
	}
	env := Env{Now: now}
	var effects []Effect
	stored := 0
	for _, it := range items {
		if loaded.Known[it.ref] {
			duplicatesSkipped.Inc()
			continue
		}
		// The same provider id twice in one batch: the second is a duplicate too.
		loaded.Known[it.ref] = true
		st := loaded.States[it.in.ContactKey()]
		if st == nil {
			return fmt.Errorf("store returned no state for contact %s", it.in.ContactKey())
		}
		effects = append(effects, DecideInbound(st, it.in, env)...)
		stored++
	}
	if err := s.apply(ctx, tx, effects, ch); err != nil {
		return err
	}
	messagesStored.Add(float64(stored))
	return nil
}

// apply turns effects into the batch's Changes: it allocates ids for new
// rows, keeps the last state of each touched row, and encodes events.
func (s *Service) apply(ctx context.Context, tx StoreTx, effects []Effect, ch *Changes) error {
	touchedContacts := map[*Contact]bool{}
	touchedConvs := map[*Conversation]bool{}
	isNew := map[*Conversation]bool{}
	var events []EmitTicketEvent
	for _, e := range effects {
		switch e := e.(type) {
		case SaveContact:
			if !touchedContacts[e.Contact] {
				touchedContacts[e.Contact] = true
				ch.Contacts = append(ch.Contacts, e.Contact)
			}
		case CreateConversation:
			isNew[e.Conv] = true
			ch.NewConversations = append(ch.NewConversations, e.Conv)
		case SaveConversation:
			if !isNew[e.Conv] && !touchedConvs[e.Conv] {
				touchedConvs[e.Conv] = true
				ch.Conversations = append(ch.Conversations, e.Conv)
			}
		case StoreMessage:
			ch.Messages = append(ch.Messages, e.Msg)
		case EmitTicketEvent:
			events = append(events, e)
		default:
			return fmt.Errorf("unknown effect %T", e)
		}
	}
	if len(ch.NewConversations) > 0 || len(ch.Messages) > 0 {
		convIDs, msgIDs, err := tx.AllocateIDs(ctx, len(ch.NewConversations), len(ch.Messages))
		if err != nil {
			return err
		}
		for i, c := range ch.NewConversations {
			c.ID = convIDs[i]
		}
		for i, m := range ch.Messages {
			m.ID = msgIDs[i]
		}
	}
	for _, e := range events {
		rec, err := ticketEventRecord(e)
		if err != nil {
			return err
		}
		ch.Outbox = append(ch.Outbox, rec)
	}
	return nil
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func decodeInbound(m gateway.Message) (gateway.Inbound, error) {
	ev, in, err := gateway.DecodeRecord[gateway.Inbound](m.Value)
	if err != nil {
		return gateway.Inbound{}, err
	}
	if ev.Type != gateway.TypeInboundMessage {
		return gateway.Inbound{}, fmt.Errorf("unexpected event type %q on the inbound topic", ev.Type)
	}
	if err := in.Validate(); err != nil {
		return gateway.Inbound{}, fmt.Errorf("invalid inbound message: %w", err)
	}
	if string(m.Key) != in.ContactKey() {
		// Keys decide ordering (R2); a record keyed otherwise may have
		// overtaken the contact's earlier messages.
		return gateway.Inbound{}, fmt.Errorf("record key %q is not the contact key %q", m.Key, in.ContactKey())
	}
	return in, nil
}

// DeadletterData is the data of a chatgate.deadletter event: the original
// record and why it could not be handled.
type DeadletterData struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Reason    string `json:"reason"`
}

func deadletter(m gateway.Message, cause error, now time.Time) (OutboxRecord, error) {
	id := "deadletter:" + m.Topic + ":" + strconv.Itoa(m.Partition) + ":" + strconv.FormatInt(m.Offset, 10)
	return outboxRecord(gateway.TopicDeadletter, string(m.Key), id, gateway.TypeDeadletter, m.Topic, now, DeadletterData{
		Topic: m.Topic, Partition: m.Partition, Offset: m.Offset,
		Key: string(m.Key), Value: string(m.Value), Reason: cause.Error(),
	})
}

func ticketEventRecord(e EmitTicketEvent) (OutboxRecord, error) {
	if e.Conv.ID == 0 {
		return OutboxRecord{}, errors.New("ticket event for a conversation without id")
	}
	snap := e.Snapshot
	snap.ID = e.Conv.ID
	data := gateway.TicketEvent{Conversation: conversationView(snap, e.Contact), Reason: e.Reason}
	if e.Msg != nil {
		mv := messageView(e.Msg)
		data.Message = &mv
	}
	id, err := uuid.NewV7()
	if err != nil {
		return OutboxRecord{}, fmt.Errorf("event id: %w", err)
	}
	subject := strconv.FormatInt(snap.ID, 10)
	return outboxRecord(gateway.TopicTickets, subject, id.String(), e.Type, subject, snap.UpdatedAt, data)
}

func outboxRecord[T any](topic gateway.Topic, key, id, typ, subject string, at time.Time, data T) (OutboxRecord, error) {
	msg, err := gateway.EncodeRecord(string(topic), key, id, EventSource, typ, subject, at, data)
	if err != nil {
		return OutboxRecord{}, err
	}
	return OutboxRecord{Topic: topic, Key: msg.Key, Value: msg.Value}, nil
}

func conversationView(c Conversation, ct Contact) gateway.ConversationView {
	return gateway.ConversationView{
		ID:            c.ID,
		Kind:          string(c.Kind),
		State:         string(c.State),
		Contact:       gateway.ContactView{ID: ct.ID, Channel: ct.Channel, Address: ct.Address, Name: ct.Name},
		CreatedAt:     c.CreatedAt,
		UpdatedAt:     c.UpdatedAt,
		LastMessageAt: c.LastMessageAt,
		LastInboundAt: c.LastInboundAt,
		MessageCount:  c.MessageCount,
	}
}

func messageView(m *Message) gateway.MessageView {
	return gateway.MessageView{
		ID:         m.ID,
		Direction:  string(m.Direction),
		ProviderID: m.ProviderID,
		Text:       m.Body,
		SentAt:     m.SentAt,
		StoredAt:   m.StoredAt,
		Seq:        m.Seq,
	}
}
