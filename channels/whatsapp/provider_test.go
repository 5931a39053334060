package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

func TestMessageID_Deterministic(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^3EB0[0-9A-F]{18}$`)
	seen := map[types.MessageID]string{}
	for _, req := range []string{"req-1", "req-2", "01J9Z3", ""} {
		id := MessageID(req)
		if !format.MatchString(string(id)) || len(id) != 22 {
			t.Fatalf("MessageID(%q) = %q: want 3EB0 + 18 upper-case hex digits", req, id)
		}
		if MessageID(req) != id {
			t.Fatalf("MessageID(%q) not stable", req)
		}
		if other, dup := seen[id]; dup {
			t.Fatalf("MessageID(%q) = MessageID(%q)", req, other)
		}
		seen[id] = req
	}
	// sha256("req-1") starts 9456bdfa…: pinned, so a change of the derivation (which
	// would let a redelivered request produce a second message) fails here.
	if got := MessageID("req-1"); got != pinnedReq1 {
		t.Fatalf("MessageID(req-1) = %s, want %s", got, pinnedReq1)
	}
}

type fetcherFunc func(ctx context.Context, url string) ([]byte, string, string, error)

func (f fetcherFunc) Fetch(ctx context.Context, url string) ([]byte, string, string, error) {
	return f(ctx, url)
}

func newTestProvider(t *testing.T, client Client) *Provider {
	t.Helper()
	p, err := NewProvider(ProviderConfig{
		Client: client, DeviceRate: 1000, DeviceBurst: 1000, RecipientGap: time.Nanosecond,
		Fetcher: fetcherFunc(func(_ context.Context, url string) ([]byte, string, string, error) {
			switch url {
			case "https://cdn.example/a.jpg":
				return []byte("jpeg"), "image/jpeg", "a.jpg", nil
			case "https://cdn.example/v.ogg":
				return []byte("ogg"), "audio/ogg", "v.ogg", nil
			case "https://cdn.example/doc.pdf":
				return []byte("pdf"), "application/pdf", "doc.pdf", nil
			}
			return nil, "", "", sender.Permanent("media_fetch_failed", "HTTP 404")
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProvider_Send(t *testing.T) {
	t.Parallel()
	out := func(mod func(*gateway.Outbound)) gateway.Outbound {
		o := gateway.Outbound{RequestID: "req-1", Channel: gateway.ChannelWhatsApp, To: contactAddr, Text: "Your parcel ships today", CreatedAt: msgTime}
		if mod != nil {
			mod(&o)
		}
		return o
	}
	text := func(s string) func(*testing.T, *waE2E.Message) {
		return func(t *testing.T, m *waE2E.Message) {
			if m.GetConversation() != s {
				t.Fatalf("message = %v, want text %q", m, s)
			}
		}
	}
	tests := []struct {
		name string
		out  gateway.Outbound
		want []func(*testing.T, *waE2E.Message)
	}{
		{name: "text", out: out(nil), want: []func(*testing.T, *waE2E.Message){text("Your parcel ships today")}},
		{name: "template sends its rendered text", out: out(func(o *gateway.Outbound) {
			o.Template = &gateway.OutboundTemplate{Name: "order_update", Language: "en"}
		}), want: []func(*testing.T, *waE2E.Message){text("Your parcel ships today")}},
		{name: "image with caption", out: out(func(o *gateway.Outbound) { o.MediaURLs = []string{"https://cdn.example/a.jpg"} }),
			want: []func(*testing.T, *waE2E.Message){func(t *testing.T, m *waE2E.Message) {
				im := m.GetImageMessage()
				if im.GetCaption() != "Your parcel ships today" || im.GetMimetype() != "image/jpeg" || im.GetDirectPath() != "/x" || im.GetFileLength() != 4 {
					t.Fatalf("image message = %v", m)
				}
			}}},
		{name: "audio, then the text on its own", out: out(func(o *gateway.Outbound) {
			o.MediaURLs = []string{"https://cdn.example/v.ogg", "https://cdn.example/doc.pdf"}
		}), want: []func(*testing.T, *waE2E.Message){
			func(t *testing.T, m *waE2E.Message) {
				if m.GetAudioMessage() == nil {
					t.Fatalf("want audio, got %v", m)
				}
			},
			func(t *testing.T, m *waE2E.Message) {
				if d := m.GetDocumentMessage(); d.GetFileName() != "doc.pdf" || d.GetCaption() != "Your parcel ships today" {
					t.Fatalf("want the document with the caption, got %v", m)
				}
			},
		}},
		{name: "audio only, with text", out: out(func(o *gateway.Outbound) { o.MediaURLs = []string{"https://cdn.example/v.ogg"} }),
			want: []func(*testing.T, *waE2E.Message){
				func(t *testing.T, m *waE2E.Message) {
					if m.GetAudioMessage() == nil {
						t.Fatalf("want audio, got %v", m)
					}
				},
				text("Your parcel ships today"),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := &fakeClient{}
			p := newTestProvider(t, client)
			id, err := p.Send(context.Background(), tt.out)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if id != string(MessageID("req-1")) {
				t.Fatalf("provider id = %s, want %s", id, MessageID("req-1"))
			}
			sent := client.sentMessages()
			if len(sent) != len(tt.want) {
				t.Fatalf("sent %d messages, want %d: %+v", len(sent), len(tt.want), sent)
			}
			for i, s := range sent {
				wantID := MessageID("req-1")
				if i > 0 {
					wantID = partID("req-1", i)
				}
				if s.ID != wantID || s.To != contactJID {
					t.Fatalf("message %d: id %s to %v; want %s to %v", i, s.ID, s.To, wantID, contactJID)
				}
				tt.want[i](t, s.Msg)
			}
			// A redelivered request sends with the same ids again.
			if _, err := p.Send(context.Background(), tt.out); err != nil {
				t.Fatal(err)
			}
			again := client.sentMessages()[len(sent):]
			for i := range again {
				if again[i].ID != sent[i].ID {
					t.Fatalf("resend used id %s, first send %s", again[i].ID, sent[i].ID)
				}
			}
		})
	}
}

func TestProvider_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		out           gateway.Outbound
		sendErr       error
		wantPermanent bool
		wantCode      string
	}{
		{name: "not connected", sendErr: whatsmeow.ErrNotConnected, wantCode: "wa_not_connected"},
		{name: "disconnected mid request", sendErr: fmt.Errorf("send: %w", whatsmeow.ErrIQDisconnected), wantCode: "wa_not_connected"},
		{name: "timed out", sendErr: whatsmeow.ErrMessageTimedOut, wantCode: "wa_timeout"},
		{name: "logged out", sendErr: whatsmeow.ErrNotLoggedIn, wantPermanent: true, wantCode: "wa_logged_out"},
		{name: "server refused", sendErr: fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 479), wantPermanent: true, wantCode: "wa_server_479"},
		{name: "server overloaded", sendErr: fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 503), wantCode: "wa_server_503"},
		{name: "rate over limit", sendErr: whatsmeow.ErrIQRateOverLimit, wantCode: "wa_rate_limited"},
		{name: "unknown error", sendErr: errors.New("boom"), wantCode: "wa_send_failed"},
		{name: "bad address", out: gateway.Outbound{To: "not-a-number"}, wantPermanent: true, wantCode: "invalid_address"},
		{name: "missing media", out: gateway.Outbound{MediaURLs: []string{"https://cdn.example/missing"}}, wantPermanent: true, wantCode: "media_fetch_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := &fakeClient{SendMessageFunc: func(context.Context, types.JID, *waE2E.Message, whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
				return whatsmeow.SendResponse{}, tt.sendErr
			}}
			out := tt.out
			out.RequestID, out.Channel = "req-e", gateway.ChannelWhatsApp
			if out.To == "" {
				out.To = contactAddr
			}
			if out.Text == "" {
				out.Text = "hi"
			}
			_, err := newTestProvider(t, client).Send(context.Background(), out)
			var pe *sender.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Send err = %v, want *sender.Error", err)
			}
			if pe.Permanent != tt.wantPermanent || pe.Code != tt.wantCode {
				t.Fatalf("Send err = %+v; want permanent=%v code=%s", pe, tt.wantPermanent, tt.wantCode)
			}
		})
	}
}

func TestProvider_RecipientGap(t *testing.T) {
	t.Parallel()
	client := &fakeClient{}
	p, err := NewProvider(ProviderConfig{Client: client, DeviceRate: 1000, DeviceBurst: 10, RecipientGap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	send := func(ctx context.Context, to, req string) error {
		_, err := p.Send(ctx, gateway.Outbound{RequestID: req, Channel: gateway.ChannelWhatsApp, To: to, Text: "x"})
		return err
	}
	if err := send(context.Background(), contactAddr, "r1"); err != nil {
		t.Fatal(err)
	}
	// Another contact is not held back by the first one's gap.
	if err := send(context.Background(), "+15551234567", "r2"); err != nil {
		t.Fatal(err)
	}
	// The same contact within the gap: the wait cannot finish before the
	// deadline, so the send fails at once as temporary (the runner retries).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = send(ctx, contactAddr, "r3")
	var pe *sender.Error
	if !errors.As(err, &pe) || pe.Permanent || pe.Code != "rate_limited" {
		t.Fatalf("Send within the gap = %v, want temporary rate_limited", err)
	}
	if len(client.sentMessages()) != 2 {
		t.Fatalf("sent %d, want 2", len(client.sentMessages()))
	}
}

func TestHTTPFetcher(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.png":
			_, _ = w.Write([]byte("\x89PNG\r\n\x1a\n...."))
		case "/big":
			_, _ = w.Write(make([]byte, 100))
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f := &HTTPFetcher{MaxBytes: 50}
	data, ct, name, err := f.Fetch(context.Background(), srv.URL+"/a.png")
	if err != nil || ct != "image/png" || name != "a.png" || len(data) != 12 {
		t.Fatalf("Fetch = %d bytes, %q, %q, %v", len(data), ct, name, err)
	}
	for path, permanent := range map[string]bool{"/big": true, "/missing": true, "/busy": false} {
		_, _, _, err := f.Fetch(context.Background(), srv.URL+path)
		var pe *sender.Error
		if !errors.As(err, &pe) || pe.Permanent != permanent {
			t.Errorf("Fetch(%s) = %v, want permanent=%v", path, err, permanent)
		}
	}
}

const pinnedReq1 types.MessageID = "3EB09456BDFA12EA76959C"
