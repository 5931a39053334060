package twilio_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/channeltest"
	"github.com/chatgate/chatgate/gateway/sender"
)

func TestConformance_Intake(t *testing.T) {
	t.Parallel()
	// form is the message webhook Twilio posts for m, with kv changed as
	// messageForm changes them.
	form := func(m channeltest.Message, kv ...string) *http.Request {
		base := []string{"MessageSid", m.ID, "SmsSid", m.ID, "SmsMessageSid", m.ID, "From", m.From, "Body", m.Text}
		return signedRequest(public, twilio.MessagesPath, messageForm(append(base, kv...)...))
	}
	channeltest.RunIntake(t, channeltest.Intake[*http.Request]{
		Channel: gateway.ChannelSMS,
		Refusal: channeltest.RefuseHTTP,
		New: func(t *testing.T, w channeltest.Wiring) func(context.Context, *http.Request) channeltest.Answer {
			hooks, err := twilio.NewWebhooks(testConfig(public), twilio.WebhookOptions{
				Publisher: w.Publisher, Topics: w.Topics, Logger: w.Logger, Now: func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			h := hooks.MessagesHandler()
			return func(ctx context.Context, req *http.Request) channeltest.Answer {
				return channeltest.ServeHTTP(h, req.WithContext(ctx))
			}
		},
		Valid: func(t *testing.T, m channeltest.Message) *http.Request { return form(m) },
		Invalid: []channeltest.Case[*http.Request]{
			{Name: "signature of another body", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				req := form(m)
				req.Header.Set(twilio.HeaderSignature, sign(testAuthToken, public+twilio.MessagesPath, messageForm()))
				return req
			}},
			{Name: "no MessageSid", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return form(m, "MessageSid", "")
			}},
			{Name: "From is not an address", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return form(m, "From", "fax:"+m.From)
			}},
			{Name: "Body not UTF-8", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return form(m, "Body", m.Text+"\xff")
			}},
			{Name: "WhatsApp location not finite", Build: func(t *testing.T, m channeltest.Message) *http.Request {
				return form(m, "From", "whatsapp:"+m.From, "To", "whatsapp:+12028831111", "Label", m.Text, "Latitude", "NaN", "Longitude", "18.4")
			}},
		},
	})
}

func TestConformance_Sender(t *testing.T) {
	t.Parallel()
	channeltest.RunSender(t, channeltest.Sender{
		Channel:    gateway.ChannelSMS,
		RetryAfter: 3 * time.Second,
		New: func(t *testing.T, w channeltest.SendWiring) sender.Provider {
			var mu sync.Mutex
			calls := 0
			api := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n := calls
				calls++
				mu.Unlock()
				rw.Header().Set("Content-Type", "application/json")
				reply := func(status, code int, msg string) {
					rw.WriteHeader(status)
					fmt.Fprintf(rw, `{"code":%d,"message":%q,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, msg, code, status)
				}
				switch w.Answer(n) {
				case channeltest.Accept:
					rw.WriteHeader(http.StatusCreated)
					fmt.Fprintf(rw, `{"sid":"SM%032d","status":"queued","account_sid":%q}`, n, testAccountSID)
				case channeltest.FailTemporarily:
					reply(http.StatusServiceUnavailable, 20503, "Service Unavailable")
				case channeltest.FailPermanently:
					// Twilio's messages quote the number: the provider must mask it.
					reply(http.StatusBadRequest, 99999, "Cannot reach "+r.PostFormValue("To")+" today")
				case channeltest.RateLimit:
					rw.Header().Set("Retry-After", "3")
					reply(http.StatusTooManyRequests, 20429, "Too Many Requests")
				}
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			t.Cleanup(api.Close)
			p, err := twilio.NewProvider(providerConfig(api.URL), gateway.ChannelSMS, twilio.ProviderOptions{
				Logger: w.Logger, Now: func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	})
}
