package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// CloudEventsSpecVersion is the CloudEvents version every record follows.
const CloudEventsSpecVersion = "1.0"

// Event types carried by chatgate's topics.
const (
	TypeInboundMessage        = "chatgate.inbound.message"
	TypeTicketCreated         = "chatgate.ticket.created"
	TypeTicketMessageAdded    = "chatgate.ticket.message_added"
	TypeTicketClosed          = "chatgate.ticket.closed"
	TypeTicketReopened        = "chatgate.ticket.reopened"
	TypeTicketIntakeStarted   = "chatgate.ticket.intake_started"
	TypeTicketIntakeClosed    = "chatgate.ticket.intake_closed"
	TypeTicketSnoozed         = "chatgate.ticket.snoozed"
	TypeTicketWoken           = "chatgate.ticket.woken"
	TypeTicketArchived        = "chatgate.ticket.archived"
	TypeTicketAssigned        = "chatgate.ticket.assigned"
	TypeTicketTransferred     = "chatgate.ticket.transferred"
	TypeTicketReturned        = "chatgate.ticket.returned"
	TypeTicketDeleted         = "chatgate.ticket.deleted"
	TypeTicketSpam            = "chatgate.ticket.spam"
	TypeTicketReadState       = "chatgate.ticket.read_state"
	TypeTicketCommentAdded    = "chatgate.ticket.comment_added"
	TypeTicketAgentJoined     = "chatgate.ticket.agent_joined"
	TypeTicketContactOptedOut = "chatgate.ticket.contact_opted_out"
	TypeTicketContactOptedIn  = "chatgate.ticket.contact_opted_in"
	TypeTicketMessageStatus   = "chatgate.ticket.message_status"
	TypeTicketWindowClosing   = "chatgate.ticket.window_closing"
	TypeCommandRejected       = "chatgate.command.rejected"
	TypeDeadletter            = "chatgate.deadletter"
	cloudEventsContentType    = "application/json"
	CloudEventsStructuredCT   = "application/cloudevents+json"
)

// Ticket event types of the contact's own actions and profile.
const (
	// TypeTicketContactLeft: the contact ended the live chat (R24).
	TypeTicketContactLeft = "chatgate.ticket.contact_left"
	// TypeTicketContactReturned: the contact wrote again after ending the
	// live chat, before an agent resolved or deleted it (R24).
	TypeTicketContactReturned = "chatgate.ticket.contact_returned"
	// TypeTicketContactUpdated: a desk or ops changed the contact's profile,
	// such as its language (R34).
	TypeTicketContactUpdated = "chatgate.ticket.contact_updated"
)

// Event is a CloudEvents 1.0 envelope in JSON structured mode. Every chatgate
// record is one: the id is unique per event, so consumers dedupe on it.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// NewEvent builds an envelope around data, which is marshalled to JSON.
func NewEvent(id, source, typ, subject string, at time.Time, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("marshal %s data: %w", typ, err)
	}
	return Event{
		SpecVersion:     CloudEventsSpecVersion,
		ID:              id,
		Source:          source,
		Type:            typ,
		Subject:         subject,
		Time:            at.UTC(),
		DataContentType: cloudEventsContentType,
		Data:            raw,
	}, nil
}

// Validate checks the attributes CloudEvents 1.0 requires.
func (e Event) Validate() error {
	var errs []error
	if e.SpecVersion != CloudEventsSpecVersion {
		errs = append(errs, fmt.Errorf("specversion %q: want %q", e.SpecVersion, CloudEventsSpecVersion))
	}
	if e.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if e.Source == "" {
		errs = append(errs, errors.New("source is empty"))
	}
	if e.Type == "" {
		errs = append(errs, errors.New("type is empty"))
	}
	return errors.Join(errs...)
}

// envelope is an Event with typed data, so encoding and decoding a record
// is one pass over the JSON: a json.RawMessage field would be copied and
// re-validated (compacted) on every marshal.
type envelope[T any] struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            T         `json:"data"`
}

func (e *envelope[T]) header() Event {
	return Event{SpecVersion: e.SpecVersion, ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
		Time: e.Time, DataContentType: e.DataContentType}
}

// EncodeRecord builds the CloudEvent around data and encodes it as a record
// for topic, keyed by key, in one pass.
func EncodeRecord[T any](topic, key, id, source, typ, subject string, at time.Time, data T) (Message, error) {
	value, err := json.Marshal(envelope[T]{
		SpecVersion: CloudEventsSpecVersion, ID: id, Source: source, Type: typ, Subject: subject,
		Time: at.UTC(), DataContentType: cloudEventsContentType, Data: data,
	})
	if err != nil {
		return Message{}, fmt.Errorf("encode %s event %s: %w", typ, id, err)
	}
	return Message{
		Topic:   topic,
		Key:     []byte(key),
		Value:   value,
		Headers: []Header{{Key: "content-type", Value: []byte(CloudEventsStructuredCT)}},
	}, nil
}

// DecodeRecord parses a structured-mode record value, checks the envelope
// and decodes its data into a T, in one pass. The returned Event has no Data.
func DecodeRecord[T any](value []byte) (Event, T, error) {
	var e envelope[T]
	if err := json.Unmarshal(value, &e); err != nil {
		var zero T
		return Event{}, zero, fmt.Errorf("decode cloudevent: %w", err)
	}
	ev := e.header()
	if err := ev.Validate(); err != nil {
		var zero T
		return Event{}, zero, fmt.Errorf("invalid cloudevent: %w", err)
	}
	return ev, e.Data, nil
}

// DecodeEvent parses a structured-mode record value and checks the envelope.
func DecodeEvent(value []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(value, &e); err != nil {
		return Event{}, fmt.Errorf("decode cloudevent: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("invalid cloudevent: %w", err)
	}
	return e, nil
}

// DecodeData parses the event's data into v.
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s data: %w", e.Type, err)
	}
	return nil
}

// Message encodes the event as a record for topic, keyed by key.
func (e Event) Message(topic, key string) (Message, error) {
	value, err := json.Marshal(e)
	if err != nil {
		return Message{}, fmt.Errorf("encode cloudevent %s: %w", e.ID, err)
	}
	return Message{
		Topic:   topic,
		Key:     []byte(key),
		Value:   value,
		Headers: []Header{{Key: "content-type", Value: []byte(CloudEventsStructuredCT)}},
	}, nil
}
