package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
	"github.com/chatgate/chatgate/gateway/sender/sendertest"
)

const testSecret = "0123456789abcdef0123456789abcdef"

// sendNow is the senders' clock; far from the real one, so a test passing
// only because it used time.Now would show.
var sendNow = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

// hit is one request the callback server received.
type hit struct {
	header http.Header
	body   []byte
	at     time.Time
}

// callbackServer answers the n-th request (0-based) with answer and records
// every request.
type callbackServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newCallbackServer(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *callbackServer {
	t.Helper()
	cs := &callbackServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read callback body: %v", err)
		}
		cs.mu.Lock()
		n := len(cs.hits)
		cs.hits = append(cs.hits, hit{header: r.Header.Clone(), body: body, at: time.Now()})
		cs.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *callbackServer) received() []hit {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]hit(nil), cs.hits...)
}

func answerJSON(status int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func newSender(t *testing.T, url string) *api.Sender {
	t.Helper()
	s, err := api.NewSender(api.SenderConfig{
		CallbackURL: url,
		Secret:      testSecret,
		Now:         func() time.Time { return sendNow },
	})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	return s
}

func outbound(requestID string) gateway.Outbound {
	return gateway.Outbound{
		RequestID:      requestID,
		Channel:        gateway.ChannelAPI,
		To:             "cust-9",
		ConversationID: 41,
		MessageID:      977,
		Text:           "We are closed right now.",
		CreatedAt:      time.Date(2026, 3, 29, 1, 29, 59, 500_000_000, time.FixedZone("SAST", 2*60*60)),
	}
}

func asSenderError(t *testing.T, err error) *sender.Error {
	t.Helper()
	var se *sender.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *sender.Error", err, err)
	}
	return se
}

func TestSendSignsTheCallback(t *testing.T) {
	t.Parallel()
	cs := newCallbackServer(t, answerJSON(http.StatusOK, `{}`))
	if _, err := newSender(t, cs.URL).Send(context.Background(), outbound("req-1")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	hits := cs.received()
	if len(hits) != 1 {
		t.Fatalf("callback called %d times, want 1", len(hits))
	}
	h := hits[0]
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		api.HeaderRequestID: "req-1",
		api.HeaderTimestamp: strconv.FormatInt(sendNow.Unix(), 10),
		api.HeaderSignature: api.Sign(testSecret, strconv.FormatInt(sendNow.Unix(), 10), h.body),
		"User-Agent":        api.UserAgent,
	} {
		if got := h.header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	ts, sig := h.header.Get(api.HeaderTimestamp), h.header.Get(api.HeaderSignature)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Errorf("signature %q is not sha256=<64 hex digits>", sig)
	}

	tamperedBody := append([]byte(nil), h.body...)
	tamperedBody[len(tamperedBody)-2] ^= 1
	tests := []struct {
		name      string
		secret    string
		timestamp string
		body      []byte
		header    string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{name: "as sent", now: sendNow},
		{name: "4m59s later, default tolerance", now: sendNow.Add(4*time.Minute + 59*time.Second)},
		{name: "exactly at the tolerance", now: sendNow.Add(time.Minute), tolerance: time.Minute},
		{name: "body changed", body: tamperedBody, now: sendNow, want: api.ErrSignatureInvalid},
		{name: "body re-encoded", body: []byte(strings.ReplaceAll(string(h.body), ",", ", ")), now: sendNow, want: api.ErrSignatureInvalid},
		{name: "timestamp changed", timestamp: strconv.FormatInt(sendNow.Unix()+1, 10), now: sendNow, want: api.ErrSignatureInvalid},
		{name: "secret changed", secret: testSecret + "x", now: sendNow, want: api.ErrSignatureInvalid},
		{name: "too old", now: sendNow.Add(5*time.Minute + time.Second), want: api.ErrSignatureExpired},
		{name: "too old for a tighter tolerance", now: sendNow.Add(31 * time.Second), tolerance: 30 * time.Second, want: api.ErrSignatureExpired},
		{name: "from the future", now: sendNow.Add(-6 * time.Minute), want: api.ErrSignatureExpired},
		{name: "no signature", header: "-", now: sendNow, want: api.ErrSignatureInvalid},
		{name: "no prefix", header: strings.TrimPrefix(sig, "sha256="), now: sendNow, want: api.ErrSignatureInvalid},
		{name: "other algorithm", header: "sha1=" + strings.TrimPrefix(sig, "sha256="), now: sendNow, want: api.ErrSignatureInvalid},
		{name: "truncated", header: sig[:len(sig)-2], now: sendNow, want: api.ErrSignatureInvalid},
		{name: "not hex", header: "sha256=" + strings.Repeat("zz", 32), now: sendNow, want: api.ErrSignatureInvalid},
		{name: "uppercase hex", header: "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256=")), now: sendNow},
		{name: "no timestamp", timestamp: "-", now: sendNow, want: api.ErrSignatureInvalid},
		{name: "timestamp not a number", timestamp: "yesterday", now: sendNow, want: api.ErrSignatureInvalid},
		{name: "timestamp with sign", timestamp: "+" + ts, now: sendNow, want: api.ErrSignatureInvalid},
		{name: "no secret", secret: "-", now: sendNow, want: api.ErrSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secret, timestamp, body, header := testSecret, ts, h.body, sig
			if tt.secret != "" {
				secret = strings.TrimPrefix(tt.secret, "-")
			}
			if tt.timestamp != "" {
				timestamp = strings.TrimPrefix(tt.timestamp, "-")
			}
			if tt.body != nil {
				body = tt.body
			}
			if tt.header != "" {
				header = strings.TrimPrefix(tt.header, "-")
			}
			err := api.VerifySignature(secret, timestamp, body, header, tt.now, tt.tolerance)
			if tt.want == nil && err != nil {
				t.Fatalf("VerifySignature: %v, want nil", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifySignature: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCallbackBodySchema(t *testing.T) {
	t.Parallel()
	withAll := outbound("req-2")
	withAll.From = "support"
	withAll.Template = &gateway.OutboundTemplate{
		Name: "order_shipped", Language: "pt_BR",
		TwilioContentSID: "HX0123456789abcdef0123456789abcdef", WhatsApp: json.RawMessage(`{"name":"order_shipped"}`),
	}
	withAll.MediaURLs = []string{"https://cdn.example/a.jpg", "https://cdn.example/b.pdf"}
	bare := gateway.Outbound{RequestID: "req-3", Channel: gateway.ChannelAPI, To: "cust-9", Text: "hi",
		CreatedAt: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)}

	tests := []struct {
		name string
		out  gateway.Outbound
		want string
	}{
		{
			name: "every field",
			out:  withAll,
			want: `{"request_id":"req-2","conversation_id":41,"message_id":977,"to":"cust-9","from":"support",` +
				`"text":"We are closed right now.","template":{"name":"order_shipped","language":"pt_BR"},` +
				`"media_urls":["https://cdn.example/a.jpg","https://cdn.example/b.pdf"],"created_at":"2026-03-28T23:29:59.5Z"}`,
		},
		{
			name: "free text, no ids, no media",
			out:  bare,
			want: `{"request_id":"req-3","conversation_id":0,"message_id":0,"to":"cust-9","from":"",` +
				`"text":"hi","template":null,"media_urls":[],"created_at":"2026-03-29T01:00:00Z"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := newCallbackServer(t, answerJSON(http.StatusAccepted, ``))
			if _, err := newSender(t, cs.URL).Send(context.Background(), tt.out); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := string(cs.received()[0].body); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestSendSuccessProviderID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{name: "id in the answer", status: http.StatusOK, body: `{"id":"cb-77","status":"queued"}`, want: "cb-77"},
		{name: "numeric id", status: http.StatusCreated, body: `{"id":12345678901234567890}`, want: "12345678901234567890"},
		{name: "no id", status: http.StatusOK, body: `{"ok":true}`, want: "req-4"},
		{name: "empty id", status: http.StatusOK, body: `{"id":""}`, want: "req-4"},
		{name: "id of another type", status: http.StatusOK, body: `{"id":{"x":1}}`, want: "req-4"},
		{name: "id too long", status: http.StatusOK, body: `{"id":"` + strings.Repeat("x", gateway.MaxProviderIDLen+1) + `"}`, want: "req-4"},
		{name: "no body", status: http.StatusNoContent, want: "req-4"},
		{name: "not JSON", status: http.StatusAccepted, body: "OK", want: "req-4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := newCallbackServer(t, answerJSON(tt.status, tt.body))
			got, err := newSender(t, cs.URL).Send(context.Background(), outbound("req-4"))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got != tt.want {
				t.Errorf("provider id = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSendClassifiesRefusals(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 199) + "é" + strings.Repeat("b", 100) // "é" straddles byte 200
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		permanent  bool
		code       string
		reason     string // the whole message when permanent; a part of it when temporary
		retryAfter time.Duration
	}{
		{name: "500", status: 500, body: "db down", code: "http_500", reason: "callback answered 500 Internal Server Error: db down"},
		{name: "502 without body", status: 502, code: "http_502", reason: "callback answered 502 Bad Gateway"},
		{name: "503 with Retry-After", status: 503, header: map[string]string{"Retry-After": "7"}, code: "http_503", reason: "503", retryAfter: 7 * time.Second},
		{name: "408", status: 408, code: "http_408", reason: "408 Request Timeout"},
		{name: "429 Retry-After seconds", status: 429, header: map[string]string{"Retry-After": "30"}, code: "http_429", reason: "429", retryAfter: 30 * time.Second},
		{name: "429 Retry-After HTTP date", status: 429, header: map[string]string{"Retry-After": sendNow.Add(90 * time.Second).Format(http.TimeFormat)}, code: "http_429", reason: "429", retryAfter: 90 * time.Second},
		{name: "429 Retry-After in the past", status: 429, header: map[string]string{"Retry-After": sendNow.Add(-time.Hour).Format(http.TimeFormat)}, code: "http_429", reason: "429"},
		{name: "429 Retry-After garbage", status: 429, header: map[string]string{"Retry-After": "soon"}, code: "http_429", reason: "429"},
		{name: "429 Retry-After capped", status: 429, header: map[string]string{"Retry-After": "86400"}, code: "http_429", reason: "429", retryAfter: api.MaxRetryAfter},
		{name: "429 without Retry-After", status: 429, code: "http_429", reason: "429 Too Many Requests"},
		{name: "400", status: 400, body: `{"error":"unknown contact"}`, permanent: true, code: "http_400", reason: `{"error":"unknown contact"}`},
		{name: "404 without body", status: 404, permanent: true, code: "http_404", reason: "callback answered 404 Not Found"},
		{name: "401", status: 401, body: "bad signature\n", permanent: true, code: "http_401", reason: "bad signature"},
		{name: "413", status: 413, body: "too big", permanent: true, code: "http_413", reason: "too big"},
		{name: "long body cut to 200 bytes", status: 422, body: long, permanent: true, code: "http_422", reason: strings.Repeat("a", 199)},
		{name: "redirect is not followed", status: 308, header: map[string]string{"Location": "/elsewhere"}, permanent: true, code: "http_308", reason: "callback answered 308 Permanent Redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := newCallbackServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			id, err := newSender(t, cs.URL).Send(context.Background(), outbound("req-5"))
			if id != "" {
				t.Errorf("provider id = %q on a refusal", id)
			}
			se := asSenderError(t, err)
			if se.Permanent != tt.permanent || se.Code != tt.code || se.RetryAfter != tt.retryAfter {
				t.Errorf("error = %+v, want permanent %v, code %q, retry after %s", se, tt.permanent, tt.code, tt.retryAfter)
			}
			if tt.permanent && se.Message != tt.reason {
				t.Errorf("reason = %q, want %q", se.Message, tt.reason)
			}
			if !tt.permanent && !strings.Contains(se.Message, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", se.Message, tt.reason)
			}
			if n := len(cs.received()); n != 1 {
				t.Errorf("callback called %d times, want 1 (retrying is the runner's job)", n)
			}
		})
	}
}

func TestSendTimeoutIsTemporary(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	cs := newCallbackServer(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before cs.Close
	s, err := api.NewSender(api.SenderConfig{CallbackURL: cs.URL, Secret: testSecret, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), outbound("req-6"))
	se := asSenderError(t, err)
	if se.Permanent || se.Code != api.CodeTimeout {
		t.Errorf("error = %+v, want temporary %q", se, api.CodeTimeout)
	}
}

func TestSendCallerCancelIsNotClassified(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	cs := newCallbackServer(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		cancel()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	_, err := newSender(t, cs.URL).Send(ctx, outbound("req-7"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	var se *sender.Error
	if errors.As(err, &se) {
		t.Errorf("a cancelled caller got a provider error %+v", se)
	}
}

func TestSendNetworkErrorIsTemporary(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=s3cr3t"
	srv.Close()
	_, err := newSender(t, url).Send(context.Background(), outbound("req-8"))
	se := asSenderError(t, err)
	if se.Permanent || se.Code != api.CodeNetworkError {
		t.Errorf("error = %+v, want temporary %q", se, api.CodeNetworkError)
	}
	if strings.Contains(se.Message, "s3cr3t") {
		t.Errorf("reason %q repeats the callback URL's token", se.Message)
	}
}

func TestSendRefusesOtherChannels(t *testing.T) {
	t.Parallel()
	cs := newCallbackServer(t, answerJSON(http.StatusOK, `{}`))
	out := outbound("req-9")
	out.Channel = gateway.ChannelSMS
	se := asSenderError(t, func() error { _, err := newSender(t, cs.URL).Send(context.Background(), out); return err }())
	if !se.Permanent || se.Code != api.CodeWrongChannel {
		t.Errorf("error = %+v, want permanent %q", se, api.CodeWrongChannel)
	}
	if n := len(cs.received()); n != 0 {
		t.Errorf("callback called %d times, want 0", n)
	}
}

// fakeSendLog is a gateway.SendLog answering with its func fields; unset
// ones claim every request and accept every outcome.
type fakeSendLog struct {
	BeginFunc  func(ctx context.Context, requestID string, ch gateway.Channel, at time.Time) (gateway.SendAttempt, bool, error)
	FinishFunc func(ctx context.Context, a gateway.SendAttempt) error

	mu       sync.Mutex
	finished []gateway.SendAttempt
}

func (l *fakeSendLog) Begin(ctx context.Context, requestID string, ch gateway.Channel, at time.Time) (gateway.SendAttempt, bool, error) {
	if l.BeginFunc != nil {
		return l.BeginFunc(ctx, requestID, ch, at)
	}
	return gateway.SendAttempt{}, true, nil
}

func (l *fakeSendLog) Finish(ctx context.Context, a gateway.SendAttempt) error {
	l.mu.Lock()
	l.finished = append(l.finished, a)
	l.mu.Unlock()
	if l.FinishFunc != nil {
		return l.FinishFunc(ctx, a)
	}
	return nil
}

func (l *fakeSendLog) finishes() []gateway.SendAttempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]gateway.SendAttempt(nil), l.finished...)
}

var senderTopics = gateway.Topics{Prefix: "test."}

// runThroughRunner hands out to a real sender.Runner driving an api.Sender
// that calls url, and returns the one status published.
func runThroughRunner(t *testing.T, url string, log *fakeSendLog, out gateway.Outbound) gateway.Status {
	t.Helper()
	pub := &sendertest.StatusSink{}
	r, err := sender.New(sender.Config{
		Provider:       newSender(t, url),
		Log:            log,
		Publisher:      pub,
		Topics:         senderTopics,
		Now:            func() time.Time { return sendNow },
		InitialBackoff: time.Millisecond,
		MaxElapsed:     time.Minute,
	})
	if err != nil {
		t.Fatalf("sender.New: %v", err)
	}
	msg, err := out.Record("chatgate/test", senderTopics.Name(gateway.TopicOutbound))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.HandleBatch(context.Background(), []gateway.Message{msg}); err != nil {
		t.Fatalf("HandleBatch: %v", err)
	}
	statuses := pub.Statuses()
	if len(statuses) != 1 {
		t.Fatalf("published %d statuses, want 1: %+v", len(statuses), statuses)
	}
	st := statuses[0]
	if st.RequestID != out.RequestID || st.Channel != gateway.ChannelAPI || st.Contact != out.To {
		t.Errorf("status %+v is not about request %s to %s", st, out.RequestID, out.To)
	}
	return st
}

func TestRunnerRetries500ThenSends(t *testing.T) {
	t.Parallel()
	cs := newCallbackServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		answerJSON(http.StatusOK, `{"id":"cb-1"}`)(n, w, r)
	})
	log := &fakeSendLog{}
	st := runThroughRunner(t, cs.URL, log, outbound("req-10"))
	if st.Status != gateway.StatusSent || st.ProviderID != "cb-1" || st.ErrorCode != "" {
		t.Errorf("status = %+v, want sent with provider id cb-1", st)
	}
	hits := cs.received()
	if len(hits) != 2 {
		t.Fatalf("callback called %d times, want 2", len(hits))
	}
	if string(hits[0].body) != string(hits[1].body) || hits[0].header.Get(api.HeaderRequestID) != hits[1].header.Get(api.HeaderRequestID) {
		t.Error("the retry differs from the first attempt in body or request id")
	}
	if f := log.finishes(); len(f) != 1 || f[0].Status != gateway.StatusSent || f[0].ProviderID != "cb-1" {
		t.Errorf("send log finished with %+v, want one sent with cb-1", f)
	}
}

func TestRunnerHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	cs := newCallbackServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		answerJSON(http.StatusOK, `{}`)(n, w, r)
	})
	st := runThroughRunner(t, cs.URL, &fakeSendLog{}, outbound("req-11"))
	if st.Status != gateway.StatusSent || st.ProviderID != "req-11" {
		t.Errorf("status = %+v, want sent with the request id as provider id", st)
	}
	hits := cs.received()
	if len(hits) != 2 {
		t.Fatalf("callback called %d times, want 2", len(hits))
	}
	// The runner's own backoff starts at 1 ms; only Retry-After explains a second.
	if gap := hits[1].at.Sub(hits[0].at); gap < time.Second {
		t.Errorf("retried after %s, want at least the 1s of Retry-After", gap)
	}
}

func TestRunnerPermanentFailsOnce(t *testing.T) {
	t.Parallel()
	cs := newCallbackServer(t, answerJSON(http.StatusBadRequest, `{"error":"no such contact"}`))
	log := &fakeSendLog{}
	st := runThroughRunner(t, cs.URL, log, outbound("req-12"))
	if st.Status != gateway.StatusFailed || st.ErrorCode != "http_400" || st.ErrorMessage != `{"error":"no such contact"}` {
		t.Errorf("status = %+v, want failed http_400 with the answer as reason", st)
	}
	if n := len(cs.received()); n != 1 {
		t.Errorf("callback called %d times, want 1", n)
	}
	if f := log.finishes(); len(f) != 1 || f[0].Status != gateway.StatusFailed || f[0].ErrorCode != "http_400" {
		t.Errorf("send log finished with %+v, want one failed http_400", f)
	}
}

func TestRunnerDoesNotResendARedeliveredRequest(t *testing.T) {
	t.Parallel()
	cs := newCallbackServer(t, answerJSON(http.StatusOK, `{"id":"cb-new"}`))
	log := &fakeSendLog{
		BeginFunc: func(_ context.Context, requestID string, ch gateway.Channel, at time.Time) (gateway.SendAttempt, bool, error) {
			return gateway.SendAttempt{RequestID: requestID, Channel: ch, ProviderID: "cb-first", Status: gateway.StatusSent,
				StartedAt: at.Add(-time.Minute), FinishedAt: at.Add(-time.Minute + time.Second)}, false, nil
		},
	}
	st := runThroughRunner(t, cs.URL, log, outbound("req-13"))
	if n := len(cs.received()); n != 0 {
		t.Errorf("callback called %d times for an already sent request, want 0", n)
	}
	if st.Status != gateway.StatusSent || st.ProviderID != "cb-first" {
		t.Errorf("status = %+v, want the first send's: sent, cb-first", st)
	}
	if f := log.finishes(); len(f) != 0 {
		t.Errorf("send log finished %+v for a request it did not claim", f)
	}
}

// Every problem is a *gateway.ConfigError naming the field, so that
// cmd/chatgate can name the variable it read the field from; none repeats
// the secret or the URL's query.
func TestSenderConfig_ValidateNamesTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     api.SenderConfig
		fields  []string // the fields named, in order; none: valid
		wantErr []string // each must appear in the error
	}{
		{name: "nothing set: off", cfg: api.SenderConfig{}},
		{name: "secret alone: off", cfg: api.SenderConfig{Secret: testSecret}},
		{name: "https with secret", cfg: api.SenderConfig{CallbackURL: "https://hooks.example.com/chatgate?team=7", Secret: testSecret}},
		{name: "secret missing", cfg: api.SenderConfig{CallbackURL: "https://h.example"}, fields: []string{"Secret"}, wantErr: []string{"required"}},
		{name: "secret too short", cfg: api.SenderConfig{CallbackURL: "https://h.example", Secret: "short"}, fields: []string{"Secret"}, wantErr: []string{"16"}},
		{name: "ftp", cfg: api.SenderConfig{CallbackURL: "ftp://h.example/x", Secret: testSecret}, fields: []string{"CallbackURL"}, wantErr: []string{"http or https"}},
		{name: "no host", cfg: api.SenderConfig{CallbackURL: "https:///x", Secret: testSecret}, fields: []string{"CallbackURL"}, wantErr: []string{"host"}},
		{name: "unparsable", cfg: api.SenderConfig{CallbackURL: "http://[::1/x?token=s3cr3t", Secret: testSecret}, fields: []string{"CallbackURL"}},
		{name: "both wrong", cfg: api.SenderConfig{CallbackURL: "mailto:a@b.example"}, fields: []string{"CallbackURL", "Secret"}},
		{name: "negative timeout", cfg: api.SenderConfig{CallbackURL: "https://h.example", Secret: testSecret, Timeout: -time.Second}, fields: []string{"Timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if !tt.cfg.Enabled() {
					if _, err := api.NewSender(tt.cfg); err == nil || !strings.Contains(err.Error(), "CallbackURL") {
						t.Errorf("NewSender on a disabled config = %v, want an error naming CallbackURL", err)
					}
				} else if _, err := api.NewSender(tt.cfg); err != nil {
					t.Errorf("NewSender: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one naming %v", tt.fields)
			}
			var fields []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *gateway.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("problem %q is not a *gateway.ConfigError", e)
				}
				fields = append(fields, ce.Field)
			}
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("fields %v, want %v (error %q)", fields, tt.fields, err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q repeats a secret", err)
			}
			if _, err := api.NewSender(tt.cfg); err == nil {
				t.Error("NewSender accepted an invalid config")
			}
		})
	}
}
