package cloudapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/channeltest"
	"github.com/chatgate/chatgate/gateway/sender"
)

func TestConformance_Intake(t *testing.T) {
	t.Parallel()
	// text is Meta's webhook of a text message from m.From, with body as
	// the text's JSON and id as the message id.
	text := func(m channeltest.Message, id, body string) string {
		return webhook(messageValue(`{"from":"` + strings.TrimPrefix(m.From, "+") + `","id":"` + id +
			`","timestamp":"1700000000","type":"text","text":{"body":` + body + `}}`))
	}
	quoted := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	channeltest.RunIntake(t, channeltest.Intake[*http.Request]{
		Channel: gateway.ChannelWhatsApp,
		Refusal: channeltest.RefuseHTTP,
		New: func(t *testing.T, w channeltest.Wiring) func(context.Context, *http.Request) channeltest.Answer {
			h := newWebhooks(t, w.Publisher, func(o *cloudapi.WebhookOptions) { o.Topics, o.Logger = w.Topics, w.Logger }).EventsHandler()
			return func(ctx context.Context, req *http.Request) channeltest.Answer {
				return channeltest.ServeHTTP(h, req.WithContext(ctx))
			}
		},
		Valid: func(t *testing.T, m channeltest.Message) *http.Request { return post(text(m, m.ID, quoted(m.Text))) },
		Invalid: []channeltest.Case[*http.Request]{
			{Name: "signed with another secret", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				req := post(text(m, m.ID, quoted(m.Text)))
				req.Header.Set(cloudapi.HeaderSignature, cloudapi.Sign("another secret", []byte(text(m, m.ID, quoted(m.Text)))))
				return req
			}},
			{Name: "padded message id", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return post(text(m, " "+m.ID, quoted(m.Text)))
			}},
			{Name: "text not UTF-8", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return post(text(m, m.ID, `"`+m.Text+"\xe9\""))
			}},
			{Name: "text too long", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return post(text(m, m.ID, quoted(m.Text+strings.Repeat(" and on", gateway.MaxTextLen))))
			}},
			{Name: "form body", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				req := post(text(m, m.ID, quoted(m.Text)))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return req
			}},
		},
	})
}

func TestConformance_Sender(t *testing.T) {
	t.Parallel()
	graphErr := func(code int, msg string) string {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException", "code": code,
			"error_data": map[string]any{"messaging_product": "whatsapp", "details": msg}, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}})
		return string(b)
	}
	channeltest.RunSender(t, channeltest.Sender{
		Channel: gateway.ChannelWhatsApp,
		// Short: the provider itself pauses the number for the wait Meta
		// asks, beyond the runner's cap.
		RetryAfter: time.Second,
		New: func(t *testing.T, w channeltest.SendWiring) sender.Provider {
			g := newGraph(t)
			var calls atomic.Int64
			g.Answer = func(rw http.ResponseWriter, r *http.Request, _ []byte) {
				n := int(calls.Add(1) - 1)
				rw.Header().Set("Content-Type", "application/json")
				switch w.Answer(n) {
				case channeltest.Accept:
					_, _ = fmt.Fprintf(rw, `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.%d"}]}`, n)
				case channeltest.FailTemporarily:
					rw.WriteHeader(http.StatusBadGateway)
					_, _ = io.WriteString(rw, "Bad Gateway")
				case channeltest.FailPermanently:
					// Quoting the number: the reason the runner logs must not.
					rw.WriteHeader(http.StatusBadRequest)
					_, _ = io.WriteString(rw, graphErr(131026, "Message undeliverable to "+channeltest.Phone))
				case channeltest.RateLimit:
					rw.Header().Set("Retry-After", "1")
					rw.WriteHeader(http.StatusTooManyRequests)
					_, _ = io.WriteString(rw, `{}`)
				}
			}
			return newProvider(t, g, func(_ *cloudapi.Config, o *cloudapi.ProviderOptions) { o.Logger = w.Logger })
		},
		Outbound: func(out *gateway.Outbound) { out.From = testAddress },
	})
}
