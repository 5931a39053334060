package ticketing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
)

// Other record types of the status topic, published by the WhatsApp channel.
// They mirror channels/whatsapp's TypePhoneMessage and TypeChannelState:
// importing that package would pull whatsmeow into the worker's core.
const (
	typePhoneMessage = "chatgate.whatsapp.phone_message"
	typeChannelState = "chatgate.channel.state"
)

var (
	statusesApplied = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_worker_statuses_total",
		Help: "Delivery status records by outcome: applied, unchanged (not ranked higher, or a duplicate), pending (message not known yet), resolved (a pending status applied later).",
	}, []string{"outcome"})
	statusRecordsIgnored = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_worker_status_records_ignored_total",
		Help: "Records of the status topic accepted without effect, by type.",
	}, []string{"type"})
)

// MessageStatusEvent is the data of a chatgate.ticket.message_status event:
// the ticket event fields (the conversation's snapshot and the message) and
// the message's delivery state after the change.
type MessageStatusEvent struct {
	gateway.TicketEvent
	Delivery DeliveryView `json:"delivery"`
}

// DeliveryView is an outbound message's delivery state.
type DeliveryView struct {
	RequestID      string                 `json:"request_id,omitempty"`
	Status         gateway.DeliveryStatus `json:"status"`
	ProviderStatus string                 `json:"provider_status,omitempty"` // the provider's word of the status applied
	ErrorCode      string                 `json:"error_code,omitempty"`
	ErrorMessage   string                 `json:"error_message,omitempty"`
	At             time.Time              `json:"at"`
}

// PendingStatus is a status whose message was not known when it arrived. It
// is kept until a later status or message names its request id or provider
// id, then applied like any other (never backwards) and deleted.
type PendingStatus struct {
	ID         int64 // 0 until stored
	Status     gateway.Status
	ReceivedAt time.Time
}

// StatusChanges is what a batch's statuses write besides new messages,
// contacts and outbox records.
type StatusChanges struct {
	// Updated are stored messages whose delivery state or provider id
	// changed. The store writes a state only over a lower-ranked one.
	Updated []*Message
	// Pending are statuses to keep for a message not known yet.
	Pending []PendingStatus
	// Resolved are the ids of pending statuses applied by this batch.
	Resolved []int64
}

func (c *StatusChanges) empty() bool {
	return len(c.Updated) == 0 && len(c.Pending) == 0 && len(c.Resolved) == 0
}

// StatusRequest is what the statuses of a batch need read.
type StatusRequest struct {
	// Contacts are the contacts the records name; they are locked, so the
	// statuses of one contact are applied by one worker at a time and the
	// snapshots published are current. Create lists those of them to
	// create when missing (the contacts of phone messages).
	Contacts []ContactRef
	Create   []ContactRef
	// RequestIDs and Providers name the messages: a status matches the
	// message with its request id, or with its (channel, provider id) —
	// directly or through the send log, which records a send's provider id
	// before its sender publishes the status that carries it.
	RequestIDs []string
	Providers  []MessageRef
}

// StatusLoad is the state the statuses of a batch are applied to.
type StatusLoad struct {
	// Contacts by key: the requested ones that exist, locked.
	Contacts map[string]*Contact
	// Messages are the stored messages the request names.
	Messages []*Message
	// Conversations by id: those of Messages (each Message.Conv points at
	// one of them), and each contact's open conversation, else its latest.
	Conversations map[int64]*Conversation
	// Pending are the pending statuses with a requested key.
	Pending []PendingStatus
}

// StatusTx is the store work of delivery statuses inside a batch's
// transaction.
type StatusTx interface {
	// LoadStatuses creates the missing Create contacts, locks the contacts
	// and reads the messages, conversations and pending statuses req names,
	// in one round trip.
	LoadStatuses(ctx context.Context, req StatusRequest) (StatusLoad, error)
}

// ApplyStatus applies s to the outbound message m if s ranks higher than
// m's current state (gateway.DeliveryStatus.Rank), and reports whether it
// did: a late, repeated or reordered status never moves a message
// backwards, and a duplicate is a no-op. m learns the provider id of s when
// it has none, whether or not the state moves. It does no I/O.
func ApplyStatus(m *Message, s gateway.Status) (applied bool) {
	if m.ProviderID == "" && s.ProviderID != "" {
		m.ProviderID = s.ProviderID
	}
	if s.Status.Rank() <= m.Status.Rank() {
		return false
	}
	m.Status, m.ErrorCode, m.ErrorMessage, m.StatusAt = s.Status, s.ErrorCode, s.ErrorMessage, s.At.UTC()
	return true
}

// phoneMessage is the part of channels/whatsapp's PhoneMessage the worker
// stores: a message the business sent from its own WhatsApp phone.
type phoneMessage struct {
	Channel    gateway.Channel     `json:"channel"`
	ProviderID string              `json:"provider_id"`
	Contact    string              `json:"contact"`
	Kind       gateway.InboundKind `json:"kind"`
	Text       string              `json:"text"`
	SentAt     time.Time           `json:"sent_at"`
}

func (p phoneMessage) validate() error {
	var errs []error
	if !p.Channel.Valid() {
		errs = append(errs, fmt.Errorf("channel %q is not one of api, sms, whatsapp", p.Channel))
	}
	if p.ProviderID == "" {
		errs = append(errs, errors.New("provider_id is required"))
	}
	if p.Contact == "" {
		errs = append(errs, errors.New("contact is required"))
	}
	if p.SentAt.IsZero() {
		errs = append(errs, errors.New("sent_at is required"))
	}
	return errors.Join(errs...)
}

// statusItem is one understood record of the status topic.
type statusItem struct {
	status *gateway.Status
	phone  *phoneMessage
}

// handleStatuses handles the batch's records of the status topic (R32):
// delivery statuses move the messages they name forward and are published
// as message_status events; a status whose message is not known yet is kept
// (PendingStatus) and applied when it is; a failed status with Twilio's
// opt-out code marks the SMS contact opted out (R33). Messages the business
// sent from its WhatsApp phone are stored as outbound messages; channel
// state records are accepted and ignored (they are the channel's health,
// not a conversation's). Anything else is dead-lettered with the reason.
// The whole batch costs one read round trip (and one to allocate ids when
// it stores phone messages); its writes join the batch's Save.
func (s *Service) handleStatuses(ctx context.Context, tx StoreTx, msgs []gateway.Message, now time.Time, ch *Changes) error {
	items, err := s.decodeStatuses(ctx, msgs, now, ch)
	if err != nil || len(items) == 0 {
		return err
	}
	req := statusRequest(items)
	load, err := tx.LoadStatuses(ctx, req)
	if err != nil {
		return err
	}
	a := newStatusApplier(load, ch, Env{Now: now, Config: s.Config})
	newMsgs := a.run(items, now)
	if len(newMsgs) > 0 {
		_, ids, err := tx.AllocateIDs(ctx, 0, len(newMsgs))
		if err != nil {
			return err
		}
		for i, m := range newMsgs {
			m.ID = ids[i]
		}
		ch.Messages = append(ch.Messages, newMsgs...)
	}
	for _, e := range a.events {
		rec, err := e.record()
		if err != nil {
			return err
		}
		ch.Outbox = append(ch.Outbox, rec)
	}
	return nil
}

// decodeStatuses keeps the records the worker understands and dead-letters
// the others.
func (s *Service) decodeStatuses(ctx context.Context, msgs []gateway.Message, now time.Time, ch *Changes) ([]statusItem, error) {
	items := make([]statusItem, 0, len(msgs))
	for _, m := range msgs {
		it, err := decodeStatusRecord(m)
		if err == nil && it == nil {
			continue // accepted, nothing to do
		}
		if err != nil {
			rec, derr := s.deadletter(ctx, m, err, now)
			if derr != nil {
				return nil, derr
			}
			ch.Outbox = append(ch.Outbox, rec)
			continue
		}
		items = append(items, *it)
	}
	return items, nil
}

func decodeStatusRecord(m gateway.Message) (*statusItem, error) {
	ev, err := gateway.DecodeEvent(m.Value)
	if err != nil {
		return nil, err
	}
	switch ev.Type {
	case gateway.TypeMessageStatus:
		var st gateway.Status
		if err := ev.DecodeData(&st); err != nil {
			return nil, err
		}
		if err := st.Validate(); err != nil {
			return nil, fmt.Errorf("invalid status: %w", err)
		}
		return &statusItem{status: &st}, nil
	case typePhoneMessage:
		var p phoneMessage
		if err := ev.DecodeData(&p); err != nil {
			return nil, err
		}
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("invalid phone message: %w", err)
		}
		switch p.Kind {
		case gateway.KindReaction, gateway.KindEdit, gateway.KindRevoke:
			// They refer to an earlier message; not kept for now.
			statusRecordsIgnored.WithLabelValues(ev.Type + ":" + string(p.Kind)).Inc()
			return nil, nil
		}
		return &statusItem{phone: &p}, nil
	case typeChannelState:
		statusRecordsIgnored.WithLabelValues(ev.Type).Inc()
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected event type %q on the status topic", ev.Type)
}

func statusRequest(items []statusItem) StatusRequest {
	var req StatusRequest
	seenContact := map[string]bool{}
	addContact := func(r ContactRef, create bool) {
		if create {
			req.Create = append(req.Create, r)
		}
		if !seenContact[r.Key()] {
			seenContact[r.Key()] = true
			req.Contacts = append(req.Contacts, r)
		}
	}
	seenReq, seenProv := map[string]bool{}, map[MessageRef]bool{}
	addProvider := func(r MessageRef) {
		if r.ProviderID != "" && !seenProv[r] {
			seenProv[r] = true
			req.Providers = append(req.Providers, r)
		}
	}
	for _, it := range items {
		switch {
		case it.status != nil:
			st := it.status
			addContact(ContactRef{Channel: st.Channel, Address: st.Contact}, false)
			if st.RequestID != "" && !seenReq[st.RequestID] {
				seenReq[st.RequestID] = true
				req.RequestIDs = append(req.RequestIDs, st.RequestID)
			}
			addProvider(MessageRef{Channel: st.Channel, ProviderID: st.ProviderID})
		case it.phone != nil:
			p := it.phone
			addContact(ContactRef{Channel: p.Channel, Address: p.Contact}, true)
			addProvider(MessageRef{Channel: p.Channel, ProviderID: p.ProviderID})
		}
	}
	return req
}

// statusApplier applies one batch's statuses to the loaded state, overlaid
// with what the batch's inbound records changed already (ch), so that the
// snapshots it publishes are the batch's latest.
type statusApplier struct {
	env        Env
	ch         *Changes
	contacts   map[string]*Contact       // by key
	byID       map[int64]*Contact        // by id
	savedCt    map[*Contact]bool         // contacts already in ch.Contacts
	history    map[int64][]*Conversation // conversations by contact id
	states     map[int64]*ContactState   // built on demand from history
	byRequest  map[string]*Message       // outbound messages by request id
	byProvider map[MessageRef]*Message   // messages by provider id
	stored     map[*Message]bool         // messages read from the store
	updated    map[*Message]bool         // stored messages this batch changed
	pending    []*PendingStatus          // read and new, unresolved
	optedOut   map[int64]bool            // contacts a 21610 marked in this batch
	newMsgs    []*Message                // phone messages to insert
	events     []statusEvent             // in order
}

// statusEvent is a ticket event to publish; delivery is set on message_status.
type statusEvent struct {
	EmitTicketEvent
	delivery *DeliveryView
}

func newStatusApplier(load StatusLoad, ch *Changes, env Env) *statusApplier {
	a := &statusApplier{
		env: env, ch: ch,
		contacts: map[string]*Contact{}, byID: map[int64]*Contact{}, savedCt: map[*Contact]bool{},
		history: map[int64][]*Conversation{}, states: map[int64]*ContactState{},
		byRequest: map[string]*Message{}, byProvider: map[MessageRef]*Message{},
		stored: map[*Message]bool{}, updated: map[*Message]bool{}, optedOut: map[int64]bool{},
	}
	// The batch's own changes win over what was read: they are newer.
	for _, c := range ch.Contacts {
		a.savedCt[c] = true
		a.byID[c.ID] = c
	}
	for _, c := range load.Contacts {
		if mine := a.byID[c.ID]; mine != nil {
			c = mine
		}
		a.byID[c.ID] = c
		a.contacts[c.Key()] = c
	}
	convs := make(map[int64]*Conversation, len(load.Conversations))
	for id, v := range load.Conversations {
		convs[id] = v
	}
	for _, v := range ch.Conversations {
		convs[v.ID] = v
	}
	for _, v := range ch.NewConversations {
		convs[v.ID] = v
	}
	for _, v := range convs {
		a.history[v.ContactID] = append(a.history[v.ContactID], v)
	}
	for _, m := range load.Messages {
		if m.Conv != nil {
			if v := convs[m.Conv.ID]; v != nil {
				m.Conv = v
			}
		}
		a.stored[m] = true
		a.index(m)
	}
	for i := range load.Pending {
		a.pending = append(a.pending, &load.Pending[i])
	}
	return a
}

func (a *statusApplier) index(m *Message) {
	if m.RequestID != "" {
		a.byRequest[m.RequestID] = m
	}
	if m.ProviderID != "" {
		a.byProvider[MessageRef{Channel: m.Channel, ProviderID: m.ProviderID}] = m
	}
}

// find returns the message a status names: by request id first (it never
// changes), else by provider id.
func (a *statusApplier) find(s gateway.Status) *Message {
	if m := a.byRequest[s.RequestID]; s.RequestID != "" && m != nil {
		return m
	}
	if s.ProviderID != "" {
		return a.byProvider[MessageRef{Channel: s.Channel, ProviderID: s.ProviderID}]
	}
	return nil
}

// run applies the items in order, then every pending status whose message
// became known, and returns the new messages to insert.
func (a *statusApplier) run(items []statusItem, now time.Time) []*Message {
	for _, it := range items {
		switch {
		case it.status != nil:
			a.status(*it.status, now)
		case it.phone != nil:
			a.phone(*it.phone, now)
		}
	}
	// A pending status is resolved once its message is known, whatever
	// order its keys arrived in; resolved ones are applied oldest first.
	var keep []*PendingStatus
	for _, p := range a.pending {
		m := a.find(p.Status)
		if m == nil || m.Direction != DirectionOutbound {
			keep = append(keep, p)
			continue
		}
		a.apply(m, p.Status)
		statusesApplied.WithLabelValues("resolved").Inc()
		if p.ID != 0 {
			a.ch.Statuses.Resolved = append(a.ch.Statuses.Resolved, p.ID)
		}
	}
	for _, p := range keep {
		if p.ID == 0 {
			a.ch.Statuses.Pending = append(a.ch.Statuses.Pending, *p)
		}
	}
	for m := range a.updated {
		if a.stored[m] {
			a.ch.Statuses.Updated = append(a.ch.Statuses.Updated, m)
		}
	}
	return a.newMsgs
}

func (a *statusApplier) status(s gateway.Status, now time.Time) {
	if s.Status == gateway.StatusFailed && s.ErrorCode == TwilioOptedOutCode {
		defer a.providerOptOut(s) // published after the message's own status
	}
	m := a.find(s)
	switch {
	case m == nil:
		// Not known yet (e.g. a WhatsApp receipt that overtook its sender's
		// status): kept until it is.
		a.pending = append(a.pending, &PendingStatus{Status: s, ReceivedAt: now})
		statusesApplied.WithLabelValues("pending").Inc()
	case m.Direction != DirectionOutbound:
		statusesApplied.WithLabelValues("unchanged").Inc() // statuses are about what chatgate sent
	default:
		if a.apply(m, s) {
			statusesApplied.WithLabelValues("applied").Inc()
		} else {
			statusesApplied.WithLabelValues("unchanged").Inc()
		}
	}
}

// apply applies s to m, records the change and queues its event.
func (a *statusApplier) apply(m *Message, s gateway.Status) bool {
	hadProvider := m.ProviderID != ""
	if s.ProviderID != "" && !hadProvider {
		// Another message owning the id keeps it (the store's R1 index
		// would refuse a second one).
		if owner := a.byProvider[MessageRef{Channel: m.Channel, ProviderID: s.ProviderID}]; owner != nil && owner != m {
			s.ProviderID = ""
		}
	}
	applied := ApplyStatus(m, s)
	if !hadProvider && m.ProviderID != "" {
		a.index(m)
		a.updated[m] = true
	}
	if !applied {
		return false
	}
	a.updated[m] = true
	if m.Conv != nil {
		a.emit(gateway.TypeTicketMessageStatus, m.Conv, m, "", &DeliveryView{
			RequestID: m.RequestID, Status: m.Status, ProviderStatus: s.ProviderStatus,
			ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage, At: m.StatusAt,
		})
	}
	return true
}

// phone stores a message the business sent from its WhatsApp phone as an
// outbound message (SentByPhone, status sent) in the contact's open
// conversation, or alone, once per provider id (R1).
func (a *statusApplier) phone(p phoneMessage, now time.Time) {
	ref := MessageRef{Channel: p.Channel, ProviderID: p.ProviderID}
	if a.byProvider[ref] != nil {
		return // stored before, or twice in this batch
	}
	c := a.contacts[ContactRef{Channel: p.Channel, Address: p.Contact}.Key()]
	if c == nil {
		return // the store creates it; absent only if the store broke that promise
	}
	st := a.state(c)
	m := &Message{
		Conv: st.Open, ContactID: c.ID, Channel: p.Channel, Direction: DirectionOutbound,
		ProviderID: p.ProviderID, SentBy: SentByPhone, Body: p.Text, SentAt: p.SentAt.UTC(), StoredAt: now,
		Status: gateway.StatusSent, StatusAt: p.SentAt.UTC(),
	}
	if st.Open != nil {
		m.Seq = st.Open.MessageCount
	}
	a.newMsgs = append(a.newMsgs, m)
	a.index(m)
	if st.Open != nil {
		a.emit(gateway.TypeTicketMessageAdded, st.Open, m, "", nil)
	}
}

// providerOptOut marks the status's contact opted out (R33).
func (a *statusApplier) providerOptOut(s gateway.Status) {
	c := a.contacts[s.ContactKey()]
	if c == nil || a.optedOut[c.ID] {
		return
	}
	a.optedOut[c.ID] = true
	for _, e := range DecideProviderOptOut(a.state(c), a.env) {
		switch e := e.(type) {
		case SaveContact:
			if !a.savedCt[e.Contact] {
				a.savedCt[e.Contact] = true
				a.ch.Contacts = append(a.ch.Contacts, e.Contact)
			}
		case EmitTicketEvent:
			a.events = append(a.events, statusEvent{EmitTicketEvent: e})
		}
	}
}

// state returns the contact's state: its open conversation, else its
// latest, among those read and those the batch changed.
func (a *statusApplier) state(c *Contact) *ContactState {
	if st := a.states[c.ID]; st != nil {
		return st
	}
	st := &ContactState{Contact: c}
	for _, v := range a.history[c.ID] {
		switch {
		case v.State.Open():
			st.Open = v
		case st.Last == nil || v.ID > st.Last.ID:
			st.Last = v
		}
	}
	if st.Open != nil {
		st.Last = nil
	}
	a.states[c.ID] = st
	return st
}

func (a *statusApplier) emit(typ string, conv *Conversation, m *Message, reason string, dv *DeliveryView) {
	ct := a.byID[conv.ContactID]
	if ct == nil {
		ct = &Contact{ID: conv.ContactID}
	}
	e := EmitTicketEvent{Type: typ, Conv: conv, Snapshot: *conv, Contact: *ct, Reason: reason}
	if m != nil {
		cp := *m // as it is now: later statuses of the batch change m
		e.Msg = &cp
	}
	a.events = append(a.events, statusEvent{EmitTicketEvent: e, delivery: dv})
}

// record encodes the event; message_status events carry the delivery.
func (e statusEvent) record() (OutboxRecord, error) {
	if e.delivery == nil {
		// Opt-out events: the contact's flag, not a desk's history.
		rec, _, err := ticketEventRecord(e.EmitTicketEvent)
		return rec, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return OutboxRecord{}, fmt.Errorf("event id: %w", err)
	}
	snap := e.Snapshot
	snap.ID = e.Conv.ID
	data := MessageStatusEvent{
		TicketEvent: gateway.TicketEvent{Conversation: conversationSnapshot(snap, e.Contact)},
		Delivery:    *e.delivery,
	}
	mv := messageView(e.Msg)
	data.Message = &mv
	subject := strconv.FormatInt(snap.ID, 10)
	return outboxRecord(gateway.TopicTickets, subject, id.String(), e.Type, subject, e.delivery.At, data)
}
