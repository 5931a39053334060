package twilio_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

const (
	// testAccountSID and testAuthToken are the credentials of every test;
	// the token is the one the recorded signatures were made with.
	testAccountSID = "AC0123456789abcdef0123456789abcdef"
	testAuthToken  = "6789"
)

var (
	topics = gateway.Topics{Prefix: "test."}
	// now is in a non-UTC zone, so the tests see timestamps converted.
	now = time.Date(2026, 11, 22, 10, 30, 0, 0, time.FixedZone("SAST", 2*60*60))
)

// testConfig is a valid, enabled config whose public URL is publicURL.
func testConfig(publicURL string) twilio.Config {
	return twilio.Config{
		AccountSID: testAccountSID,
		AuthToken:  testAuthToken,
		PublicURL:  publicURL,
		Numbers: []twilio.Origin{
			{Channel: gateway.ChannelSMS, Address: "+12028831111", Department: "sales"},
			{Channel: gateway.ChannelWhatsApp, Address: "+12028831111", Department: "support"},
		},
	}.WithDefaults()
}

func newWebhooks(t *testing.T, cfg twilio.Config, pub gateway.Publisher) *twilio.Webhooks {
	t.Helper()
	w, err := twilio.NewWebhooks(cfg, twilio.WebhookOptions{
		Publisher: pub,
		Topics:    topics,
		Now:       func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// sign computes X-Twilio-Signature independently of twilio-go:
// base64(HMAC-SHA1(token, url + every parameter's name and value, sorted by
// name)).
func sign(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// signedRequest builds a Twilio-like webhook request for target (a path
// with optional query) with form as the body, signed for base + target.
func signedRequest(base, target string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.HeaderSignature, sign(testAuthToken, base+target, form))
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// decodeError checks that rec is a JSON error and returns its body.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("error body lacks code or message: %s", rec.Body.String())
	}
	return e
}

// checkTwiML checks a 200 answer with empty TwiML.
func checkTwiML(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Errorf("Content-Type = %q, want text/xml", ct)
	}
	if !strings.Contains(rec.Body.String(), "<Response/>") {
		t.Errorf("body = %q, want <Response/>", rec.Body.String())
	}
}

// decodeInbound decodes a published inbound record, checking its envelope.
func decodeInbound(t *testing.T, m gateway.Message) gateway.Inbound {
	t.Helper()
	ev, in, err := gateway.DecodeRecord[gateway.Inbound](m.Value)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != topics.Name(gateway.TopicInbound) || string(m.Key) != in.ContactKey() {
		t.Errorf("record topic %q key %q, want %q keyed %q", m.Topic, m.Key, topics.Name(gateway.TopicInbound), in.ContactKey())
	}
	if ev.ID != in.EventID() || ev.Type != gateway.TypeInboundMessage || ev.Source != twilio.EventSource {
		t.Errorf("envelope id %q type %q source %q", ev.ID, ev.Type, ev.Source)
	}
	return in
}

// decodeStatus decodes a published status record, checking its envelope.
func decodeStatus(t *testing.T, m gateway.Message) gateway.Status {
	t.Helper()
	ev, st, err := gateway.DecodeRecord[gateway.Status](m.Value)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != topics.Name(gateway.TopicStatus) || string(m.Key) != st.ContactKey() {
		t.Errorf("record topic %q key %q, want %q keyed %q", m.Topic, m.Key, topics.Name(gateway.TopicStatus), st.ContactKey())
	}
	if ev.ID != st.EventID() || ev.Type != gateway.TypeMessageStatus || ev.Source != twilio.EventSource {
		t.Errorf("envelope id %q type %q source %q", ev.ID, ev.Type, ev.Source)
	}
	return st
}

// recorded is testdata/twilio-webhooks.json.
type recorded struct {
	Incoming []struct {
		Group     string            `json:"group"`
		Label     string            `json:"label"`
		Path      string            `json:"path"`
		Method    string            `json:"method"`
		Headers   map[string]string `json:"headers"`
		RawBody   string            `json:"raw_body"`
		Signature string            `json:"signature"`
	} `json:"incoming"`
	SignatureVectors []struct {
		AuthToken string      `json:"auth_token"`
		Expected  string      `json:"expected_signature"`
		FromCase  string      `json:"from_case"`
		Params    [][2]string `json:"params"`
		URL       string      `json:"url"`
	} `json:"signature_vectors"`
	OutgoingSend []struct {
		Group     string `json:"group"`
		Label     string `json:"label"`
		Responses map[string][]struct {
			Body   string `json:"body"`
			Status int    `json:"status"`
		} `json:"mock_provider_responses"`
	} `json:"outgoing_send"`
}

var loadRecorded = sync.OnceValues(func() (recorded, error) {
	var r recorded
	b, err := os.ReadFile("testdata/twilio-webhooks.json")
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
})

func fixtures(t *testing.T) recorded {
	t.Helper()
	r, err := loadRecorded()
	if err != nil {
		t.Fatal(err)
	}
	return r
}
