package whatsapp

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/hostile"
)

// whatsappField is one place of a WhatsApp message a hostile value can be
// put, the record field it lands in, and its documented normal form
// (Converter.Message; docs/whatsapp.md). normal returns ok false where no
// normal form exists without inventing content: the record must then be
// refused by Validate, for Intake to dead-letter.
type whatsappField struct {
	name   string // where the value is put
	record string // the record field
	event  func(v string) *events.Message
	got    func(in *gateway.Inbound) string
	normal func(v string) (string, bool)
}

func normalText(max int) func(string) (string, bool) {
	return func(v string) (string, bool) {
		out, _ := gateway.NormalizeText(v)
		return truncate(out, max), true
	}
}

func normalLine(max int) func(string) (string, bool) {
	return func(v string) (string, bool) {
		out, _ := gateway.NormalizeLine(v, math.MaxInt)
		return truncate(out, max), true
	}
}

func whatsappFields() []whatsappField {
	text := func(v string) *events.Message { return incoming("3AH", &waE2E.Message{Conversation: proto.String(v)}) }
	return []whatsappField{
		{name: "conversation text", record: "text", event: text,
			got: func(in *gateway.Inbound) string { return in.Text }, normal: normalText(gateway.MaxTextLen)},
		{name: "extended text", record: "text",
			event: func(v string) *events.Message {
				return incoming("3AH", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(v)}})
			},
			got: func(in *gateway.Inbound) string { return in.Text }, normal: normalText(gateway.MaxTextLen)},
		{name: "push name", record: "contact_name",
			event: func(v string) *events.Message {
				e := text("hello")
				e.Info.PushName = v
				return e
			},
			got: func(in *gateway.Inbound) string { return in.ContactName }, normal: normalLine(gateway.MaxContactNameLen)},
		{name: "quoted message id", record: "reply_to",
			event: func(v string) *events.Message {
				return incoming("3AH", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("hi"),
					ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String(v)}}})
			},
			got: func(in *gateway.Inbound) string { return in.ReplyTo },
			normal: func(v string) (string, bool) {
				if gateway.CheckKey(v, gateway.MaxProviderIDLen) != "" {
					return "", true // dropped: it only links to the quoted message
				}
				return v, true
			}},
		{name: "location name", record: "location.name",
			event: func(v string) *events.Message {
				return incoming("3AH", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
					DegreesLatitude: proto.Float64(-33.9), DegreesLongitude: proto.Float64(18.4), Name: proto.String(v)}})
			},
			got: func(in *gateway.Inbound) string { return in.Location.Name }, normal: normalText(gateway.MaxLocationTextLen)},
		{name: "vCard", record: "contacts[0]",
			event: func(v string) *events.Message {
				return incoming("3AH", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{Vcard: proto.String(v)}})
			},
			got: func(in *gateway.Inbound) string { return in.Contacts[0] },
			normal: func(v string) (string, bool) {
				out, _ := gateway.NormalizeText(v)
				// Never cut (a cut vCard is broken); empty is no contact.
				return out, out != "" && len([]rune(out)) <= gateway.MaxVCardLen
			}},
		{name: "button id", record: "button.payload",
			event: func(v string) *events.Message {
				return incoming("3AH", &waE2E.Message{ButtonsResponseMessage: &waE2E.ButtonsResponseMessage{SelectedButtonID: proto.String(v),
					Response: &waE2E.ButtonsResponseMessage_SelectedDisplayText{SelectedDisplayText: "YES"}}})
			},
			got: func(in *gateway.Inbound) string { return in.Button.Payload }, normal: normalText(gateway.MaxButtonPayloadLen)},
		{name: "reaction", record: "reaction",
			event: func(v string) *events.Message {
				return incoming("3AH", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: &waCommon.MessageKey{ID: proto.String("3EB0")}, Text: proto.String(v)}})
			},
			got: func(in *gateway.Inbound) string { return in.Reaction }, normal: normalLine(gateway.MaxReactionLen)},
		{name: "message id", record: "provider_id",
			event: func(v string) *events.Message {
				e := text("hello")
				e.Info.ID = v
				return e
			},
			got: func(in *gateway.Inbound) string { return in.ProviderID },
			normal: func(v string) (string, bool) {
				// The idempotency key (R1): changing it would make another message.
				return v, v != "" && gateway.CheckKey(v, gateway.MaxProviderIDLen) == ""
			}},
		{name: "reaction target", record: "target_id",
			event: func(v string) *events.Message {
				return incoming("3AH", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: &waCommon.MessageKey{ID: proto.String(v)}, Text: proto.String("👍")}})
			},
			got:    func(in *gateway.Inbound) string { return in.TargetID },
			normal: func(v string) (string, bool) { return v, gateway.CheckKey(v, gateway.MaxProviderIDLen) == "" }},
	}
}

// TestR38_HostileCorpusInWhatsAppConversion converts a whatsmeow event
// carrying each hostile value in each field. A WhatsApp message cannot be
// refused to the phone, so: where a normal form exists the record holds
// it, passes gateway.Inbound.Validate (the worker's check) and names the
// field in Normalized exactly when it changed; where none exists the
// record is refused by that same Validate, naming the field, for Intake to
// dead-letter. A message left empty by the normal form is skipped as
// empty, like any empty message.
func TestR38_HostileCorpusInWhatsAppConversion(t *testing.T) {
	t.Parallel()
	for _, f := range whatsappFields() {
		for _, h := range hostile.Strings() {
			t.Run(f.name+"/"+h.Name, func(t *testing.T) {
				t.Parallel()
				c, _ := newTestConverter(t, &fakeDownloader{})
				got, err := c.Message(context.Background(), f.event(h.Value))
				if err != nil {
					t.Fatalf("Message: %v", err)
				}
				want, ok := f.normal(h.Value)
				if got.Inbound == nil {
					if got.Skip == SkipEmpty && (want == "" || !ok) && (f.record == "text" || f.record == "contacts[0]" || f.record == "target_id") {
						return // nothing left to store: an empty message
					}
					t.Fatalf("Message = %+v, want an inbound record", got)
				}
				verr := got.Inbound.Validate()
				if !ok {
					var ve *gateway.ValidationError
					if !errors.As(verr, &ve) {
						t.Fatalf("Validate = %v, want the record refused (no normal form)", verr)
					}
					if _, named := ve.Field(f.record); !named {
						t.Fatalf("Validate = %v, want a problem of %s", verr, f.record)
					}
					return
				}
				if verr != nil {
					t.Fatalf("the normal form is refused by the worker's check: %v", verr)
				}
				if v := f.got(got.Inbound); v != want {
					t.Fatalf("%s = %q, want the normal form %q", f.record, clipped(v), clipped(want))
				}
				changed := want != h.Value
				if slices.Contains(got.Normalized, f.record) != changed && f.record != "contacts[0]" {
					t.Fatalf("Normalized = %v; %s changed: %v", got.Normalized, f.record, changed)
				}
			})
		}
	}
}

// Coordinates that are not degrees have no normal form (zero would be a
// place off Africa): the record is refused by Validate, and Intake
// dead-letters it.
func TestR38_WhatsAppCoordinatesAreRefused(t *testing.T) {
	t.Parallel()
	for _, co := range hostile.Coordinates() {
		c, _ := newTestConverter(t, &fakeDownloader{})
		got, err := c.Message(context.Background(), incoming("3AC", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(co.Latitude), DegreesLongitude: proto.Float64(co.Longitude)}}))
		if err != nil || got.Inbound == nil {
			t.Fatalf("%s: Message = %+v, %v", co.Name, got, err)
		}
		if err := got.Inbound.Validate(); err == nil || !strings.Contains(err.Error(), "location.l") {
			t.Errorf("%s: Validate = %v, want the coordinates refused", co.Name, err)
		}
	}
}

// Receipts name message ids; one that cannot be an id of a message
// chatgate sent is dropped, the others are kept.
func TestR38_ReceiptsDropIdsThatCannotBeOurs(t *testing.T) {
	t.Parallel()
	c, _ := newTestConverter(t, &fakeDownloader{})
	ids := []string{"3EB0GOOD"}
	for _, h := range hostile.Strings() {
		ids = append(ids, h.Value)
	}
	got, err := c.Receipt(context.Background(), &events.Receipt{
		MessageSource: types.MessageSource{Chat: contactJID, Sender: contactJID},
		MessageIDs:    ids, Timestamp: msgTime, Type: types.ReceiptTypeRead,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range got {
		if err := st.Validate(); err != nil {
			t.Errorf("receipt for %q: the worker would refuse it: %v", clipped(st.ProviderID), err)
		}
	}
	if len(got) == 0 || got[0].ProviderID != "3EB0GOOD" {
		t.Fatalf("receipts = %+v, want the valid id kept", got)
	}
}

// Through the intake and the embedded broker: a text with a NUL is
// published in its normal form and acknowledged; a location that is not
// degrees is dead-lettered (its record encodes although NaN has no JSON
// form) and acknowledged. Nothing is acknowledged and then lost.
func TestR38_IntakeNormalisesOrDeadLetters(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c, _ := newTestConverter(t, &fakeDownloader{})
	client := &fakeClient{}
	intake := &Intake{Converter: c, Publisher: newProducer(t, b.Addr()), Topics: testTopics, Timeout: 20 * time.Second}
	client.AddEventHandlerWithSuccessStatus(intake.Handler(context.Background()))
	inTail := newTail(t, b.Addr(), gateway.TopicInbound)
	dlTail := newTail(t, b.Addr(), gateway.TopicDeadletter)

	if !client.dispatch(incoming("3ANUL", &waE2E.Message{Conversation: proto.String("where\x00 is it \xff?")})) {
		t.Fatal("message not acknowledged")
	}
	_, in, err := gateway.DecodeRecord[gateway.Inbound](nextRecord(t, inTail).Value)
	if err != nil || in.Text != "where is it \uFFFD?" || in.Validate() != nil {
		t.Fatalf("published %+v, %v; want the text in its normal form", in, err)
	}

	if !client.dispatch(incoming("3ANAN", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
		DegreesLatitude: proto.Float64(math.NaN()), DegreesLongitude: proto.Float64(18.4), Name: proto.String("Shop")}})) {
		t.Fatal("dead-lettered message not acknowledged")
	}
	ev, dl, err := gateway.DecodeRecord[gateway.Deadletter](nextRecord(t, dlTail).Value)
	if err != nil || ev.Type != gateway.TypeDeadletter || !strings.Contains(dl.Reason, "location.latitude") || !strings.Contains(dl.Value, "3ANAN") {
		t.Fatalf("deadletter record: %+v %+v %v", ev, dl, err)
	}
}

func clipped(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
