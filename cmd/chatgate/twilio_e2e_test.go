package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/ticketing"
)

const (
	twAccount   = "AC00000000000000000000000000000001"
	twToken     = "e2eauthtoken0123456789abcdef0123"
	twPublicURL = "https://chatgate.example.com"
	twNumber    = "+15550001000"
)

// twilioREST stands in for Twilio's REST API: it records every message
// created and answers like Twilio does.
type twilioREST struct {
	mu   sync.Mutex
	sent []url.Values
	srv  *httptest.Server
}

func newTwilioREST(t testing.TB) *twilioREST {
	r := &twilioREST{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/2010-04-01/Accounts/"+twAccount+"/Messages.json" {
			http.Error(w, `{"code":20404,"message":"not found","status":404}`, http.StatusNotFound)
			return
		}
		if err := req.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.sent = append(r.sent, req.PostForm)
		n := len(r.sent)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":"%s","status":"queued","account_sid":%q}`, outboundSID(n), twAccount)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *twilioREST) wait(t testing.TB, n int) []url.Values {
	t.Helper()
	var got []url.Values
	testkit.WaitFor(t, 30*time.Second, fmt.Sprintf("%d sends at the Twilio stand-in", n), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		got = slices.Clone(r.sent)
		return len(got) >= n
	})
	return got
}

// outboundSID is the SID the stand-in gives the n-th message sent.
func outboundSID(n int) string { return fmt.Sprintf("SMf%031d", n) }

// twilioSign is Twilio's webhook signature: base64(HMAC-SHA1(auth token,
// URL + each parameter's name and value, sorted by name)).
func twilioSign(fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k + v)
		}
	}
	m := hmac.New(sha1.New, []byte(twToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// postTwilio posts a webhook as Twilio would: signed for the public URL.
func (s *stack) postTwilio(t testing.TB, path string, form url.Values, signature string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature == "" {
		signature = twilioSign(twPublicURL+path, form)
	}
	req.Header.Set(twilio.HeaderSignature, signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func smsForm(sid, from, body string) url.Values {
	return url.Values{"MessageSid": {sid}, "AccountSid": {twAccount}, "From": {from}, "To": {twNumber}, "Body": {body}, "NumMedia": {"0"}}
}

// SMS through Twilio end to end: signed webhooks in (bad signatures and
// concurrent duplicates included), the out-of-hours auto-responder out to
// the REST stand-in, status callbacks replayed out of order, and STOP.
func TestTwilioSMSEndToEnd(t *testing.T) {
	t.Parallel()
	rest := newTwilioREST(t)
	env := map[string]string{
		"TWILIO_ACCOUNT_SID":      twAccount,
		"TWILIO_AUTH_TOKEN":       twToken,
		"CHATGATE_PUBLIC_URL":     twPublicURL,
		"CHATGATE_TWILIO_NUMBERS": "sms:" + twNumber + "=support@100",
		"CHATGATE_TWILIO_API_URL": rest.srv.URL,
	}
	brokers := startBroker(t)
	s := startRulesStack(t, brokers, pgtest.URL(t), env, nil)
	today := time.Now().UTC()
	s.mustCall(t, "PUT", "/v1/departments/support", testOpsToken, ticketing.Department{
		ID: "support", TimeZone: "UTC", Schedule: alwaysOpenSchedule(),
		Closures: []ticketing.Closure{{Name: "Closed", From: today.AddDate(0, 0, -1).Format(time.DateOnly), To: today.AddDate(0, 0, 1).Format(time.DateOnly)}},
		Routing:  ticketing.Routing{Numbers: []string{twNumber}, Default: true},
		Texts:    map[string]ticketing.Texts{"en": {OutOfHours: "We are closed today."}},
	}, http.StatusCreated)

	// A bad or missing signature is refused and writes nothing.
	if code, body := s.postTwilio(t, twilio.MessagesPath, smsForm("SMbad", "+15557770001", "hi"), "bm90IGl0"); code != http.StatusForbidden {
		t.Fatalf("bad signature: %d %s", code, body)
	}

	// The same webhook 10 times at once (Twilio retrying): one message.
	const customer = "+15557770001"
	first := smsForm("SM00000000000000000000000000000001", customer, "Is my order shipped?")
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body := s.postTwilio(t, twilio.MessagesPath, first, ""); code != http.StatusOK || !strings.Contains(body, "<Response") {
				t.Errorf("webhook: %d %s", code, body)
			}
		}()
	}
	wg.Wait()

	// Out of hours: the auto-responder and the prompt go out through Twilio.
	sends := rest.wait(t, 2)
	for i, want := range []string{"We are closed today.", ticketing.DefaultTexts.LeaveMessagePrompt} {
		f := sends[i]
		if f.Get("Body") != want || f.Get("To") != customer || f.Get("From") != twNumber || !strings.HasPrefix(f.Get("StatusCallback"), twPublicURL+twilio.StatusPath+"?rid=") {
			t.Fatalf("send %d: %v", i, f)
		}
	}

	// Status callbacks for the first send, out of order: delivered, then a
	// late "sent". The message is delivered and stays delivered.
	cb := sends[0].Get("StatusCallback")
	statusPath := strings.TrimPrefix(cb, twPublicURL)
	for _, st := range []string{"delivered", "sent"} {
		form := url.Values{"MessageSid": {outboundSID(1)}, "MessageStatus": {st}, "To": {customer}, "From": {twNumber}, "AccountSid": {twAccount}}
		if code, body := s.postTwilio(t, statusPath, form, ""); code != http.StatusOK {
			t.Fatalf("status %s: %d %s", st, code, body)
		}
	}

	// STOP opts the contact out: no ticket, no more sends.
	if code, _ := s.postTwilio(t, twilio.MessagesPath, smsForm("SM00000000000000000000000000000002", customer, "STOP"), ""); code != http.StatusOK {
		t.Fatal("STOP webhook refused")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tail, err := kafka.NewTail(ctx, brokers, s.app.topics.Name(gateway.TopicTickets), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	var delivered, optedOut bool
	var inbound []string
	for !(delivered && optedOut) {
		select {
		case m := <-tail.Messages():
			ev, data, err := gateway.DecodeRecord[struct {
				gateway.TicketEvent
				Delivery *struct {
					Status string `json:"status"`
				} `json:"delivery"`
			}](m.Value)
			if err != nil {
				t.Fatal(err)
			}
			switch ev.Type {
			case gateway.TypeTicketMessageAdded:
				if data.Message.Direction == "inbound" {
					inbound = append(inbound, data.Message.ProviderID)
				}
			case gateway.TypeTicketMessageStatus:
				// The sender's own "sent" may come first; after
				// "delivered", a late "sent" must change nothing.
				if data.Message.ProviderID != outboundSID(1) {
					continue
				}
				if delivered {
					t.Fatalf("status %s after delivered moved the message backwards", data.Delivery.Status)
				}
				delivered = data.Delivery.Status == "delivered"
			case gateway.TypeTicketContactOptedOut:
				optedOut = true
			}
		case <-ctx.Done():
			t.Fatalf("delivered=%v opted_out=%v inbound=%v", delivered, optedOut, inbound)
		}
	}
	if len(inbound) != 2 || inbound[0] != first.Get("MessageSid") {
		t.Fatalf("inbound messages stored %v, want the first once and STOP", inbound)
	}
	if n := dbCount(t, s, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != 2 {
		t.Fatalf("inbound messages in the database: %d, want 2", n)
	}
	var status string
	if err := s.app.pool.QueryRow(ctx, `SELECT status FROM messages WHERE provider_id = $1`, outboundSID(1)).Scan(&status); err != nil || status != "delivered" {
		t.Fatalf("first send status %q (%v), want delivered", status, err)
	}
	rest.mu.Lock()
	defer rest.mu.Unlock()
	if len(rest.sent) != 2 {
		t.Fatalf("%d sends reached Twilio, want the two auto-responder texts only", len(rest.sent))
	}
}
