package twilio_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/hostile"
	"github.com/chatgate/chatgate/gateway/kafka"
)

// twilioWant is the documented answer to one signed webhook: the status,
// and for a 200 the value the record's field has (its normal form).
type twilioWant struct {
	status int
	stored string
}

var (
	refused400 = twilioWant{status: http.StatusBadRequest}
	refused413 = twilioWant{status: http.StatusRequestEntityTooLarge}
)

func stored(v string) twilioWant { return twilioWant{status: http.StatusOK, stored: v} }

// messageWants is docs/twilio.md's rule for one field of the message
// webhook: what the contact wrote is kept minus the control characters a
// text cannot hold, the profile name is made one line, identifiers and
// addresses are refused when they cannot be one, and bytes that are not
// UTF-8 are never from Twilio.
func messageWants(field string, h hostile.String) twilioWant {
	v := h.Value
	if h.Class == hostile.Huge {
		return refused413
	}
	switch field {
	case "Body", "Label":
		if !utf8.ValidString(v) {
			return refused400
		}
		normal, _ := gateway.NormalizeText(v)
		if normal == "" && field == "Body" {
			return refused400 // an empty message
		}
		return stored(normal)
	case "ProfileName":
		if !utf8.ValidString(v) {
			return refused400
		}
		normal, _ := gateway.NormalizeLine(v, gateway.MaxContactNameLen)
		return stored(normal)
	case "MessageSid", "MediaUrl0":
		limit := gateway.MaxProviderIDLen
		if field == "MediaUrl0" {
			limit = gateway.MaxURLLen
		}
		trimmed := strings.TrimSpace(v)
		if trimmed == "" || gateway.CheckKey(trimmed, limit) != "" {
			return refused400
		}
		return stored(trimmed)
	case "From", "To":
		// Not one hostile string is a phone number or an identifier of
		// letters, digits, '.', '_' and '-', but " ann " trimmed.
		if h.Class == hostile.Padded {
			return stored("ann")
		}
		if field == "To" && h.Class == hostile.Empty {
			return stored("") // To is optional
		}
		return refused400
	}
	panic("no rule for " + field)
}

// statusWants is the rule for one field of the status callback: Twilio's
// error message and chatgate's own request id never cost a status; the
// MessageSid and the status word must be what they say.
func statusWants(field string, h hostile.String) twilioWant {
	v := h.Value
	switch field {
	case "ErrorMessage":
		if h.Class == hostile.Huge {
			return refused413
		}
		normal, _ := gateway.NormalizeLine(v, gateway.MaxErrorMessageLen)
		if normal == "" {
			return stored(twilio.Reason(30003)) // chatgate's reason for the code stands in
		}
		return stored(normal)
	case "rid":
		if v != "" && gateway.CheckKey(v, gateway.MaxProviderIDLen) == "" {
			return stored(v)
		}
		return stored("") // dropped: the MessageSid ties the status to its message
	case "MessageSid":
		if h.Class == hostile.Huge {
			return refused413
		}
		trimmed := strings.TrimSpace(v)
		if trimmed == "" || gateway.CheckKey(trimmed, gateway.MaxProviderIDLen) != "" {
			return refused400
		}
		return stored(trimmed)
	case "MessageStatus":
		if h.Class == hostile.Huge {
			return refused413
		}
		return refused400
	}
	panic("no rule for " + field)
}

// TestR38_HostileCorpusAtTheTwilioWebhooks sends every hostile value in
// every field of both webhooks, each request signed with the test auth
// token so that the content, not the signature, is what is judged, through
// the embedded broker. Each answer is the documented one (never a 5xx,
// never a 200 for what is not stored), each record has the documented
// normal form and passes the worker's check, and nothing refused reached
// Kafka.
func TestR38_HostileCorpusAtTheTwilioWebhooks(t *testing.T) {
	t.Parallel()
	broker, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0", Topics: topics.All(), Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = broker.Close() })
	producer, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: []string{broker.Addr()}, WriteTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = producer.Close() })
	w := newWebhooks(t, testConfig(public), producer)

	type accepted struct {
		name, hook, field, stored string
	}
	var wantIn, wantSt []accepted
	n := 0
	send := func(hook, name, field, target string, form url.Values, want twilioWant) {
		t.Helper()
		h, path := w.MessagesHandler(), twilio.MessagesPath
		if hook == "status" {
			h, path = w.StatusHandler(), twilio.StatusPath
		}
		if target == "" {
			target = path
		}
		rec := serve(h, signedRequest(public, target, form))
		if rec.Code != want.status {
			t.Errorf("%s webhook, %s in %s: status %d, want %d; body %.200s", hook, name, field, rec.Code, want.status, rec.Body.String())
			return
		}
		if rec.Code != http.StatusOK {
			if e := decodeError(t, rec); rec.Code == http.StatusBadRequest && len(e.Error.Details) > 0 && e.Error.Details[0].Field != field {
				t.Errorf("%s webhook, %s in %s: details %+v do not name %s", hook, name, field, e.Error.Details, field)
			}
			return
		}
		a := accepted{name: name, hook: hook, field: field, stored: want.stored}
		if hook == "status" {
			wantSt = append(wantSt, a)
		} else {
			wantIn = append(wantIn, a)
		}
	}
	waForm := func(kv ...string) url.Values {
		n++
		base := []string{"MessageSid", fmt.Sprintf("SM%032d", n), "From", "whatsapp:+14133881111", "To", "whatsapp:+12028831111"}
		return messageForm(append(base, kv...)...)
	}
	set := func(form url.Values, k, v string) url.Values {
		if v == "" {
			form.Del(k)
		} else {
			form.Set(k, v)
		}
		return form
	}

	for _, h := range hostile.Strings() {
		for _, field := range []string{"Body", "ProfileName", "MessageSid", "From", "To"} {
			form := waForm()
			if field == "From" || field == "To" {
				form = messageForm("MessageSid", fmt.Sprintf("SM%032d", n+1000)) // SMS: the address is judged bare
			}
			send("messages", h.Name, field, "", set(form, field, h.Value), messageWants(field, h))
		}
		loc := waForm("Body", "", "Latitude", "-33.9249", "Longitude", "18.4241")
		send("messages", h.Name, "Label", "", set(loc, "Label", h.Value), messageWants("Label", h))
		media := waForm("NumMedia", "1", "MediaContentType0", "image/jpeg")
		send("messages", h.Name, "MediaUrl0", "", set(media, "MediaUrl0", h.Value), messageWants("MediaUrl0", h))

		n++
		sid := fmt.Sprintf("SM%032d", n)
		send("status", h.Name, "ErrorMessage", "", statusForm("failed", "MessageSid", sid, "ErrorCode", "30003", "ErrorMessage", h.Value), statusWants("ErrorMessage", h))
		if h.Class != hostile.Huge { // a 1 MB URL is not a callback chatgate ever asks for
			n++
			send("status", h.Name, "rid", twilio.StatusPath+"?rid="+url.QueryEscape(h.Value),
				statusForm("sent", "MessageSid", fmt.Sprintf("SM%032d", n)), statusWants("rid", h))
		}
		// The legacy SmsSid and SmsStatus stand in for a missing MessageSid
		// and MessageStatus: both carry the hostile value.
		sidForm := set(set(statusForm("delivered"), "MessageSid", h.Value), "SmsSid", h.Value)
		send("status", h.Name, "MessageSid", "", sidForm, statusWants("MessageSid", h))
		stForm := set(set(statusForm("delivered"), "MessageStatus", h.Value), "SmsStatus", h.Value)
		send("status", h.Name, "MessageStatus", "", stForm, statusWants("MessageStatus", h))
	}
	for _, c := range hostile.Coordinates() {
		t.Run(c.Name, func(t *testing.T) {
			form := waForm("Body", "", "Latitude", c.LatitudeText, "Longitude", c.LongText)
			field := "Latitude"
			if c.LatitudeText == "-33.9" {
				field = "Longitude"
			}
			send("messages", c.Name, field, "", form, refused400)
		})
	}
	for _, p := range hostile.PhoneNumbers() {
		want := refused400
		if p.Normal != "" {
			want = stored(p.Normal)
		}
		n++
		send("messages", "phone "+p.Name, "From", "", messageForm("MessageSid", fmt.Sprintf("SM%032d", n), "From", p.Value), want)
	}
	send("messages", "sentinel", "Body", "", waForm("Body", "sentinel"), stored("sentinel"))
	send("status", "sentinel", "ErrorMessage", "", statusForm("failed", "ErrorCode", "30003", "ErrorMessage", "sentinel"), stored("sentinel"))

	check := func(topic gateway.Topic, want []accepted, field func(gateway.Message, string) (string, error)) {
		tail, err := kafka.NewTail(context.Background(), []string{broker.Addr()}, topics.Name(topic), false)
		if err != nil {
			t.Fatal(err)
		}
		defer tail.Close()
		for i, a := range want {
			var m gateway.Message
			select {
			case m = <-tail.Messages():
			case <-time.After(20 * time.Second):
				t.Fatalf("%s record %d (%s in %s) not on Kafka within 20s", topic, i, a.name, a.field)
			}
			got, err := field(m, a.field)
			if err != nil {
				t.Fatalf("%s in %s: %v", a.name, a.field, err)
			}
			if got != a.stored {
				t.Errorf("%s webhook, %s in %s: record has %q, want the normal form %q", a.hook, a.name, a.field, clip(got), clip(a.stored))
			}
		}
	}
	// Each topic's sentinel is its last record: a refused request that
	// reached Kafka anyway would have shifted the records before it.
	check(gateway.TopicInbound, wantIn, func(m gateway.Message, field string) (string, error) {
		_, in, err := gateway.DecodeRecord[gateway.Inbound](m.Value)
		if err == nil {
			err = in.Validate()
		}
		var v string
		switch field {
		case "Body":
			v = in.Text
		case "ProfileName":
			v = in.ContactName
		case "MessageSid":
			v = in.ProviderID
		case "From":
			v = in.From
		case "To":
			v = in.To
		case "Label":
			if in.Location != nil {
				v = in.Location.Name
			}
		case "MediaUrl0":
			if len(in.Media) > 0 {
				v = in.Media[0].URL
			}
		}
		return v, err
	})
	check(gateway.TopicStatus, wantSt, func(m gateway.Message, field string) (string, error) {
		_, st, err := gateway.DecodeRecord[gateway.Status](m.Value)
		if err == nil {
			err = st.Validate()
		}
		return map[string]string{"ErrorMessage": st.ErrorMessage, "rid": st.RequestID, "MessageSid": st.ProviderID}[field], err
	})
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
