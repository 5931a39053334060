package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/channeltest"
	"github.com/chatgate/chatgate/gateway/sender"
)

// apiRequest is a POST /v1/channels/api/messages with body as its JSON.
func apiRequest(t *testing.T, contentType string, body any) *http.Request {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/channels/api/messages", strings.NewReader(raw))
	req.Header.Set("Content-Type", contentType)
	return req
}

func TestConformance_Intake(t *testing.T) {
	t.Parallel()
	msg := func(m channeltest.Message) map[string]any {
		return map[string]any{"id": m.ID, "from": m.From, "text": m.Text}
	}
	with := func(m channeltest.Message, k string, v any) map[string]any {
		b := msg(m)
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	channeltest.RunIntake(t, channeltest.Intake[*http.Request]{
		Channel: gateway.ChannelAPI,
		Refusal: channeltest.RefuseHTTP,
		New: func(t *testing.T, w channeltest.Wiring) func(context.Context, *http.Request) channeltest.Answer {
			h := &api.Handler{Publisher: w.Publisher, Topics: w.Topics, Logger: w.Logger, Now: func() time.Time { return now }}
			return func(ctx context.Context, req *http.Request) channeltest.Answer {
				return channeltest.ServeHTTP(h, req.WithContext(ctx))
			}
		},
		Valid: func(t *testing.T, m channeltest.Message) *http.Request {
			return apiRequest(t, "application/json", msg(m))
		},
		Invalid: []channeltest.Case[*http.Request]{
			{Name: "no id", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return apiRequest(t, "application/json", with(m, "id", nil))
			}},
			{Name: "NUL in the text", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return apiRequest(t, "application/json", with(m, "text", m.Text+"\x00"))
			}},
			{Name: "text too long", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return apiRequest(t, "application/json", with(m, "text", m.Text+strings.Repeat(" and on", gateway.MaxTextLen)))
			}},
			{Name: "unknown field", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return apiRequest(t, "application/json", with(m, "phone", m.From))
			}},
			{Name: "number for from", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return apiRequest(t, "application/json", fmt.Sprintf(`{"id":%q,"from":%s,"text":%q}`, m.ID, strings.TrimPrefix(m.From, "+"), m.Text))
			}},
			{Name: "form body", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return apiRequest(t, "application/x-www-form-urlencoded", "id="+m.ID+"&from="+m.From+"&text="+m.Text)
			}},
		},
	})
}

func TestConformance_Sender(t *testing.T) {
	t.Parallel()
	channeltest.RunSender(t, channeltest.Sender{
		Channel:    gateway.ChannelAPI,
		RetryAfter: 7 * time.Second,
		New: func(t *testing.T, w channeltest.SendWiring) sender.Provider {
			cs := newCallbackServer(t, func(n int, rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "application/json")
				switch w.Answer(n) {
				case channeltest.Accept:
					io.WriteString(rw, `{"id":"front-end-1"}`)
				case channeltest.FailTemporarily:
					rw.WriteHeader(http.StatusInternalServerError)
				case channeltest.FailPermanently:
					rw.WriteHeader(http.StatusUnprocessableEntity)
					io.WriteString(rw, `{"error":"no such contact"}`)
				case channeltest.RateLimit:
					rw.Header().Set("Retry-After", "7")
					rw.WriteHeader(http.StatusTooManyRequests)
				}
			})
			return newSender(t, cs.URL)
		},
	})
}
