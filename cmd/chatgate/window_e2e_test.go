package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// The 24-hour window as an operator checks it by hand (R28, R29): ops create
// and approve a template; a WhatsApp contact writes through Twilio; chatgate
// restarts with its clock moved 25 hours on (CHATGATE_CLOCK_OFFSET); the
// agent's free text is refused with template_required and the approved
// templates that fit; the template goes out as an outbound record carrying
// the provider references.
func TestR28_WindowClosedFreeTextRefusedTemplateSent(t *testing.T) {
	t.Parallel()
	rest := newTwilioREST(t)
	env := map[string]string{
		"TWILIO_ACCOUNT_SID":      twAccount,
		"TWILIO_AUTH_TOKEN":       twToken,
		"CHATGATE_PUBLIC_URL":     twPublicURL,
		"CHATGATE_TWILIO_NUMBERS": "whatsapp:" + twNumber,
		"CHATGATE_TWILIO_API_URL": rest.srv.URL,
	}
	brokers, dbURL := startBroker(t), pgtest.URL(t)
	s := startRulesStack(t, brokers, dbURL, env, nil)

	tpl := map[string]any{
		"name": "order_update", "language": "en", "category": "utility", "channel": "whatsapp",
		"body": "Hi {{1}}, your order {{2}} has an update.", "twilio": map[string]string{"content_sid": "HX0123456789abcdef0123456789abcdef"},
	}
	s.mustCall(t, http.MethodPost, "/v1/templates", testOpsToken, tpl, http.StatusCreated)
	s.mustCall(t, http.MethodPost, "/v1/templates/order_update/approve?language=en", testOpsToken, nil, http.StatusOK)

	const customer = "+15557770042"
	form := url.Values{"MessageSid": {"SM00000000000000000000000000000042"}, "AccountSid": {twAccount},
		"From": {"whatsapp:" + customer}, "To": {"whatsapp:" + twNumber}, "Body": {"Any news?"}, "NumMedia": {"0"}, "ProfileName": {"Ana"}}
	if code, body := s.postTwilio(t, "/webhooks/twilio/messages", form, ""); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, body)
	}
	evs := collectTickets(t, brokers, 2, 30*time.Second)
	conv := evs[1].Data.Conversation
	if conv.Contact.Channel != gateway.ChannelWhatsApp || conv.WindowExpiresAt == nil {
		t.Fatalf("conversation %+v: want a WhatsApp conversation with window_expires_at", conv)
	}
	s.stop()

	// A day and an hour later.
	s = startRulesStack(t, brokers, dbURL, env, func(c *config) { c.ClockOffset = 25 * time.Hour })
	path := "/v1/tickets/" + strconv.FormatInt(conv.ID, 10) + "/messages"
	body := s.mustCall(t, http.MethodPost, path, testDeskToken,
		map[string]any{"request_id": "free-1", "agent_id": "ann", "text": "Your order left today."}, http.StatusConflict)
	var refusal struct {
		Error struct {
			Code           string `json:"code"`
			WindowClosedAt string `json:"window_closed_at"`
			Templates      []struct {
				Name string `json:"name"`
			} `json:"templates"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &refusal); err != nil || refusal.Error.Code != "template_required" ||
		len(refusal.Error.Templates) != 1 || refusal.Error.Templates[0].Name != "order_update" || refusal.Error.WindowClosedAt == "" {
		t.Fatalf("free text outside the window: %s", body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tail, err := kafka.NewTail(ctx, brokers, s.app.topics.Name(gateway.TopicOutbound), true)
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	s.mustCall(t, http.MethodPost, path, testDeskToken, map[string]any{"request_id": "tpl-1", "agent_id": "ann",
		"template": map[string]any{"name": "order_update", "language": "en", "variables": map[string]string{"1": "Ana", "2": "A-17"}}}, http.StatusAccepted)
	select {
	case m := <-tail.Messages():
		_, out, err := gateway.DecodeRecord[gateway.Outbound](m.Value)
		if err != nil || out.Template == nil || out.Template.TwilioContentSID != "HX0123456789abcdef0123456789abcdef" ||
			!strings.Contains(out.Template.TwilioContentVariables, `"2":"A-17"`) || out.Text != "Hi Ana, your order A-17 has an update." ||
			out.Channel != gateway.ChannelWhatsApp || out.To != customer {
			t.Fatalf("outbound record %+v (%v)", out, err)
		}
	case <-ctx.Done():
		t.Fatal("the template send did not reach the outbound topic")
	}
	sends := rest.wait(t, 1)
	if sends[0].Get("ContentSid") != "HX0123456789abcdef0123456789abcdef" || sends[0].Get("To") != "whatsapp:"+customer {
		t.Fatalf("Twilio got %v", sends[0])
	}
}
