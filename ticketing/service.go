package ticketing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/deadletter"
	"github.com/chatgate/chatgate/templates"
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
	autoTexts = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_worker_auto_texts_total",
		Help: "Auto-responder texts queued for sending, by kind.",
	}, []string{"kind"})
	timersFired = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_worker_timers_fired_total",
		Help: "Conversation timers fired by the sweep, by kind.",
	}, []string{"kind"})
)

// Service runs the decision core over batches of Kafka records and over
// due timers.
type Service struct {
	Store  Store
	Now    func() time.Time
	Logger *slog.Logger
	// Config holds the rule times (prompt expiry, intake close, reopen
	// window, archive delay, presence TTL); zero fields take defaults.
	Config Config
	// Directory keeps departments and presence; needed only by the
	// department and presence methods (ApplyDepartments, SetPresence, …).
	Directory DirectoryStore
	// Desk configures the desk reply path and the window warning (reply.go).
	Desk DeskConfig
	// Queries reads the desk's lists (query.go); nil: Store, if it
	// implements QueryStore (pgstore.Store does).
	Queries QueryStore
}

// HandleBatch is the worker's gateway.BatchHandler for the inbound, commands
// and status topics. The whole batch is decided and written in one
// transaction: contacts, conversations, messages and outbox records. Records
// it cannot parse go to the deadletter topic through the same outbox, with
// the reason, so nothing is dropped silently. Replaying a batch is a no-op
// for messages already stored (R1).
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
	var commands, statuses []gateway.Message
	for _, m := range msgs {
		switch topicOf(m.Topic) {
		case gateway.TopicInbound:
		case gateway.TopicCommands:
			commands = append(commands, m)
			continue
		case gateway.TopicStatus:
			statuses = append(statuses, m)
			continue
		default:
			rec, err := s.deadletter(ctx, m, fmt.Errorf("the ticketing worker does not handle topic %s", m.Topic), now)
			if err != nil {
				return err
			}
			ch.Outbox = append(ch.Outbox, rec)
			continue
		}
		in, err := decodeInbound(m)
		if err != nil {
			rec, derr := s.deadletter(ctx, m, err, now)
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
	var quick []Command
	if len(commands) > 0 {
		var err error
		if quick, err = s.handleCommands(ctx, tx, commands, now, ch); err != nil {
			return err
		}
	}
	if len(statuses) > 0 {
		if err := s.handleStatuses(ctx, tx, statuses, now, ch); err != nil {
			return err
		}
	}
	// Quick accepts last: after them the transaction waits for no lock.
	if err := s.runBatchCommands(ctx, tx, quick, now, ch); err != nil {
		return err
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
	env := Env{Now: now, Config: s.Config, Directory: s.directory(ctx, loaded.Departments, loaded.Presence)}
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
	var outputs []Effect // events and texts, in decision order
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
		case EmitTicketEvent, SendText:
			outputs = append(outputs, e)
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
	for _, e := range outputs {
		var rec OutboxRecord
		var err error
		switch e := e.(type) {
		case EmitTicketEvent:
			var ev ConversationEvent
			rec, ev, err = ticketEventRecord(e)
			if err == nil && e.Type != gateway.TypeTicketMessageAdded {
				ch.Events = append(ch.Events, ev)
			}
		case SendText:
			rec, err = autoTextRecord(e)
			autoTexts.WithLabelValues(string(e.Kind)).Inc()
		}
		if err != nil {
			return err
		}
		ch.Outbox = append(ch.Outbox, rec)
	}
	return nil
}

// directory indexes the departments for one decision. A stored department
// that no longer validates (say, a zone missing from this host's tzdata) is
// left out with a warning rather than stopping the pipeline: its
// conversations are treated as unrouted.
func (s *Service) directory(ctx context.Context, deps []Department, presence []Presence) *Directory {
	if len(deps) == 0 {
		return nil
	}
	dir, err := NewDirectory(deps, presence)
	if err != nil {
		s.logger().WarnContext(ctx, "stored departments do not validate; invalid ones are ignored", "err", err)
	}
	return dir
}

// SweepTimers fires the conversation timers due at now (R10, R12, R22,
// R27), at most limit conversations in one transaction, and returns how
// many timers fired. Rows another sweeper or batch holds are skipped, so
// any number of workers may sweep at once and each timer fires once.
func (s *Service) SweepTimers(ctx context.Context, now time.Time, limit int) (int, error) {
	now = now.UTC()
	var fired int
	var kinds []TimerKind
	err := s.Store.InTx(ctx, func(tx StoreTx) error {
		fired, kinds = 0, kinds[:0]
		claim, err := tx.ClaimTimers(ctx, now, limit)
		if err != nil {
			return err
		}
		if len(claim.Conversations) == 0 {
			return nil
		}
		env := Env{Now: now, Config: s.Config, Directory: s.directory(ctx, claim.Departments, claim.Presence)}
		var effects []Effect
		for _, conv := range claim.Conversations {
			contact := claim.Contacts[conv.ContactID]
			if contact == nil {
				return fmt.Errorf("sweep timers: conversation %d without its contact", conv.ID)
			}
			st := &ContactState{Contact: contact}
			if conv.State.Open() {
				st.Open = conv
			} else {
				st.Last = conv
			}
			for _, tm := range DueTimers(conv, now) {
				if e := DecideTimer(st, tm, env); len(e) > 0 {
					effects = append(effects, e...)
					fired++
					kinds = append(kinds, tm.Kind)
				}
			}
		}
		ch := &Changes{}
		if err := s.apply(ctx, tx, effects, ch); err != nil {
			return err
		}
		if ch.empty() {
			return nil
		}
		return tx.Save(ctx, ch)
	})
	if err != nil {
		return 0, fmt.Errorf("sweep timers: %w", err)
	}
	for _, k := range kinds {
		timersFired.WithLabelValues(string(k)).Inc()
	}
	return fired, nil
}

// RunTimers sweeps timers until ctx ends: at once again while sweeps come
// back full, otherwise every interval. A failed sweep is logged and retried
// at the next tick.
func (s *Service) RunTimers(ctx context.Context, interval time.Duration, limit int) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.SweepTimers(ctx, s.Now(), limit)
		n = max(n, s.sweepWindowClosing(ctx, limit)) // window.go
		if err != nil && ctx.Err() == nil {
			s.logger().WarnContext(ctx, "timer sweep failed", "err", err)
		}
		if err == nil && n >= limit {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// topicOf returns which of chatgate's topics a full topic name is. The six
// suffixes are distinct and none ends another, so the configured prefix
// need not be known here.
func topicOf(name string) gateway.Topic {
	for _, t := range gateway.AllTopics {
		if strings.HasSuffix(name, string(t)) {
			return t
		}
	}
	return ""
}

// deadletter turns a record the worker cannot handle into a deadletter
// outbox record, with the reason; the record is counted and logged where
// every dead letter is (gateway/deadletter).
func (s *Service) deadletter(ctx context.Context, m gateway.Message, cause error, now time.Time) (OutboxRecord, error) {
	deadLettered.Inc()
	return deadletterRecord(ctx, s.logger(), m, cause, now)
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

func deadletterRecord(ctx context.Context, log *slog.Logger, m gateway.Message, cause error, now time.Time) (OutboxRecord, error) {
	msg, err := deadletter.New(ctx, log, gateway.DeadletterParams{
		Topic: string(gateway.TopicDeadletter), Source: EventSource, Original: m, Cause: cause, At: now,
	})
	if err != nil {
		return OutboxRecord{}, err
	}
	return OutboxRecord{Topic: gateway.TopicDeadletter, Key: msg.Key, Value: msg.Value}, nil
}

// ticketEventRecord encodes a ticket event for the outbox and returns it
// as the conversation's history keeps it.
func ticketEventRecord(e EmitTicketEvent) (OutboxRecord, ConversationEvent, error) {
	if e.Conv.ID == 0 {
		return OutboxRecord{}, ConversationEvent{}, errors.New("ticket event for a conversation without id")
	}
	snap := e.Snapshot
	snap.ID = e.Conv.ID
	data := TicketEventData{Conversation: Snapshot(snap, e.Contact), Reason: e.Reason}
	if !e.Desk.empty() {
		data.DeskEvent = e.Desk
	}
	if e.Msg != nil {
		mv := messageView(e.Msg)
		data.Message = &mv
	}
	id, err := uuid.NewV7()
	if err != nil {
		return OutboxRecord{}, ConversationEvent{}, fmt.Errorf("event id: %w", err)
	}
	subject := strconv.FormatInt(snap.ID, 10)
	rec, err := outboxRecord(gateway.TopicTickets, subject, id.String(), e.Type, subject, snap.UpdatedAt, data)
	if err != nil {
		return OutboxRecord{}, ConversationEvent{}, err
	}
	ev := ConversationEvent{ConversationID: snap.ID, EventID: id.String(), Type: e.Type, Reason: e.Reason, Data: []byte("{}"), At: snap.UpdatedAt}
	if data.DeskEvent != nil {
		if data.Actor != nil {
			ev.Actor = data.Actor.AgentID
		}
		if ev.Data, err = json.Marshal(data.DeskEvent); err != nil {
			return OutboxRecord{}, ConversationEvent{}, fmt.Errorf("event %s: %w", e.Type, err)
		}
	}
	return rec, ev, nil
}

func autoTextRecord(e SendText) (OutboxRecord, error) {
	o := e.Outbound
	if e.Conv != nil {
		o.ConversationID = e.Conv.ID
	}
	if e.Msg != nil {
		o.MessageID = e.Msg.ID
	}
	key := o.ContactKey()
	return outboxRecord(gateway.TopicOutbound, key, o.EventID(), gateway.TypeOutboundMessage, key, o.CreatedAt, o)
}

func conversationSnapshot(c Conversation, ct Contact) gateway.ConversationView {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		v := t // allocated only when set
		return &v
	}
	v := conversationView(c, ct)
	if ct.Channel == gateway.ChannelWhatsApp {
		v.WindowExpiresAt = opt(templates.WindowExpiresAt(ct.LastInboundAt))
	}
	v.Department, v.BusinessAddress, v.Intake = c.DepartmentID, c.BusinessAddress, string(c.Intake)
	v.ClosedAt, v.CloseReason = opt(c.ClosedAt), c.CloseReason
	v.PromptExpiresAt, v.IntakeClosesAt, v.SnoozedUntil = opt(c.PromptExpiresAt), opt(c.IntakeClosesAt), opt(c.SnoozeUntil)
	v.ArchiveAt, v.ArchivedAt = opt(c.ArchiveAt), opt(c.ArchivedAt)
	v.Assignee, v.AssignedAt, v.ClosedBy, v.Unread = c.Assignee, opt(c.AssignedAt), c.ClosedBy, c.Unread
	v.Participants, v.QueuedAt = slices.Clone(c.Participants), opt(c.QueuedAt)
	v.ContactLeftAt = opt(c.ContactLeftAt)
	return v
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
		Contact:       contactView(ct),
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
		SentBy:     m.SentBy,
	}
}
